//! The Lambda Runtime API (`/2018-06-01/runtime/...`) that one execution environment's runtime talks to.
//!
//! Each execution environment gets its own server on a fresh loopback port, so that nothing a dead
//! process left behind (a pending long poll, a late response) can reach its successor.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde::Deserialize;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::config::{MAX_PAYLOAD_BYTES, MAX_STREAMED_RESPONSE_BYTES};

/// An event waiting for the runtime's next `/next`.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub(crate) request_id: String,
    pub(crate) payload: Bytes,
    pub(crate) function_arn: String,
    pub(crate) trace_header: String,
    pub(crate) client_context: Option<String>,
    pub(crate) cognito_identity: Option<String>,
    pub(crate) timeout: Duration,
    /// Told the instant the runtime received the event.
    pub(crate) handed_over: oneshot::Sender<Instant>,
    /// Told what the runtime answered.
    pub(crate) reply: oneshot::Sender<RuntimeReply>,
}

/// What a runtime answered for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RuntimeReply {
    /// A `/response` body.
    Response(Bytes),
    /// An `/error` report, or a response the emulator refused (too large).
    Error {
        error_type: String,
        error_message: String,
    },
}

/// An `/init/error` report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InitErrorReport {
    pub(crate) error_type: String,
    pub(crate) error_message: String,
}

struct ApiState {
    deliveries: Mutex<mpsc::UnboundedReceiver<Delivery>>,
    in_flight: SyncMutex<HashMap<String, oneshot::Sender<RuntimeReply>>>,
    first_next: SyncMutex<Option<oneshot::Sender<Instant>>>,
    init_error: SyncMutex<Option<oneshot::Sender<InitErrorReport>>>,
}

/// One execution environment's Runtime API server. Dropping it stops the server.
#[derive(Debug)]
pub(crate) struct RuntimeApi {
    address: SocketAddr,
    deliveries: mpsc::UnboundedSender<Delivery>,
    server: JoinHandle<()>,
}

/// The receiving ends of the init-phase signals of one environment.
#[derive(Debug)]
pub(crate) struct InitSignals {
    /// The instant of the runtime's first `/next`.
    pub(crate) first_next: oneshot::Receiver<Instant>,
    /// An `/init/error` report.
    pub(crate) init_error: oneshot::Receiver<InitErrorReport>,
}

impl RuntimeApi {
    /// Starts a Runtime API server on a free loopback port.
    pub(crate) async fn start() -> std::io::Result<(Self, InitSignals)> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let address = listener.local_addr()?;
        let (deliveries_tx, deliveries_rx) = mpsc::unbounded_channel();
        let (first_next_tx, first_next_rx) = oneshot::channel();
        let (init_error_tx, init_error_rx) = oneshot::channel();
        let state = Arc::new(ApiState {
            deliveries: Mutex::new(deliveries_rx),
            in_flight: SyncMutex::new(HashMap::new()),
            first_next: SyncMutex::new(Some(first_next_tx)),
            init_error: SyncMutex::new(Some(init_error_tx)),
        });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{request_id}/response",
                post(response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{request_id}/error",
                post(error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            // Accept a little more than the limit so that an oversized response is reported, not cut off.
            .layer(DefaultBodyLimit::max(MAX_PAYLOAD_BYTES * 2))
            .with_state(state);
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::warn!(%error, "runtime API server stopped");
            }
        });
        let signals = InitSignals {
            first_next: first_next_rx,
            init_error: init_error_rx,
        };
        Ok((
            Self {
                address,
                deliveries: deliveries_tx,
                server,
            },
            signals,
        ))
    }

    /// The `host:port` the runtime finds in `AWS_LAMBDA_RUNTIME_API`.
    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    /// Queues an event for the runtime's next `/next`. Returns false only if the server is gone.
    pub(crate) fn deliver(&self, delivery: Delivery) -> bool {
        self.deliveries.send(delivery).is_ok()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(state): State<Arc<ApiState>>) -> Response {
    if let Some(first) = lock(&state.first_next).take() {
        // Asking for an event ends init: from now on `/init/error` is an invalid state transition.
        lock(&state.init_error).take();
        let _ = first.send(Instant::now());
    }
    let delivery = {
        let mut deliveries = state.deliveries.lock().await;
        deliveries.recv().await
    };
    let Some(delivery) = delivery else {
        return lambda_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            "the emulator is shutting down",
        );
    };
    let handed_over = Instant::now();
    let deadline_ms = epoch_ms(SystemTime::now() + delivery.timeout);
    lock(&state.in_flight).insert(delivery.request_id.clone(), delivery.reply);
    let _ = delivery.handed_over.send(handed_over);

    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    put("content-type", "application/json");
    put("lambda-runtime-aws-request-id", &delivery.request_id);
    put("lambda-runtime-deadline-ms", &deadline_ms.to_string());
    put(
        "lambda-runtime-invoked-function-arn",
        &delivery.function_arn,
    );
    put("lambda-runtime-trace-id", &delivery.trace_header);
    if let Some(context) = &delivery.client_context {
        put("lambda-runtime-client-context", context);
    }
    if let Some(identity) = &delivery.cognito_identity {
        put("lambda-runtime-cognito-identity", identity);
    }
    (StatusCode::OK, headers, delivery.payload).into_response()
}

