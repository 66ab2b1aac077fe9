//! CORS from code or the environment, on tower-http's [`CorsLayer`], on every response.
//!
//! ```
//! use http::StatusCode;
//! use lambda_http::Body;
//! use lamina_middleware::cors::CorsConfig;
//! use lamina_middleware::errors::{ApiError, ProblemLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cors = CorsConfig::new()
//!     .allow_origins(["https://app.example.com", "https://*.preview.example.com"])
//!     .allow_credentials(true)
//!     .into_layer()?; // or CorsConfig::from_env()?.into_layer()?
//! let app = ServiceBuilder::new()
//!     .layer(cors) // outermost: preflights never reach auth or the handler
//!     .layer(ProblemLayer::new()) // errors become responses, so they get CORS headers too
//!     .service(service_fn(|_req: http::Request<Body>| async {
//!         Err::<http::Response<Body>, _>(ApiError::not_found())
//!     }));
//! let req = http::Request::builder()
//!     .uri("/photos/1")
//!     .header("origin", "https://pr-7.preview.example.com")
//!     .body(Body::Empty)?;
//! let response = app.oneshot(req).await?;
//! assert_eq!(response.status(), StatusCode::NOT_FOUND);
//! assert_eq!(response.headers()["access-control-allow-origin"], "https://pr-7.preview.example.com");
//! assert_eq!(response.headers()["access-control-allow-credentials"], "true");
//! # Ok(())
//! # }
//! ```
//!
//! Layer order matters: tower-http's `Cors` adds headers only to `Ok` responses, so put it outside
//! [`ProblemLayer`](crate::errors::ProblemLayer) (which turns every error and panic into a response)
//! and outside authentication (whose rejections are responses), as in the example above.

mod config;
mod origin;

pub use config::{
    CorsConfig, CorsConfigError, DEFAULT_HEADERS, DEFAULT_METHODS, ENV_ALLOW_CREDENTIALS,
    ENV_ALLOWED_HEADERS, ENV_ALLOWED_METHODS, ENV_ALLOWED_ORIGINS, ENV_EXPOSE_HEADERS, ENV_MAX_AGE,
};
pub use tower_http::cors::{Cors, CorsLayer};
