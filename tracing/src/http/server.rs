//! `XrayHttpServerLayer`: one X-Ray segment per incoming request, outside Lambda.

use std::{
    fmt,
    net::SocketAddr,
    sync::Arc,
    task::{Context, Poll},
};

use ::http::{HeaderValue, Request, Response, header::USER_AGENT};
use tower::{Layer, Service};
use tracing::{Instrument as _, field::Empty};

use super::{
    Sampler, SamplingRequest, SamplingStrategy, TRACE_HEADER, client::url_without_query,
    sdk_enabled, short_type_name,
};
use crate::xray::{ResponseFuture, SamplingDecision, TraceHeader, TraceId};

/// A tower layer for HTTP servers (any `Service<http::Request<B>>` answering
/// `http::Response<_>`) running outside Lambda: each request runs inside a span that
/// [`XrayLayer`](crate::xray::XrayLayer) sends as a *segment* when the response is ready, and
/// every span below it becomes one of its subsegments.
///
/// - The trace comes from the incoming `X-Amzn-Trace-Id` (`Root`, and `Parent` as the
///   segment's `parent_id`), or is new. `Sampled=1` and `Sampled=0` are obeyed; with `?` or no
///   decision the [`sampler`](Self::sampler) decides (local rules, or centralized ones with a
///   [`CentralizedSampler`](super::CentralizedSampler)). An unsampled request sends nothing, but
///   calls made while serving it pass its trace on with `Sampled=0`.
/// - A segment sampled by a centralized rule records the rule in `aws.xray.sampling_rule_name`.
/// - The segment is named after [`new`](Self::new)'s name, or `AWS_XRAY_TRACING_NAME` with
///   [`from_lookup`](Self::from_lookup).
/// - It carries `http.request` (`method`, `url` without the query string, `user_agent`,
///   `client_ip` from the first `X-Forwarded-For` address, else from a [`SocketAddr`] request
///   extension) and `http.response.status`, with the flags for the status.
/// - When the request sent `Sampled=?`, the response carries `X-Amzn-Trace-Id:
///   Root=…;Sampled=1|0` with the decision.
#[derive(Debug, Clone)]
pub struct XrayHttpServerLayer {
    name: Arc<str>,
    sampler: Arc<dyn SamplingStrategy>,
    enabled: bool,
}

