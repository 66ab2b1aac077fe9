//! The RFC 9457 problem details body.

use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value};

/// The media type of a problem details body (RFC 9457 section 3).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The `type` of a problem that has no more specific type than its status code (RFC 9457 section 4.2.1).
pub const ABOUT_BLANK: &str = "about:blank";

/// The member under which the Lambda request id is written.
pub const REQUEST_ID_MEMBER: &str = "requestId";

/// A problem details object (RFC 9457), serialized as `application/problem+json`.
///
/// The standard members `type`, `title`, `status` and `detail` are always written (`detail` only when
/// set); the Lambda request id, when known, goes into the `requestId` extension member; other extension
/// members come from [`Problem::with_extension`] and can never overwrite a standard member.
///
/// ```
/// use http::StatusCode;
/// use lamina_middleware::errors::{PROBLEM_JSON, Problem};
///
/// let problem = Problem::new(StatusCode::NOT_FOUND)
///     .with_detail("no photo 42")
///     .with_request_id("8476a536-e9f4-11e8-9739-2dfe598c3fcd");
/// let response: http::Response<String> = problem.to_response();
/// assert_eq!(response.status(), 404);
/// assert_eq!(response.headers()["content-type"], PROBLEM_JSON);
/// let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
/// assert_eq!(body["title"], "Not Found");
/// assert_eq!(body["type"], "about:blank");
/// assert_eq!(body["requestId"], "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    status: StatusCode,
    problem_type: String,
    title: String,
    detail: Option<String>,
    request_id: Option<String>,
    extensions: Map<String, Value>,
}

/// Members an extension may not replace.
const RESERVED: [&str; 6] = [
    "type",
    "title",
    "status",
    "detail",
    "instance",
    REQUEST_ID_MEMBER,
];

