//! `XrayHttpClientLayer`: outgoing HTTP requests as `remote` subsegments.

use std::{
    fmt,
    task::{Context, Poll},
};

use ::http::{HeaderValue, Request, Response, Uri, header::HOST};
use tower::{Layer, Service};
use tracing::{Instrument as _, field::Empty};

use super::{ContextMissing, TRACE_HEADER, sdk_enabled, short_type_name};
use crate::xray::{ResponseFuture, aws_fields::span_trace_context};

/// A tower layer for HTTP clients (any `Service<http::Request<B>>` answering
/// `http::Response<_>`, such as hyper-util's legacy `Client`): inside a sampled trace each
/// request becomes a `remote` subsegment named after the host, with `http.request.method`,
/// `http.request.url` (without the query string) and `http.response.status`, the flags for
/// the status (5xx `fault`, 429 `throttle` and `error`, other 4xx `error`), and `fault` with a
/// `cause` when the request fails without a response. The request carries
/// `X-Amzn-Trace-Id: Root=…;Parent=<the subsegment's id>;Sampled=1` followed by the incoming
/// header's extra keys (such as `Lineage`), replacing any header already set.
///
/// In a trace that is not sampled nothing is recorded, but the request still carries
/// `X-Amzn-Trace-Id: Root=…;Parent=<a fresh id>;Sampled=0` and the extra keys, as the X-Ray SDKs
/// pass an unsampled trace on (the downstream service does not sample it afresh, and `Lineage`
/// reaches Lambda's recursion detection). Outside any trace the request passes through
/// untouched; with [`ContextMissing::LogError`] it also logs an error event (never with the
/// URL's query string).
#[derive(Debug, Clone, Copy)]
pub struct XrayHttpClientLayer {
    enabled: bool,
    context_missing: ContextMissing,
}

impl Default for XrayHttpClientLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl XrayHttpClientLayer {
    /// Enabled, ignoring requests outside a trace ([`ContextMissing::IgnoreError`]).
    #[must_use]
    pub fn new() -> Self {
        Self {
            enabled: true,
            context_missing: ContextMissing::IgnoreError,
        }
    }

