//! The local-only routes of `udagram serve`: the upload form, blob files, the development issuer.

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use lamina_middleware::errors::{ApiError, PathParams};
use serde::Deserialize;
use serde_json::json;

use super::errors::json_response;
use super::{ApiState, HandlerResult, LocalRoutes};
use crate::domain::is_blob_key;
use crate::serve::uploads::PostedForm;

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

/// The most fields a form may have before its file (S3's forms have about ten).
const MAX_FORM_FIELDS: usize = 32;

/// `POST /uploads`: a `multipart/form-data` form in S3's POST protocol; 204 as S3 answers.
pub(super) async fn upload(state: ApiState, req: Request) -> HandlerResult {
    let local = local(&state)?;
    let form = read_form(&req).await?;
    local.uploads.accept(form).await?;
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

/// The fields up to `file` and its bytes; what follows the file is ignored, as S3 does.
async fn read_form(req: &Request) -> Result<PostedForm, ApiError> {
    let not_a_form =
        || ApiError::bad_request("an upload is a multipart/form-data form with a file field");
    let boundary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or_else(not_a_form)?;
    let body = Bytes::copy_from_slice(req.body().as_ref());
    let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut form = PostedForm::default();
    let unreadable = |e: multer::Error| ApiError::bad_request(format!("unreadable form: {e}"));
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name.eq_ignore_ascii_case("file") {
            form.file = Some(field.bytes().await.map_err(unreadable)?);
            break;
        }
        if form.fields.len() == MAX_FORM_FIELDS {
            return Err(ApiError::bad_request("the form has too many fields"));
        }
        let value = field.text().await.map_err(unreadable)?;
        form.fields.push((name, value));
    }
    Ok(form)
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
