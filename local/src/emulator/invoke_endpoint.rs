//! Lambda's Invoke API on loopback, at the Runtime Interface Emulator's path, so that `curl` and
//! `aws lambda invoke --endpoint-url` reach a function under the emulator.
//!
//! `POST /2015-03-31/functions/{name}/invocations`, where `{name}` is `function` (as with AWS's
//! emulator), the function's name or its ARN. It honours `X-Amz-Invocation-Type` (`RequestResponse`,
//! `Event`, `DryRun`), `X-Amz-Log-Type: Tail`, `X-Amz-Client-Context` (base64 JSON) and
//! `X-Amzn-Trace-Id`, and answers as Lambda does: a failed invocation is `200` with
//! `X-Amz-Function-Error: Unhandled` and an `{errorType, errorMessage}` body.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::config::MAX_PAYLOAD_BYTES;
use super::{Emulator, EmulatorError, InvocationReport, InvocationRequest};

/// How much of the log tail `X-Amz-Log-Type: Tail` returns, as Lambda does.
const LOG_TAIL_BYTES: usize = 4096;

/// An HTTP server that invokes an [`Emulator`]'s function as Lambda's Invoke API would.
///
/// ```no_run
/// use lamina_local::emulator::{Emulator, FunctionConfig, InvokeEndpoint};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let emulator = Emulator::start(FunctionConfig::new("target/debug/bootstrap")).await?;
/// let endpoint = InvokeEndpoint::bind(emulator, "127.0.0.1:9000".parse()?).await?;
/// println!("curl -d '{{}}' {}", endpoint.invocations_url());
/// endpoint.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct InvokeEndpoint {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl InvokeEndpoint {
    /// Listens on `address` (use port 0 for a free port) and serves invocations until shut down.
    ///
    /// # Errors
    /// [`EmulatorError::Listen`] when the address cannot be bound (in use, not local).
    pub async fn bind(emulator: Emulator, address: SocketAddr) -> Result<Self, EmulatorError> {
        let listen_error = |source| EmulatorError::Listen {
            address: address.to_string(),
            source,
        };
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(listen_error)?;
        let address = listener.local_addr().map_err(listen_error)?;
        let router = Router::new()
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            .layer(DefaultBodyLimit::max(MAX_PAYLOAD_BYTES * 2))
            .with_state(emulator);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stop_rx.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "invoke endpoint stopped");
            }
        });
        Ok(Self {
            address,
            stop: Some(stop_tx),
            server,
        })
    }

    /// The address the endpoint listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// The URL to POST events to: `http://{addr}/2015-03-31/functions/function/invocations`.
    #[must_use]
    pub fn invocations_url(&self) -> String {
        format!(
            "http://{}/2015-03-31/functions/function/invocations",
            self.address
        )
    }

    /// Stops accepting invocations and waits for the server to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.server).await;
    }
}

impl Drop for InvokeEndpoint {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn invoke(
    State(emulator): State<Emulator>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let config = emulator.config();
    if name != "function" && name != config.name() && name != config.function_arn() {
        return api_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: {name}"),
        );
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mut request = InvocationRequest::new(if body.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        body
    });
    if let Some(trace) = header("x-amzn-trace-id") {
        request = request.trace_header(trace);
    }
    if let Some(encoded) = header("x-amz-client-context") {
        match BASE64
            .decode(encoded)
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())
        {
            Some(context) => request = request.client_context(context),
            None => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestContentException",
                    "X-Amz-Client-Context must be base64-encoded JSON",
                );
            }
        }
    }
    match header("x-amz-invocation-type").unwrap_or("RequestResponse") {
        "RequestResponse" => match emulator.invoke(request).await {
            Ok(report) => {
                tracing::info!("{report}");
                invocation_response(
                    &report,
                    config.version.as_str(),
                    header("x-amz-log-type") == Some("Tail"),
                )
            }
            Err(error) => emulator_error(&error),
        },
        "Event" => match emulator.invoke_async(request) {
            Ok(request_id) => {
                let mut response = StatusCode::ACCEPTED.into_response();
                insert(response.headers_mut(), "x-amzn-requestid", &request_id);
                response
            }
            Err(error) => emulator_error(&error),
        },
        "DryRun" => match request.validate() {
            Ok(_) => StatusCode::NO_CONTENT.into_response(),
            Err(error) => emulator_error(&error),
        },
        other => api_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            &format!(
                "unknown X-Amz-Invocation-Type {other:?}; use RequestResponse, Event or DryRun"
            ),
        ),
    }
}

fn invocation_response(report: &InvocationReport, version: &str, tail: bool) -> Response {
    let (body, failed) = match report.outcome.error_body(&report.request_id) {
        None => (report.outcome.body().cloned().unwrap_or_default(), false),
        Some(error) => (Bytes::from(error.to_string()), true),
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    insert(headers, "x-amzn-requestid", &report.request_id);
    insert(headers, "x-amz-executed-version", version);
    if failed {
        headers.insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
    }
    if tail {
        insert(
            headers,
            "x-amz-log-result",
            &BASE64.encode(log_tail(report)),
        );
    }
    response
}

/// The last 4 KB of the invocation's log lines and its `REPORT` line, cut at a character boundary.
fn log_tail(report: &InvocationReport) -> String {
    let mut text: String = report
        .logs
        .iter()
        .map(|line| format!("{}\n", line.text))
        .collect();
    text.push_str(&format!("{report}\n"));
    let mut start = text.len().saturating_sub(LOG_TAIL_BYTES);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text.split_off(start)
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

fn emulator_error(error: &EmulatorError) -> Response {
    if let EmulatorError::TooManyRequests { .. } = error {
        // Lambda's throttling answer, with the reason a function-level limit gives.
        let body = serde_json::json!({
            "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
            "Type": "User",
            "message": "Rate Exceeded.",
        });
        let mut response = (StatusCode::TOO_MANY_REQUESTS, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert(
            "x-amzn-errortype",
            HeaderValue::from_static("TooManyRequestsException"),
        );
        return response;
    }
    let (status, kind) = match error {
        EmulatorError::InvalidPayload(_) | EmulatorError::InvalidContext { .. } => {
            (StatusCode::BAD_REQUEST, "InvalidRequestContentException")
        }
        EmulatorError::PayloadTooLarge { .. } => {
            (StatusCode::PAYLOAD_TOO_LARGE, "RequestTooLargeException")
        }
        EmulatorError::InvalidTraceHeader(_) => {
            (StatusCode::BAD_REQUEST, "InvalidParameterValueException")
        }
        _ => (StatusCode::BAD_GATEWAY, "ServiceException"),
    };
    api_error(status, kind, &with_causes(error))
}

/// The error and its causes, `outer: inner: ...`, as the body of an error response.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

fn api_error(status: StatusCode, kind: &'static str, message: &str) -> Response {
    let body = serde_json::json!({ "Type": "User", "message": message });
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
        .headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(kind));
    response
}
