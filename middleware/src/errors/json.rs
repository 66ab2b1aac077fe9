//! [`json_body`]: parse a JSON request body, or a 400/415 problem saying where and why it failed.

use http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{ApiError, Problem};

/// Longest `detail` echoed back; serde messages can quote arbitrarily long input strings.
const MAX_DETAIL_CHARS: usize = 300;

/// The problem `type` of a body that is not valid JSON or does not fit the expected shape.
pub const MALFORMED_JSON_TYPE: &str = "https://lamina.dev/problems/malformed-json";

/// Deserializes the request body as JSON into `T`.
///
/// - A `content-type` other than `application/json` or `application/*+json` answers 415 (a missing
///   header is accepted, as API Gateway test consoles often omit it).
/// - An empty body answers 400 "request body is empty".
/// - Invalid JSON or JSON of the wrong shape answers 400 with the serde message as `detail` and the
///   position as the `line` and `column` extension members (1-based).
///
/// ```
/// use lamina_middleware::errors::json_body;
///
/// #[derive(serde::Deserialize)]
/// struct NewPhoto { caption: String }
///
/// let req = http::Request::builder()
///     .header("content-type", "application/json")
///     .body(lambda_http::Body::from("{\"caption\": 12}"))
///     .unwrap();
/// let error = json_body::<NewPhoto>(&req).err().unwrap();
/// assert_eq!(error.status(), 400);
/// assert_eq!(error.problem().extension("line"), Some(&serde_json::json!(1)));
/// assert_eq!(error.problem().extension("column"), Some(&serde_json::json!(14)));
/// ```
pub fn json_body<T: DeserializeOwned>(
    req: &http::Request<impl AsRef<[u8]>>,
) -> Result<T, ApiError> {
    if let Some(content_type) = req.headers().get(header::CONTENT_TYPE)
        && !is_json_media_type(content_type.to_str().unwrap_or_default())
    {
        return Err(ApiError::from_problem(
            Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                .with_detail("expected content-type application/json"),
        ));
    }
    parse_json(req.body().as_ref())
}

/// Deserializes `bytes` as JSON into `T`, with the same 400 problems as [`json_body`].
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::from_problem(
            Problem::new(StatusCode::BAD_REQUEST)
                .with_type(MALFORMED_JSON_TYPE)
                .with_title("Malformed JSON body")
                .with_detail("request body is empty"),
        ));
    }
    serde_json::from_slice(bytes).map_err(|error| {
        let mut detail = error.to_string();
        if let Some((cut, _)) = detail.char_indices().nth(MAX_DETAIL_CHARS) {
            detail.truncate(cut);
            detail.push('…');
        }
        ApiError::from_problem(
            Problem::new(StatusCode::BAD_REQUEST)
                .with_type(MALFORMED_JSON_TYPE)
                .with_title("Malformed JSON body")
                .with_detail(detail)
                .with_extension("line", Value::from(error.line()))
                .with_extension("column", Value::from(error.column())),
        )
    })
}

/// `application/json`, `application/problem+json`, … with any parameters.
fn is_json_media_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", subtype)) => subtype == "json" || subtype.ends_with("+json"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Photo {
        caption: String,
        width: u32,
    }

    fn request(content_type: Option<&str>, body: &str) -> http::Request<lambda_http::Body> {
        let mut builder = http::Request::builder();
        if let Some(value) = content_type {
            builder = builder.header(header::CONTENT_TYPE, value);
        }
        builder
            .body(lambda_http::Body::from(body.to_owned()))
            .unwrap_or_default()
    }

    #[test]
    fn parses_valid_bodies() {
        for content_type in [
            None,
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            Some("application/vnd.api+json"),
        ] {
            let photo: Result<Photo, _> =
                json_body(&request(content_type, r#"{"caption":"a","width":3}"#));
            assert_eq!(
                photo.ok(),
                Some(Photo {
                    caption: "a".into(),
                    width: 3
                }),
                "{content_type:?}"
            );
        }
    }

    #[test]
    fn bad_bodies_table() {
        // (content type, body, status, detail contains, line, column)
        type Case<'a> = (
            Option<&'a str>,
            &'a str,
            u16,
            &'a str,
            Option<u64>,
            Option<u64>,
        );
        let cases: [Case<'_>; 7] = [
            (
                Some("text/plain"),
                "{}",
                415,
                "application/json",
                None,
                None,
            ),
            (
                Some("application/jsonx"),
                "{}",
                415,
                "application/json",
                None,
                None,
            ),
            (None, "", 400, "empty", None, None),
            (None, "  \n", 400, "empty", None, None),
            (
                None,
                "{\"caption\": \"a\",\n \"width\": }",
                400,
                "expected value",
                Some(2),
                Some(11),
            ),
            (
                None,
                "{\"caption\": \"a\", \"width\": -1}",
                400,
                "invalid value",
                Some(1),
                Some(28),
            ),
            (
                None,
                "{\"caption\": \"a\"}",
                400,
                "missing field `width`",
                Some(1),
                Some(16),
            ),
        ];
        for (content_type, body, status, detail, line, column) in cases {
            let error = match json_body::<Photo>(&request(content_type, body)) {
                Ok(photo) => panic!("{body:?} parsed as {photo:?}"),
                Err(error) => error,
            };
            assert_eq!(error.status().as_u16(), status, "{body:?}");
            let problem = error.problem();
            assert!(
                problem.detail().unwrap_or_default().contains(detail),
                "{body:?}: {problem:?}"
            );
            assert_eq!(
                problem.extension("line"),
                line.map(Value::from).as_ref(),
                "{body:?}"
            );
            assert_eq!(
                problem.extension("column"),
                column.map(Value::from).as_ref(),
                "{body:?}"
            );
        }
    }

    #[test]
    fn long_messages_are_truncated() {
        let body = format!("{{\"caption\": 1, \"width\": \"{}\"}}", "x".repeat(10_000));
        let Err(error) = parse_json::<Vec<u8>>(body.as_bytes()) else {
            panic!("parsed");
        };
        assert!(
            error.problem().detail().unwrap_or_default().chars().count() <= MAX_DETAIL_CHARS + 1
        );
        assert_eq!(
            error.problem().to_json()["type"],
            json!(MALFORMED_JSON_TYPE)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_errors_are_4xx(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Err(error) = parse_json::<Value>(&bytes) {
                prop_assert_eq!(error.status(), StatusCode::BAD_REQUEST);
            }
        }

        #[test]
        fn arbitrary_content_types_never_panic(content_type in "[ -~]{0,40}") {
            let mut req = request(None, "{}");
            if let Ok(value) = http::HeaderValue::from_str(&content_type) {
                req.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            match json_body::<Value>(&req) {
                Ok(value) => prop_assert_eq!(value, json!({})),
                Err(error) => prop_assert_eq!(error.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE),
            }
        }
    }
}
