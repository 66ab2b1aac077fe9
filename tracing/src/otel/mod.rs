//! The OpenTelemetry path: `tracing` spans become OpenTelemetry spans (through
//! `tracing-opentelemetry`) with X-Ray trace ids, joined to Lambda's trace with the X-Ray
//! propagator, and exported to the X-Ray daemon by `opentelemetry-aws`'s exporter.
//!
//! ```no_run
//! use lamina_tracing::otel::{OtelConfig, OtelTracing};
//! use lambda_runtime::{LambdaEvent, service_fn};
//! use serde_json::Value;
//! use tracing_subscriber::prelude::*;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     let otel = OtelTracing::init(OtelConfig::from_env()?)?;
//!     tracing_subscriber::registry().with(otel.layer()).init();
//!     let handler = tower::ServiceBuilder::new()
//!         .layer(otel.lambda_layer())
//!         .service(service_fn(|event: LambdaEvent<Value>| async move {
//!             let _load = tracing::info_span!("load", annotation.order_id = "o-1").entered();
//!             Ok::<_, lambda_runtime::Error>(event.payload)
//!         }));
//!     lambda_runtime::run(handler).await
//! }
//! ```
//!
//! # How it maps
//!
//! [`OtelLambdaLayer`] opens one `lambda.handler` span per invocation, named (`otel.name`) after
//! the function, whose parent is the context the [`XrayPropagator`] extracts from the
//! invocation's `Context::xray_trace_id` (never the environment): its trace id is Lambda's
//! `Root` and its parent span id is Lambda's `Parent`, the function segment. The exporter makes
//! every span a subsegment; fields named `annotation.<key>` become annotations and
//! `metadata.<key>` metadata. When the header says `Sampled=0`, or there is no valid header,
//! the subtree is not sampled and nothing is exported.
//!
//! Spans go through the SDK's batch processor; the layer force-flushes the provider after the
//! handler span closes and before the response is returned, so nothing is left in the buffer
//! when Lambda freezes the execution environment.
//!
//! [`Exporter::Otlp`] sends the same spans as OTLP over HTTP (protobuf) to an ADOT collector, such
//! as the ADOT Lambda layer's on `http://localhost:4318`, through `opentelemetry-http`'s hyper
//! client (plain HTTP: the collector runs beside the function).

mod lambda;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::{io, net::SocketAddr};

use bytes::Bytes;
use opentelemetry_http::hyper::HyperClient;
use opentelemetry_http::{HttpClient, HttpError};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_aws::{
    trace::XrayIdGenerator,
    xray_exporter::{XrayExporter, daemon_client::XrayDaemonClient},
};
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

pub use lambda::{OtelLambda, OtelLambdaLayer, ResponseFuture};
pub use opentelemetry_aws::trace::XrayPropagator;

/// The environment variable Lambda sets to the daemon's address.
const DAEMON_ADDRESS_VAR: &str = "AWS_XRAY_DAEMON_ADDRESS";

/// How long one OTLP export may take.
const OTLP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The daemon's address when the variable is unset.
const DEFAULT_DAEMON: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 2000);

/// Errors setting up the OpenTelemetry path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OtelError {
    /// `AWS_XRAY_DAEMON_ADDRESS` is neither `host:port` with an IP host nor
    /// `tcp:<addr> udp:<addr>`.
    #[error("invalid X-Ray daemon address {0:?}")]
    InvalidDaemonAddress(String),
    /// The OTLP exporter could not be built (for example, the endpoint is not a valid URL).
    #[error("cannot build the OTLP exporter for {endpoint}: {detail}")]
    Otlp {
        /// The collector endpoint.
        endpoint: String,
        /// What the exporter builder reported.
        detail: String,
    },
    /// The UDP socket to the daemon could not be created.
    #[error("cannot open the UDP socket to the X-Ray daemon at {address}")]
    Socket {
        /// The daemon address.
        address: SocketAddr,
        /// The socket error.
        #[source]
        source: io::Error,
    },
}

