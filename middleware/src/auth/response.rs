//! The 401, 403 and 503 answers: RFC 6750 `WWW-Authenticate` and an RFC 9457 problem body that
//! never says why a token failed.

use http::{HeaderValue, Response, StatusCode, header};

use crate::errors::Problem;

/// A realm safe to put inside a quoted-string: visible ASCII without `"` and `\`.
pub(crate) fn sanitize_realm(realm: &str) -> String {
    let clean: String = realm
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\' || *c == ' ')
        .collect();
    if clean.trim().is_empty() {
        "api".to_owned()
    } else {
        clean
    }
}

fn request_id<T>(req: &http::Request<T>) -> Option<String> {
    req.extensions()
        .get::<lambda_http::Context>()
        .map(|c| c.request_id.clone())
        .filter(|id| !id.is_empty())
}

fn with_request_id(problem: Problem, id: Option<String>) -> Problem {
    match id {
        Some(id) => problem.with_request_id(id),
        None => problem,
    }
}

fn challenge<B>(mut response: Response<B>, value: String) -> Response<B> {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// 401: `Bearer realm="..."`, plus `error="invalid_token"` when a token was presented.
pub(crate) fn unauthorized<B: From<String>, T>(
    req: &http::Request<T>,
    realm: &str,
    error: Option<&str>,
) -> Response<B> {
    let problem =
        Problem::new(StatusCode::UNAUTHORIZED).with_detail("A valid bearer token is required.");
    let value = match error {
        Some(error) => format!("Bearer realm=\"{realm}\", error=\"{error}\""),
        None => format!("Bearer realm=\"{realm}\""),
    };
    challenge(
        with_request_id(problem, request_id(req)).to_response(),
        value,
    )
}

/// 403: `error="insufficient_scope"`, with the missing scopes when the requirement is a scope.
pub(crate) fn forbidden<B: From<String>, T>(
    req: &http::Request<T>,
    realm: &str,
    scopes: &[&str],
) -> Response<B> {
    let problem = Problem::new(StatusCode::FORBIDDEN)
        .with_detail("The token does not grant access to this resource.");
    let mut value = format!("Bearer realm=\"{realm}\", error=\"insufficient_scope\"");
    // Scope tokens are visible ASCII without `"` and `\` (RFC 6749 section 3.3); others are left out.
    let listed: Vec<&str> = scopes
        .iter()
        .copied()
        .filter(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
        })
        .collect();
    if !listed.is_empty() {
        value.push_str(&format!(", scope=\"{}\"", listed.join(" ")));
    }
    challenge(
        with_request_id(problem, request_id(req)).to_response(),
        value,
    )
}

/// 503 with `Retry-After`: no key could be loaded, so no token can be checked.
pub(crate) fn keys_unavailable<B: From<String>, T>(req: &http::Request<T>) -> Response<B> {
    let problem = Problem::new(StatusCode::SERVICE_UNAVAILABLE)
        .with_detail("Token verification is temporarily unavailable.");
    let mut response: Response<B> = with_request_id(problem, request_id(req)).to_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> http::Request<()> {
        http::Request::new(())
    }

    fn www(response: &Response<String>) -> &str {
        response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[test]
    fn challenges_follow_rfc_6750() {
        let missing: Response<String> = unauthorized(&req(), "photos", None);
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(www(&missing), "Bearer realm=\"photos\"");
        let invalid: Response<String> = unauthorized(&req(), "photos", Some("invalid_token"));
        assert_eq!(
            www(&invalid),
            "Bearer realm=\"photos\", error=\"invalid_token\""
        );
        let scope: Response<String> = forbidden(&req(), "photos", &["write:photos", "bad\"scope"]);
        assert_eq!(scope.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            www(&scope),
            "Bearer realm=\"photos\", error=\"insufficient_scope\", scope=\"write:photos\""
        );
        let claim: Response<String> = forbidden(&req(), "photos", &[]);
        assert_eq!(
            www(&claim),
            "Bearer realm=\"photos\", error=\"insufficient_scope\""
        );
    }

    #[test]
    fn bodies_are_problems_with_the_request_id() {
        let mut request = req();
        let mut context = lambda_http::Context::default();
        context.request_id = "req-7".into();
        request.extensions_mut().insert(context);
        let response: Response<String> = unauthorized(&request, "api", Some("invalid_token"));
        assert_eq!(
            response
                .headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.as_bytes()),
            Some(&b"application/problem+json"[..])
        );
        let body: serde_json::Value = serde_json::from_str(response.body()).unwrap_or_default();
        assert_eq!(body["status"], 401);
        assert_eq!(body["requestId"], "req-7");
    }

    #[test]
    fn realms_are_sanitized() {
        assert_eq!(sanitize_realm("my \"api\"\r\n"), "my api");
        assert_eq!(sanitize_realm("\u{7f}"), "api");
    }
}
