//! `errors`: handler errors, unexpected errors and panics as problem+json; JSON bodies; routing; diagnostics.

use std::io::Write;
use std::sync::{Arc, Mutex};

use http::{Method, StatusCode};
use lambda_http::Body;
use lambda_http::lambda_runtime::Diagnostic;
use lamina_middleware::errors::{
    ApiError, BoxError, HttpError, MALFORMED_JSON_TYPE, PROBLEM_JSON, PathParams, ProblemLayer,
    Router, json_body,
};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt, service_fn};

#[derive(Debug, thiserror::Error)]
enum PhotoError {
    #[error("no photo {0}")]
    NotFound(u64),
    #[error("S3 bucket udagram-private-7731 denied access")]
    Storage,
}

impl HttpError for PhotoError {
    fn status(&self) -> StatusCode {
        match self {
            PhotoError::NotFound(_) => StatusCode::NOT_FOUND,
            PhotoError::Storage => StatusCode::BAD_GATEWAY,
        }
    }
    fn problem_type(&self) -> Option<&str> {
        matches!(self, PhotoError::NotFound(_))
            .then_some("https://udagram.dev/problems/photo-not-found")
    }
    fn error_type(&self) -> &str {
        match self {
            PhotoError::NotFound(_) => "PhotoNotFound",
            PhotoError::Storage => "PhotoStorageFailed",
        }
    }
}

/// A request as `lambda_http` hands it over: with the invocation's `Context` in the extensions.
fn lambda_request(method: &str, uri: &str, body: &str, request_id: &str) -> http::Request<Body> {
    let mut req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap_or_default();
    let mut context = lambda_http::Context::default();
    context.request_id = request_id.to_owned();
    req.extensions_mut().insert(context);
    req
}

fn json_of(response: &http::Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null)
}

