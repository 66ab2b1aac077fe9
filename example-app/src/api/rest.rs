//! The REST routes shared by `serve` and the Lambda `api` function: groups, images, search.

use http::StatusCode;
use lambda_http::Request;
use lamina_middleware::auth::Claims;
use lamina_middleware::errors::ApiError;
use serde::Deserialize;
use serde_json::json;

use super::errors::json_response;
use super::query::{limit, page_request, parse_query, uuid_param};
use super::{ApiState, HandlerResult};

/// `POST /groups`.
#[derive(Debug, Deserialize)]
struct NewGroup {
    name: String,
    #[serde(default)]
    description: String,
}

/// `POST /groups/{groupId}/images`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewImage {
    title: String,
    content_type: Option<String>,
}

/// The verified token's subject; [`RequireLayer`](lamina_middleware::auth::RequireLayer) already
/// answered 401 when there is no token, and the verifier requires `sub`.
fn subject(req: &Request) -> Result<String, ApiError> {
    req.extensions()
        .get::<Claims>()
        .and_then(Claims::subject)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED))
}

pub(super) async fn list_groups(state: ApiState, req: Request) -> HandlerResult {
    let page = page_request(&req)?;
    let groups = state.app.list_groups(&page).await?;
    json_response(StatusCode::OK, &groups)
}

pub(super) async fn create_group(state: ApiState, req: Request) -> HandlerResult {
    let user = subject(&req)?;
    let body: NewGroup = state.schemas.new_group.validate_body(&req)?;
    let group = state
        .app
        .create_group(&user, &body.name, &body.description)
        .await?;
    json_response(StatusCode::CREATED, &json!({ "newItem": group }))
}

pub(super) async fn get_group(state: ApiState, req: Request) -> HandlerResult {
    let group_id = uuid_param(&req, "groupId")?;
    let group = state.app.get_group(&group_id).await?;
    json_response(StatusCode::OK, &group)
}

pub(super) async fn list_images(state: ApiState, req: Request) -> HandlerResult {
    let group_id = uuid_param(&req, "groupId")?;
    let page = page_request(&req)?;
    let images = state.app.list_images(&group_id, &page).await?;
    json_response(StatusCode::OK, &images)
}

pub(super) async fn create_image(state: ApiState, req: Request) -> HandlerResult {
    let user = subject(&req)?;
    let group_id = uuid_param(&req, "groupId")?;
    let body: NewImage = state.schemas.new_image.validate_body(&req)?;
    let content_type = body.content_type.as_deref().unwrap_or("image/jpeg");
    let created = state
        .app
        .create_image(&user, &group_id, &body.title, content_type)
        .await?;
    json_response(
        StatusCode::CREATED,
        &json!({
            "newItem": created.image,
            "upload": { "url": created.upload.url, "fields": created.upload.fields },
        }),
    )
}

pub(super) async fn get_image(state: ApiState, req: Request) -> HandlerResult {
    let image_id = uuid_param(&req, "imageId")?;
    let image = state.app.get_image(&image_id).await?;
    json_response(StatusCode::OK, &image)
}

pub(super) async fn search(state: ApiState, req: Request) -> HandlerResult {
    let params = parse_query(req.uri().query())?;
    let limit = limit(&params)?;
    let query = params
        .get("q")
        .ok_or_else(|| ApiError::bad_request("q must be 1 to 200 characters"))?;
    let items = state.app.search(query, limit).await?;
    json_response(StatusCode::OK, &json!({ "items": items }))
}
