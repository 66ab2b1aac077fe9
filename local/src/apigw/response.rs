//! The function's proxy response turned back into HTTP, and the answers API Gateway gives itself
//! when the integration fails.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, StatusCode};
use serde::Deserialize;
use serde_json::Value;

/// The proxy integration's response document. Any other key makes it malformed, as on API Gateway.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ProxyResponse {
    status_code: Value,
    #[serde(default)]
    headers: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    multi_value_headers: Option<BTreeMap<String, Vec<Value>>>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: Option<bool>,
}

/// Why a function's answer is not a proxy response. API Gateway answers 502 for each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MalformedResponse {
    /// The answer is not a JSON object with only the proxy response's keys.
    #[error("not a proxy response document: {0}")]
    Shape(String),
    /// `statusCode` is not an integer from 100 to 599.
    #[error("statusCode {0} is not an HTTP status")]
    Status(String),
    /// A header name or value cannot go on the wire.
    #[error("header {0:?} cannot be sent")]
    Header(String),
    /// `isBase64Encoded` is true and the body is not base64.
    #[error("the body is marked base64 but does not decode")]
    Base64,
}

/// Headers that describe this hop, not the function's answer: the server sets them itself.
const HOP_HEADERS: [&str; 4] = [
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
];

/// The HTTP response a proxy response stands for.
///
/// `headers` and `multiValueHeaders` merge as API Gateway merges them: a name present in
/// `multiValueHeaders` takes its values from there only; other names add their single value.
pub(crate) fn from_proxy_response(document: &[u8]) -> Result<Response<Bytes>, MalformedResponse> {
    let proxy: ProxyResponse = serde_json::from_slice(document)
        .map_err(|error| MalformedResponse::Shape(error.to_string()))?;
    let status = status(&proxy.status_code)?;
    let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, list) in proxy.multi_value_headers.unwrap_or_default() {
        let entry = values.entry(name.to_ascii_lowercase()).or_default();
        entry.extend(list.iter().filter_map(scalar));
    }
    for (name, value) in proxy.headers.unwrap_or_default() {
        let name = name.to_ascii_lowercase();
        values
            .entry(name)
            .or_insert_with(|| scalar(&value).into_iter().collect());
    }
    let body = match proxy.body {
        None => Bytes::new(),
        Some(text) if proxy.is_base64_encoded == Some(true) => BASE64
            .decode(text.trim())
            .map(Bytes::from)
            .map_err(|_| MalformedResponse::Base64)?,
        Some(text) => Bytes::from(text),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    for (name, list) in values {
        if HOP_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| MalformedResponse::Header(name.clone()))?;
        for value in list {
            let value = HeaderValue::from_str(&value)
                .map_err(|_| MalformedResponse::Header(name.clone()))?;
            response.headers_mut().append(header.clone(), value);
        }
    }
    Ok(response)
}

/// `statusCode` as API Gateway reads it: an integer, or a string holding one.
fn status(value: &Value) -> Result<StatusCode, MalformedResponse> {
    let code = match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    };
    code.and_then(|code| u16::try_from(code).ok())
        .filter(|code| (100..=599).contains(code))
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| MalformedResponse::Status(value.to_string()))
}

/// A header value: strings as they are, numbers and booleans as their JSON text, null dropped.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(_) | Value::Bool(_) => Some(value.to_string()),
        _ => None,
    }
}

/// An answer API Gateway gives on its own: `{"message": ...}` with `x-amzn-ErrorType`.
pub(crate) fn gateway_error(
    status: StatusCode,
    error_type: &'static str,
    message: &str,
) -> Response<Bytes> {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("x-amzn-errortype", HeaderValue::from_static(error_type));
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn proxy_responses_become_http() {
        let response = from_proxy_response(
            br#"{"statusCode": 201, "headers": {"Content-Type": "application/json", "x-one": "a", "content-length": "99"},
                 "multiValueHeaders": {"set-cookie": ["a=1", "b=2"], "x-one": ["b", "c"]},
                 "body": "{\"ok\":true}", "isBase64Encoded": false}"#,
        )
        .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["content-type"], "application/json");
        let all = |name: &str| -> Vec<&str> {
            response
                .headers()
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect()
        };
        assert_eq!(all("set-cookie"), ["a=1", "b=2"]);
        assert_eq!(all("x-one"), ["b", "c"], "multiValueHeaders wins");
        assert!(response.headers().get("content-length").is_none());
        assert_eq!(response.body().as_ref(), br#"{"ok":true}"#);
    }

    #[test]
    fn base64_bodies_and_string_statuses() {
        let response = from_proxy_response(
            br#"{"statusCode": "200", "body": "iVBORw==", "isBase64Encoded": true}"#,
        )
        .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.body().as_ref(), b"\x89PNG");
        let empty = from_proxy_response(br#"{"statusCode": 204, "headers": null}"#).unwrap();
        assert_eq!(empty.status(), StatusCode::NO_CONTENT);
        assert!(empty.body().is_empty());
    }

    #[test]
    fn malformed_responses_are_refused() {
        let kind = |error: &MalformedResponse| match error {
            MalformedResponse::Shape(_) => "shape",
            MalformedResponse::Status(_) => "status",
            MalformedResponse::Header(_) => "header",
            MalformedResponse::Base64 => "base64",
        };
        let cases: [(&str, &str); 9] = [
            ("not json", "shape"),
            ("[]", "shape"),
            (r#"{"body": "x"}"#, "shape"),
            (r#"{"statusCode": 200, "extra": 1}"#, "shape"),
            (r#"{"statusCode": 200, "body": {"a": 1}}"#, "shape"),
            (r#"{"statusCode": 99}"#, "status"),
            (r#"{"statusCode": "ok"}"#, "status"),
            (
                r#"{"statusCode": 200, "headers": {"bad name": "x"}}"#,
                "header",
            ),
            (
                r#"{"statusCode": 200, "body": "%%%", "isBase64Encoded": true}"#,
                "base64",
            ),
        ];
        for (document, expected) in cases {
            let error = from_proxy_response(document.as_bytes()).unwrap_err();
            assert_eq!(kind(&error), expected, "{document}: {error:?}");
        }
    }
}
