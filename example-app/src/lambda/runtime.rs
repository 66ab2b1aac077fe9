//! Running a handler on Lambda: observability, the AWS adapters, the runtime loop.
//!
//! Each `run_*` function is one Lambda function's whole life: it installs the subscriber
//! (`LogLayer` and `XrayLayer`), reads its configuration ([`super::config`]), builds the SDK
//! clients (one shared `SdkConfig`, every client with `XrayInterceptor`) and the adapters it
//! needs, then serves invocations through `LogContextLayer`, `MetricsLayer` and
//! `XrayLambdaLayer`. A failure before the loop starts is a [`RunError`] for which
//! [`RunError::is_init`] holds; [`report_init_error`] tells Lambda about it through the Runtime
//! API's `/init/error`, so the function's log and status say why instead of
//! `Runtime.ExitError`.
//!
//! ```no_run
//! # async fn demo() -> std::process::ExitCode {
//! use udagram::lambda::runtime::{exit_code, run_ws_connect};
//!
//! exit_code(run_ws_connect().await).await
//! # }
//! ```

use std::process::ExitCode;
use std::sync::Arc;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayWebsocketProxyRequest,
};
use aws_lambda_events::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::sns::SnsEvent;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lambda_runtime::{LambdaEvent, service_fn};
use lamina_middleware::auth::Authorizer;
use lamina_tracing::logs::{LogContextLayer, LogLayer};
use lamina_tracing::metrics::{MetricsConfig, MetricsLayer};
use lamina_tracing::xray::{XrayLambdaLayer, XrayLayer, recommended_filter};
use tower::ServiceBuilder;
use tower::layer::util::{Identity, Stack};
use tracing_subscriber::prelude::*;

use super::Handler;
use super::adapters::{
    blob_store, connections, dynamodb, groups, images, notifier, prefetch_keys, sdk_config,
    search_index, verifier,
};
use super::api::ApiTraceLayer;
use super::config::{
    ApiConfig, AuthorizerConfig, ConfigError, ConnectionsConfig, StreamConfig, UploadConfig,
};
use super::stream::handle_stream;
use super::upload::handle_uploads;
use super::websocket::{handle_authorizer, handle_connect, handle_disconnect};
use crate::api::{ApiState, Schemas};
use crate::app::App;
use crate::events::UploadProcessor;
use crate::ports::SearchIndex;
use crate::realtime::Realtime;

/// The metrics namespace when `POWERTOOLS_METRICS_NAMESPACE` is unset.
pub const DEFAULT_METRICS_NAMESPACE: &str = "Udagram";
/// The `service` (metrics dimension, X-Ray annotation) when `POWERTOOLS_SERVICE_NAME` is unset.
pub const DEFAULT_SERVICE: &str = "udagram";

/// Why a function stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// `_HANDLER` is missing or names no handler this binary has.
    #[error("_HANDLER is {given:?}; this binary runs one of: {valid}")]
    UnknownHandler {
        /// What `_HANDLER` held (empty when unset).
        given: String,
        /// The valid names, comma-separated.
        valid: String,
    },
    /// The configuration is refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Something else failed during init (the subscriber, a client, the schemas).
    #[error("init failed: {what}: {message}")]
    Init {
        /// What was being set up.
        what: &'static str,
        /// Why it failed.
        message: String,
    },
    /// The runtime loop stopped (the Runtime API went away).
    #[error("the Lambda runtime stopped: {0}")]
    Runtime(lambda_runtime::Error),
}

impl RunError {
    /// Whether the function failed before serving its first invocation.
    #[must_use]
    pub fn is_init(&self) -> bool {
        !matches!(self, RunError::Runtime(_))
    }

    /// The error type reported to Lambda.
    #[must_use]
    pub fn error_type(&self) -> &'static str {
        match self {
            RunError::UnknownHandler { .. } => "Runtime.UnknownHandler",
            RunError::Config(_) => "Runtime.InvalidConfiguration",
            RunError::Init { .. } => "Runtime.InitError",
            RunError::Runtime(_) => "Runtime.ExitError",
        }
    }

    /// The error for an unknown `_HANDLER` among `valid`.
    #[must_use]
    pub fn unknown_handler(given: &str, valid: &[Handler]) -> Self {
        let valid = valid
            .iter()
            .map(|h| h.name())
            .collect::<Vec<_>>()
            .join(", ");
        RunError::UnknownHandler {
            given: given.to_owned(),
            valid,
        }
    }
}

pub(crate) fn init_failed(what: &'static str) -> impl FnOnce(&dyn std::fmt::Display) -> RunError {
    move |error| RunError::Init {
        what,
        message: error.to_string(),
    }
}

