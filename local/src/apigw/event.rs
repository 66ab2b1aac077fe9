//! An HTTP request turned into API Gateway's REST API proxy event (payload format 1.0), as a
//! `/{proxy+}` resource with Lambda proxy integration delivers it.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::HeaderMap;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

/// What API Gateway knows about a request besides the request itself.
#[derive(Debug, Clone)]
pub(crate) struct EventContext<'a> {
    pub(crate) stage: &'a str,
    pub(crate) api_id: &'a str,
    pub(crate) account_id: &'a str,
    pub(crate) region: &'a str,
    pub(crate) request_id: &'a str,
    pub(crate) extended_request_id: &'a str,
    pub(crate) source_ip: String,
    pub(crate) local_port: u16,
    pub(crate) trace_header: &'a str,
    pub(crate) received: SystemTime,
}

/// The proxy event for one request. `path_and_query` is the request target as it came on the wire.
///
/// Like API Gateway's REST API: `path` keeps the client's percent-encoding, `pathParameters` and the
/// query parameters are decoded; `headers` holds each header's last value, `multiValueHeaders` all
/// of them; a body that is not text (by content type, or not UTF-8) arrives base64-encoded with
/// `isBase64Encoded: true`; an empty body is `null`.
pub(crate) fn proxy_event(
    method: &http::Method,
    path_and_query: &str,
    request_headers: &HeaderMap,
    body: &[u8],
    context: &EventContext<'_>,
) -> Value {
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    };
    let path = if path.is_empty() { "/" } else { path };
    let (resource, path_parameters) = if path == "/" {
        ("/", Value::Null)
    } else {
        let proxy = percent_decode(path.trim_start_matches('/'));
        ("/{proxy+}", json!({ "proxy": proxy }))
    };

    let mut headers = gateway_headers(request_headers, context);
    let user_agent = headers
        .get("user-agent")
        .and_then(|values| values.last().cloned());
    let single: Map<String, Value> = headers
        .iter_mut()
        .filter_map(|(name, values)| Some((name.clone(), Value::from(values.last()?.clone()))))
        .collect();
    let multi: Map<String, Value> = headers
        .into_iter()
        .map(|(name, values)| (name, Value::from(values)))
        .collect();

    let (single_query, multi_query) = match query.map(parse_query) {
        Some(pairs) if !pairs.is_empty() => {
            let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (key, value) in pairs {
                multi.entry(key).or_default().push(value);
            }
            let single: Map<String, Value> = multi
                .iter()
                .filter_map(|(key, values)| {
                    Some((key.clone(), Value::from(values.last()?.clone())))
                })
                .collect();
            let multi: Map<String, Value> = multi
                .into_iter()
                .map(|(key, values)| (key, Value::from(values)))
                .collect();
            (Value::Object(single), Value::Object(multi))
        }
        _ => (Value::Null, Value::Null),
    };

    let (body, is_base64) = if body.is_empty() {
        (Value::Null, false)
    } else {
        match std::str::from_utf8(body) {
            Ok(text) if is_text(request_headers) => (Value::from(text), false),
            _ => (Value::from(BASE64.encode(body)), true),
        }
    };

    let epoch_ms = context
        .received
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let domain_name = format!(
        "{}.execute-api.{}.amazonaws.com",
        context.api_id, context.region
    );
    json!({
        "resource": resource,
        "path": path,
        "httpMethod": method.as_str(),
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters,
        "stageVariables": null,
        "requestContext": {
            "accountId": context.account_id,
            "apiId": context.api_id,
            "domainName": domain_name,
            "domainPrefix": context.api_id,
            "extendedRequestId": context.extended_request_id,
            "httpMethod": method.as_str(),
            "identity": {
                "accessKey": null,
                "accountId": null,
                "caller": null,
                "cognitoAuthenticationProvider": null,
                "cognitoAuthenticationType": null,
                "cognitoIdentityId": null,
                "cognitoIdentityPoolId": null,
                "principalOrgId": null,
                "sourceIp": context.source_ip,
                "user": null,
                "userAgent": user_agent,
                "userArn": null,
            },
            "path": format!("/{}{path}", context.stage),
            "protocol": "HTTP/1.1",
            "requestId": context.request_id,
            "requestTime": request_time(epoch_ms / 1000),
            "requestTimeEpoch": epoch_ms,
            "resourceId": "proxy0",
            "resourcePath": resource,
            "stage": context.stage,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

/// The request's headers plus the ones API Gateway adds, by lower-case name, values in order.
///
/// The trace header is replaced by the one the invocation carries; `X-Forwarded-*` describe this
/// loopback hop as `sam local start-api` does (plain HTTP on the local port).
fn gateway_headers(
    request_headers: &HeaderMap,
    context: &EventContext<'_>,
) -> BTreeMap<String, Vec<String>> {
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in request_headers {
        headers
            .entry(name.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    headers.insert(
        "x-amzn-trace-id".to_owned(),
        vec![context.trace_header.to_owned()],
    );
    let forwarded_for = match headers.remove("x-forwarded-for") {
        Some(previous) => format!("{}, {}", previous.join(", "), context.source_ip),
        None => context.source_ip.clone(),
    };
    headers.insert("x-forwarded-for".to_owned(), vec![forwarded_for]);
    headers.insert(
        "x-forwarded-port".to_owned(),
        vec![context.local_port.to_string()],
    );
    headers.insert("x-forwarded-proto".to_owned(), vec!["http".to_owned()]);
    headers
}

/// Whether the request's content type is one API Gateway passes as text: none, `text/*`, JSON,
/// XML, JavaScript, form data (every other type counts as a binary media type).
fn is_text(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media_type.starts_with("text/")
        || media_type.ends_with("+json")
        || media_type.ends_with("+xml")
        || matches!(
            media_type.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-www-form-urlencoded"
                | "application/graphql"
        )
}

/// `a=1&b=x%20y&c` as decoded pairs, in order; `c` alone means an empty value.
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays as it is, and bytes that do
/// not form UTF-8 become U+FFFD.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(high), Some(low)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// API Gateway's `requestTime`: `09/Apr/2015:12:34:56 +0000`.
fn request_time(epoch_seconds: u64) -> String {
    let at = i64::try_from(epoch_seconds)
        .ok()
        .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    at.format(format_description!(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
    ))
    .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use aws_lambda_events::apigw::ApiGatewayProxyRequest;

    use super::*;

    fn context() -> EventContext<'static> {
        EventContext {
            stage: "prod",
            api_id: "abc123defg",
            account_id: "123456789012",
            region: "us-east-1",
            request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            extended_request_id: "Ex1",
            source_ip: "127.0.0.1".to_owned(),
            local_port: 3000,
            trace_header: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            received: UNIX_EPOCH + Duration::from_millis(1_428_582_896_123),
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn the_event_has_the_rest_proxy_shape() {
        let event = proxy_event(
            &http::Method::POST,
            "/groups/a%20b/images?limit=2&tag=x&tag=y%2Fz&flag",
            &headers(&[
                ("content-type", "application/json"),
                ("accept", "text/html"),
                ("accept", "application/json"),
                ("user-agent", "curl/8"),
                ("x-amzn-trace-id", "Root=ignored"),
            ]),
            br#"{"title":"x"}"#,
            &context(),
        );
        assert_eq!(event["resource"], "/{proxy+}");
        assert_eq!(
            event["path"], "/groups/a%20b/images",
            "path keeps its encoding"
        );
        assert_eq!(
            event["pathParameters"],
            json!({"proxy": "groups/a b/images"})
        );
        assert_eq!(event["httpMethod"], "POST");
        assert_eq!(event["headers"]["accept"], "application/json");
        assert_eq!(
            event["multiValueHeaders"]["accept"],
            json!(["text/html", "application/json"])
        );
        assert_eq!(event["headers"]["x-amzn-trace-id"], context().trace_header);
        assert_eq!(event["headers"]["x-forwarded-for"], "127.0.0.1");
        assert_eq!(
            event["queryStringParameters"],
            json!({"limit": "2", "tag": "y/z", "flag": ""})
        );
        assert_eq!(
            event["multiValueQueryStringParameters"],
            json!({"limit": ["2"], "tag": ["x", "y/z"], "flag": [""]})
        );
        assert_eq!(event["body"], r#"{"title":"x"}"#);
        assert_eq!(event["isBase64Encoded"], false);
        let context = &event["requestContext"];
        assert_eq!(context["stage"], "prod");
        assert_eq!(context["path"], "/prod/groups/a%20b/images");
        assert_eq!(context["requestTimeEpoch"], 1_428_582_896_123_u64);
        assert_eq!(context["requestTime"], "09/Apr/2015:12:34:56 +0000");
        assert_eq!(context["identity"]["sourceIp"], "127.0.0.1");
        assert_eq!(context["identity"]["userAgent"], "curl/8");

        // aws_lambda_events (and so lambda_http) reads it.
        let typed: ApiGatewayProxyRequest = serde_json::from_value(event).unwrap();
        assert_eq!(typed.http_method, http::Method::POST);
        assert_eq!(typed.path.as_deref(), Some("/groups/a%20b/images"));
        assert_eq!(
            typed.request_context.request_id.as_deref(),
            Some(context_id())
        );
        assert_eq!(typed.path_parameters["proxy"], "groups/a b/images");
    }

    fn context_id() -> &'static str {
        "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    }

    #[test]
    fn bodies_are_text_or_base64_by_content_type() {
        let cases: Vec<(Option<&str>, &[u8], Value, bool)> = vec![
            (None, b"", Value::Null, false),
            (Some("application/json"), b"{}", json!("{}"), false),
            (
                Some("application/problem+json; charset=utf-8"),
                b"{}",
                json!("{}"),
                false,
            ),
            (Some("text/plain"), b"hi", json!("hi"), false),
            (None, b"hi", json!("hi"), false),
            (Some("image/png"), b"\x89PNG", json!("iVBORw=="), true),
            (Some("application/octet-stream"), b"hi", json!("aGk="), true),
            (Some("application/json"), b"\xff\xfe", json!("//4="), true),
        ];
        for (content_type, body, expected, base64) in cases {
            let request_headers = headers(
                &content_type
                    .map(|t| vec![("content-type", t)])
                    .unwrap_or_default(),
            );
            let event = proxy_event(&http::Method::PUT, "/x", &request_headers, body, &context());
            assert_eq!(event["body"], expected, "{content_type:?}");
            assert_eq!(event["isBase64Encoded"], base64, "{content_type:?}");
        }
    }

    #[test]
    fn the_root_is_its_own_resource_and_no_query_is_null() {
        let event = proxy_event(&http::Method::GET, "/", &HeaderMap::new(), b"", &context());
        assert_eq!(event["resource"], "/");
        assert_eq!(event["pathParameters"], Value::Null);
        assert_eq!(event["queryStringParameters"], Value::Null);
        assert_eq!(event["multiValueQueryStringParameters"], Value::Null);
        let event = proxy_event(
            &http::Method::GET,
            "/a?",
            &HeaderMap::new(),
            b"",
            &context(),
        );
        assert_eq!(event["queryStringParameters"], Value::Null);
    }

    #[test]
    fn percent_decoding_keeps_what_is_not_an_escape() {
        let cases = [
            ("a%20b", "a b"),
            ("%2e%2E", ".."),
            ("100%", "100%"),
            ("%zz", "%zz"),
            ("%4", "%4"),
            ("%ff", "\u{fffd}"),
            ("a+b", "a+b"),
            ("%E2%9C%93", "✓"),
        ];
        for (input, expected) in cases {
            assert_eq!(percent_decode(input), expected, "{input}");
        }
    }

    #[test]
    fn request_times_follow_the_calendar() {
        assert_eq!(request_time(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(request_time(1_709_164_800), "29/Feb/2024:00:00:00 +0000");
        assert_eq!(request_time(1_795_880_000), "28/Nov/2026:15:33:20 +0000");
    }
}