async fn response(
    State(state): State<Arc<ApiState>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(reply) = lock(&state.in_flight).remove(&request_id) else {
        return unknown_request(&request_id);
    };
    let streaming = headers
        .get("lambda-runtime-function-response-mode")
        .is_some_and(|mode| mode == "streaming");
    let limit = if streaming {
        MAX_STREAMED_RESPONSE_BYTES
    } else {
        MAX_PAYLOAD_BYTES
    };
    let collected = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected,
        Err(error) if error.is::<LengthLimitError>() => {
            let _ = reply.send(RuntimeReply::Error {
                error_type: "Function.ResponseSizeTooLarge".to_owned(),
                error_message: format!(
                    "Response payload size exceeded maximum allowed payload size ({limit} bytes)."
                ),
            });
            return lambda_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "response payload too large",
            );
        }
        Err(error) => {
            let _ = reply.send(RuntimeReply::Error {
                error_type: "Runtime.TruncatedResponse".to_owned(),
                error_message: format!("the runtime's response could not be read: {error}"),
            });
            return lambda_error(
                StatusCode::BAD_REQUEST,
                "InvalidResponse",
                "the response body could not be read",
            );
        }
    };
    // A streamed response reports a failure midway through in trailers.
    if let Some(error) = collected.trailers().and_then(stream_error) {
        let _ = reply.send(error);
        return accepted();
    }
    let _ = reply.send(RuntimeReply::Response(collected.to_bytes()));
    accepted()
}

/// Reads the `Lambda-Runtime-Function-Error-Type` and `-Error-Body` (base64) trailers of a streamed response.
fn stream_error(trailers: &HeaderMap) -> Option<RuntimeReply> {
    let error_type = trailers
        .get("lambda-runtime-function-error-type")?
        .to_str()
        .ok()?
        .to_owned();
    let body = trailers
        .get("lambda-runtime-function-error-body")
        .and_then(|value| BASE64.decode(value.as_bytes()).ok())
        .unwrap_or_default();
    let error_message = match serde_json::from_slice::<Diagnostic>(&body) {
        Ok(Diagnostic {
            error_message: Some(message),
            ..
        }) => message,
        _ => String::from_utf8_lossy(&body).into_owned(),
    };
    Some(RuntimeReply::Error {
        error_type,
        error_message,
    })
}

/// The body of `/error` and `/init/error`: Lambda's diagnostic shape.
#[derive(Debug, Deserialize)]
struct Diagnostic {
    #[serde(rename = "errorType", default)]
    error_type: Option<String>,
    #[serde(rename = "errorMessage", default)]
    error_message: Option<String>,
}

/// Reads a diagnostic leniently: a runtime that posts something other than the documented JSON still
/// has its report surfaced, with the header's error type and the raw body as the message.
fn read_diagnostic(headers: &HeaderMap, body: &[u8]) -> (String, String) {
    let header_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match serde_json::from_slice::<Diagnostic>(body) {
        Ok(diagnostic) => (
            diagnostic
                .error_type
                .or(header_type)
                .unwrap_or_else(|| "Unknown".to_owned()),
            diagnostic.error_message.unwrap_or_default(),
        ),
        Err(_) => (
            header_type.unwrap_or_else(|| "Unknown".to_owned()),
            String::from_utf8_lossy(body).into_owned(),
        ),
    }
}