/// Installs the global subscriber: JSON logs (`LogLayer`, configured by `AWS_LAMBDA_LOG_LEVEL`
/// and friends) and X-Ray subsegments (`XrayLayer`, to `AWS_XRAY_DAEMON_ADDRESS`) for spans at
/// INFO and above except the SDK's own ([`recommended_filter`]).
///
/// # Errors
/// [`RunError::Init`] for a malformed logging or daemon variable.
pub fn init_observability() -> Result<(), RunError> {
    let logs = LogLayer::from_env().map_err(|e| init_failed("logging")(&e))?;
    let xray = XrayLayer::from_env().map_err(|e| init_failed("X-Ray")(&e))?;
    tracing_subscriber::registry()
        .with(logs)
        .with(xray.with_filter(recommended_filter()))
        .try_init()
        .map_err(|e| init_failed("the tracing subscriber")(&e))
}

/// The layers every invocation goes through, outermost first.
pub type InvocationLayers =
    Stack<XrayLambdaLayer, Stack<MetricsLayer, Stack<LogContextLayer, Identity>>>;

/// The per-invocation layers: log context, EMF metrics (namespace and service from Powertools'
/// variables, else [`DEFAULT_METRICS_NAMESPACE`] and [`DEFAULT_SERVICE`]; a `handler`
/// dimension) and the X-Ray handler subsegment.
///
/// # Errors
/// [`RunError::Init`] for a malformed metrics variable.
pub fn invocation_layers(handler: Handler) -> Result<ServiceBuilder<InvocationLayers>, RunError> {
    let failed = |e: lamina_tracing::metrics::MetricsError| init_failed("metrics")(&e);
    let mut config = MetricsConfig::from_env().map_err(failed)?;
    if config.namespace_name().is_none() {
        config = config
            .namespace(DEFAULT_METRICS_NAMESPACE)
            .map_err(failed)?;
    }
    if config.service_name().is_none() {
        config = config.service(DEFAULT_SERVICE).map_err(failed)?;
    }
    let config = config
        .default_dimension("handler", handler.name())
        .map_err(failed)?;
    let metrics = MetricsLayer::new(config).map_err(failed)?;
    // Responses of the API and the authorizer carry user data and claims: keep them out of X-Ray.
    let capture_response = !matches!(handler, Handler::Api | Handler::Authorizer);
    let xray = XrayLambdaLayer::new()
        .service(DEFAULT_SERVICE)
        .capture_response(capture_response);
    Ok(ServiceBuilder::new()
        .layer(LogContextLayer::new())
        .layer(metrics)
        .layer(xray))
}

/// Turns a function's end into its exit code, reporting an init failure to Lambda first (and
/// printing every failure to stderr, which Lambda sends to the function's log).
pub async fn exit_code(result: Result<(), RunError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("udagram-lambda: {error}");
            if error.is_init() {
                report_init_error(&error).await;
            }
            ExitCode::FAILURE
        }
    }
}

/// Posts `error` to the Runtime API's `/init/error` (at `AWS_LAMBDA_RUNTIME_API`), as
/// `lambda_runtime` does for its own init failures. Best effort: the process exits next anyway.
pub async fn report_init_error(error: &RunError) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let body = serde_json::json!({
        "errorType": error.error_type(),
        "errorMessage": error.to_string(),
    });
    let request = http::Request::post(format!("http://{api}/2018-06-01/runtime/init/error"))
        .header("Lambda-Runtime-Function-Error-Type", error.error_type())
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())));
    let Ok(request) = request else {
        return;
    };
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    match client.request(request).await {
        Ok(response) => {
            let _ = response.into_body().collect().await;
        }
        Err(error) => eprintln!("udagram-lambda: could not report the init error: {error}"),
    }
}

/// Runs the `api` function.
///
/// # Errors
/// A [`RunError`]; see the module docs.
pub async fn run_api() -> Result<(), RunError> {
    init_observability()?;
    let config = ApiConfig::from_env()?;
    let layers = invocation_layers(Handler::Api)?;
    let sdk = sdk_config().await;
    let dynamodb = dynamodb(&sdk);
    let groups = groups(&dynamodb, &config.groups_table);
    let images =
        Arc::new(images(&dynamodb, &config.images_table).with_groups_table(&*config.groups_table));
    // Only searches: the Images table's stream keeps the index (`index-stream`), and the
    // bucket's notification announces uploads, so the API has neither a writer nor a bus.
    let search = Arc::new(search_index(&sdk, &config.search)?);
    let blobs = Arc::new(blob_store(&sdk, &config.bucket));
    let app = App::new(groups, images, search, blobs);
    let schemas = Schemas::load().map_err(|e| init_failed("the request schemas")(&e))?;
    let verifier = verifier(&config.auth)?;
    prefetch_keys(&verifier).await;
    // The web client's origin (`LAMINA_CORS_ALLOWED_ORIGINS`); `*` only when configured so.
    let cors = lamina_middleware::cors::CorsConfig::from_env()
        .map_err(|e| init_failed("the CORS configuration")(&e))?;
    let api = crate::api::service(ApiState::new(app, schemas), verifier, cors)
        .map_err(|e| init_failed("the API")(&e))?;
    let api = ServiceBuilder::new().layer(ApiTraceLayer).service(api);
    let handler = layers.service(lambda_http::Adapter::from(api));
    lambda_runtime::run(handler)
        .await
        .map_err(RunError::Runtime)
}

