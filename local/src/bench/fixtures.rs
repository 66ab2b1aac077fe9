//! The servers a function may talk to at init, started once for a whole benchmark: moto (with an
//! optional seed step), a loopback JWKS server and the X-Ray daemon stand-in.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use aws_config::SdkConfig;
use axum::Router;
use axum::routing::get;
use tokio::task::JoinHandle;

use super::BenchError;
use crate::moto::MotoServer;
use crate::xray::{CollectorConfig, XrayCollector};

/// The path the JWKS fixture serves its document at.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

type SeedFuture =
    Pin<Box<dyn Future<Output = Result<(), Box<dyn std::error::Error + Send + Sync>>> + Send>>;
type Seed = Arc<dyn Fn(SdkConfig) -> SeedFuture + Send + Sync>;

/// A server the functions under benchmark need, started before the first sample and stopped after
/// the last.
///
/// ```
/// use lamina_local::bench::Fixture;
///
/// let jwks = Fixture::jwks("JWKS_URL", serde_json::json!({"keys": []}));
/// let traces = Fixture::xray_daemon();
/// let tables = Fixture::moto_seeded(|sdk| async move {
///     // e.g. aws_sdk_dynamodb::Client::new(&sdk).create_table()...
///     let _ = sdk;
///     Ok(())
/// });
/// # let _ = (jwks, traces, tables);
/// ```
#[derive(Clone)]
pub struct Fixture {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Moto(Option<Seed>),
    XrayDaemon,
    Jwks {
        url_env: String,
        document: serde_json::Value,
    },
}

impl fmt::Debug for Fixture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Moto(seed) => f
                .debug_struct("Moto")
                .field("seeded", &seed.is_some())
                .finish(),
            Kind::XrayDaemon => f.write_str("XrayDaemon"),
            Kind::Jwks { url_env, .. } => f.debug_struct("Jwks").field("url_env", url_env).finish(),
        }
    }
}

impl Fixture {
    /// `moto_server` on loopback; every function gets `AWS_ENDPOINT_URL`, test credentials and
    /// `us-east-1`, so the AWS SDK's clients built at init talk to it.
    #[must_use]
    pub fn moto() -> Self {
        Self {
            kind: Kind::Moto(None),
        }
    }

    /// [`Fixture::moto`], with `seed` run once (before any sample) against it: create the tables,
    /// secrets and parameters the function reads at init.
    #[must_use]
    pub fn moto_seeded<F, Fut>(seed: F) -> Self
    where
        F: Fn(SdkConfig) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Box<dyn std::error::Error + Send + Sync>>> + Send + 'static,
    {
        let seed: Seed = Arc::new(move |sdk| -> SeedFuture { Box::pin(seed(sdk)) });
        Self {
            kind: Kind::Moto(Some(seed)),
        }
    }

    /// The X-Ray daemon stand-in: every function gets `AWS_XRAY_DAEMON_ADDRESS` and active tracing,
    /// so the cost of sending segments is in the figures, as on AWS with tracing on.
    #[must_use]
    pub fn xray_daemon() -> Self {
        Self {
            kind: Kind::XrayDaemon,
        }
    }

    /// A loopback HTTP server answering `GET /.well-known/jwks.json` with `document`; every function
    /// gets its URL in the variable `url_env`.
    #[must_use]
    pub fn jwks(url_env: impl Into<String>, document: serde_json::Value) -> Self {
        Self {
            kind: Kind::Jwks {
                url_env: url_env.into(),
                document,
            },
        }
    }

    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Moto(_) => "moto",
            Kind::XrayDaemon => "X-Ray daemon",
            Kind::Jwks { .. } => "JWKS",
        }
    }
}

/// The fixtures of one benchmark, running.
#[derive(Debug, Default)]
pub(crate) struct RunningFixtures {
    moto: Option<MotoServer>,
    collector: Option<XrayCollector>,
    jwks: Vec<JwksServer>,
    env: Vec<(String, String)>,
}

#[derive(Debug)]
struct JwksServer {
    task: JoinHandle<()>,
}

impl RunningFixtures {
    /// Starts every fixture, in order.
    pub(crate) async fn start(fixtures: &[Fixture]) -> Result<Self, BenchError> {
        let mut running = Self::default();
        for fixture in fixtures {
            let fail = |detail: String| BenchError::Fixture {
                fixture: fixture.name(),
                detail,
            };
            match &fixture.kind {
                Kind::Moto(seed) => {
                    if running.moto.is_some() {
                        return Err(fail("given twice".to_owned()));
                    }
                    let moto = MotoServer::start()
                        .await
                        .map_err(|e| fail(format!("{e:#}")))?;
                    if let Some(seed) = seed {
                        seed(moto.sdk_config().clone())
                            .await
                            .map_err(|e| fail(format!("its seed step failed: {e}")))?;
                    }
                    running.env.extend(moto.environment());
                    running.moto = Some(moto);
                }
                Kind::XrayDaemon => {
                    if running.collector.is_some() {
                        return Err(fail("given twice".to_owned()));
                    }
                    let bind = SocketAddr::from(([127, 0, 0, 1], 0));
                    let collector = XrayCollector::start(CollectorConfig::new().bind(bind))
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    running.collector = Some(collector);
                }
                Kind::Jwks { url_env, document } => {
                    if !document["keys"].is_array() {
                        return Err(fail("the document has no `keys` array".to_owned()));
                    }
                    let (server, address) = JwksServer::start(document.clone())
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    running
                        .env
                        .push((url_env.clone(), format!("http://{address}{JWKS_PATH}")));
                    running.jwks.push(server);
                }
            }
        }
        Ok(running)
    }

    /// The variables every function gets from the fixtures.
    pub(crate) fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// The X-Ray daemon's address, when that fixture runs.
    pub(crate) fn daemon_address(&self) -> Option<String> {
        self.collector.as_ref().map(XrayCollector::daemon_address)
    }

    /// How many segment documents reached the X-Ray daemon stand-in (`None` without it).
    pub(crate) fn xray_documents(&self) -> Option<u64> {
        self.collector.as_ref().map(|c| c.stats().received)
    }

    /// Stops every server.
    pub(crate) async fn shutdown(self) {
        if let Some(collector) = &self.collector {
            collector.shutdown().await;
        }
        for server in self.jwks {
            server.task.abort();
        }
        // moto stops by its process id when dropped.
    }
}

impl JwksServer {
    async fn start(document: serde_json::Value) -> std::io::Result<(Self, SocketAddr)> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let body = Arc::new(document);
        let router = Router::new().route(
            JWKS_PATH,
            get(move || {
                let body = Arc::clone(&body);
                async move { axum::Json((*body).clone()) }
            }),
        );
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::warn!(%error, "the JWKS fixture stopped");
            }
        });
        Ok((Self { task }, address))
    }
}
