//! The local-only routes of `udagram serve`: the upload URL, blob files, the development issuer.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use lamina_middleware::errors::{ApiError, PathParams};
use serde::Deserialize;
use serde_json::json;

use super::errors::json_response;
use super::query::uuid_param;
use super::{ApiState, HandlerResult, LocalRoutes};
use crate::domain::is_blob_key;
use crate::serve::uploads::Upload;

/// The body of `POST /dev/token`.
pub(super) const DEV_TOKEN_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["user"],
  "properties": { "user": { "type": "string", "pattern": "^[A-Za-z0-9._@-]{1,64}$" } },
  "additionalProperties": false
}"#;

#[derive(Debug, Deserialize)]
struct DevTokenRequest {
    user: String,
}

fn local(state: &ApiState) -> Result<&LocalRoutes, ApiError> {
    state.local.as_ref().ok_or_else(ApiError::not_found)
}

/// `PUT /uploads/{imageId}?expires&type&max&sig`.
pub(super) async fn upload(state: ApiState, req: Request) -> HandlerResult {
    let local = local(&state)?;
    let image_id = uuid_param(&req, "imageId")?;
    let key = local
        .secrets
        .get_bytes(local.signing_key.as_str())
        .await
        .map_err(ApiError::internal)?;
    let headers = req.headers();
    let upload = Upload {
        image_id: &image_id,
        query: req.uri().query().unwrap_or_default(),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        content_length: headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok()),
        body: Bytes::copy_from_slice(req.body().as_ref()),
        signing_key: key.expose(),
    };
    local.uploads.accept(upload).await?;
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

/// `GET /files/{key}`: the bytes with their content type; any other key is a 404.
pub(super) async fn file(state: ApiState, req: Request) -> HandlerResult {
    let key = req
        .extensions()
        .get::<PathParams>()
        .and_then(|params| params.get("key"))
        .unwrap_or_default();
    if !is_blob_key(key) {
        return Err(ApiError::not_found());
    }
    let (bytes, content_type) = state
        .app
        .blobs()
        .get_blob(key)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::not_found)?;
    let mut response = Response::new(Body::Binary(bytes.to_vec()));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// `GET /.well-known/jwks.json`.
pub(super) async fn jwks(state: ApiState, _req: Request) -> HandlerResult {
    json_response(StatusCode::OK, &local(&state)?.issuer.jwks())
}

/// `POST /dev/token {"user"}`: an RS256 token for that user, valid one hour.
pub(super) async fn dev_token(state: ApiState, req: Request) -> HandlerResult {
    let local = local(&state)?;
    super::oidc::same_origin_only(&req, local)?;
    let body: DevTokenRequest = state.schemas.dev_token.validate_body(&req)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(ApiError::internal)?
        .as_secs();
    let token = local
        .issuer
        .issue(&body.user, now)
        .map_err(ApiError::internal)?;
    json_response(StatusCode::OK, &json!({ "token": token }))
}
