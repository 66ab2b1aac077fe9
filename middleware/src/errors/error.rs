//! Domain errors with an HTTP status ([`HttpError`]) and the error type handlers return ([`ApiError`]).

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};

use super::Problem;

/// A boxed error, as `lambda_http::Error` is.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A domain error that knows which HTTP status it is.
///
/// Implement it on your own error enums; [`ApiError`] converts from any implementor with `?`, and the
/// [`ErrorMapping`](super::ErrorMapping) service turns it into a problem+json response.
///
/// The `Display` text becomes the problem's `detail` only when [`expose_detail`](Self::expose_detail)
/// says so: by default for 4xx statuses, where the message describes the client's mistake, and never for
/// 5xx, where it may describe internals (SQL, hostnames, file paths). Hidden details are still logged.
///
/// ```
/// use http::StatusCode;
/// use lamina_middleware::errors::{ApiError, HttpError};
///
/// #[derive(Debug, thiserror::Error)]
/// enum PhotoError {
///     #[error("no photo {0}")]
///     NotFound(u64),
///     #[error("database unreachable at 10.0.0.7")]
///     Database,
/// }
///
/// impl HttpError for PhotoError {
///     fn status(&self) -> StatusCode {
///         match self {
///             PhotoError::NotFound(_) => StatusCode::NOT_FOUND,
///             PhotoError::Database => StatusCode::SERVICE_UNAVAILABLE,
///         }
///     }
///     fn error_type(&self) -> &str {
///         match self {
///             PhotoError::NotFound(_) => "PhotoNotFound",
///             PhotoError::Database => "PhotoStoreUnavailable",
///         }
///     }
/// }
///
/// let error = ApiError::from(PhotoError::NotFound(42));
/// assert_eq!(error.problem().detail(), Some("no photo 42"));
/// let error = ApiError::from(PhotoError::Database);
/// assert_eq!(error.problem().detail(), None); // 5xx: the address stays in the logs
/// assert_eq!(error.error_type(), "PhotoStoreUnavailable");
/// ```
pub trait HttpError: StdError + Send + Sync + 'static {
    /// The response status.
    fn status(&self) -> StatusCode;

    /// The problem `type` URI; `None` means `about:blank`.
    fn problem_type(&self) -> Option<&str> {
        None
    }

    /// The problem `title`; `None` means the status's canonical reason phrase.
    fn title(&self) -> Option<&str> {
        None
    }

    /// Whether the `Display` text may be sent to the client as `detail`. Defaults to 4xx only.
    fn expose_detail(&self) -> bool {
        self.status().is_client_error()
    }

    /// The stable `errorType` reported to Lambda when this error ends a non-HTTP invocation.
    ///
    /// Defaults to a name derived from the status (`NotFound`, `InternalServerError`), never a Rust
    /// type name, so dashboards and retry policies do not break when code is refactored.
    fn error_type(&self) -> &str {
        status_error_type(self.status())
    }
}

/// A stable error type name for a status, e.g. `BadRequest` for 400.
#[must_use]
pub fn status_error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        408 => "RequestTimeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "PayloadTooLarge",
        415 => "UnsupportedMediaType",
        422 => "UnprocessableEntity",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        501 => "NotImplemented",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ if status.is_client_error() => "ClientError",
        _ => "ServerError",
    }
}

/// The error handlers return: a [`Problem`] to answer with, extra response headers, a stable error type
/// name, and the original error (kept for logs, never serialized).
///
/// Build one from any [`HttpError`] with `?`/`From`, from a [`Problem`], with the constructors below,
/// or from an arbitrary boxed error with [`ApiError::internal`] (a 500 whose body says nothing).
///
/// ```
/// use http::{Method, StatusCode};
/// use lamina_middleware::errors::ApiError;
///
/// let error = ApiError::method_not_allowed(&[Method::GET, Method::POST]);
/// assert_eq!(error.status(), StatusCode::METHOD_NOT_ALLOWED);
/// let response: http::Response<String> = error.to_response();
/// assert_eq!(response.headers()["allow"], "GET, POST");
/// ```
pub struct ApiError {
    // Boxed so `Result<T, ApiError>` stays one pointer wide on the happy path.
    inner: Box<Inner>,
}

struct Inner {
    problem: Problem,
    headers: HeaderMap,
    error_type: Cow<'static, str>,
    source: Option<BoxError>,
}

