//! The development issuer's OpenID Connect routes (local only): discovery, the sign-in page, the
//! token endpoint and sign-out. The flow's rules are in [`crate::dev_issuer::oidc`].
//!
//! None of these routes may be driven by another web page the developer happens to open: a
//! request whose `Origin` is not a trusted one (the server's own, and the web client origins given
//! with `udagram serve --cors-origin`, such as Vite's development server) is refused before
//! anything is signed, and codes only ever go to redirect URIs on a trusted origin.

use std::sync::LazyLock;

use base64::Engine as _;
use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use lamina_middleware::errors::ApiError;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::errors::json_response;
use super::{ApiState, HandlerResult, LocalRoutes};
use crate::dev_issuer::oidc::{self, AuthorizeRequest, CLIENT_ID, OidcError};

/// The largest form body the token and sign-in endpoints read.
const MAX_FORM_BYTES: usize = 16 * 1024;

fn local(state: &ApiState) -> Result<&LocalRoutes, ApiError> {
    state.local.as_ref().ok_or_else(ApiError::not_found)
}

fn now() -> Result<u64, ApiError> {
    Ok(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(ApiError::internal)?
        .as_secs())
}

/// The origins whose pages may use the issuer: the server's own (the issuer URL without its
/// trailing slash), then the configured web client origins.
fn trusted_origins(local: &LocalRoutes) -> Vec<&str> {
    let own = local.issuer.issuer().trim_end_matches('/');
    std::iter::once(own)
        .chain(local.client_origins.iter().map(String::as_str))
        .collect()
}

/// Refuses a request sent by a page of an untrusted origin (browsers always send `Origin` on
/// POST; a command-line client sends none).
pub(super) fn same_origin_only(req: &Request, local: &LocalRoutes) -> Result<(), ApiError> {
    match req.headers().get(header::ORIGIN) {
        Some(sent)
            if !trusted_origins(local)
                .iter()
                .any(|o| o.as_bytes() == sent.as_bytes()) =>
        {
            Err(ApiError::new(StatusCode::FORBIDDEN).map_problem(|problem| {
                problem.with_detail(
                    "the development issuer only answers pages of its own origin and of the \
                     configured web client origins",
                )
            }))
        }
        _ => Ok(()),
    }
}

