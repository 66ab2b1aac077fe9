//! `validation`: schema files (API Gateway model compatible) checked by the layer and the function API.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::{Method, StatusCode};
use lambda_http::Body;
use lamina_middleware::errors::{ApiError, MALFORMED_JSON_TYPE, PROBLEM_JSON, ProblemLayer};
use lamina_middleware::validation::{
    JsonSchema, SchemaError, VALIDATION_FAILED_TYPE, ValidateJsonLayer, ValidatedJson,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/schemas")
        .join(name)
}

fn new_photo_schema() -> JsonSchema {
    JsonSchema::from_file(fixture("new-photo.json")).unwrap_or_else(|error| panic!("{error}"))
}

fn post(body: &str) -> http::Request<Body> {
    http::Request::post("/photos")
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap_or_default()
}

fn json_of(response: &http::Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null)
}

/// The handler echoes the validated body it found in the extensions; it counts its calls.
fn app(
    calls: Arc<AtomicUsize>,
) -> impl tower::Service<
    http::Request<Body>,
    Response = http::Response<Body>,
    Error = std::convert::Infallible,
> + Clone {
    ServiceBuilder::new()
        .layer(ProblemLayer::new())
        .layer(ValidateJsonLayer::new(new_photo_schema()).only_methods([Method::POST, Method::PUT]))
        .service(service_fn(move |req: http::Request<Body>| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                let body = req
                    .extensions()
                    .get::<ValidatedJson>()
                    .map(|ValidatedJson(v)| v.to_string());
                Ok::<_, ApiError>(http::Response::new(Body::from(
                    body.unwrap_or_else(|| "unchecked".into()),
                )))
            }
        }))
}

#[tokio::test(flavor = "current_thread")]
async fn bad_bodies_table() {
    let calls = Arc::new(AtomicUsize::new(0));
    let service = app(Arc::clone(&calls));
    let ok = r#"{"caption": "Sunset", "url": "https://cdn.example.com/1.jpg"}"#;
    // (body, status, problem type, field, keyword)
    let cases: [(&str, u16, &str, &str, &str); 14] = [
        ("{}", 400, VALIDATION_FAILED_TYPE, "/caption", "required"),
        (
            r#"{"caption": "x"}"#,
            400,
            VALIDATION_FAILED_TYPE,
            "/url",
            "required",
        ),
        (
            r#"{"caption": "", "url": "https://a"}"#,
            400,
            VALIDATION_FAILED_TYPE,
            "/caption",
            "minLength",
        ),
        (
            r#"{"caption": 5, "url": "https://a"}"#,
            400,
            VALIDATION_FAILED_TYPE,
            "/caption",
            "type",
        ),
        (
            r#"{"caption": "x", "url": "http://a"}"#,
            400,
            VALIDATION_FAILED_TYPE,
            "/url",
            "pattern",
        ),
        (
            r#"{"caption": "x", "url": "https://a", "width": 0}"#,
            400,
            VALIDATION_FAILED_TYPE,
            "/width",
            "minimum",
        ),
        (
            r#"{"caption": "x", "url": "https://a", "width": 2.5}"#,
            400,
            VALIDATION_FAILED_TYPE,
            "/width",
            "type",
        ),
        (
            r#"{"caption": "x", "url": "https://a", "tags": ["cat", "cow"]}"#,
            400,
            VALIDATION_FAILED_TYPE,
            "/tags/1",
            "enum",
        ),
        (
            r#"{"caption": "x", "url": "https://a", "tags": ["cat", "cat"]}"#,
            400,
            VALIDATION_FAILED_TYPE,
            "/tags",
            "uniqueItems",
        ),
        (
            r#"{"caption": "x", "url": "https://a", "location": {"lat": 91, "lon": 0}}"#,
            400,
            VALIDATION_FAILED_TYPE,
            "/location/lat",
            "maximum",
        ),
        (
            r#"{"caption": "x", "url": "https://a", "location": {"lat": 1}}"#,
            400,
            VALIDATION_FAILED_TYPE,
            "/location/lon",
            "required",
        ),
        (
            r#"{"caption": "x", "url": "https://a", "owner": "me"}"#,
            400,
            VALIDATION_FAILED_TYPE,
            "",
            "additionalProperties",
        ),
        ("[1, 2]", 400, VALIDATION_FAILED_TYPE, "", "type"),
        (r#"{"caption": "x",}"#, 400, MALFORMED_JSON_TYPE, "", ""),
    ];
    for (body, status, problem_type, field, keyword) in cases {
        let response = service
            .clone()
            .oneshot(post(body))
            .await
            .unwrap_or_else(|n| match n {});
        assert_eq!(response.status().as_u16(), status, "{body}");
        assert_eq!(response.headers()["content-type"], PROBLEM_JSON);
        let problem = json_of(&response);
        assert_eq!(problem["type"], problem_type, "{body}: {problem}");
        if problem_type == VALIDATION_FAILED_TYPE {
            let errors = problem["errors"].as_array().cloned().unwrap_or_default();
            assert!(
                errors
                    .iter()
                    .any(|e| e["field"] == field && e["keyword"] == keyword),
                "{body}: {problem}"
            );
        }
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "an invalid body reached the handler"
    );

    let response = service
        .clone()
        .oneshot(post(ok))
        .await
        .unwrap_or_else(|n| match n {});
    assert_eq!(response.status(), StatusCode::OK);
    let echoed: Value = serde_json::from_slice(response.body().as_ref()).unwrap_or_default();
    assert_eq!(echoed["caption"], "Sunset");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn other_methods_pass_unchecked_and_content_type_is_enforced() {
    let service = app(Arc::new(AtomicUsize::new(0)));
    let get = http::Request::get("/photos")
        .body(Body::Empty)
        .unwrap_or_default();
    let response = service
        .clone()
        .oneshot(get)
        .await
        .unwrap_or_else(|n| match n {});
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body().as_ref(), b"unchecked");

    let mut req = post("{}");
    req.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let response = service
        .clone()
        .oneshot(req)
        .await
        .unwrap_or_else(|n| match n {});
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let response = service
        .oneshot(post(""))
        .await
        .unwrap_or_else(|n| match n {});
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(&response)["detail"], "request body is empty");
}

