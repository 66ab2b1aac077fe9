//! X-Ray for HTTP: outgoing requests as `remote` subsegments ([`XrayHttpClientLayer`]), and,
//! outside Lambda, incoming requests as segments ([`XrayHttpServerLayer`]) sampled by local
//! sampling rules ([`SamplingRules`], [`Sampler`]) or by the X-Ray service's rules through the
//! daemon ([`CentralizedSampler`]). Both layers are tower layers over
//! `Service<http::Request<B>>`; [`XrayLayer`](crate::xray::XrayLayer) sends what they record.
//!
//! ```no_run
//! use http_body_util::Full;
//! use hyper_util::{client::legacy::Client, rt::TokioExecutor};
//! use lamina_tracing::http::XrayHttpClientLayer;
//! use lamina_tracing::xray::XrayLayer;
//! use tower::{ServiceBuilder, ServiceExt as _};
//! use tracing_subscriber::prelude::*;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! tracing_subscriber::registry().with(XrayLayer::from_env()?).init();
//! let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
//! let client = ServiceBuilder::new()
//!     .layer(XrayHttpClientLayer::from_env())
//!     .service(client);
//! // Inside a traced span (a Lambda invocation, or a request through `XrayHttpServerLayer`):
//! let request = http::Request::get("http://example.com/items?page=2").body(Full::default())?;
//! let response = client.oneshot(request).await?;
//! assert!(response.status().is_success());
//! # Ok(())
//! # }
//! ```
//!
//! Only subscribers built on `tracing_subscriber::Registry` are supported (the layers read the
//! current subsegment from the registry), and the `http.client` / `http.server` spans (at
//! `INFO`) must be let through by the subscriber's filter.

mod centralized;
mod client;
mod sampling;
mod server;

pub use centralized::{
    CentralizedSampler, CentralizedSamplerBuilder, CentralizedSamplingError,
    CentralizedSamplingStats,
};
pub use client::{XrayHttpClient, XrayHttpClientLayer};
pub use sampling::{
    Sampler, SamplingOutcome, SamplingRequest, SamplingRule, SamplingRules, SamplingRulesError,
    SamplingStrategy, matches,
};
pub use server::{XrayHttpServer, XrayHttpServerLayer};

/// The trace header's name.
const TRACE_HEADER: &str = "x-amzn-trace-id";

/// What an [`XrayHttpClientLayer`] does with a request made outside any trace
/// (`AWS_XRAY_CONTEXT_MISSING`). Either way the request is sent, untraced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContextMissing {
    /// `LOG_ERROR`: log an error event (the host, never the URL or headers).
    LogError,
    /// `IGNORE_ERROR`: do nothing.
    IgnoreError,
}

impl ContextMissing {
    /// `IGNORE_ERROR` is [`IgnoreError`](Self::IgnoreError); anything else (including
    /// `RUNTIME_ERROR`, since a failed request is never wanted) is [`LogError`](Self::LogError).
    #[must_use]
    pub fn from_value(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            Some("IGNORE_ERROR") => Self::IgnoreError,
            _ => Self::LogError,
        }
    }
}

/// `AWS_XRAY_SDK_ENABLED`: `n`, `no`, `f`, `false`, `off` and `0` (in any case) disable;
/// anything else, or unset, enables.
#[must_use]
pub fn sdk_enabled(value: Option<&str>) -> bool {
    !value.is_some_and(|value| {
        matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "n" | "no" | "f" | "false" | "off" | "0"
        )
    })
}

/// `Error` rather than `hyper_util::client::legacy::Error`.
fn short_type_name<E>() -> &'static str {
    let full = std::any::type_name::<E>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enabled_values() {
        for off in ["n", "NO", "f", "False", " off ", "0"] {
            assert!(!sdk_enabled(Some(off)), "{off}");
        }
        for on in ["", "1", "true", "yes", "maybe"] {
            assert!(sdk_enabled(Some(on)), "{on}");
        }
        assert!(sdk_enabled(None));
    }

    #[test]
    fn context_missing_values() {
        assert_eq!(
            ContextMissing::from_value(Some("IGNORE_ERROR")),
            ContextMissing::IgnoreError
        );
        for other in [Some("LOG_ERROR"), Some("RUNTIME_ERROR"), Some("x"), None] {
            assert_eq!(ContextMissing::from_value(other), ContextMissing::LogError);
        }
    }
}