impl XrayHttpServerLayer {
    /// Segments named `name`, sampled by the default rules (1 request per second, then 5%).
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into().into(),
            sampler: Arc::new(Sampler::default()),
            enabled: true,
        }
    }

    /// Reads the settings from the process environment; see [`from_lookup`](Self::from_lookup).
    #[must_use]
    pub fn from_env(default_name: impl Into<String>) -> Self {
        Self::from_lookup(default_name, |name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`: the segment name from `AWS_XRAY_TRACING_NAME`
    /// (else `default_name`), and `AWS_XRAY_SDK_ENABLED` (`n`, `no`, `f`, `false`, `off` or
    /// `0`, in any case, disable the layer).
    #[must_use]
    pub fn from_lookup(
        default_name: impl Into<String>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let name = lookup("AWS_XRAY_TRACING_NAME")
            .filter(|name| !name.trim().is_empty())
            .unwrap_or_else(|| default_name.into());
        Self::new(name).enabled(sdk_enabled(lookup("AWS_XRAY_SDK_ENABLED").as_deref()))
    }

    /// Decides requests without an upstream decision with `sampler`: a [`Sampler`] of local
    /// rules, a [`CentralizedSampler`](super::CentralizedSampler), or any other
    /// [`SamplingStrategy`].
    #[must_use]
    pub fn sampler(mut self, sampler: impl SamplingStrategy) -> Self {
        self.sampler = Arc::new(sampler);
        self
    }

    /// Turns the layer on or off (off: requests pass through untouched).
    #[must_use]
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }
}

impl<S> Layer<S> for XrayHttpServerLayer {
    type Service = XrayHttpServer<S>;

    fn layer(&self, inner: S) -> Self::Service {
        XrayHttpServer {
            inner,
            config: self.clone(),
        }
    }
}

/// The service built by [`XrayHttpServerLayer`].
#[derive(Clone)]
pub struct XrayHttpServer<S> {
    inner: S,
    config: XrayHttpServerLayer,
}

impl<S: fmt::Debug> fmt::Debug for XrayHttpServer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XrayHttpServer")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish()
    }
}

impl<S, B, R> Service<Request<B>> for XrayHttpServer<S>
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

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if !self.config.enabled {
            return Box::pin(self.inner.call(request));
        }
        let incoming = request
            .headers()
            .get(TRACE_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(TraceHeader::parse)
            .unwrap_or_default();
        let authority = request.uri().authority().cloned().or_else(|| {
            let header = request.headers().get(::http::header::HOST)?.to_str().ok()?;
            header.parse::<::http::uri::Authority>().ok()
        });
        let host = authority
            .as_ref()
            .map(|authority| authority.host().to_owned());
        let (sampled, rule_name) = match incoming.sampled {
            Some(SamplingDecision::Sampled) => (true, None),
            Some(SamplingDecision::NotSampled) => (false, None),
            Some(SamplingDecision::Requested) | None => {
                let outcome = self.config.sampler.decide(
                    &SamplingRequest {
                        host: host.as_deref(),
                        method: Some(request.method().as_str()),
                        url_path: Some(request.uri().path()),
                    },
                    &self.config.name,
                );
                (outcome.sampled, outcome.rule_name)
            }
        };
        let trace_id = incoming.root.clone().unwrap_or_else(TraceId::generate);
        let reply = (incoming.sampled == Some(SamplingDecision::Requested)).then(|| TraceHeader {
            root: Some(trace_id.clone()),
            parent: None,
            sampled: Some(if sampled {
                SamplingDecision::Sampled
            } else {
                SamplingDecision::NotSampled
            }),
            extra: Vec::new(),
        });
        let span = if sampled {
            let extra = TraceHeader {
                extra: incoming.extra.clone(),
                ..TraceHeader::default()
            }
            .to_string();
            let forwarded = request
                .headers()
                .get("x-forwarded-for")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.split(',').next())
                .map(|first| first.trim().to_owned())
                .filter(|first| !first.is_empty());
            let client_ip = forwarded.clone().or_else(|| {
                request
                    .extensions()
                    .get::<SocketAddr>()
                    .map(|addr| addr.ip().to_string())
            });
            let parent = incoming.parent.map(|parent| parent.to_string());
            // `aws.json.xray` becomes the segment's `aws.xray` object.
            let rule = rule_name
                .map(|name| serde_json::json!({ "sampling_rule_name": &*name }).to_string());
            let url = url_without_query(
                request.uri(),
                authority
                    .as_ref()
                    .map_or("localhost", |authority| authority.as_str()),
            );
            tracing::info_span!(
                "http.server",
                "xray.trace_id" = trace_id.as_str(),
                "xray.parent_id" = parent.as_deref(),
                "xray.segment" = true,
                "xray.name" = &*self.config.name,
                "xray.trace_extra" = extra.as_str(),
                "aws.json.xray" = rule.as_deref(),
                "http.request.method" = request.method().as_str(),
                "http.request.url" = url.as_str(),
                "http.request.user_agent" = request
                    .headers()
                    .get(USER_AGENT)
                    .and_then(|value| value.to_str().ok()),
                "http.request.client_ip" = client_ip.as_deref(),
                "http.request.x_forwarded_for" = forwarded.is_some().then_some(true),
                "http.response.status" = Empty,
            )
        } else {
            // Not sampled: nothing is sent, but downstream calls pass the trace on (`Sampled=0`).
            let extra = TraceHeader {
                extra: incoming.extra.clone(),
                ..TraceHeader::default()
            }
            .to_string();
            tracing::info_span!(
                "http.server",
                "xray.sampled" = false,
                "xray.trace_id" = trace_id.as_str(),
                "xray.trace_extra" = extra.as_str(),
            )
        };
        let future = self.inner.call(request).instrument(span.clone());
        Box::pin(async move {
            let mut result = future.await;
            match &mut result {
                Ok(response) => {
                    span.record(
                        "http.response.status",
                        u64::from(response.status().as_u16()),
                    );
                    if let Some(value) =
                        reply.and_then(|reply| HeaderValue::from_str(&reply.to_string()).ok())
                    {
                        response.headers_mut().insert(TRACE_HEADER, value);
                    }
                }
                Err(error) => span.in_scope(|| {
                    tracing::error!(
                        error = %error,
                        "error.type" = short_type_name::<S::Error>(),
                        "the request handler failed"
                    );
                }),
            }
            drop(span);
            result
        })
    }
}
