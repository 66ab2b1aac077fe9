//! The HTTP API on `lamina-middleware`: a [`Router`] with every route, JSON bodies validated by the
//! schema files in `schemas/`, errors as problem+json through [`ProblemLayer`], tokens checked by
//! [`JwtAuthLayer`], CORS from [`CorsConfig`].
//!
//! Reads are public; writes (`POST /groups`, `POST /groups/{groupId}/images`) need a bearer token.
//! The JWT layer runs in `optional` mode for the whole API (a presented token must be valid) and a
//! [`RequireLayer`] on each write route answers 401 when there is none. `skip_path` cannot express
//! "public for GET, protected for POST" on the same path, and `skip_route` does not fit either: it
//! matches exact paths only (not `/images/{imageId}`), and a skipped read would no longer reject a
//! presented but invalid token.
//!
//! ```no_run
//! # async fn demo(app: udagram::app::App, verifier: lamina_middleware::auth::JwtVerifier)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use lamina_middleware::cors::CorsConfig;
//! use udagram::api::{ApiState, Schemas, service};
//!
//! let state = ApiState::new(app, Schemas::load()?);
//! // Browsers of the web client's origin may call it; no other.
//! let cors = CorsConfig::new().allow_origins(["https://photos.example.com"]);
//! let api = service(state, verifier, cors)?; // a tower Service<lambda_http::Request>
//! # let _ = api;
//! # Ok(())
//! # }
//! ```

mod errors;
mod local;
mod oidc;
mod query;
mod rest;
#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests;

use std::sync::Arc;

use http::Method;
use lambda_http::{Body, Request, Response};
use lamina_middleware::auth::{JwtAuth, JwtAuthLayer, JwtVerifier, RequireLayer};
use lamina_middleware::cors::{Cors, CorsConfig, CorsConfigError};
use lamina_middleware::errors::{ApiError, ErrorMapping, ProblemLayer, Router};
use lamina_middleware::validation::{JsonSchema, SchemaError};
use tower::{Layer as _, ServiceBuilder, ServiceExt as _};

use crate::app::App;
use crate::dev_issuer::DevIssuer;
use crate::dev_issuer::oidc::FlowState;
use crate::serve::uploads::LocalUploads;

/// The largest JSON request body (64 KiB); larger ones answer 413 before being parsed.
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// The request schemas, compiled once.
#[derive(Debug, Clone)]
pub struct Schemas {
    new_group: JsonSchema,
    new_image: JsonSchema,
    dev_token: JsonSchema,
}

impl Schemas {
    /// Compiles `schemas/new-group.json` and `schemas/new-image.json` (embedded in the binary, the
    /// same files the deployment template uses as API Gateway models) and the dev-token schema,
    /// each refusing bodies over [`MAX_JSON_BODY`] with a 413.
    ///
    /// # Errors
    /// A schema does not compile (a build defect, caught by the tests).
    pub fn load() -> Result<Self, SchemaError> {
        Ok(Self {
            new_group: JsonSchema::from_json_str(include_str!("../../schemas/new-group.json"))?
                .max_body_bytes(MAX_JSON_BODY),
            new_image: JsonSchema::from_json_str(include_str!("../../schemas/new-image.json"))?
                .max_body_bytes(MAX_JSON_BODY),
            dev_token: JsonSchema::from_json_str(local::DEV_TOKEN_SCHEMA)?
                .max_body_bytes(MAX_JSON_BODY),
        })
    }
}

/// What the local-only routes need: the development issuer and the local upload protocol.
#[derive(Debug, Clone)]
pub struct LocalRoutes {
    /// Accepts the upload forms posted to `POST /uploads`.
    pub uploads: LocalUploads,
    /// Signs development tokens and publishes the JWKS.
    pub issuer: Arc<DevIssuer>,
    /// The sign-ins and codes of the issuer's OpenID Connect flow in progress.
    pub flow: Arc<FlowState>,
    /// Web client origins besides the server's own whose pages may sign in (exact origins).
    pub client_origins: Vec<String>,
}

/// Everything the handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    app: App,
    schemas: Schemas,
    local: Option<LocalRoutes>,
}

impl ApiState {
    /// The API over `app`, without the local-only routes.
    #[must_use]
    pub fn new(app: App, schemas: Schemas) -> Self {
        Self {
            app,
            schemas,
            local: None,
        }
    }

