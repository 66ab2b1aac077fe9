//! `tower` layers for AWS Lambda HTTP functions (`lambda_http`, or any `tower` HTTP service): the
//! Rust answer to middy and to Powertools' Event Handler and Parameters. Each middleware is a module
//! behind its own cargo feature; `full` turns on all of them.
//!
//! - [`errors`] (default): errors and panics as RFC 9457 `application/problem+json`, a small router
//!   with 404/405, JSON bodies with 400s that say where they failed, Lambda `Diagnostic`s.
//! - [`context`] (default): `InvocationContext` in every request; a deadline answering 504 before
//!   Lambda's timeout.
//! - `auth`: JWT bearer authentication against a JWKS or configured keys, scope and claim
//!   requirements, the API Gateway custom authorizer.
//! - `cors`: CORS from code or the environment, on every response.
//! - `secrets`: a single-flight cache over Secrets Manager and Parameter Store, a redacting
//!   `Secret<T>`, a layer.
//! - `validation`: JSON Schema validation of bodies and parameters.
//! - `init`: one AWS configuration, lazy or eager clients, concurrent prefetch, a local server.
//! - `aws-lc` (default) or `ring`: the [`crypto`] backend of TLS and JWT signatures.
//!
//! The order of the layers matters (CORS outermost, then errors, context, deadline, auth); see the
//! guide, `docs/src/middleware/overview.md`.
//!
//! ```
//! use std::time::Duration;
//! use http::{Method, StatusCode};
//! use lamina_middleware::context::{DeadlineLayer, InvocationContextLayer};
//! use lamina_middleware::errors::{ApiError, ProblemLayer, Router};
//! use lambda_http::{Body, Request, Response};
//! use tower::{ServiceBuilder, ServiceExt as _};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let router = Router::new().route(Method::GET, "/health", |_req: Request| async {
//!     Ok::<_, ApiError>(Response::new(Body::from("ok")))
//! });
//! let service = ServiceBuilder::new()
//!     .layer(ProblemLayer::new())
//!     .layer(InvocationContextLayer::new())
//!     .layer(DeadlineLayer::new(Duration::from_millis(200)))
//!     .service(router);
//! let missing = http::Request::get("/nope").body(Body::Empty).unwrap_or_default();
//! let response = service.oneshot(missing).await;
//! assert_eq!(response.map(|r| r.status()).ok(), Some(StatusCode::NOT_FOUND));
//! # }
//! ```

#[cfg(feature = "auth")]
pub mod auth;
#[cfg(feature = "context")]
pub mod context;
#[cfg(feature = "cors")]
pub mod cors;
pub mod crypto;
#[cfg(feature = "errors")]
pub mod errors;
#[cfg(feature = "init")]
pub mod init;
#[cfg(feature = "errors")]
mod route_path;
#[cfg(feature = "secrets")]
pub mod secrets;
#[cfg(feature = "validation")]
pub mod validation;
