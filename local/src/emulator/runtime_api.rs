//! The Lambda Runtime API (`/2018-06-01/runtime/...`) that one execution environment's runtime talks to.
//!
//! Each execution environment gets its own server on a fresh loopback port, so that nothing a dead
//! process left behind (a pending long poll, a late response) can reach its successor.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::config::MAX_PAYLOAD_BYTES;

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
    body: Bytes,
) -> Response {
    let Some(reply) = lock(&state.in_flight).remove(&request_id) else {
        return unknown_request(&request_id);
    };
    if body.len() > MAX_PAYLOAD_BYTES {
        let _ = reply.send(RuntimeReply::Error {
            error_type: "Function.ResponseSizeTooLarge".to_owned(),
            error_message: format!(
                "Response payload size ({} bytes) exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes).",
                body.len()
            ),
        });
        return lambda_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "response payload too large",
        );
    }
    let _ = reply.send(RuntimeReply::Response(body));
    accepted()
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
