//! `XrayLambdaLayer`: one handler subsegment per sampled invocation.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use lambda_runtime::LambdaEvent;
use serde::Serialize;
use tower::{Layer, Service};
use tracing::{Instrument as _, field::Empty};

use crate::cold_start::ColdStart;

use super::{MAX_DOCUMENT_BYTES, TraceHeader, TraceId};

/// A tower layer for `lambda_runtime` handlers: per invocation it reads the trace header from
/// the invocation's [`Context::xray_trace_id`](lambda_runtime::Context) (never from the process
/// environment), and when it says `Sampled=1` runs the handler inside a span that
/// [`XrayLayer`](super::XrayLayer) sends as the handler subsegment, parented to Lambda's
/// function segment (the header's `Parent`). With `Sampled=0`, `?` or no header, the handler
/// runs inside a span that makes every span below it send nothing; downstream calls made in it
/// (through `lamina_tracing::aws_sdk::XrayInterceptor` or the HTTP client layer) still
/// pass the header's `Root` on with `Sampled=0` and its extra keys such as `Lineage`.
///
/// The handler subsegment is named after the function (or [`name`](Self::name)), carries the
/// annotations `ColdStart` (from [`ColdStart::process`]: true only for the first invocation of
/// an on-demand execution environment, see [`crate::cold_start`]) and `Service`, and, unless turned off, the response (`response`)
/// or error (`error`) as metadata. An error also sets `fault` and a `cause`.
#[derive(Debug, Clone)]
pub struct XrayLambdaLayer {
    config: Arc<Config>,
    cold_start: ColdStart,
}

#[derive(Debug, Clone)]
struct Config {
    name: Option<String>,
    service: Option<String>,
    capture_response: bool,
    capture_error: bool,
}

impl Default for XrayLambdaLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl XrayLambdaLayer {
    /// The defaults: named after the function, `Service` = the function name, response and
    /// error captured as metadata.
    #[must_use]
    pub fn new() -> Self {
        Self {
            config: Arc::new(Config {
                name: None,
                service: None,
                capture_response: true,
                capture_error: true,
            }),
            cold_start: ColdStart::process(),
        }
    }

    /// Answers "is this invocation the cold start?" from `source` instead of
    /// [`ColdStart::process`], the one source every layer of this crate shares by default.
    #[must_use]
    pub fn cold_start(mut self, source: ColdStart) -> Self {
        self.cold_start = source;
        self
    }

    /// Names the handler subsegment `name` instead of the function's name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.config).name = Some(name.into());
        self
    }

    /// The `Service` annotation (default: the function's name).
    #[must_use]
    pub fn service(mut self, service: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.config).service = Some(service.into());
        self
    }

    /// Whether the handler's response is recorded as `response` metadata (default true). Turn
    /// it off when responses may hold data that must not reach X-Ray.
    #[must_use]
    pub fn capture_response(mut self, capture: bool) -> Self {
        Arc::make_mut(&mut self.config).capture_response = capture;
        self
    }

    /// Whether the handler's error message is recorded as `error` metadata (default true). The
    /// `cause` exception is recorded either way.
    #[must_use]
    pub fn capture_error(mut self, capture: bool) -> Self {
        Arc::make_mut(&mut self.config).capture_error = capture;
        self
    }
}

impl<S> Layer<S> for XrayLambdaLayer {
    type Service = XrayLambda<S>;

    fn layer(&self, inner: S) -> Self::Service {
        XrayLambda {
            inner,
            config: Arc::clone(&self.config),
            cold_start: self.cold_start.clone(),
        }
    }
}

/// The service built by [`XrayLambdaLayer`].
#[derive(Clone)]
pub struct XrayLambda<S> {
    inner: S,
    config: Arc<Config>,
    cold_start: ColdStart,
}

impl<S: fmt::Debug> fmt::Debug for XrayLambda<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XrayLambda")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The future returned by [`XrayLambda`]: the handler's, inside the handler span, which is
/// closed (and so sent) before the result is returned.
pub type ResponseFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

