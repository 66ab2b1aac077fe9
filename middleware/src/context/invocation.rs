//! [`InvocationContext`] and the layer that fills it in.

use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Request;
use tower::{Layer, Service};

use super::ColdStart;

/// Whether work done now is still part of the cold start: no request has passed an
/// [`InvocationContextLayer`] yet, in an environment Lambda started on demand (see
/// [`ColdStart`]; always false under provisioned concurrency or SnapStart).
#[must_use]
pub fn is_cold_start() -> bool {
    ColdStart::process().is_pending()
}

/// What a handler knows about the invocation it serves. Found in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvocationContext {
    /// Lambda's request id; outside Lambda, the `x-request-id` header or a generated id.
    pub request_id: String,
    /// The function name (`AWS_LAMBDA_FUNCTION_NAME` outside an invocation).
    pub function_name: String,
    /// The function version, `$LATEST` or a number.
    pub function_version: String,
    /// The ARN the function was invoked with (an alias or version ARN tells which).
    pub invoked_function_arn: String,
    /// The X-Ray trace header of this invocation, if traced.
    pub trace_header: Option<String>,
    /// Whether this request is the cold start: the first one the process serves, in an
    /// environment Lambda started on demand (see [`ColdStart`]).
    pub cold_start: bool,
    /// When Lambda will stop the invocation; `None` outside Lambda.
    pub deadline: Option<SystemTime>,
}

impl InvocationContext {
    /// The time left before the deadline (zero once it has passed); `None` outside Lambda.
    #[must_use]
    pub fn remaining_time(&self) -> Option<Duration> {
        self.deadline.map(|deadline| {
            deadline
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        })
    }

    /// Builds the context from Lambda's per-invocation data.
    #[must_use]
    pub fn from_lambda(context: &lambda_http::Context, cold_start: bool) -> Self {
        Self {
            request_id: context.request_id.clone(),
            function_name: context.env_config.function_name.clone(),
            function_version: context.env_config.version.clone(),
            invoked_function_arn: context.invoked_function_arn.clone(),
            trace_header: context.xray_trace_id.clone(),
            cold_start,
            deadline: Some(UNIX_EPOCH + Duration::from_millis(context.deadline)),
        }
    }

    /// Builds a context for a request served outside Lambda (see [`crate::init`]'s local server).
    fn outside_lambda<B>(request: &Request<B>, cold_start: bool) -> Self {
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|id| !id.is_empty() && id.len() <= 128)
            .map_or_else(generated_request_id, str::to_owned);
        let env =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
        Self {
            request_id,
            function_name: env("AWS_LAMBDA_FUNCTION_NAME", "local"),
            function_version: env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            invoked_function_arn: String::new(),
            trace_header: request
                .headers()
                .get("x-amzn-trace-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            cold_start,
            deadline: None,
        }
    }
}

/// A random request id in UUID v4 form, for requests that arrive without one.
fn generated_request_id() -> String {
    let mut bits: [u8; 16] = rand::random();
    bits[6] = (bits[6] & 0x0f) | 0x40;
    bits[8] = (bits[8] & 0x3f) | 0x80;
    let hex: String = bits.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Adds an [`InvocationContext`] to every request.
#[derive(Debug, Clone)]
pub struct InvocationContextLayer {
    cold_start: ColdStart,
}

impl Default for InvocationContextLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl InvocationContextLayer {
    /// A new layer, answering `cold_start` from [`ColdStart::process`].
    #[must_use]
    pub fn new() -> Self {
        Self {
            cold_start: ColdStart::process(),
        }
    }

    /// Answers `cold_start` from `source` instead of [`ColdStart::process`].
    #[must_use]
    pub fn cold_start(mut self, source: ColdStart) -> Self {
        self.cold_start = source;
        self
    }
}

impl<S> Layer<S> for InvocationContextLayer {
    type Service = InvocationContextService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InvocationContextService {
            inner,
            cold_start: self.cold_start.clone(),
        }
    }
}

/// The service built by [`InvocationContextLayer`].
#[derive(Debug, Clone)]
pub struct InvocationContextService<S> {
    inner: S,
    cold_start: ColdStart,
}

impl<S, B> Service<Request<B>> for InvocationContextService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let mut context = match request.extensions().get::<lambda_http::Context>() {
            Some(lambda) => InvocationContext::from_lambda(lambda, false),
            None => InvocationContext::outside_lambda(&request, false),
        };
        context.cold_start = self.cold_start.is_cold(&context.request_id);
        request.extensions_mut().insert(context);
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_uuid_v4_and_distinct() {
        let a = generated_request_id();
        let b = generated_request_id();
        assert_ne!(a, b);
        let groups: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{a}");
        assert_eq!(a.as_bytes()[14], b'4', "{a}");
    }

    #[test]
    fn remaining_time_never_goes_negative() {
        let mut context = InvocationContext {
            request_id: String::new(),
            function_name: String::new(),
            function_version: String::new(),
            invoked_function_arn: String::new(),
            trace_header: None,
            cold_start: false,
            deadline: Some(SystemTime::now() - Duration::from_secs(1)),
        };
        assert_eq!(context.remaining_time(), Some(Duration::ZERO));
        context.deadline = Some(SystemTime::now() + Duration::from_secs(60));
        assert!(
            context
                .remaining_time()
                .is_some_and(|left| left > Duration::from_secs(59))
        );
        context.deadline = None;
        assert_eq!(context.remaining_time(), None);
    }
}