/// Where spans are exported.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Exporter {
    /// Segment documents over UDP to the X-Ray daemon at this address.
    XrayDaemon(SocketAddr),
    /// OTLP over HTTP (protobuf) to a collector's traces endpoint, e.g.
    /// `http://localhost:4318/v1/traces` for the ADOT Lambda layer.
    Otlp(String),
}

/// Configuration for [`OtelTracing::init`].
#[derive(Debug, Clone)]
pub struct OtelConfig {
    exporter: Exporter,
    tracer_name: String,
}

impl OtelConfig {
    /// Exports to the X-Ray daemon at `address`.
    #[must_use]
    pub fn xray_daemon(address: SocketAddr) -> Self {
        Self {
            exporter: Exporter::XrayDaemon(address),
            tracer_name: env!("CARGO_PKG_NAME").to_owned(),
        }
    }

    /// Exports as OTLP over HTTP to `endpoint`, a collector's traces URL
    /// (`http://localhost:4318/v1/traces` for the ADOT Lambda layer).
    #[must_use]
    pub fn otlp(endpoint: impl Into<String>) -> Self {
        Self {
            exporter: Exporter::Otlp(endpoint.into()),
            tracer_name: env!("CARGO_PKG_NAME").to_owned(),
        }
    }

    /// Exports to the X-Ray daemon named by `AWS_XRAY_DAEMON_ADDRESS` (`127.0.0.1:2000` when
    /// unset).
    ///
    /// # Errors
    /// [`OtelError::InvalidDaemonAddress`] when the variable is set but unparseable.
    pub fn from_env() -> Result<Self, OtelError> {
        let address = match std::env::var(DAEMON_ADDRESS_VAR) {
            Ok(value) => parse_daemon_address(&value)?,
            Err(_) => DEFAULT_DAEMON,
        };
        Ok(Self::xray_daemon(address))
    }

    /// The instrumentation scope name of the tracer (default `lamina-tracing`).
    #[must_use]
    pub fn tracer_name(mut self, name: impl Into<String>) -> Self {
        self.tracer_name = name.into();
        self
    }

    /// The configured exporter.
    #[must_use]
    pub fn exporter(&self) -> &Exporter {
        &self.exporter
    }
}

/// Parses a daemon address: `host:port` (an IP address or a host name, resolved here), or
/// `tcp:host:port udp:host:port` in either order (the UDP part is used), by the same rule as
/// [`crate::xray::parse_daemon_address`] when both paths are compiled.
///
/// # Errors
/// [`OtelError::InvalidDaemonAddress`] for anything else.
pub fn parse_daemon_address(value: &str) -> Result<SocketAddr, OtelError> {
    crate::xray_protocol::daemon_udp_address(value)
        .ok_or_else(|| OtelError::InvalidDaemonAddress(value.to_owned()))
}

/// `opentelemetry-http`'s hyper client, run on the Tokio runtime that built the exporter: the SDK's
/// batch processor exports from a thread of its own, where hyper would find no reactor.
#[derive(Debug, Clone)]
struct RuntimeBoundClient {
    inner: Arc<HyperClient>,
    runtime: tokio::runtime::Handle,
}

type ExportFuture<'a> =
    Pin<Box<dyn Future<Output = Result<http::Response<Bytes>, HttpError>> + Send + 'a>>;

impl HttpClient for RuntimeBoundClient {
    // The trait is declared with `async_trait`; this is its expanded signature.
    fn send_bytes<'life0, 'async_trait>(
        &'life0 self,
        request: http::Request<Bytes>,
    ) -> ExportFuture<'async_trait>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let inner = Arc::clone(&self.inner);
        let task = self
            .runtime
            .spawn(async move { inner.send_bytes(request).await });
        Box::pin(async move {
            match task.await {
                Ok(result) => result,
                Err(join) => Err(HttpError::from(format!(
                    "the OTLP export task failed: {join}"
                ))),
            }
        })
    }
}