/// Runs the `process-upload` function.
///
/// # Errors
/// A [`RunError`]; see the module docs.
pub async fn run_process_upload() -> Result<(), RunError> {
    init_observability()?;
    let config = UploadConfig::from_env()?;
    let layers = invocation_layers(Handler::ProcessUpload)?;
    let sdk = sdk_config().await;
    let dynamodb = dynamodb(&sdk);
    // No groups table: it creates no image, and marks one ready by its own key.
    let processor = UploadProcessor::new(
        Arc::new(images(&dynamodb, &config.images_table)),
        Arc::new(blob_store(&sdk, &config.bucket)),
        connections(&dynamodb, &config.connections_table),
        Arc::new(notifier(&sdk, &config.websocket_endpoint)),
    );
    let handler = layers.service(service_fn(move |event: LambdaEvent<SnsEvent>| {
        let processor = processor.clone();
        async move { handle_uploads(&processor, event.payload).await }
    }));
    lambda_runtime::run(handler)
        .await
        .map_err(RunError::Runtime)
}

/// Runs the `index-stream` function.
///
/// # Errors
/// A [`RunError`]; see the module docs.
pub async fn run_index_stream() -> Result<(), RunError> {
    init_observability()?;
    let config = StreamConfig::from_env()?;
    let layers = invocation_layers(Handler::IndexStream)?;
    let sdk = sdk_config().await;
    let index = search_index(&sdk, &config.search)?;
    // The stream's first write would otherwise create the index with a guessed mapping.
    if let Err(error) = index.ensure_index().await {
        tracing::warn!(%error, "the search index could not be created at init; writes will retry");
    }
    let index: Arc<dyn SearchIndex> = Arc::new(index);
    let handler = layers.service(service_fn(move |event: LambdaEvent<DynamoDbEvent>| {
        let index = Arc::clone(&index);
        async move {
            Ok::<_, std::convert::Infallible>(handle_stream(index.as_ref(), event.payload).await)
        }
    }));
    lambda_runtime::run(handler)
        .await
        .map_err(RunError::Runtime)
}

async fn realtime() -> Result<Realtime, RunError> {
    let config = ConnectionsConfig::from_env()?;
    let sdk = sdk_config().await;
    Ok(Realtime::new(connections(
        &dynamodb(&sdk),
        &config.connections_table,
    )))
}

/// Runs the `ws-connect` function.
///
/// # Errors
/// A [`RunError`]; see the module docs.
pub async fn run_ws_connect() -> Result<(), RunError> {
    init_observability()?;
    let realtime = realtime().await?;
    let layers = invocation_layers(Handler::WsConnect)?;
    let handler = layers.service(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let realtime = realtime.clone();
            async move { handle_connect(&realtime, event.payload).await }
        },
    ));
    lambda_runtime::run(handler)
        .await
        .map_err(RunError::Runtime)
}

/// Runs the `ws-disconnect` function.
///
/// # Errors
/// A [`RunError`]; see the module docs.
pub async fn run_ws_disconnect() -> Result<(), RunError> {
    init_observability()?;
    let realtime = realtime().await?;
    let layers = invocation_layers(Handler::WsDisconnect)?;
    let handler = layers.service(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let realtime = realtime.clone();
            async move { handle_disconnect(&realtime, event.payload).await }
        },
    ));
    lambda_runtime::run(handler)
        .await
        .map_err(RunError::Runtime)
}

/// Runs the `authorizer` function.
///
/// # Errors
/// A [`RunError`]; see the module docs.
pub async fn run_authorizer() -> Result<(), RunError> {
    init_observability()?;
    let config = AuthorizerConfig::from_env()?;
    let layers = invocation_layers(Handler::Authorizer)?;
    let verifier = verifier(&config.auth)?;
    prefetch_keys(&verifier).await;
    let authorizer = Authorizer::new(verifier);
    let handler = layers.service(service_fn(
        move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| {
            let authorizer = authorizer.clone();
            async move { handle_authorizer(&authorizer, event.payload).await }
        },
    ));
    lambda_runtime::run(handler)
        .await
        .map_err(RunError::Runtime)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn unknown_handlers_list_the_valid_names() {
        let error = RunError::unknown_handler("bootstrap", &[Handler::Api, Handler::WsConnect]);
        assert_eq!(
            error.to_string(),
            "_HANDLER is \"bootstrap\"; this binary runs one of: api, ws-connect"
        );
        assert!(error.is_init());
        assert_eq!(error.error_type(), "Runtime.UnknownHandler");
        let config = RunError::from(ConfigError::Missing("CONNECTIONS_TABLE"));
        assert!(config.to_string().contains("CONNECTIONS_TABLE"));
        assert!(!RunError::Runtime("gone".into()).is_init());
    }
}
