//! The HTTP side: one request in, one invocation of a pooled function, one response out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};

use super::event::{EventContext, proxy_event};
use super::response::{from_proxy_response, gateway_error};
use super::stage_segment::{RequestSummary, ResponseSummary, StageTrace};
use super::{MAX_REQUEST_BYTES, RestApiConfig};
use crate::emulator::{Emulator, EmulatorError, InvocationReport, InvocationRequest, Outcome};
use crate::trace_header::new_segment_id;

/// The functions behind the API. Each [`Emulator`] scales out by itself up to its concurrency; with
/// several, a request goes to the next one in turn, and to the others if that one throttles.
#[derive(Debug)]
pub(crate) struct Pool {
    functions: Vec<Emulator>,
    next: AtomicUsize,
}

impl Pool {
    pub(crate) fn new(functions: Vec<Emulator>) -> Self {
        Self {
            functions,
            next: AtomicUsize::new(0),
        }
    }

    /// Invokes a function that has an environment free. Each invocation runs to its end in its own
    /// task, even when the caller stops waiting (API Gateway's timeout).
    async fn invoke(&self, request: InvocationRequest) -> Result<InvocationReport, EmulatorError> {
        let count = self.functions.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        let mut throttled = None;
        for offset in 0..count {
            let function = &self.functions[(first + offset) % count];
            match function.invoke(request.clone()).await {
                Err(error @ EmulatorError::TooManyRequests { .. }) => throttled = Some(error),
                other => return other,
            }
        }
        Err(throttled.unwrap_or(EmulatorError::Cancelled))
    }
}

/// Everything a request handler needs.
#[derive(Debug)]
pub(crate) struct Gateway {
    pub(crate) config: RestApiConfig,
    pub(crate) pool: Pool,
    pub(crate) local_port: u16,
}

/// Serves one request as API Gateway's REST API with a Lambda proxy integration does.
pub(crate) async fn handle(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let received = SystemTime::now();
    let request_id = new_request_id();
    let trace = StageTrace::plan(&gateway.config, request.headers().get("x-amzn-trace-id"));
    let trace_header = trace.header.to_string();
    let summary = RequestSummary {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        client_ip: peer.ip().to_string(),
        user_agent: request
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        received,
        request_id: request_id.clone(),
    };
    let answered = answer(
        &gateway,
        peer,
        request,
        received,
        &request_id,
        &trace_header,
    )
    .await;
    trace.emit(
        &gateway.config,
        &summary,
        ResponseSummary {
            status: answered.status().as_u16(),
            content_length: u64::try_from(answered.body().len()).ok(),
        },
    );
    let mut response = answered.map(axum::body::Body::from);
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-amzn-requestid", request_id.as_str()),
        ("x-amz-apigw-id", &request_id[..8]),
        ("x-amzn-trace-id", trace_header.as_str()),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    response
}

async fn answer(
    gateway: &Gateway,
    peer: SocketAddr,
    request: Request,
    received: SystemTime,
    request_id: &str,
    trace_header: &str,
) -> http::Response<Bytes> {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_REQUEST_BYTES as u64) {
        return too_large();
    }
    let body = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => return too_large(),
        Err(error) => {
            tracing::debug!(%error, "the request body could not be read");
            return gateway_error(
                StatusCode::BAD_REQUEST,
                "BadRequestException",
                "Bad Request",
            );
        }
    };
    let config = &gateway.config;
    let extended_request_id = new_segment_id();
    let context = EventContext {
        stage: &config.stage,
        api_id: &config.api_id,
        account_id: &config.account_id,
        region: &config.region,
        request_id,
        extended_request_id: &extended_request_id,
        source_ip: peer.ip().to_string(),
        local_port: gateway.local_port,
        trace_header,
        received,
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let event = proxy_event(
        &parts.method,
        path_and_query,
        &parts.headers,
        &body,
        &context,
    );
    let invocation =
        InvocationRequest::new(Bytes::from(event.to_string())).trace_header(trace_header);
    let outcome =
        tokio::time::timeout(config.integration_timeout, gateway.pool.invoke(invocation)).await;
    match outcome {
        Err(_) => {
            tracing::warn!(
                request_id,
                timeout = ?config.integration_timeout,
                "the integration timed out"
            );
            gateway_error(
                StatusCode::GATEWAY_TIMEOUT,
                "IntegrationTimeout",
                "Endpoint request timed out",
            )
        }
        Ok(Err(EmulatorError::TooManyRequests { concurrency })) => {
            // Lambda answers 429; a REST API's Lambda proxy integration turns that into a 500.
            tracing::warn!(
                request_id,
                concurrency,
                "Lambda invocation failed with status: 429 (TooManyRequestsException)"
            );
            gateway_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerErrorException",
                "Internal server error",
            )
        }
        Ok(Err(EmulatorError::PayloadTooLarge { size, limit })) => {
            tracing::warn!(
                request_id,
                size,
                limit,
                "the event is over Lambda's payload limit"
            );
            too_large()
        }
        Ok(Err(error)) => {
            tracing::warn!(request_id, %error, "the function could not be invoked");
            internal_error()
        }
        Ok(Ok(report)) => {
            tracing::info!("{report}");
            match &report.outcome {
                Outcome::Success { body } => from_proxy_response(body).unwrap_or_else(|error| {
                    tracing::warn!(
                        request_id,
                        %error,
                        "Execution failed due to configuration error: Malformed Lambda proxy response"
                    );
                    internal_error()
                }),
                failed => {
                    tracing::warn!(request_id, outcome = %failed, "the function failed");
                    internal_error()
                }
            }
        }
    }
}

fn too_large() -> http::Response<Bytes> {
    gateway_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestTooLarge",
        "Request Too Long",
    )
}

/// What API Gateway answers when the function fails or its answer is malformed.
fn internal_error() -> http::Response<Bytes> {
    gateway_error(
        StatusCode::BAD_GATEWAY,
        "InternalServerErrorException",
        "Internal server error",
    )
}

/// A request id in the UUID v4 shape API Gateway uses.
fn new_request_id() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_uuid_v4() {
        let id = new_request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, new_request_id());
    }
}