    /// Adds the local-only routes: the upload form, files, the JWKS and `POST /dev/token`.
    #[must_use]
    pub fn with_local_routes(mut self, local: LocalRoutes) -> Self {
        self.local = Some(local);
        self
    }
}

/// The whole API as one `tower` service: CORS, problem+json, JWT, router.
pub type ApiService = Cors<ErrorMapping<JwtAuth<Router>>>;

/// Paths that never look at a token (a stale token in a browser must not break them).
const PUBLIC_PATHS: [&str; 4] = [
    "/health",
    "/uploads",
    "/.well-known/jwks.json",
    "/.well-known/openid-configuration",
];
/// Path prefixes that never look at a token.
const PUBLIC_PREFIXES: [&str; 2] = ["/files/", "/dev/"];

/// The API with its middleware stack, verifying tokens with `verifier`, answering cross-origin
/// requests as `cors` allows (the web client's origin; `*` only when configured so).
///
/// # Errors
/// The CORS configuration is refused (no origin, or a malformed one).
pub fn service(
    state: ApiState,
    verifier: JwtVerifier,
    cors: CorsConfig,
) -> Result<ApiService, CorsConfigError> {
    let cors = cors.into_layer()?;
    let mut auth = JwtAuthLayer::new(verifier).realm("udagram").optional();
    for path in PUBLIC_PATHS {
        auth = auth.skip_path(path);
    }
    for prefix in PUBLIC_PREFIXES {
        auth = auth.skip_path_prefix(prefix);
    }
    Ok(ServiceBuilder::new()
        .layer(cors)
        .layer(ProblemLayer::new())
        .layer(auth)
        .service(router(state)))
}

/// The router alone (every route of the design; local ones when the state has them).
#[must_use]
pub fn router(state: ApiState) -> Router {
    let router = Router::new()
        .route(Method::GET, "/health", |_req: Request| async {
            errors::json_response(http::StatusCode::OK, &serde_json::json!({"status": "ok"}))
        })
        .route(Method::GET, "/groups", with(&state, rest::list_groups))
        .route(
            Method::GET,
            "/groups/{groupId}",
            with(&state, rest::get_group),
        )
        .route(
            Method::POST,
            "/groups",
            authenticated(&state, rest::create_group),
        )
        .route(
            Method::GET,
            "/groups/{groupId}/images",
            with(&state, rest::list_images),
        )
        .route(
            Method::POST,
            "/groups/{groupId}/images",
            authenticated(&state, rest::create_image),
        )
        .route(Method::GET, "/images", with(&state, rest::search))
        .route(
            Method::GET,
            "/images/{imageId}",
            with(&state, rest::get_image),
        );
    if state.local.is_none() {
        return router;
    }
    router
        .route(Method::POST, "/uploads", with(&state, local::upload))
        .route(Method::GET, "/files/{key}", with(&state, local::file))
        .route(
            Method::GET,
            "/.well-known/jwks.json",
            with(&state, local::jwks),
        )
        .route(Method::POST, "/dev/token", with(&state, local::dev_token))
        .route(
            Method::GET,
            "/.well-known/openid-configuration",
            with(&state, oidc::discovery),
        )
        .route(
            Method::GET,
            "/dev/authorize",
            with(&state, oidc::authorize_page),
        )
        .route(
            Method::POST,
            "/dev/authorize",
            with(&state, oidc::authorize_submit),
        )
        .route(Method::POST, "/dev/oauth/token", with(&state, oidc::token))
        .route(Method::GET, "/dev/logout", with(&state, oidc::logout))
}

type HandlerResult = Result<Response<Body>, ApiError>;

/// A route handler with the shared state.
fn with<F, Fut>(
    state: &ApiState,
    handler: F,
) -> impl Fn(Request) -> Fut + Clone + Send + Sync + 'static
where
    F: Fn(ApiState, Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    let state = state.clone();
    move |req| handler(state.clone(), req)
}

/// A route handler behind [`RequireLayer`]: 401 without verified claims.
fn authenticated<F, Fut>(
    state: &ApiState,
    handler: F,
) -> impl Fn(Request) -> std::pin::Pin<Box<dyn Future<Output = HandlerResult> + Send>>
+ Send
+ Sync
+ 'static
where
    F: Fn(ApiState, Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    let service = RequireLayer::new()
        .realm("udagram")
        .layer(tower::service_fn(with(state, handler)));
    move |req| Box::pin(service.clone().oneshot(req))
}
