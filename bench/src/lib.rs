//! Shared fixtures for Lamina's criterion benchmarks (`benches/`): the same trivial handler bare and
//! inside the whole `lamina-middleware` stack, signed tokens, a verifier and a warm secret cache.
//!
//! Modules: [`cold_start`] (the cold-start harness and its variants), [`results`] (where the benches
//! save what criterion does not), [`report`] (the `bench-report` generator of `docs/src/benchmarks.md`), [`profiles`] (release-profile
//! ablation builds).
//!
//! The keys are the middleware's test keys (`middleware/tests/fixtures/auth`), published on purpose.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use tower::ServiceExt as _;
//! let verifier = lamina_bench::verifier(1024);
//! let service = lamina_bench::stack_service(verifier, lamina_bench::secret_cache());
//! let response = service.oneshot(lamina_bench::request(&lamina_bench::token())).await;
//! assert_eq!(response.map(|r| r.status().as_u16()).ok(), Some(200));
//! # }
//! ```

pub mod cold_start;
pub mod profiles;
pub mod report;
pub mod results;

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{Request, Response};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_http::{Body, Context};
use lamina_middleware::auth::{JwtAuthLayer, JwtVerifier, VerificationKey};
use lamina_middleware::context::{DeadlineLayer, InvocationContextLayer};
use lamina_middleware::cors::CorsConfig;
use lamina_middleware::errors::ProblemLayer;
use lamina_middleware::secrets::{InMemorySource, SecretCache, SecretsLayer};
use tower::util::BoxCloneService;
use tower::{ServiceBuilder, service_fn};

const RSA_PRIVATE: &[u8] = include_bytes!("../../middleware/tests/fixtures/auth/rsa_private.pem");
const RSA_CERTIFICATE: &[u8] = include_bytes!("../../middleware/tests/fixtures/auth/rsa_cert.pem");
const ISSUER: &str = "https://lamina-bench.eu.auth0.com/";
const AUDIENCE: &str = "https://bench.lamina.test";
const ORIGIN: &str = "https://app.example.com";

/// A boxed HTTP service, so the bare and layered variants have one type.
pub type HttpService = BoxCloneService<Request<Body>, Response<Body>, Infallible>;

/// An RS256 token for the bench issuer, valid for an hour.
///
/// # Panics
/// If the fixture key does not load (a broken checkout).
#[must_use]
pub fn token() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = serde_json::json!({
        "sub": "auth0|bench", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600, "scope": "read:items"
    });
    lamina_middleware::crypto::ensure_jwt_provider();
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap_or_else(|e| panic!("fixture key: {e}"));
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key)
        .unwrap_or_else(|e| panic!("signing: {e}"))
}

/// A verifier for [`token`]'s issuer with a verification cache of `cache_capacity` entries (0: every
/// verification checks the signature).
///
/// # Panics
/// If the fixture certificate does not load.
#[must_use]
pub fn verifier(cache_capacity: usize) -> JwtVerifier {
    let key = VerificationKey::from_pem(RSA_CERTIFICATE)
        .unwrap_or_else(|e| panic!("fixture certificate: {e}"));
    JwtVerifier::builder()
        .key(key)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .cache_capacity(cache_capacity)
        .build()
        .unwrap_or_else(|e| panic!("verifier: {e}"))
}

/// A secret cache over an in-memory source holding `api-key`.
#[must_use]
pub fn secret_cache() -> SecretCache {
    let source = InMemorySource::new();
    source.insert_text("api-key", "sk-bench");
    SecretCache::builder(source)
        .max_age(Duration::from_secs(3600))
        .build()
}

/// A request as API Gateway would hand it over: an origin, a bearer token and a Lambda context with
/// a deadline a minute away.
///
/// # Panics
/// If the token is not a valid header value.
#[must_use]
pub fn request(token: &str) -> Request<Body> {
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        + 60_000;
    let mut context = Context::default();
    context.request_id = "bench-request".to_owned();
    context.deadline = u64::try_from(deadline).unwrap_or(u64::MAX);
    let mut request = Request::builder()
        .uri("/items")
        .header("origin", ORIGIN)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::Empty)
        .unwrap_or_else(|e| panic!("request: {e}"));
    request.extensions_mut().insert(context);
    request
}

async fn handler(_request: Request<Body>) -> Result<Response<Body>, Infallible> {
    Ok(Response::new(Body::from("ok")))
}

/// The trivial handler alone.
#[must_use]
pub fn bare_service() -> HttpService {
    BoxCloneService::new(service_fn(handler))
}

/// The trivial handler inside the whole stack, in the documented order: CORS, problems, context,
/// deadline, JWT auth, secrets.
///
/// # Panics
/// If the CORS configuration is refused.
#[must_use]
pub fn stack_service(verifier: JwtVerifier, secrets: SecretCache) -> HttpService {
    let cors = CorsConfig::new()
        .allow_origins([ORIGIN])
        .allow_headers(["authorization", "content-type"])
        .into_layer()
        .unwrap_or_else(|e| panic!("cors: {e}"));
    let service = ServiceBuilder::new()
        .layer(cors)
        .layer(ProblemLayer::new())
        .layer(InvocationContextLayer::new())
        .layer(DeadlineLayer::new(Duration::from_millis(200)))
        .layer(JwtAuthLayer::new(verifier))
        .layer(SecretsLayer::new(secrets).secret("api-key", "api-key"))
        .service(service_fn(handler));
    BoxCloneService::new(service)
}
