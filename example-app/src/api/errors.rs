//! How use-case errors become problem+json responses, and the response helpers.

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use lamina_middleware::errors::{ApiError, HttpError};
use serde::Serialize;

use crate::app::AppError;

impl HttpError for AppError {
    fn status(&self) -> StatusCode {
        match self {
            Self::GroupNotFound(_) | Self::ImageNotFound(_) => StatusCode::NOT_FOUND,
            Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::UploadRefused(refusal) if refusal.is_forbidden() => StatusCode::FORBIDDEN,
            Self::UploadRefused(_) => StatusCode::BAD_REQUEST,
            Self::AlreadyUploaded(_) => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A JSON response with `status`.
pub(crate) fn json_response(
    status: StatusCode,
    body: &impl Serialize,
) -> Result<Response<Body>, ApiError> {
    let text = serde_json::to_string(body).map_err(ApiError::internal)?;
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