#[derive(Debug, serde::Deserialize, PartialEq)]
struct NewPhoto {
    caption: String,
    url: String,
    width: Option<u32>,
}

#[tokio::test(flavor = "current_thread")]
async fn function_api_for_bodies_and_query_strings() {
    let body_schema = new_photo_schema();
    let query_schema = JsonSchema::from_file(fixture("list-photos-query.json"))
        .unwrap_or_else(|error| panic!("{error}"));
    let handler = move |req: http::Request<Body>| {
        let (body_schema, query_schema) = (body_schema.clone(), query_schema.clone());
        async move {
            if req.method() == Method::GET {
                query_schema.validate_query(&req)?;
                return Ok::<_, ApiError>(http::Response::new(Body::from("listed")));
            }
            let photo: NewPhoto = body_schema.validate_body(&req)?;
            Ok(http::Response::new(Body::from(format!(
                "{} {:?}",
                photo.caption, photo.width
            ))))
        }
    };
    let service = ProblemLayer::new().layer(service_fn(handler));

    let response = service
        .clone()
        .oneshot(post(
            r#"{"caption": "Dog", "url": "https://x", "width": 640}"#,
        ))
        .await
        .unwrap_or_else(|n| match n {});
    assert_eq!(response.body().as_ref(), b"Dog Some(640)");

    // (query, status, field, keyword)
    let cases = [
        ("", 200, "", ""),
        ("?limit=20&order=desc", 200, "", ""),
        ("?limit=0", 400, "/limit", "pattern"),
        ("?limit=100", 400, "/limit", "pattern"),
        ("?order=sideways", 400, "/order", "enum"),
        ("?limit=1&limit=2", 400, "/limit", "type"),
        ("?debug=true", 400, "", "additionalProperties"),
    ];
    for (query, status, field, keyword) in cases {
        let req = http::Request::get(format!("/photos{query}"))
            .body(Body::Empty)
            .unwrap_or_default();
        let response = service
            .clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|n| match n {});
        assert_eq!(response.status().as_u16(), status, "{query}");
        if status == 400 {
            let problem = json_of(&response);
            assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
            assert_eq!(
                problem["errors"][0]["keyword"], keyword,
                "{query}: {problem}"
            );
        }
    }
}

