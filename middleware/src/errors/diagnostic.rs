//! [`ApiError`] as a Lambda [`Diagnostic`] for handlers that are not behind API Gateway.

use lambda_http::lambda_runtime::Diagnostic;

use super::ApiError;

impl From<ApiError> for Diagnostic {
    /// `errorType` is the stable [`ApiError::error_type`] (never a Rust type name) and `errorMessage`
    /// the client-safe problem line (`404 Not Found: no photo 42`). A 5xx error's hidden source is
    /// logged here with `tracing::error!`, because the diagnostic does not carry it.
    fn from(error: ApiError) -> Self {
        if error.status().is_server_error() {
            tracing::error!(
                status = error.status().as_u16(),
                error_type = error.error_type(),
                error = %error,
                "invocation failed"
            );
        }
        Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.problem().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn diagnostics_table() {
        let cases = [
            (ApiError::not_found(), "NotFound", "404 Not Found"),
            (
                ApiError::bad_request("caption is required"),
                "BadRequest",
                "400 Bad Request: caption is required",
            ),
            (
                ApiError::internal("db password hunter2 rejected"),
                "InternalServerError",
                "500 Internal Server Error",
            ),
            (
                ApiError::new(StatusCode::CONFLICT).with_error_type("PhotoExists"),
                "PhotoExists",
                "409 Conflict",
            ),
        ];
        for (error, error_type, message) in cases {
            let diagnostic = Diagnostic::from(error);
            assert_eq!(diagnostic.error_type, error_type);
            assert_eq!(diagnostic.error_message, message);
        }
    }
}
