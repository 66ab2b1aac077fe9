//! JSON Schema validation of request bodies and parameters, with schemas compiled once at init.
//!
//! ```
//! use http::StatusCode;
//! use lambda_http::Body;
//! use lamina_middleware::validation::{JsonSchema, ValidateJsonLayer, ValidatedJson};
//! use serde_json::json;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), lambda_http::Error> {
//! // At init: JsonSchema::from_file("schemas/new-photo.json")? in a real function.
//! let schema = JsonSchema::from_value(&json!({
//!     "$schema": "http://json-schema.org/draft-04/schema#",
//!     "type": "object",
//!     "required": ["caption"],
//!     "properties": { "caption": { "type": "string", "maxLength": 80 } }
//! }))?;
//! let app = ServiceBuilder::new()
//!     .layer(ValidateJsonLayer::new(schema).only_methods([http::Method::POST]))
//!     .service(service_fn(|req: http::Request<Body>| async move {
//!         let ValidatedJson(body) = req.extensions().get::<ValidatedJson>().cloned().unwrap_or_default();
//!         Ok::<_, lambda_http::Error>(http::Response::new(Body::from(body["caption"].to_string())))
//!     }));
//! let req = http::Request::post("/photos").body(Body::from(r#"{"caption": 7}"#))?;
//! let response = app.oneshot(req).await?;
//! assert_eq!(response.status(), StatusCode::BAD_REQUEST);
//! let problem: serde_json::Value = serde_json::from_slice(response.body().as_ref())?;
//! assert_eq!(problem["errors"][0]["field"], "/caption");
//! assert_eq!(problem["errors"][0]["keyword"], "type");
//! # Ok(())
//! # }
//! ```
//!
//! Per route, call [`JsonSchema::validate_body`] in the handler instead of using the layer.

mod layer;
mod schema;

pub use layer::{ResponseFuture, ValidateJson, ValidateJsonLayer, ValidatedJson};
pub use schema::{
    JsonSchema, MAX_REPORTED_VIOLATIONS, SchemaError, VALIDATION_FAILED_TYPE, Violation,
    violation_error,
};
