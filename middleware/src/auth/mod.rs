//! JWT bearer authentication: a tower layer, per-route scope and claim requirements, and an API
//! Gateway custom authorizer, all on one [`JwtVerifier`].
//!
//! ```
//! use http::{Request, Response, StatusCode, header};
//! use lambda_http::Body;
//! use lamina_middleware::auth::{Claims, JwtAuthLayer, JwtVerifier, VerificationKey, require_scope};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Auth0's "signing certificate" (or any PEM public key); a JWKS URL works the same way.
//! let certificate = include_bytes!("../../tests/fixtures/auth/rsa_cert.pem");
//! let verifier = JwtVerifier::builder()
//!     .key(VerificationKey::from_pem(certificate)?)
//!     .issuer("https://my-tenant.eu.auth0.com/")
//!     .audience("https://api.example.com")
//!     .build()?;
//!
//! let app = ServiceBuilder::new()
//!     .layer(JwtAuthLayer::new(verifier).realm("photos"))
//!     .layer(require_scope("read:photos"))
//!     .service(service_fn(|req: Request<Body>| async move {
//!         let claims = req.extensions().get::<Claims>().cloned();
//!         let user = claims.as_ref().and_then(Claims::subject).unwrap_or("?").to_owned();
//!         Ok::<_, std::convert::Infallible>(Response::new(Body::from(user)))
//!     }));
//!
//! let response = app.oneshot(Request::new(Body::Empty)).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer realm=\"photos\"");
//! # Ok(())
//! # }
//! ```
//!
//! What is checked, in order: the token's size (8 KiB by default); the verification cache (a
//! SHA-256 of the token, valid until `exp`); the header's algorithm (`RS256`, `ES256` or `PS256`;
//! never `none` or HMAC); the key, by `kid` and algorithm, among the configured keys and the JWKS
//! (refetched on an unknown `kid` at most once per cool-down); the signature; `exp` and `nbf` with
//! the leeway; the issuers and audiences; the required claims. Rejections are answered without
//! their reason, which is logged with `tracing` at `info` (the token never is).
//!
//! See the guide, `docs/src/middleware/auth.md`, for Auth0, Cognito and the custom authorizer.

mod authorizer;
mod cache;
mod claims;
mod error;
mod jwks;
mod keys;
mod layer;
mod require;
mod response;
mod verifier;

pub use authorizer::{
    Authorizer, AuthorizerError, AuthorizerResponse, ResourceScope, flatten_claims, scoped_resource,
};
pub use claims::Claims;
pub use error::{AuthError, VerifyError};
pub use keys::{SigningAlgorithm, VerificationKey};
pub use layer::{JwtAuth, JwtAuthLayer, ResponseFuture, bearer_token};
pub use require::{Require, RequireLayer, Requirement, require_claim, require_scope};
pub use verifier::{JwtVerifier, JwtVerifierBuilder};