/// Decodes `application/x-www-form-urlencoded` pairs; a repeated parameter is refused
/// (RFC 6749, section 3.1).
fn form_params(bytes: &[u8]) -> Result<Vec<(String, String)>, OidcError> {
    if bytes.len() > MAX_FORM_BYTES {
        return Err(OidcError::InvalidRequest("the request is too large"));
    }
    let mut params: Vec<(String, String)> = Vec::new();
    for (key, value) in form_urlencoded::parse(bytes) {
        if params.iter().any(|(seen, _)| *seen == key) {
            return Err(OidcError::InvalidRequest("a parameter is repeated"));
        }
        params.push((key.into_owned(), value.into_owned()));
    }
    Ok(params)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// `GET /.well-known/openid-configuration`.
pub(super) async fn discovery(state: ApiState, _req: Request) -> HandlerResult {
    json_response(
        StatusCode::OK,
        &oidc::discovery(local(&state)?.issuer.issuer()),
    )
}

/// `GET /dev/authorize?...`: the sign-in page, or a page that says what is wrong.
pub(super) async fn authorize_page(state: ApiState, req: Request) -> HandlerResult {
    let local = local(&state)?;
    let query = req.uri().query().unwrap_or_default().as_bytes();
    let request = form_params(query)
        .and_then(|params| AuthorizeRequest::parse(&params, &trusted_origins(local)));
    match request {
        Ok(request) => {
            let transaction = local.flow.begin(request, now()?);
            Ok(page(StatusCode::OK, &sign_in_form(&transaction, None)))
        }
        Err(error) => Ok(page(StatusCode::BAD_REQUEST, &refusal(&error))),
    }
}

/// `POST /dev/authorize` (`transaction`, `user`): a code, and back to the client.
pub(super) async fn authorize_submit(state: ApiState, req: Request) -> HandlerResult {
    let local = local(&state)?;
    same_origin_only(&req, local)?;
    let params = match form_params(req.body().as_ref()) {
        Ok(params) => params,
        Err(error) => return Ok(page(StatusCode::BAD_REQUEST, &refusal(&error))),
    };
    let transaction = param(&params, "transaction").unwrap_or_default();
    let user = param(&params, "user").unwrap_or_default().trim();
    if !oidc::is_user_name(user) {
        let message = "A user name is 1 to 64 letters, digits, dots, dashes, underscores or @.";
        return Ok(page(
            StatusCode::BAD_REQUEST,
            &sign_in_form(transaction, Some(message)),
        ));
    }
    let (code, request) = match local.flow.sign_in(transaction, user, now()?) {
        Ok(answer) => answer,
        Err(error) => return Ok(page(StatusCode::BAD_REQUEST, &refusal(&error))),
    };
    let mut location = form_urlencoded::Serializer::new(String::new());
    location.append_pair("code", &code);
    if let Some(state) = &request.state {
        location.append_pair("state", state);
    }
    let separator = if request.redirect_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    redirect(&format!(
        "{}{separator}{}",
        request.redirect_uri,
        location.finish()
    ))
}

/// `POST /dev/oauth/token`: the authorization-code and refresh-token grants.
pub(super) async fn token(state: ApiState, req: Request) -> HandlerResult {
    let local = local(&state)?;
    same_origin_only(&req, local)?;
    let now = now()?;
    let answer = form_params(req.body().as_ref()).and_then(|params| {
        if param(&params, "client_id") != Some(CLIENT_ID) {
            return Err(OidcError::UnknownClient);
        }
        match param(&params, "grant_type") {
            Some("authorization_code") => {
                let code = param(&params, "code").unwrap_or_default();
                let redirect_uri = param(&params, "redirect_uri").unwrap_or_default();
                let verifier = param(&params, "code_verifier").unwrap_or_default();
                let grant = local.flow.redeem(code, redirect_uri, verifier, now)?;
                Ok((grant.user, grant.request.nonce, grant.auth_time))
            }
            Some("refresh_token") => {
                let token = param(&params, "refresh_token").unwrap_or_default();
                let grant = local.issuer.verify_refresh_token(token, now).map_err(|_| {
                    OidcError::InvalidGrant("the refresh token is expired or not valid")
                })?;
                if grant.client_id != CLIENT_ID {
                    return Err(OidcError::InvalidGrant(
                        "the refresh token is another client's",
                    ));
                }
                Ok((grant.user, None, grant.auth_time))
            }
            _ => Err(OidcError::UnsupportedGrantType),
        }
    });
    let (user, nonce, auth_time) = match answer {
        Ok(answer) => answer,
        Err(error) => return oauth_error(&error),
    };
    let issuer = &local.issuer;
    let sign = |result: Result<String, _>| result.map_err(ApiError::internal);
    let tokens = json!({
        "access_token": sign(issuer.issue(&user, now))?,
        "id_token": sign(issuer.issue_id_token(&user, CLIENT_ID, nonce.as_deref(), auth_time, now))?,
        "refresh_token": sign(issuer.issue_refresh_token(&user, CLIENT_ID, auth_time, now))?,
        "token_type": "Bearer",
        "expires_in": issuer.lifetimes().access_secs,
        "scope": oidc::SCOPES,
    });
    let mut response = json_response(StatusCode::OK, &tokens)?;
    no_store(&mut response);
    Ok(response)
}

/// `GET /dev/logout?post_logout_redirect_uri=...`: nothing to forget on the server (tokens are
/// self-contained); back to the client when the URI is on a trusted origin.
pub(super) async fn logout(state: ApiState, req: Request) -> HandlerResult {
    let local = local(&state)?;
    let params = form_params(req.uri().query().unwrap_or_default().as_bytes()).unwrap_or_default();
    match param(&params, "post_logout_redirect_uri") {
        Some(uri)
            if trusted_origins(local)
                .iter()
                .any(|o| uri.starts_with(&format!("{o}/")))
                && !uri.contains(['\r', '\n']) =>
        {
            redirect(uri)
        }
        _ => Ok(page(
            StatusCode::OK,
            "<h1>Signed out</h1><p>You can close this page.</p>",
        )),
    }
}

/// The OAuth error body (RFC 6749, section 5.2): 400, or 401 for an unknown client.
fn oauth_error(error: &OidcError) -> HandlerResult {
    let status = match error {
        OidcError::UnknownClient => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = json_response(
        status,
        &json!({ "error": error.code(), "error_description": error.to_string() }),
    )?;
    no_store(&mut response);
    Ok(response)
}

fn no_store(response: &mut Response<Body>) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn redirect(location: &str) -> HandlerResult {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::SEE_OTHER;
    response.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(location).map_err(|_| ApiError::bad_request("bad redirect URI"))?,
    );
    no_store(&mut response);
    Ok(response)
}

/// The pages' style sheet; the page's Content-Security-Policy allows exactly this text.
const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;color:#1d2330;\
margin:0;display:grid;place-items:center;min-height:100vh}main{background:#fff;padding:2rem;\
border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08);width:min(22rem,90vw)}h1{margin:0 0 .25rem;\
font-size:1.4rem}p{color:#4a5160}label{display:block;font-weight:600;margin:1rem 0 .25rem}\
input{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #9aa1ad;border-radius:8px;\
font:inherit}button{margin-top:1rem;width:100%;padding:.65rem;border:0;border-radius:8px;\
background:#3552c8;color:#fff;font:inherit;font-weight:600;cursor:pointer}\
input:focus,button:focus{outline:3px solid #9db1ff;outline-offset:2px}\
.error{color:#a3161a;font-weight:600}small{color:#4a5160}";

static PAGE_POLICY: LazyLock<HeaderValue> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static("default-src 'none'"))
});

/// An HTML page around `body` (trusted markup: every caller builds it from fixed text and
/// base64url values).
fn page(status: StatusCode, body: &str) -> Response<Body> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Sign in to Udagram</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>"
    );
    let mut response = Response::new(Body::Text(html));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CONTENT_SECURITY_POLICY, PAGE_POLICY.clone());
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The sign-in form for `transaction` (a base64url id; anything else is not echoed).
fn sign_in_form(transaction: &str, error: Option<&str>) -> String {
    let transaction = if transaction
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        transaction
    } else {
        ""
    };
    let error = error
        .map(|message| format!("<p class=\"error\" role=\"alert\" id=\"user-error\">{message}</p>"))
        .unwrap_or_default();
    let described = if error.is_empty() {
        ""
    } else {
        " aria-describedby=\"user-error\" aria-invalid=\"true\""
    };
    format!(
        "<h1>Sign in to Udagram</h1>\
         <p>Development sign-in: any user name signs in. On AWS, this page is your OpenID Connect \
         provider's.</p>\
         <form method=\"post\" action=\"/dev/authorize\">\
         <input type=\"hidden\" name=\"transaction\" value=\"{transaction}\">\
         <label for=\"user\">User name</label>\
         <input id=\"user\" name=\"user\" autocomplete=\"username\" required maxlength=\"64\" \
         pattern=\"[A-Za-z0-9._@\\-]{{1,64}}\" autofocus{described}>{error}\
         <button type=\"submit\">Sign in</button></form>\
         <p><small>Letters, digits, dots, dashes, underscores and @, up to 64.</small></p>"
    )
}

fn refusal(error: &OidcError) -> String {
    // The messages are fixed texts of OidcError, never the request's own values.
    format!("<h1>Cannot sign in</h1><p class=\"error\" role=\"alert\">{error}.</p>")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn repeated_and_oversized_form_parameters_are_refused() {
        assert!(form_params(b"a=1&b=2").is_ok());
        assert_eq!(
            form_params(b"code=1&code=2").unwrap_err(),
            OidcError::InvalidRequest("a parameter is repeated")
        );
        assert!(form_params(&vec![b'a'; MAX_FORM_BYTES + 1]).is_err());
        let decoded = form_params(b"user=al%40ice+b").unwrap();
        assert_eq!(param(&decoded, "user"), Some("al@ice b"));
    }

    #[test]
    fn the_sign_in_form_never_echoes_a_foreign_transaction_id() {
        let html = sign_in_form("\"><script>alert(1)</script>", None);
        assert!(!html.contains("<script>"));
        assert!(sign_in_form("abc_DEF-1", None).contains("value=\"abc_DEF-1\""));
    }
}