#[test]
fn schema_problems_are_typed_init_errors() {
    assert!(matches!(
        JsonSchema::from_file(fixture("absent.json")),
        Err(SchemaError::Read { .. })
    ));
    match JsonSchema::from_file(fixture("truncated.json")) {
        Err(SchemaError::Parse { path, source }) => {
            assert!(path.ends_with("truncated.json"));
            assert_eq!(source.line(), 2);
        }
        other => panic!("{other:?}"),
    }
    match JsonSchema::from_file(fixture("not-a-schema.json")) {
        Err(error @ SchemaError::Invalid { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains("not-a-schema.json") && message.contains("strnig"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Remote references are never fetched (jsonschema is built without its HTTP and file resolvers).
    let remote = json!({"$ref": "https://schemas.example.com/photo.json"});
    assert!(matches!(
        JsonSchema::from_value(&remote),
        Err(SchemaError::Invalid { .. })
    ));
}

#[test]
fn schema_text_is_parsed_then_compiled_with_distinct_errors() {
    let schema = JsonSchema::from_json_str(
        r#"{"$schema": "http://json-schema.org/draft-04/schema#",
            "type": "object", "required": ["caption"],
            "properties": {"caption": {"type": "string", "maxLength": 3}}}"#,
    )
    .unwrap();
    assert!(schema.is_valid(&json!({"caption": "abc"})));
    assert!(!schema.is_valid(&json!({"caption": "abcd"})));
    assert!(!schema.is_valid(&json!({})));

    // (text, parse error line or None for an invalid schema)
    let cases: [(&str, Option<usize>); 5] = [
        ("", Some(1)),
        ("{\n\"type\": \"obj", Some(2)),
        ("{\"type\": \"object\"} trailing", Some(1)),
        (r#"{"type": "strnig"}"#, None),
        (
            r#"{"$ref": "https://schemas.example.com/photo.json"}"#,
            None,
        ),
    ];
    for (text, line) in cases {
        match (JsonSchema::from_json_str(text), line) {
            (Err(SchemaError::ParseText { source }), Some(line)) => {
                assert_eq!(source.line(), line, "{text:?}");
            }
            (Err(error @ SchemaError::Invalid { .. }), None) => {
                let message = error.to_string();
                assert!(message.starts_with("invalid JSON schema: "), "{message}");
            }
            (other, _) => panic!("{text:?}: {other:?}"),
        }
    }
    let not_json = JsonSchema::from_json_str("{").unwrap_err();
    assert_eq!(not_json.to_string(), "JSON schema text is not valid JSON");
    assert!(std::error::Error::source(&not_json).is_some());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_bodies_never_cause_a_server_error(body in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        "\\{\"caption\": \"[a-z]{0,90}\", \"url\": \"(https?)://[a-z]{1,5}\"( , \"width\": -?[0-9]{1,6})?\\}",
    ]) {
        let runtime = tokio::runtime::Builder::new_current_thread().build();
        let Ok(runtime) = runtime else { return Err(TestCaseError::fail("no runtime")) };
        let response = runtime
            .block_on(app(Arc::new(AtomicUsize::new(0))).oneshot(post(&body)))
            .unwrap_or_else(|n| match n {});
        prop_assert!(matches!(response.status().as_u16(), 200 | 400), "{} for {body:?}", response.status());
    }
}

#[tokio::test(flavor = "current_thread")]
async fn bodies_over_the_schema_cap_are_413_before_parsing() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let service = ServiceBuilder::new()
        .layer(ProblemLayer::new())
        .layer(ValidateJsonLayer::new(
            new_photo_schema().max_body_bytes(100),
        ))
        .service(service_fn(move |_req: http::Request<Body>| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, ApiError>(http::Response::new(Body::Empty)) }
        }));
    let fits = r#"{"caption": "Sunset", "url": "https://cdn.example.com/1.jpg"}"#;
    let response = service.clone().oneshot(post(fits)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Malformed as well as too long: the size is what is reported, nothing was parsed.
    let over = format!("{{\"caption\": \"{}", "x".repeat(120));
    let response = service.clone().oneshot(post(&over)).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        json_of(&response)["detail"]
            .as_str()
            .unwrap()
            .contains("larger than 100 bytes")
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the handler saw only the body that fits"
    );
}