impl<S, T> Service<LambdaEvent<T>> for XrayLambda<S>
where
    S: Service<LambdaEvent<T>>,
    S::Future: Send + 'static,
    S::Response: Serialize,
    S::Error: fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<T>) -> Self::Future {
        let cold_start = self.cold_start.is_cold(&event.context.request_id);
        let header = event
            .context
            .xray_trace_id
            .as_deref()
            .map(TraceHeader::parse);
        let function = &event.context.env_config.function_name;
        // Keys such as Lineage travel on to downstream calls (AWS SDK, HTTP), sampled or not.
        let extra = header
            .as_ref()
            .map(|h| {
                h.extra
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(";")
            })
            .unwrap_or_default();
        let span = match header.as_ref().and_then(TraceHeader::sampled_context) {
            Some((trace_id, parent)) => {
                let name = self.config.name.as_deref().unwrap_or(function);
                let service = self.config.service.as_deref().unwrap_or(function);
                tracing::info_span!(
                    "lambda.handler",
                    "xray.trace_id" = trace_id.as_str(),
                    "xray.parent_id" = parent.to_string(),
                    "xray.trace_extra" = extra.as_str(),
                    "xray.name" = name,
                    "annotation.ColdStart" = cold_start,
                    "annotation.Service" = service,
                    "xray.json.response" = Empty,
                    "xray.json.error" = Empty,
                )
            }
            // Not sampled: nothing is sent, but downstream calls pass the trace on (`Sampled=0`).
            None => tracing::info_span!(
                "lambda.handler",
                "xray.sampled" = false,
                "xray.trace_id" = header
                    .as_ref()
                    .and_then(|header| header.root.as_ref())
                    .map(TraceId::as_str),
                "xray.trace_extra" = extra.as_str(),
            ),
        };
        let config = Arc::clone(&self.config);
        // `call` itself runs inside the span too: services that open their spans in `call`
        // (lambda_http's adapter and the tower stacks under it) must see it as their parent.
        let future = span
            .in_scope(|| self.inner.call(event))
            .instrument(span.clone());
        Box::pin(async move {
            let result = future.await;
            match &result {
                Ok(response) if config.capture_response => {
                    if let Ok(json) = serde_json::to_string(response) {
                        span.record("xray.json.response", bounded(json));
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    let message = error.to_string();
                    let kind = short_type_name::<S::Error>();
                    if config.capture_error {
                        let json = serde_json::Value::String(message.clone()).to_string();
                        span.record("xray.json.error", bounded(json));
                    }
                    span.in_scope(|| {
                        tracing::error!(error = %message, "error.type" = kind, "the handler returned an error");
                    });
                }
            }
            // Closing the span sends the handler subsegment; every span below it has already
            // closed and been sent, since the emitter sends synchronously.
            drop(span);
            result
        })
    }
}

/// The JSON text itself, or a note when it could never fit in a document (it would be trimmed
/// away anyway, so it is not kept in memory until the span closes).
fn bounded(json: String) -> String {
    if json.len() <= MAX_DOCUMENT_BYTES {
        json
    } else {
        serde_json::Value::String(format!("omitted: {} bytes of JSON", json.len())).to_string()
    }
}

/// `lambda_runtime::Diagnostic` rather than `lambda_runtime::diagnostic::Diagnostic`.
fn short_type_name<E>() -> &'static str {
    let full = std::any::type_name::<E>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_type_names() {
        assert_eq!(
            short_type_name::<lambda_runtime::Diagnostic>(),
            "Diagnostic"
        );
        assert_eq!(short_type_name::<lambda_runtime::Error>(), "Box");
        assert_eq!(short_type_name::<String>(), "String");
    }

    #[test]
    fn oversized_json_is_replaced_by_a_note() {
        assert_eq!(bounded("[1]".to_owned()), "[1]");
        let big = format!("\"{}\"", "x".repeat(MAX_DOCUMENT_BYTES));
        assert_eq!(
            bounded(big),
            format!("\"omitted: {} bytes of JSON\"", MAX_DOCUMENT_BYTES + 2)
        );
    }
}