/// A configured tracer provider: hands out the `tracing` layer and the Lambda layer.
///
/// Cloning is cheap; clones share the provider.
#[derive(Debug, Clone)]
pub struct OtelTracing {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl OtelTracing {
    /// Builds the tracer provider with the X-Ray id generator and a batch processor over the
    /// configured exporter.
    ///
    /// # Errors
    /// [`OtelError::Socket`] when the daemon socket cannot be opened; [`OtelError::Otlp`] when the
    /// OTLP exporter cannot be built.
    pub fn init(config: OtelConfig) -> Result<Self, OtelError> {
        let builder = SdkTracerProvider::builder().with_id_generator(XrayIdGenerator::default());
        let provider = match config.exporter {
            Exporter::XrayDaemon(address) => {
                let client = XrayDaemonClient::new(address)
                    .map_err(|source| OtelError::Socket { address, source })?;
                builder
                    .with_batch_exporter(XrayExporter::new(client))
                    .build()
            }
            Exporter::Otlp(endpoint) => {
                let runtime = tokio::runtime::Handle::try_current().map_err(|_| OtelError::Otlp {
                    endpoint: endpoint.clone(),
                    detail: "OtelTracing::init must be called inside a Tokio runtime for OTLP export".to_owned(),
                })?;
                let client = RuntimeBoundClient {
                    inner: Arc::new(HyperClient::with_default_connector(OTLP_TIMEOUT, None)),
                    runtime,
                };
                let exporter = opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_http_client(client)
                    .with_endpoint(endpoint.as_str())
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .build()
                    .map_err(|error| OtelError::Otlp {
                        endpoint: endpoint.clone(),
                        detail: error.to_string(),
                    })?;
                builder.with_batch_exporter(exporter).build()
            }
        };
        let tracer = provider.tracer(config.tracer_name);
        Ok(Self { provider, tracer })
    }

    /// The `tracing-subscriber` layer turning spans into OpenTelemetry spans.
    #[must_use]
    pub fn layer<S>(&self) -> OpenTelemetryLayer<S, SdkTracer>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        tracing_opentelemetry::layer().with_tracer(self.tracer.clone())
    }

    /// The tower layer that joins each invocation's trace and flushes before responding.
    #[must_use]
    pub fn lambda_layer(&self) -> OtelLambdaLayer {
        OtelLambdaLayer::new(self.provider.clone())
    }

    /// The SDK provider, e.g. to shut it down when the process ends.
    #[must_use]
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_addresses() {
        let plain: SocketAddr = "127.0.0.1:2000".parse().expect("addr");
        assert_eq!(parse_daemon_address("127.0.0.1:2000").ok(), Some(plain));
        let udp: SocketAddr = "169.254.79.129:2000".parse().expect("addr");
        assert_eq!(
            parse_daemon_address("tcp:169.254.79.129:2000 udp:169.254.79.129:2000").ok(),
            Some(udp)
        );
        // Host names resolve, as on the native X-Ray path: one rule for both.
        let resolved = parse_daemon_address("localhost:2000").map(|addr| addr.port());
        assert_eq!(resolved.ok(), Some(2000));
        for bad in ["", "localhost", "tcp:1.2.3.4:1 other", "udp:", "1.2.3.4"] {
            assert!(
                matches!(
                    parse_daemon_address(bad),
                    Err(OtelError::InvalidDaemonAddress(ref v)) if v == bad
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn config_defaults_and_overrides() {
        let address: SocketAddr = "127.0.0.1:2999".parse().expect("addr");
        let config = OtelConfig::xray_daemon(address).tracer_name("orders");
        assert_eq!(config.exporter(), &Exporter::XrayDaemon(address));
        assert_eq!(config.tracer_name, "orders");
    }
}