impl ApiError {
    /// An error answering with `problem`.
    #[must_use]
    pub fn from_problem(problem: Problem) -> Self {
        Self {
            inner: Box::new(Inner {
                error_type: Cow::Borrowed(status_error_type(problem.status())),
                problem,
                headers: HeaderMap::new(),
                source: None,
            }),
        }
    }

    /// A bare error with `status` and the canonical title.
    #[must_use]
    pub fn new(status: StatusCode) -> Self {
        Self::from_problem(Problem::new(status))
    }

    /// 400 with `detail`.
    #[must_use]
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::from_problem(Problem::new(StatusCode::BAD_REQUEST).with_detail(detail))
    }

    /// 404 for a request whose path matches no route.
    #[must_use]
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND)
    }

    /// 405 with an `Allow` header listing `allowed` (RFC 9110 section 15.5.6).
    #[must_use]
    pub fn method_not_allowed(allowed: &[Method]) -> Self {
        let allow = allowed
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let mut error = Self::new(StatusCode::METHOD_NOT_ALLOWED);
        // Method names are tokens, so this only fails for an empty or odd list; then omit the header.
        if let Ok(value) = HeaderValue::from_str(&allow) {
            error.inner.headers.insert(header::ALLOW, value);
        }
        error
    }

    /// A 500 for an unexpected error. The client sees only "Internal Server Error"; `source` is kept
    /// for the log line written by [`ErrorMapping`](super::ErrorMapping).
    #[must_use]
    pub fn internal(source: impl Into<BoxError>) -> Self {
        let mut error = Self::new(StatusCode::INTERNAL_SERVER_ERROR);
        error.inner.source = Some(source.into());
        error
    }

    /// Adds a response header (e.g. `WWW-Authenticate`, `Retry-After`).
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.inner.headers.append(name, value);
        self
    }

    /// Replaces the problem, e.g. to add an extension member.
    #[must_use]
    pub fn map_problem(mut self, f: impl FnOnce(Problem) -> Problem) -> Self {
        self.inner.problem = f(self.inner.problem);
        self
    }

    /// Sets the stable `errorType` reported to Lambda.
    #[must_use]
    pub fn with_error_type(mut self, error_type: impl Into<Cow<'static, str>>) -> Self {
        self.inner.error_type = error_type.into();
        self
    }

    /// The response status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.inner.problem.status()
    }

    /// The problem sent to the client.
    #[must_use]
    pub fn problem(&self) -> &Problem {
        &self.inner.problem
    }

    /// The extra response headers.
    #[must_use]
    pub fn headers(&self) -> &HeaderMap {
        &self.inner.headers
    }

    /// The stable error type name (see [`HttpError::error_type`]).
    #[must_use]
    pub fn error_type(&self) -> &str {
        &self.inner.error_type
    }

    /// The problem+json response with the extra headers.
    #[must_use]
    pub fn to_response<B: From<String>>(&self) -> http::Response<B> {
        let mut response = self.inner.problem.to_response();
        for (name, value) in &self.inner.headers {
            response.headers_mut().append(name, value.clone());
        }
        response
    }

    /// Like [`to_response`](Self::to_response) with `requestId` set in the body.
    pub(crate) fn to_response_with_id<B: From<String>>(
        &self,
        request_id: Option<&str>,
    ) -> http::Response<B> {
        match request_id {
            Some(id) if self.inner.problem.request_id().is_none() => {
                let mut response = self.inner.problem.clone().with_request_id(id).to_response();
                for (name, value) in &self.inner.headers {
                    response.headers_mut().append(name, value.clone());
                }
                response
            }
            _ => self.to_response(),
        }
    }
}

impl<E: HttpError> From<E> for ApiError {
    fn from(error: E) -> Self {
        let mut problem = Problem::new(error.status());
        if let Some(uri) = error.problem_type() {
            problem = problem.with_type(uri);
        }
        if let Some(title) = error.title() {
            problem = problem.with_title(title);
        }
        if error.expose_detail() {
            problem = problem.with_detail(error.to_string());
        }
        Self {
            inner: Box::new(Inner {
                problem,
                headers: HeaderMap::new(),
                error_type: Cow::Owned(error.error_type().to_owned()),
                source: Some(Box::new(error)),
            }),
        }
    }
}

