//! A `lambda_http` function wearing the whole `lamina-middleware` stack: CORS, problem+json errors,
//! invocation context, a deadline, JWT auth against a JWKS, a secret from Secrets Manager, a router
//! and JSON Schema validation. The integration tests and the benchmarks run it under the emulator.
//!
//! Configuration (environment):
//! - `DEMO_JWKS_URL`, `DEMO_ISSUER`, `DEMO_AUDIENCE`: the token issuer (required).
//! - `DEMO_SECRET_ID`: a Secrets Manager secret, prefetched at init with the JWKS (required).
//! - `DEMO_DEADLINE_MARGIN_MS`: how long before Lambda's timeout to answer 504 (default 200).
//! - `LAMINA_CORS_*`: CORS, see `lamina_middleware::cors::CorsConfig::from_env`.
//!
//! Routes: `GET /health` (no token), `GET /me`, `POST /items` (scope `write:items`, body checked
//! against `new-item.schema.json`), `GET /items/{id}`, `GET /slow?ms=N`.

use std::time::Duration;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Error, Request, Response};
use lamina_middleware::auth::{Claims, JwtAuthLayer, JwtVerifier};
use lamina_middleware::context::{DeadlineLayer, InvocationContext, InvocationContextLayer};
use lamina_middleware::cors::CorsConfig;
use lamina_middleware::errors::{ApiError, PathParams, ProblemLayer, Router};
use lamina_middleware::init::{Prefetch, shared_aws_config};
use lamina_middleware::secrets::{SecretCache, Secrets, SecretsLayer, SecretsManagerSource};
use lamina_middleware::validation::JsonSchema;
use serde_json::{Value, json};
use tower::ServiceBuilder;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_target(false)
        .without_time()
        .init();
    let setting = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));

    let verifier = JwtVerifier::builder()
        .jwks_url(setting("DEMO_JWKS_URL")?)
        .issuer(setting("DEMO_ISSUER")?)
        .audience(setting("DEMO_AUDIENCE")?)
        .build()?;
    let secret_id = setting("DEMO_SECRET_ID")?;
    let secrets = SecretCache::new(SecretsManagerSource::new(
        aws_sdk_secretsmanager::Client::new(shared_aws_config().await),
    ));
    // Both network fetches happen during init, concurrently, instead of on the first request.
    let (jwks, cache, id) = (verifier.clone(), secrets.clone(), secret_id.clone());
    Prefetch::new()
        .task("jwks", async move {
            jwks.prefetch().await.map(|_| ()).map_err(Into::into)
        })
        .task("secret", async move {
            cache
                .get_string(id.as_str())
                .await
                .map(|_| ())
                .map_err(Into::into)
        })
        .run()
        .await?;

    let margin = std::env::var("DEMO_DEADLINE_MARGIN_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_millis(200), Duration::from_millis);
    let schema =
        JsonSchema::from_value(&serde_json::from_str(include_str!("new-item.schema.json"))?)?;
    let router = Router::new()
        .route(Method::GET, "/health", |_req: Request| async {
            respond(StatusCode::OK, json!({"status": "ok"}))
        })
        .route(Method::GET, "/me", me)
        .route(Method::POST, "/items", move |req: Request| {
            create_item(req, schema.clone())
        })
        .route(Method::GET, "/items/{id}", get_item)
        .route(Method::GET, "/slow", slow);

    let service = ServiceBuilder::new()
        .layer(CorsConfig::from_env()?.into_layer()?)
        .layer(ProblemLayer::new())
        .layer(InvocationContextLayer::new())
        .layer(DeadlineLayer::new(margin))
        .layer(JwtAuthLayer::new(verifier).skip_path("/health"))
        .layer(SecretsLayer::new(secrets).secret("api-key", secret_id.as_str()))
        .service(router);
    lambda_http::run(service).await
}

fn respond(status: StatusCode, body: Value) -> Result<Response<Body>, ApiError> {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        lambda_http::http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

async fn me(req: Request) -> Result<Response<Body>, ApiError> {
    let claims = req.extensions().get::<Claims>();
    let context = req.extensions().get::<InvocationContext>();
    let secrets = req.extensions().get::<Secrets>();
    respond(
        StatusCode::OK,
        json!({
            "sub": claims.and_then(Claims::subject),
            "scopes": claims.map(Claims::scopes),
            "request_id": context.map(|c| c.request_id.as_str()),
            "cold_start": context.map(|c| c.cold_start),
            // Whether the secret arrived; never the secret itself.
            "secret_loaded": secrets.is_some_and(|s| s.get("api-key").is_some()),
        }),
    )
}

async fn create_item(req: Request, schema: JsonSchema) -> Result<Response<Body>, ApiError> {
    let claims = req.extensions().get::<Claims>();
    if !claims.is_some_and(|c| c.has_scope("write:items")) {
        return Err(ApiError::from(
            lamina_middleware::errors::Problem::new(StatusCode::FORBIDDEN)
                .with_detail("the write:items scope is required"),
        ));
    }
    let item: Value = schema.validate_body(&req)?;
    respond(
        StatusCode::CREATED,
        json!({"id": "1", "title": item["title"]}),
    )
}

async fn get_item(req: Request) -> Result<Response<Body>, ApiError> {
    match req
        .extensions()
        .get::<PathParams>()
        .and_then(|p| p.get("id"))
    {
        Some("1") => respond(StatusCode::OK, json!({"id": "1", "title": "first"})),
        Some(other) => Err(ApiError::from(
            lamina_middleware::errors::Problem::new(StatusCode::NOT_FOUND)
                .with_detail(format!("no item {other}")),
        )),
        None => Err(ApiError::not_found()),
    }
}

async fn slow(req: Request) -> Result<Response<Body>, ApiError> {
    let ms = req
        .uri()
        .query()
        .and_then(|q| q.strip_prefix("ms="))
        .and_then(|ms| ms.parse().ok())
        .ok_or_else(|| ApiError::bad_request("give ?ms=N"))?;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    respond(StatusCode::OK, json!({"slept_ms": ms}))
}
