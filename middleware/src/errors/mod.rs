//! Errors as `application/problem+json` responses (RFC 9457) and as Lambda diagnostics.
//!
//! Handlers return [`ApiError`] (or any [`HttpError`] with `?`); [`ProblemLayer`] is the one place
//! that turns errors, unexpected errors and panics into responses:
//!
//! ```
//! use http::StatusCode;
//! use lambda_http::Body;
//! use lamina_middleware::errors::{ApiError, HttpError, ProblemLayer, json_body};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("no photo {0}")]
//! struct PhotoNotFound(u64);
//!
//! impl HttpError for PhotoNotFound {
//!     fn status(&self) -> StatusCode {
//!         StatusCode::NOT_FOUND
//!     }
//! }
//!
//! async fn handler(req: http::Request<Body>) -> Result<http::Response<Body>, ApiError> {
//!     let query: serde_json::Value = json_body(&req)?;
//!     Err(PhotoNotFound(query["id"].as_u64().unwrap_or_default()))?
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let service = ServiceBuilder::new().layer(ProblemLayer::new()).service(service_fn(handler));
//! let req = http::Request::new(Body::from(r#"{"id": 42}"#));
//! let response = service.oneshot(req).await.unwrap();
//! assert_eq!(response.status(), StatusCode::NOT_FOUND);
//! assert_eq!(response.headers()["content-type"], "application/problem+json");
//! let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
//! assert_eq!(body["detail"], "no photo 42");
//! # }
//! ```
//!
//! The same [`ApiError`] converts into `lambda_runtime::Diagnostic` for non-HTTP handlers, with a
//! stable `errorType` (see [`HttpError::error_type`]).

mod diagnostic;
mod error;
mod json;
mod layer;
mod problem;
mod router;

pub use error::{ApiError, BoxError, HttpError, status_error_type};
pub use json::{MALFORMED_JSON_TYPE, json_body, parse_json};
pub use layer::{ErrorMapping, ProblemLayer, ResponseFuture};
pub use problem::{ABOUT_BLANK, PROBLEM_JSON, Problem, REQUEST_ID_MEMBER};
pub use router::{PathParams, Router};

/// The Lambda request id of `req`: from the `lambda_http::Context` that `lambda_http` puts in the
/// request extensions, else (feature `context`) from an
/// [`InvocationContext`](crate::context::InvocationContext) added by its layer outside Lambda;
/// `None` when neither is there.
#[must_use]
pub fn request_id<B>(req: &http::Request<B>) -> Option<String> {
    let from_lambda = req
        .extensions()
        .get::<lambda_http::Context>()
        .map(|context| context.request_id.clone())
        .filter(|id| !id.is_empty());
    #[cfg(feature = "context")]
    let from_lambda = from_lambda.or_else(|| {
        req.extensions()
            .get::<crate::context::InvocationContext>()
            .map(|context| context.request_id.clone())
            .filter(|id| !id.is_empty())
    });
    from_lambda
}