    /// Reads `AWS_XRAY_SDK_ENABLED` and `AWS_XRAY_CONTEXT_MISSING` from the process
    /// environment; see [`from_lookup`](Self::from_lookup).
    #[must_use]
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`: `AWS_XRAY_SDK_ENABLED` (`n`, `no`, `f`, `false`,
    /// `off` or `0`, in any case, disable the layer; anything else enables it) and
    /// `AWS_XRAY_CONTEXT_MISSING` (`LOG_ERROR` or `IGNORE_ERROR`; unset or any other value
    /// means `LOG_ERROR`, as in the Python SDK). In Lambda (`LAMBDA_TASK_ROOT` set) the
    /// setting is ignored and requests outside a trace are not logged, since an invocation
    /// that is not sampled is no error.
    #[must_use]
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let context_missing = if lookup("LAMBDA_TASK_ROOT").is_some() {
            ContextMissing::IgnoreError
        } else {
            ContextMissing::from_value(lookup("AWS_XRAY_CONTEXT_MISSING").as_deref())
        };
        Self {
            enabled: sdk_enabled(lookup("AWS_XRAY_SDK_ENABLED").as_deref()),
            context_missing,
        }
    }

    /// Turns the layer on or off (off: every request passes through untouched).
    #[must_use]
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// What to do with a request made outside any trace.
    #[must_use]
    pub fn context_missing(mut self, context_missing: ContextMissing) -> Self {
        self.context_missing = context_missing;
        self
    }
}

impl<S> Layer<S> for XrayHttpClientLayer {
    type Service = XrayHttpClient<S>;

    fn layer(&self, inner: S) -> Self::Service {
        XrayHttpClient {
            inner,
            config: *self,
        }
    }
}

/// The service built by [`XrayHttpClientLayer`].
#[derive(Debug, Clone)]
pub struct XrayHttpClient<S> {
    inner: S,
    config: XrayHttpClientLayer,
}

impl<S, B, R> Service<Request<B>> for XrayHttpClient<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    S::Error: fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if !self.config.enabled {
            return Box::pin(self.inner.call(request));
        }
        let host = host(&request).unwrap_or_else(|| "unknown".to_owned());
        let span = tracing::info_span!(
            "http.client",
            "xray.name" = host.as_str(),
            "xray.namespace" = "remote",
            "http.request.method" = request.method().as_str(),
            "http.request.url" = url_without_query(request.uri(), &authority(&request, &host)),
            "http.response.status" = Empty,
        );
        let Some(context) = span_trace_context(&span) else {
            if self.config.context_missing == ContextMissing::LogError {
                tracing::error!(
                    host = host.as_str(),
                    "cannot find the current segment or subsegment: the HTTP request is not traced"
                );
            }
            return Box::pin(self.inner.call(request));
        };
        // Header text only (`downstream_header` leaves out extra keys that are not).
        if let Ok(value) = HeaderValue::from_str(&context.downstream_header()) {
            request.headers_mut().insert(TRACE_HEADER, value);
        }
        if !context.sampled {
            return Box::pin(self.inner.call(request));
        }
        let future = self.inner.call(request).instrument(span.clone());
        Box::pin(async move {
            let result = future.await;
            match &result {
                Ok(response) => {
                    span.record(
                        "http.response.status",
                        u64::from(response.status().as_u16()),
                    );
                }
                Err(error) => span.in_scope(|| {
                    tracing::error!(
                        error = %error,
                        "error.type" = short_type_name::<S::Error>(),
                        "the HTTP request failed"
                    );
                }),
            }
            drop(span);
            result
        })
    }
}

/// The host of the request's URI, else of its `Host` header (without the port).
fn host<B>(request: &Request<B>) -> Option<String> {
    if let Some(host) = request.uri().host() {
        return Some(host.to_owned());
    }
    let header = request.headers().get(HOST)?.to_str().ok()?;
    let authority: ::http::uri::Authority = header.parse().ok()?;
    Some(authority.host().to_owned())
}

/// The `Host` header when it is a valid authority (it may carry the port), else `host`.
fn authority<B>(request: &Request<B>, host: &str) -> String {
    request
        .headers()
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|value| value.parse::<::http::uri::Authority>().is_ok())
        .unwrap_or(host)
        .to_owned()
}

/// `scheme://authority/path`, without the query string (which may hold secrets). A URI in
/// origin form (a path only) gets `http://` and `authority`.
pub(super) fn url_without_query(uri: &Uri, authority: &str) -> String {
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => format!("{scheme}://{authority}{}", uri.path()),
        _ => format!("http://{authority}{}", uri.path()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_query() {
        let uri: Uri = "https://api.example.com:8443/v1/items?token=secret"
            .parse()
            .expect("uri");
        assert_eq!(
            url_without_query(&uri, "ignored"),
            "https://api.example.com:8443/v1/items"
        );
        let origin: Uri = "/a/b?x=1".parse().expect("uri");
        assert_eq!(url_without_query(&origin, "h:80"), "http://h:80/a/b");
    }

    #[test]
    fn host_from_uri_or_header() {
        let request = Request::get("http://example.com:81/x")
            .body(())
            .expect("request");
        assert_eq!(host(&request).as_deref(), Some("example.com"));
        let request = Request::get("/x")
            .header(HOST, "internal:8080")
            .body(())
            .expect("request");
        assert_eq!(host(&request).as_deref(), Some("internal"));
        let request = Request::get("/x").body(()).expect("request");
        assert_eq!(host(&request), None);
    }

    #[test]
    fn settings_from_lookup() {
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        let layer = XrayHttpClientLayer::from_lookup(lookup(&[]));
        assert!(layer.enabled);
        assert_eq!(layer.context_missing, ContextMissing::LogError);
        let layer = XrayHttpClientLayer::from_lookup(lookup(&[
            ("AWS_XRAY_SDK_ENABLED", "Off"),
            ("AWS_XRAY_CONTEXT_MISSING", "IGNORE_ERROR"),
        ]));
        assert!(!layer.enabled);
        assert_eq!(layer.context_missing, ContextMissing::IgnoreError);
        let layer = XrayHttpClientLayer::from_lookup(lookup(&[
            ("LAMBDA_TASK_ROOT", "/var/task"),
            ("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR"),
        ]));
        assert_eq!(layer.context_missing, ContextMissing::IgnoreError);
    }
}
