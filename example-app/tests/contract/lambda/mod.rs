//! [`LambdaStack`]: the [`Target`] that runs Udagram as it runs on AWS, on one machine.
//!
//! - The `udagram-lambda` binary under `lamina-local`'s emulator, one emulator per function
//!   (`_HANDLER` = `api`, `process-upload`, `index-stream`), each with active tracing to an
//!   [`XrayCollector`] standing in for the X-Ray daemon.
//! - The AWS adapters on `moto_server` (tables, bucket, topic, notification: [`provision`]), the
//!   search domain on `lamina_local::opensearch`, the token issuer's JWKS on loopback.
//! - The `api` function behind `lamina_local::apigw`, the REST API stand-in, which the suite talks to.
//! - The event sources ([`pump`]): S3 -> SNS -> `process-upload` and the Images stream ->
//!   `index-stream`, drained every 100 ms and on [`Target::settle`].
//!
//! Uploads go straight to moto with the presigned URL the API hands out; reads go to
//! `IMAGES_PUBLIC_URL` (moto's path-style bucket URL), as a browser would read a public bucket.

pub mod issuer;
pub mod provision;
pub mod pump;
mod trace;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lamina_local::apigw::{RestApi, RestApiConfig};
use lamina_local::emulator::{Emulator, FunctionConfig};
use lamina_local::moto::MotoServer;
use lamina_local::opensearch::OpenSearchServer;
use lamina_local::xray::{CollectorConfig, XrayCollector};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::client::{Http, Reply};
use crate::target::Target;
use issuer::Issuer;
use provision::Resources;
use pump::{EventFunctions, Pump};

/// The functions' timeout (the template's).
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(15);

/// Sets the `api` function's concurrency (its most execution environments), so the suite can run
/// against one environment or several; unset, the emulator's default.
const CONCURRENCY_VARIABLE: &str = "UDAGRAM_API_CONCURRENCY";

/// The `api` function's concurrency from [`CONCURRENCY_VARIABLE`], if set.
fn api_concurrency() -> Option<usize> {
    let value = std::env::var(CONCURRENCY_VARIABLE).ok()?;
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Some(n),
        _ => panic!("{CONCURRENCY_VARIABLE} must be a positive number, got {value:?}"),
    }
}

/// Udagram's Lambda functions on the emulator, with moto behind them.
#[derive(Debug)]
pub struct LambdaStack {
    http: Http,
    api: RestApi,
    issuer: Issuer,
    pump: Arc<Pump>,
    pump_task: JoinHandle<()>,
    functions: Vec<Emulator>,
    xray: XrayCollector,
    search: OpenSearchServer,
    moto: MotoServer,
}

impl LambdaStack {
    /// Provisions everything on a fresh moto and starts the functions (cold on first use).
    pub async fn start() -> Self {
        let moto = MotoServer::start().await.unwrap();
        let resources = provision::provision(moto.sdk_config()).await;
        let search = OpenSearchServer::start_for(moto.sdk_config())
            .await
            .unwrap();
        provision::create_search_index(moto.sdk_config(), &search.endpoint_url()).await;
        let xray =
            XrayCollector::start(CollectorConfig::new().bind("127.0.0.1:0".parse().unwrap()))
                .await
                .unwrap();
        let issuer = Issuer::start().await;

        let environment = environment(&moto, &resources, &search, &issuer);
        let function = |handler: &str| {
            FunctionConfig::new(env!("CARGO_BIN_EXE_udagram-lambda"))
                .function_name(format!("udagram-{handler}"))
                .handler(handler)
                .memory_mb(512)
                .timeout(FUNCTION_TIMEOUT)
                .xray_daemon(xray.daemon_address())
                .envs(environment.clone())
                .echo_logs(true)
        };
        let mut api_config = function("api");
        if let Some(concurrency) = api_concurrency() {
            api_config = api_config.concurrency(concurrency);
        }
        let api = Emulator::start(api_config).await.unwrap();
        let process_upload = Emulator::start(function("process-upload")).await.unwrap();
        let index_stream = Emulator::start(function("index-stream")).await.unwrap();

        let gateway = RestApi::bind(
            [api.clone()],
            RestApiConfig::new().stage("v1"),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let pump = Arc::new(Pump::new(
            moto.sdk_config(),
            resources.clone(),
            EventFunctions {
                process_upload: process_upload.clone(),
                index_stream: index_stream.clone(),
            },
        ));
        let background = Arc::clone(&pump);
        let pump_task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(pump::POLL_INTERVAL).await;
                background.round().await;
            }
        });
        Self {
            http: Http::new(&gateway.url()),
            api: gateway,
            issuer,
            pump,
            pump_task,
            functions: vec![api, process_upload, index_stream],
            xray,
            search,
            moto,
        }
    }

    pub fn xray(&self) -> &XrayCollector {
        &self.xray
    }

    pub fn pump(&self) -> &Pump {
        &self.pump
    }
}

/// Every function's environment: the superset of what each reads (see `udagram::lambda::config`).
fn environment(
    moto: &MotoServer,
    resources: &Resources,
    search: &OpenSearchServer,
    issuer: &Issuer,
) -> Vec<(String, String)> {
    let mut environment = moto.environment();
    environment.extend(issuer.environment());
    let tables = &resources.tables;
    for (name, value) in [
        ("GROUPS_TABLE", tables.groups.clone()),
        ("IMAGES_TABLE", tables.images.clone()),
        ("CONNECTIONS_TABLE", tables.connections.clone()),
        ("IMAGES_BUCKET", resources.bucket.clone()),
        (
            "IMAGES_PUBLIC_URL",
            format!("{}/{}", moto.endpoint_url(), resources.bucket),
        ),
        ("S3_FORCE_PATH_STYLE", "true".to_owned()),
        ("UPLOADS_TOPIC_ARN", resources.topic_arn.clone()),
        ("SEARCH_ENDPOINT", search.endpoint_url()),
        ("SEARCH_INDEX", provision::SEARCH_INDEX.to_owned()),
        // The Management API on moto answers at the bare endpoint (no stage path).
        ("WEBSOCKET_ENDPOINT", moto.endpoint_url().to_owned()),
        // The web client's origin, which the suite's CORS cases send.
        (
            "LAMINA_CORS_ALLOWED_ORIGINS",
            crate::suite::CLIENT_ORIGIN.to_owned(),
        ),
    ] {
        environment.push((name.to_owned(), value));
    }
    environment
}

impl Target for LambdaStack {
    fn http(&self) -> &Http {
        &self.http
    }

    async fn token(&self, user: &str) -> String {
        self.issuer.token(user)
    }

    async fn upload(&self, upload: &Value, content_type: &str, body: Bytes) -> Reply {
        crate::fixtures::post_form(&self.http, upload, content_type, body).await
    }

    async fn fetch(&self, url: &str) -> Reply {
        self.http.get(url).send().await
    }

    async fn settle(&self) {
        self.pump.settle().await;
    }

    async fn stop(self) {
        self.pump_task.abort();
        let failures = self.pump.failures();
        assert!(failures.is_empty(), "event handlers failed: {failures:#?}");
        assert_eq!(
            self.search.requests_refused(),
            0,
            "the search domain refused signatures"
        );
        self.api.shutdown().await;
        for function in &self.functions {
            function.shutdown().await;
        }
        self.issuer.stop().await;
        self.xray.shutdown().await;
        drop(self.moto);
    }
}
