//! Cold-start variant 2: variant 1's hello wearing the whole Lamina stack, wired as a production
//! function would be: JSON logs with the Lambda context, EMF metrics flushed per invocation, X-Ray
//! subsegments sent to the daemon, CORS, problem+json error mapping, the invocation context and a
//! deadline, JWT auth against a JWKS fetched at init, and one Secrets Manager secret fetched at init.
//!
//! Configuration (environment):
//! - `BENCH_JWKS_URL`, `BENCH_ISSUER`, `BENCH_AUDIENCE`: the token issuer (required).
//! - `BENCH_SECRET_ID`: the secret prefetched at init (required).
//! - `BENCH_PREFETCH`: `concurrent` (default), `sequential`, `background` (started at init, not
//!   awaited: the first request joins the fetches) or `none` (the first request fetches the JWKS and
//!   the secret), the init prefetch ablations.
//! - `BENCH_EXTRA_CLIENT`: `lazy` (default) or `eager`: an SSM client the handler holds but does not
//!   call on this route, built at init (`eager`) or on first use (`lazy`), the SDK client ablation.
//! - `LAMINA_CORS_*`, `POWERTOOLS_*`, `AWS_LAMINA_LOG_*`: the layers' own settings.

use std::time::Duration;

use lambda_http::{Body, Request, Response};
use lambda_runtime::Error;
use lamina_middleware::auth::{Claims, JwtAuthLayer, JwtVerifier};
use lamina_middleware::context::{DeadlineLayer, InvocationContextLayer};
use lamina_middleware::cors::CorsConfig;
use lamina_middleware::errors::{ApiError, ProblemLayer};
use lamina_middleware::init::{LazyClient, Prefetch, shared_aws_config};
use lamina_middleware::secrets::{SecretCache, Secrets, SecretsLayer, SecretsManagerSource};
use lamina_tracing::logs::{LogContextLayer, LogLayer};
use lamina_tracing::metrics::{Metrics, MetricsConfig, MetricsLayer, Unit};
use lamina_tracing::xray::{XrayLambdaLayer, XrayLayer};
use tower::ServiceBuilder;
use tracing_subscriber::prelude::*;

/// The body every cold-start variant answers with (`lamina_bench::cold_start::EXPECTED_BODY`).
const BODY: &str = r#"{"message":"hello from lamina-bench"}"#;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::registry()
        .with(LogLayer::from_env()?)
        .with(XrayLayer::from_env()?)
        .init();
    let setting = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));

    let verifier = JwtVerifier::builder()
        .jwks_url(setting("BENCH_JWKS_URL")?)
        .issuer(setting("BENCH_ISSUER")?)
        .audience(setting("BENCH_AUDIENCE")?)
        .build()?;
    let secret_id = setting("BENCH_SECRET_ID")?;
    let secrets = SecretCache::new(SecretsManagerSource::new(
        aws_sdk_secretsmanager::Client::new(shared_aws_config().await),
    ));
    let ssm = match std::env::var("BENCH_EXTRA_CLIENT").as_deref() {
        Ok("eager") => LazyClient::eager(aws_sdk_ssm::Client::new).await,
        _ => LazyClient::new(aws_sdk_ssm::Client::new),
    };

    let (jwks, cache, id) = (verifier.clone(), secrets.clone(), secret_id.clone());
    let prefetch = Prefetch::new()
        .task("jwks", async move {
            jwks.prefetch().await.map(|_| ()).map_err(Into::into)
        })
        .task("secret", async move {
            cache
                .get_string(id.as_str())
                .await
                .map(|_| ())
                .map_err(Into::into)
        });
    match std::env::var("BENCH_PREFETCH").as_deref() {
        Ok("sequential") => {
            prefetch.run_sequentially().await?;
        }
        // The JWKS and the secret are then fetched by the first request instead.
        Ok("none") => {}
        // Started now, not awaited: init ends at once and the first request joins the fetches.
        Ok("background") => {
            drop(prefetch.spawn());
        }
        _ => {
            prefetch.run().await?;
        }
    }

    let http = ServiceBuilder::new()
        .layer(CorsConfig::from_env()?.into_layer()?)
        .layer(ProblemLayer::new())
        .layer(InvocationContextLayer::new())
        .layer(DeadlineLayer::new(Duration::from_millis(200)))
        .layer(JwtAuthLayer::new(verifier))
        .layer(SecretsLayer::new(secrets).secret("api-key", secret_id.as_str()))
        .service(tower::service_fn(move |request: Request| {
            hello(request, ssm.is_built())
        }));
    let handler = ServiceBuilder::new()
        .layer(LogContextLayer::new())
        .layer(MetricsLayer::new(MetricsConfig::from_env()?)?)
        .layer(XrayLambdaLayer::new())
        .service(lambda_http::Adapter::from(http));
    lambda_runtime::run(handler).await
}

/// Answers the benchmarks' body, after the work every real handler does: a log line, a metric, a
/// span (one X-Ray subsegment), and a look at the claims and the secret.
async fn hello(request: Request, extra_client_built: bool) -> Result<Response<Body>, ApiError> {
    let span = tracing::info_span!("hello", annotation.route = "/hello");
    let _entered = span.enter();
    let subject = request
        .extensions()
        .get::<Claims>()
        .and_then(Claims::subject)
        .unwrap_or("anonymous");
    let secret_loaded = request
        .extensions()
        .get::<Secrets>()
        .is_some_and(|s| s.get("api-key").is_some());
    if !secret_loaded {
        return Err(ApiError::internal("the secret did not reach the handler"));
    }
    if let Some(metrics) = Metrics::current() {
        metrics
            .add_metric("Hello", Unit::Count, 1.0)
            .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    tracing::info!(subject, extra_client_built, "hello");
    let mut response = Response::new(Body::from(BODY));
    response.headers_mut().insert(
        "content-type",
        lambda_http::http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