/// Collects what `tracing` writes while the guard lives.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }
    fn text(&self) -> String {
        self.0
            .lock()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }
}

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut bytes) = self.0.lock() {
            bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The handler behind most tests: the path picks the outcome.
async fn handler(req: http::Request<Body>) -> Result<http::Response<Body>, BoxError> {
    match req.uri().path() {
        "/ok" => Ok(http::Response::new(Body::from("fine"))),
        "/api-error" => Err(ApiError::from(PhotoError::NotFound(42)).into()),
        "/domain-boxed" => Err(PhotoError::NotFound(7).into()),
        "/domain-5xx" => Err(PhotoError::Storage.into()),
        "/opaque" => Err("connection to 10.0.3.17:5432 refused".into()),
        "/io" => Err(std::io::Error::other("disk full").into()),
        "/panic" => panic!("index out of bounds in handler"),
        "/json" => {
            let value: Value = json_body(&req)?;
            Ok(http::Response::new(Body::from(value.to_string())))
        }
        _ => Ok(http::Response::new(Body::Empty)),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn outcomes_table() {
    let logs = LogBuffer::default();
    let _guard = logs.install();
    // (path, body, status, type, detail, must not appear anywhere in the body)
    type Case<'a> = (&'a str, &'a str, u16, &'a str, Option<&'a str>, &'a str);
    let cases: [Case<'_>; 8] = [
        ("/ok", "", 200, "", None, ""),
        (
            "/api-error",
            "",
            404,
            "https://udagram.dev/problems/photo-not-found",
            Some("no photo 42"),
            "",
        ),
        (
            "/domain-boxed",
            "",
            404,
            "https://udagram.dev/problems/photo-not-found",
            Some("no photo 7"),
            "",
        ),
        (
            "/domain-5xx",
            "",
            502,
            "about:blank",
            None,
            "udagram-private",
        ),
        ("/opaque", "", 500, "about:blank", None, "10.0.3.17"),
        ("/io", "", 500, "about:blank", None, "disk full"),
        (
            "/panic",
            "",
            500,
            "about:blank",
            None,
            "index out of bounds",
        ),
        (
            "/json",
            "{\"a\": [1, 2,, 3]}",
            400,
            MALFORMED_JSON_TYPE,
            Some("expected value at line 1 column 13"),
            "",
        ),
    ];
    let service = ProblemLayer::new()
        .recognize::<PhotoError>()
        .layer(service_fn(handler));
    for (index, (path, body, status, problem_type, detail, secret)) in cases.into_iter().enumerate()
    {
        let request_id = format!("req-{index}");
        let response = service
            .clone()
            .oneshot(lambda_request("POST", path, body, &request_id))
            .await
            .unwrap_or_else(|never| match never {});
        assert_eq!(response.status().as_u16(), status, "{path}");
        if status == 200 {
            assert_eq!(response.body().as_ref(), b"fine");
            continue;
        }
        assert_eq!(response.headers()["content-type"], PROBLEM_JSON, "{path}");
        let problem = json_of(&response);
        assert_eq!(problem["status"], status, "{path}");
        assert_eq!(problem["type"], problem_type, "{path}");
        assert_eq!(problem["requestId"], request_id.as_str(), "{path}");
        assert_eq!(problem["detail"].as_str(), detail, "{path}: {problem}");
        let title = if problem_type == MALFORMED_JSON_TYPE {
            "Malformed JSON body"
        } else {
            StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or_default()
        };
        assert_eq!(problem["title"], title, "{path}");
        if !secret.is_empty() {
            assert!(
                !problem.to_string().contains(secret),
                "{path} leaked {secret}: {problem}"
            );
            // ... but the operator sees it, next to the request id.
            let log_line = logs
                .text()
                .lines()
                .find(|line| line.contains(&request_id))
                .map(str::to_owned);
            let log_line = log_line.unwrap_or_default();
            assert!(log_line.contains(secret), "{path}: log line {log_line:?}");
            assert!(log_line.contains("ERROR"), "{path}: {log_line}");
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn service_keeps_serving_after_a_panic() {
    let mut service = ProblemLayer::new().layer(service_fn(handler));
    for path in ["/panic", "/ok", "/panic", "/ok"] {
        let ready = service.ready().await.unwrap_or_else(|never| match never {});
        let response = ready
            .call(lambda_request("GET", path, "", "r"))
            .await
            .unwrap_or_else(|never| match never {});
        let expected = if path == "/ok" {
            StatusCode::OK
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        assert_eq!(response.status(), expected, "{path}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn unregistered_domain_error_is_an_opaque_500() {
    // Without `.recognize::<PhotoError>()` a boxed domain error is indistinguishable from any other.
    let service = ProblemLayer::new().layer(service_fn(handler));
    let response = service
        .oneshot(lambda_request("GET", "/domain-boxed", "", "r"))
        .await
        .unwrap_or_else(|n| match n {});
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(json_of(&response).get("detail").is_none());
}

#[tokio::test(flavor = "current_thread")]
async fn no_request_id_outside_lambda() {
    let service = ProblemLayer::new().layer(service_fn(handler));
    let req = http::Request::get("/opaque")
        .body(Body::Empty)
        .unwrap_or_default();
    let response = service.oneshot(req).await.unwrap_or_else(|n| match n {});
    let problem = json_of(&response);
    assert_eq!(
        problem,
        json!({"type": "about:blank", "title": "Internal Server Error", "status": 500})
    );
}

#[tokio::test(flavor = "current_thread")]
async fn malformed_json_bodies_table() {
    let service = ProblemLayer::new().layer(service_fn(handler));
    // (body, line, column)
    let cases = [
        ("{", 1, 1),
        ("{\"a\": 1,}", 1, 9),
        ("[1, 2\n, 3\n, x]", 3, 3),
        ("{\"a\": \"unterminated", 1, 19),
        ("nul", 1, 3),
        ("{} trailing", 1, 4),
    ];
    for (body, line, column) in cases {
        let response = service
            .clone()
            .oneshot(lambda_request("POST", "/json", body, "r"))
            .await
            .unwrap_or_else(|n| match n {});
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body:?}");
        let problem = json_of(&response);
        assert_eq!(
            (problem["line"].as_u64(), problem["column"].as_u64()),
            (Some(line), Some(column)),
            "{body:?}: {problem}"
        );
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(
            detail.ends_with(&format!("at line {line} column {column}")),
            "{detail}"
        );
    }
    let mut req = lambda_request("POST", "/json", "{}", "r");
    req.headers_mut()
        .insert("content-type", http::HeaderValue::from_static("text/csv"));
    let response = service
        .clone()
        .oneshot(req)
        .await
        .unwrap_or_else(|n| match n {});
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

async fn get_photo(req: http::Request<Body>) -> Result<http::Response<Body>, ApiError> {
    let id = req
        .extensions()
        .get::<PathParams>()
        .and_then(|params| params.get("id"))
        .unwrap_or_default();
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("photo id {id:?} is not a number")))?;
    if id == 0 {
        return Err(PhotoError::NotFound(0).into());
    }
    Ok(http::Response::new(Body::from(format!("photo {id}"))))
}

async fn put_object(req: http::Request<Body>) -> Result<http::Response<Body>, ApiError> {
    let key = req
        .extensions()
        .get::<PathParams>()
        .and_then(|params| params.get("key"))
        .unwrap_or_default();
    Ok(http::Response::new(Body::from(format!("stored {key}"))))
}

#[tokio::test(flavor = "current_thread")]
async fn router_table() {
    let router = Router::new()
        .route(Method::GET, "/photos/{id}", get_photo)
        .route(Method::DELETE, "/photos/{id}", get_photo)
        .route(Method::PUT, "/objects/{key+}", put_object)
        .route(
            Method::GET,
            "/boom",
            |req: http::Request<Body>| async move { handler(req).await },
        );
    let app = ProblemLayer::new().layer(router);
    // (method, path, status, body or problem detail, Allow)
    let cases: [(&str, &str, u16, &str, Option<&str>); 9] = [
        ("GET", "/photos/12", 200, "photo 12", None),
        ("GET", "/photos/12/", 200, "photo 12", None),
        (
            "GET",
            "/photos/abc",
            400,
            "photo id \"abc\" is not a number",
            None,
        ),
        ("GET", "/photos/0", 404, "no photo 0", None),
        ("POST", "/photos/12", 405, "", Some("GET, DELETE")),
        ("GET", "/photos", 404, "", None),
        ("GET", "/nothing/here", 404, "", None),
        (
            "PUT",
            "/objects/a/b%20c/d.txt",
            200,
            "stored a/b c/d.txt",
            None,
        ),
        ("GET", "/objects/a", 405, "", Some("PUT")),
    ];
    for (method, path, status, text, allow) in cases {
        let response = app
            .clone()
            .oneshot(lambda_request(method, path, "", "rid"))
            .await
            .unwrap_or_else(|n| match n {});
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        assert_eq!(
            response
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok()),
            allow,
            "{method} {path}"
        );
        if status == 200 {
            assert_eq!(response.body().as_ref(), text.as_bytes());
        } else {
            let problem = json_of(&response);
            assert_eq!(problem["requestId"], "rid");
            if !text.is_empty() {
                assert_eq!(problem["detail"], text, "{method} {path}");
            }
        }
    }
}

#[test]
fn diagnostics_have_stable_error_types() {
    let cases = [
        (
            ApiError::from(PhotoError::NotFound(3)),
            "PhotoNotFound",
            "404 Not Found: no photo 3",
        ),
        (
            ApiError::from(PhotoError::Storage),
            "PhotoStorageFailed",
            "502 Bad Gateway",
        ),
        (
            ApiError::internal(std::io::Error::other("disk full")),
            "InternalServerError",
            "500 Internal Server Error",
        ),
        (
            ApiError::method_not_allowed(&[Method::GET]),
            "MethodNotAllowed",
            "405 Method Not Allowed",
        ),
    ];
    for (error, error_type, message) in cases {
        let diagnostic: Diagnostic = error.into();
        assert_eq!(diagnostic.error_type, error_type);
        assert_eq!(diagnostic.error_message, message);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn non_http_handler_errors_become_diagnostics() {
    // A plain lambda_runtime handler (e.g. for SQS) returning ApiError: the runtime needs Into<Diagnostic>.
    fn assert_runtime_compatible<E: std::fmt::Debug + Into<Diagnostic>>(_: &E) {}
    let handler = |event: lambda_http::LambdaEvent<Value>| async move {
        match event.payload["photoId"].as_u64() {
            Some(id) => Err::<Value, ApiError>(PhotoError::NotFound(id).into()),
            None => Err(ApiError::bad_request("photoId is required")),
        }
    };
    let event =
        lambda_http::LambdaEvent::new(json!({"photoId": 9}), lambda_http::Context::default());
    let error = handler(event)
        .await
        .err()
        .unwrap_or_else(ApiError::not_found);
    assert_runtime_compatible(&error);
    let diagnostic = Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "PhotoNotFound");
    assert_eq!(diagnostic.error_message, "404 Not Found: no photo 9");
}
