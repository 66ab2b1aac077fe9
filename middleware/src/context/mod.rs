//! The invocation's context in every request, and a deadline that answers before Lambda kills the
//! function.
//!
//! [`InvocationContextLayer`] puts an [`InvocationContext`] into each request's extensions: the
//! request id, function name and version, whether this is the cold start (the process's first
//! request, in an environment Lambda started on demand: see [`ColdStart`]), and the deadline. [`DeadlineLayer`] answers `504 Gateway Timeout` (problem+json) a margin
//! before Lambda's timeout, so the client gets a clear answer instead of a connection cut off
//! mid-response.
//!
//! ```
//! use std::time::Duration;
//! use lamina_middleware::context::{DeadlineLayer, InvocationContext, InvocationContextLayer};
//! use lambda_http::{Body, Request, Response};
//! use tower::{ServiceBuilder, service_fn};
//!
//! let service = ServiceBuilder::new()
//!     .layer(InvocationContextLayer::new())
//!     .layer(DeadlineLayer::new(Duration::from_millis(500)))
//!     .service(service_fn(|request: Request| async move {
//!         let context = request.extensions().get::<InvocationContext>();
//!         let id = context.map(|c| c.request_id.clone()).unwrap_or_default();
//!         Ok::<_, lambda_http::Error>(Response::new(Body::from(id)))
//!     }));
//! # let _ = service;
//! ```

mod cold_start;
mod deadline;
mod invocation;

pub use cold_start::{ColdStart, INITIALIZATION_TYPE_VARIABLE};
pub use deadline::{Deadline, DeadlineLayer};
pub use invocation::{
    InvocationContext, InvocationContextLayer, InvocationContextService, is_cold_start,
};