impl Problem {
    /// A problem for `status`, with type `about:blank` and the status's canonical reason as its title.
    #[must_use]
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            problem_type: ABOUT_BLANK.to_owned(),
            title: status
                .canonical_reason()
                .unwrap_or("Unknown Status")
                .to_owned(),
            detail: None,
            request_id: None,
            extensions: Map::new(),
        }
    }

    /// Sets the `type` URI reference that identifies the kind of problem.
    #[must_use]
    pub fn with_type(mut self, uri: impl Into<String>) -> Self {
        self.problem_type = uri.into();
        self
    }

    /// Sets the short, human-readable `title` (the same for every occurrence of the type).
    #[must_use]
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// Sets the `detail`, an explanation specific to this occurrence. It is shown to the client.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sets the Lambda request id, written as the `requestId` member.
    #[must_use]
    pub fn with_request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// Adds an extension member. Keys of standard members (`type`, `title`, `status`, `detail`,
    /// `instance`, `requestId`) are ignored so an extension can never contradict the status line.
    #[must_use]
    pub fn with_extension(mut self, key: impl Into<String>, value: Value) -> Self {
        let key = key.into();
        if !RESERVED.contains(&key.as_str()) {
            self.extensions.insert(key, value);
        }
        self
    }

    /// The HTTP status of the problem.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `type` URI reference (`about:blank` unless set).
    #[must_use]
    pub fn problem_type(&self) -> &str {
        &self.problem_type
    }

    /// The `title`.
    #[must_use]
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The `detail`, if any.
    #[must_use]
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The request id, if any.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The extension member `key`, if set.
    #[must_use]
    pub fn extension(&self, key: &str) -> Option<&Value> {
        self.extensions.get(key)
    }

    /// The body as a JSON value.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut body = Map::with_capacity(5 + self.extensions.len());
        body.insert("type".into(), Value::String(self.problem_type.clone()));
        body.insert("title".into(), Value::String(self.title.clone()));
        body.insert("status".into(), Value::from(self.status.as_u16()));
        if let Some(detail) = &self.detail {
            body.insert("detail".into(), Value::String(detail.clone()));
        }
        if let Some(id) = &self.request_id {
            body.insert(REQUEST_ID_MEMBER.into(), Value::String(id.clone()));
        }
        for (key, value) in &self.extensions {
            body.insert(key.clone(), value.clone());
        }
        Value::Object(body)
    }

    /// The response: this status, `content-type: application/problem+json` and the JSON body.
    #[must_use]
    pub fn to_response<B: From<String>>(&self) -> http::Response<B> {
        let mut response = http::Response::new(B::from(self.to_json().to_string()));
        *response.status_mut() = self.status;
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

impl std::fmt::Display for Problem {
    /// `404 Not Found: no photo 42` (the detail only when set).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.title)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(response: &http::Response<String>) -> Value {
        serde_json::from_str(response.body()).unwrap_or(Value::Null)
    }

    #[test]
    fn new_uses_about_blank_and_canonical_reason() {
        for (status, title) in [
            (StatusCode::BAD_REQUEST, "Bad Request"),
            (StatusCode::UNAUTHORIZED, "Unauthorized"),
            (StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"),
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        ] {
            let problem = Problem::new(status);
            assert_eq!(problem.status(), status);
            assert_eq!(problem.problem_type(), "about:blank");
            assert_eq!(problem.title(), title);
            assert_eq!(problem.detail(), None);
            assert_eq!(
                problem.to_json(),
                json!({"type": "about:blank", "title": title, "status": status.as_u16()})
            );
        }
    }

    #[test]
    fn non_standard_status_gets_a_fallback_title() {
        let status = StatusCode::from_u16(599).unwrap_or(StatusCode::IM_A_TEAPOT);
        assert_eq!(Problem::new(status).title(), "Unknown Status");
    }

    #[test]
    fn builders_set_every_member() {
        let problem = Problem::new(StatusCode::CONFLICT)
            .with_type("https://lamina.dev/problems/duplicate")
            .with_title("Duplicate")
            .with_detail("photo 7 exists")
            .with_request_id("req-1")
            .with_extension("photoId", json!(7));
        assert_eq!(
            problem.to_json(),
            json!({
                "type": "https://lamina.dev/problems/duplicate",
                "title": "Duplicate",
                "status": 409,
                "detail": "photo 7 exists",
                "requestId": "req-1",
                "photoId": 7
            })
        );
        assert_eq!(problem.to_string(), "409 Duplicate: photo 7 exists");
    }

    #[test]
    fn extensions_cannot_override_standard_members() {
        let problem = Problem::new(StatusCode::NOT_FOUND)
            .with_extension("status", json!(200))
            .with_extension("title", json!("OK"))
            .with_extension("requestId", json!("forged"));
        let value = problem.to_json();
        assert_eq!(value["status"], 404);
        assert_eq!(value["title"], "Not Found");
        assert!(value.get("requestId").is_none());
    }

    #[test]
    fn to_response_sets_status_content_type_and_body() {
        let response: http::Response<String> = Problem::new(StatusCode::FORBIDDEN)
            .with_detail("nope")
            .to_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(
            body(&response),
            json!({"type": "about:blank", "title": "Forbidden", "status": 403, "detail": "nope"})
        );
    }

    #[test]
    fn to_response_works_with_lambda_body() {
        let response: http::Response<lambda_http::Body> =
            Problem::new(StatusCode::BAD_REQUEST).to_response();
        assert_eq!(response.status(), 400);
        let lambda_http::Body::Text(text) = response.body() else {
            panic!("expected a text body");
        };
        assert!(text.contains("\"status\":400"), "{text}");
    }

    #[test]
    fn detail_is_json_escaped() {
        let response: http::Response<String> = Problem::new(StatusCode::BAD_REQUEST)
            .with_detail("quote \" and </script>\n")
            .to_response();
        assert_eq!(body(&response)["detail"], "quote \" and </script>\n");
    }
}