async fn error(
    State(state): State<Arc<ApiState>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(reply) = lock(&state.in_flight).remove(&request_id) else {
        return unknown_request(&request_id);
    };
    let (error_type, error_message) = read_diagnostic(&headers, &body);
    let _ = reply.send(RuntimeReply::Error {
        error_type,
        error_message,
    });
    accepted()
}

async fn init_error(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (error_type, error_message) = read_diagnostic(&headers, &body);
    match lock(&state.init_error).take() {
        Some(sender) => {
            let _ = sender.send(InitErrorReport {
                error_type,
                error_message,
            });
            accepted()
        }
        None => lambda_error(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "init error reported after init, or twice",
        ),
    }
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [("content-type", "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}

fn unknown_request(request_id: &str) -> Response {
    lambda_error(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        &format!("no invocation {request_id} is waiting for an answer"),
    )
}

fn lambda_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message });
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn epoch_ms(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

/// Locks a std mutex, recovering the data if a panicking holder poisoned it (the data stays consistent:
/// every critical section here is a single insert, remove or take).
fn lock<T>(mutex: &SyncMutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loopback_http::{self, LoopbackResponse};
    use hyper::Method;

    async fn call(
        api: &RuntimeApi,
        method: Method,
        path: &str,
        body: &'static str,
    ) -> LoopbackResponse {
        let url = format!("http://{}/2018-06-01/runtime{path}", api.address());
        match loopback_http::send(method, &url, Bytes::from_static(body.as_bytes())).await {
            Ok(response) => response,
            Err(error) => panic!("{path}: {error}"),
        }
    }

    fn delivery(
        request_id: &str,
    ) -> (
        Delivery,
        oneshot::Receiver<Instant>,
        oneshot::Receiver<RuntimeReply>,
    ) {
        let (handed_over, handed_over_rx) = oneshot::channel();
        let (reply, reply_rx) = oneshot::channel();
        let delivery = Delivery {
            request_id: request_id.to_owned(),
            payload: Bytes::from_static(b"{\"n\":1}"),
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:f".to_owned(),
            trace_header: "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".to_owned(),
            client_context: None,
            cognito_identity: None,
            timeout: Duration::from_secs(3),
            handed_over,
            reply,
        };
        (delivery, handed_over_rx, reply_rx)
    }

    #[tokio::test]
    async fn the_runtime_api_follows_lambdas_state_machine() {
        let (api, mut signals) = RuntimeApi::start().await.unwrap_or_else(|e| panic!("{e}"));
        let (event, handed_over, reply) = delivery("req-1");
        assert!(api.deliver(event));

        let next = call(&api, Method::GET, "/invocation/next", "").await;
        assert_eq!(next.status, StatusCode::OK);
        assert_eq!(&next.body[..], b"{\"n\":1}");
        assert!(signals.first_next.try_recv().is_ok());
        assert!(handed_over.await.is_ok());

        // Init is over once the runtime has asked for an event.
        let late = call(
            &api,
            Method::POST,
            "/init/error",
            r#"{"errorType":"X","errorMessage":"late"}"#,
        )
        .await;
        assert_eq!(late.status, StatusCode::FORBIDDEN);
        assert!(signals.init_error.try_recv().is_err());

        let unknown = call(&api, Method::POST, "/invocation/req-404/response", "{}").await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);

        let answered = call(
            &api,
            Method::POST,
            "/invocation/req-1/response",
            r#"{"ok":true}"#,
        )
        .await;
        assert_eq!(answered.status, StatusCode::ACCEPTED);
        assert_eq!(
            reply.await.ok(),
            Some(RuntimeReply::Response(Bytes::from_static(
                br#"{"ok":true}"#
            )))
        );

        // One answer per invocation.
        let twice = call(&api, Method::POST, "/invocation/req-1/error", "{}").await;
        assert_eq!(twice.status, StatusCode::BAD_REQUEST);
    }

    /// Sends a raw HTTP/1.1 request (with `Connection: close`) and returns the status line.
    async fn raw(api: &RuntimeApi, request: &[u8]) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(api.address())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        stream
            .write_all(request)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8_lossy(&response)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    #[tokio::test]
    async fn a_streamed_response_is_read_whole_and_a_trailer_error_fails_it() {
        let (api, _signals) = RuntimeApi::start().await.unwrap_or_else(|e| panic!("{e}"));
        let streamed = |id: &str, trailers: &str| {
            format!(
                "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: api\r\n\
                 Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\
                 Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n{trailers}\r\n"
            )
        };

        let (event, _handed_over, reply) = delivery("req-ok");
        assert!(api.deliver(event));
        call(&api, Method::GET, "/invocation/next", "").await;
        let status = raw(&api, streamed("req-ok", "").as_bytes()).await;
        assert_eq!(status, "HTTP/1.1 202 Accepted");
        assert_eq!(
            reply.await.ok(),
            Some(RuntimeReply::Response(Bytes::from_static(b"hello world")))
        );

        let (event, _handed_over, reply) = delivery("req-broken");
        assert!(api.deliver(event));
        call(&api, Method::GET, "/invocation/next", "").await;
        let body = BASE64
            .encode(r#"{"errorType":"Runtime.StreamError","errorMessage":"upstream closed"}"#);
        let trailers = format!(
            "Lambda-Runtime-Function-Error-Type: Runtime.StreamError\r\nLambda-Runtime-Function-Error-Body: {body}\r\n"
        );
        let status = raw(&api, streamed("req-broken", &trailers).as_bytes()).await;
        assert_eq!(status, "HTTP/1.1 202 Accepted");
        let expected = RuntimeReply::Error {
            error_type: "Runtime.StreamError".to_owned(),
            error_message: "upstream closed".to_owned(),
        };
        assert_eq!(reply.await.ok(), Some(expected));
    }

    #[tokio::test]
    async fn an_oversized_response_fails_the_invocation() {
        let (api, _signals) = RuntimeApi::start().await.unwrap_or_else(|e| panic!("{e}"));
        let (event, _handed_over, reply) = delivery("req-big");
        assert!(api.deliver(event));
        call(&api, Method::GET, "/invocation/next", "").await;
        let url = format!(
            "http://{}/2018-06-01/runtime/invocation/req-big/response",
            api.address()
        );
        let big = Bytes::from(vec![b'x'; MAX_PAYLOAD_BYTES + 1]);
        let posted = loopback_http::send(Method::POST, &url, big)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(posted.status, StatusCode::PAYLOAD_TOO_LARGE);
        let error_type = match reply.await {
            Ok(RuntimeReply::Error { error_type, .. }) => error_type,
            other => panic!("expected an error reply, got {other:?}"),
        };
        assert_eq!(error_type, "Function.ResponseSizeTooLarge");
    }

    #[tokio::test]
    async fn error_reports_are_read_leniently() {
        let (api, _signals) = RuntimeApi::start().await.unwrap_or_else(|e| panic!("{e}"));
        let cases = [
            (
                r#"{"errorType":"Boom","errorMessage":"bad"}"#,
                ("Boom", "bad"),
            ),
            ("plain text", ("Unknown", "plain text")),
            (r#"{"errorMessage":"no type"}"#, ("Unknown", "no type")),
        ];
        for (n, (body, (error_type, error_message))) in cases.into_iter().enumerate() {
            let id = format!("req-{n}");
            let (event, _handed_over, reply) = delivery(&id);
            assert!(api.deliver(event));
            call(&api, Method::GET, "/invocation/next", "").await;
            let posted = call(&api, Method::POST, &format!("/invocation/{id}/error"), body).await;
            assert_eq!(posted.status, StatusCode::ACCEPTED);
            let expected = RuntimeReply::Error {
                error_type: error_type.to_owned(),
                error_message: error_message.to_owned(),
            };
            assert_eq!(reply.await.ok(), Some(expected), "{body}");
        }
    }

    #[tokio::test]
    async fn an_init_error_before_the_first_next_is_reported() {
        let (api, signals) = RuntimeApi::start().await.unwrap_or_else(|e| panic!("{e}"));
        let posted = call(
            &api,
            Method::POST,
            "/init/error",
            r#"{"errorType":"Cfg","errorMessage":"no table"}"#,
        )
        .await;
        assert_eq!(posted.status, StatusCode::ACCEPTED);
        let report = signals.init_error.await.ok();
        assert_eq!(
            report,
            Some(InitErrorReport {
                error_type: "Cfg".to_owned(),
                error_message: "no table".to_owned()
            })
        );
        let twice = call(&api, Method::POST, "/init/error", "{}").await;
        assert_eq!(twice.status, StatusCode::FORBIDDEN);
    }
}