impl From<BoxError> for ApiError {
    /// A boxed error that already is an [`ApiError`] is unboxed; anything else is
    /// [`ApiError::internal`] (an opaque 500), so `?` works on `lambda_http::Error` results.
    fn from(error: BoxError) -> Self {
        match error.downcast::<ApiError>() {
            Ok(api) => *api,
            Err(other) => Self::internal(other),
        }
    }
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        Self::from_problem(problem)
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("problem", &self.inner.problem)
            .field("error_type", &self.inner.error_type)
            .field("source", &self.inner.source)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for ApiError {
    /// The problem's line, then the hidden source if any (this is what gets logged).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner.problem, f)?;
        match &self.inner.source {
            Some(source) if self.inner.problem.detail() != Some(source.to_string().as_str()) => {
                write!(f, " ({source})")
            }
            _ => Ok(()),
        }
    }
}

impl StdError for ApiError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Domain {
        #[error("name is taken")]
        Taken,
        #[error("password for db is hunter2")]
        Db,
        #[error("slow down")]
        Limited,
    }

    impl HttpError for Domain {
        fn status(&self) -> StatusCode {
            match self {
                Domain::Taken => StatusCode::CONFLICT,
                Domain::Db => StatusCode::INTERNAL_SERVER_ERROR,
                Domain::Limited => StatusCode::TOO_MANY_REQUESTS,
            }
        }
        fn problem_type(&self) -> Option<&str> {
            matches!(self, Domain::Taken).then_some("https://example.com/probs/taken")
        }
        fn title(&self) -> Option<&str> {
            matches!(self, Domain::Taken).then_some("Name taken")
        }
    }

    #[test]
    fn http_error_conversion_table() {
        let cases = [
            (
                Domain::Taken,
                409,
                "https://example.com/probs/taken",
                "Name taken",
                Some("name is taken"),
                "Conflict",
            ),
            (
                Domain::Db,
                500,
                "about:blank",
                "Internal Server Error",
                None,
                "InternalServerError",
            ),
            (
                Domain::Limited,
                429,
                "about:blank",
                "Too Many Requests",
                Some("slow down"),
                "TooManyRequests",
            ),
        ];
        for (domain, status, ty, title, detail, error_type) in cases {
            let error = ApiError::from(domain);
            assert_eq!(error.status().as_u16(), status);
            assert_eq!(error.problem().problem_type(), ty);
            assert_eq!(error.problem().title(), title);
            assert_eq!(error.problem().detail(), detail);
            assert_eq!(error.error_type(), error_type);
            assert!(error.source().is_some());
        }
    }

    #[test]
    fn hidden_detail_is_not_in_the_response_but_is_in_display() {
        let error = ApiError::from(Domain::Db);
        let response: http::Response<String> = error.to_response();
        assert!(!response.body().contains("hunter2"), "{}", response.body());
        assert!(error.to_string().contains("hunter2"));
    }

    #[test]
    fn internal_hides_source() {
        let error = ApiError::internal("connection refused to 10.1.2.3");
        let response: http::Response<String> = error.to_response();
        assert_eq!(response.status(), 500);
        assert!(!response.body().contains("10.1.2.3"));
        assert_eq!(
            error.to_string(),
            "500 Internal Server Error (connection refused to 10.1.2.3)"
        );
    }

    #[test]
    fn boxed_errors_convert() {
        let boxed: BoxError = "socket closed".into();
        let error = ApiError::from(boxed);
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error.problem().detail(), None);
        let boxed: BoxError = Box::new(ApiError::from(Domain::Taken));
        assert_eq!(ApiError::from(boxed).status(), StatusCode::CONFLICT);
    }

    #[test]
    fn method_not_allowed_sets_allow() {
        let response: http::Response<String> =
            ApiError::method_not_allowed(&[Method::GET, Method::PUT, Method::DELETE]).to_response();
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()[header::ALLOW], "GET, PUT, DELETE");
    }

    #[test]
    fn request_id_is_added_once() {
        let response: http::Response<String> =
            ApiError::not_found().to_response_with_id(Some("abc"));
        assert!(response.body().contains("\"requestId\":\"abc\""));
        let response: http::Response<String> =
            ApiError::from_problem(Problem::new(StatusCode::NOT_FOUND).with_request_id("first"))
                .to_response_with_id(Some("second"));
        assert!(response.body().contains("first") && !response.body().contains("second"));
    }

    #[test]
    fn status_error_types_are_stable() {
        assert_eq!(status_error_type(StatusCode::BAD_REQUEST), "BadRequest");
        assert_eq!(status_error_type(StatusCode::IM_A_TEAPOT), "ClientError");
        assert_eq!(status_error_type(StatusCode::LOOP_DETECTED), "ServerError");
    }
}
