//! [`JwtAuthLayer`] and the [`JwtAuth`] service: bearer tokens in, [`Claims`] in extensions out.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, Method, Request, Response, header};
use serde_json::Value;
use tower::{Layer, Service};

use super::require::{Requirement, first_unmet};
use super::response::{forbidden, keys_unavailable, sanitize_realm, unauthorized};
use super::{JwtVerifier, VerifyError};

/// The future of [`JwtAuth`] and [`Require`](super::Require): the inner service's response, or
/// the rejection the layer answered with.
pub struct ResponseFuture<B, E> {
    inner: Pin<Box<dyn Future<Output = Result<Response<B>, E>> + Send>>,
}

impl<B, E> ResponseFuture<B, E> {
    pub(crate) fn new(
        future: impl Future<Output = Result<Response<B>, E>> + Send + 'static,
    ) -> Self {
        Self {
            inner: Box::pin(future),
        }
    }

    pub(crate) fn ready(response: Response<B>) -> Self
    where
        B: Send + 'static,
        E: Send + 'static,
    {
        Self::new(std::future::ready(Ok(response)))
    }
}

impl<B, E> Future for ResponseFuture<B, E> {
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().inner.as_mut().poll(cx)
    }
}

impl<B, E> std::fmt::Debug for ResponseFuture<B, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

/// The bearer token of a request: exactly one `Authorization` header with the `Bearer` scheme and
/// an RFC 6750 `b64token`. Another scheme (`Basic ...`) counts as no bearer token.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, VerifyError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(VerifyError::Missing);
    };
    if values.next().is_some() {
        return Err(VerifyError::MalformedHeader);
    }
    let value = value.to_str().map_err(|_| VerifyError::MalformedHeader)?;
    parse_bearer(value)
}

/// The token in a `Bearer <token>` credential (the scheme is case-insensitive).
pub(crate) fn parse_bearer(value: &str) -> Result<&str, VerifyError> {
    let value = value.trim_matches(' ');
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(VerifyError::Missing);
    }
    let token = token.trim_start_matches(' ');
    let body = token.trim_end_matches('=');
    let valid = !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        });
    if valid {
        Ok(token)
    } else {
        Err(VerifyError::MalformedHeader)
    }
}

#[derive(Debug, Clone)]
struct Settings {
    realm: String,
    requirements: Vec<Requirement>,
    optional: bool,
    skip_options: bool,
    skip_paths: Vec<String>,
    skip_prefixes: Vec<String>,
    skip_routes: Vec<(Method, String)>,
}

impl Settings {
    fn skips<T>(&self, req: &Request<T>) -> bool {
        // The API's own path: a REST API's stage is not part of what `skip_path` names.
        let path = crate::route_path::route_path(req);
        (self.skip_options && req.method() == Method::OPTIONS)
            || self.skip_paths.iter().any(|p| p == path)
            || self
                .skip_routes
                .iter()
                .any(|(method, p)| method == req.method() && p == path)
            || self
                .skip_prefixes
                .iter()
                .any(|p| path.starts_with(p.as_str()))
    }
}

/// Requires a valid bearer token and puts its [`Claims`](super::Claims) into request extensions.
///
/// * No token: 401 with `WWW-Authenticate: Bearer realm="api"` (or passes through without claims
///   when [`optional`](Self::optional)).
/// * A bad token (any reason): 401 with `error="invalid_token"`; the reason is logged at `info`,
///   the token never is.
/// * A good token that misses a [`require_scope`](Self::require_scope) or
///   [`require_claim`](Self::require_claim): 403 with `error="insufficient_scope"`.
/// * No key could ever be loaded (JWKS down since start): 503 with `Retry-After`.
/// * `OPTIONS` requests (CORS preflights) pass without a token unless
///   [`authenticate_options`](Self::authenticate_options) is set.
///
/// Bodies are `application/problem+json` and carry the Lambda request id when there is one.
#[derive(Debug, Clone)]
pub struct JwtAuthLayer {
    verifier: JwtVerifier,
    settings: Arc<Settings>,
}

impl JwtAuthLayer {
    /// A layer over this verifier, realm `api`.
    #[must_use]
    pub fn new(verifier: JwtVerifier) -> Self {
        let settings = Settings {
            realm: "api".to_owned(),
            requirements: Vec::new(),
            optional: false,
            skip_options: true,
            skip_paths: Vec::new(),
            skip_prefixes: Vec::new(),
            skip_routes: Vec::new(),
        };
        Self {
            verifier,
            settings: Arc::new(settings),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Settings)) -> Self {
        f(Arc::make_mut(&mut self.settings));
        self
    }

    /// The realm named in `WWW-Authenticate` (quotes, backslashes and control characters removed).
    #[must_use]
    pub fn realm(self, realm: &str) -> Self {
        let realm = sanitize_realm(realm);
        self.edit(|s| s.realm = realm)
    }

    /// Requires a scope on every request through this layer (403 otherwise).
    #[must_use]
    pub fn require_scope(self, scope: impl Into<String>) -> Self {
        let requirement = Requirement::Scope(scope.into());
        self.edit(|s| s.requirements.push(requirement))
    }

    /// Requires claim `name` to equal (or contain) `value` on every request (403 otherwise).
    #[must_use]
    pub fn require_claim(self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        let requirement = Requirement::Claim {
            name: name.into(),
            value: value.into(),
        };
        self.edit(|s| s.requirements.push(requirement))
    }

    /// Lets requests without any `Authorization` header through without claims; a presented token
    /// must still be valid.
    #[must_use]
    pub fn optional(self) -> Self {
        self.edit(|s| s.optional = true)
    }

    /// Requires a token on `OPTIONS` requests too (by default they pass, as CORS preflights never
    /// carry credentials).
    #[must_use]
    pub fn authenticate_options(self) -> Self {
        self.edit(|s| s.skip_options = false)
    }

    /// Lets requests to exactly this path through without a token (health checks).
    #[must_use]
    pub fn skip_path(self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.edit(|s| s.skip_paths.push(path))
    }

    /// Lets requests with this method to exactly this path through without a token, the way
    /// [`skip_path`](Self::skip_path) does for every method: `GET /groups` public while
    /// `POST /groups` still needs a token.
    ///
    /// The path is compared exactly, as `skip_path` compares it (no `{param}` templates, no
    /// prefixes), and so is the method: skipping `GET` does not skip `HEAD`. A skipped request is
    /// not looked at at all, so a present but invalid token passes too and no
    /// [`Claims`](super::Claims) are inserted; use [`optional`](Self::optional) where a presented
    /// token must still be valid.
    ///
    /// ```
    /// use http::{Method, Request, Response, StatusCode};
    /// use lambda_http::Body;
    /// use lamina_middleware::auth::{JwtAuthLayer, JwtVerifier, VerificationKey};
    /// use tower::{ServiceBuilder, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let certificate = include_bytes!("../../tests/fixtures/auth/rsa_cert.pem");
    /// # let verifier = JwtVerifier::builder()
    /// #     .key(VerificationKey::from_pem(certificate)?)
    /// #     .issuer("https://my-tenant.eu.auth0.com/")
    /// #     .audience("https://api.example.com")
    /// #     .build()?;
    /// let app = ServiceBuilder::new()
    ///     .layer(JwtAuthLayer::new(verifier).skip_route(Method::GET, "/groups"))
    ///     .service(service_fn(|_req: Request<Body>| async {
    ///         Ok::<_, std::convert::Infallible>(Response::new(Body::Empty))
    ///     }));
    ///
    /// let read = Request::get("/groups").body(Body::Empty)?;
    /// assert_eq!(app.clone().oneshot(read).await?.status(), StatusCode::OK);
    /// let write = Request::post("/groups").body(Body::Empty)?;
    /// assert_eq!(app.oneshot(write).await?.status(), StatusCode::UNAUTHORIZED);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn skip_route(self, method: Method, path: impl Into<String>) -> Self {
        let path = path.into();
        self.edit(|s| s.skip_routes.push((method, path)))
    }

    /// Lets requests under this path prefix through without a token (`/public/`).
    #[must_use]
    pub fn skip_path_prefix(self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.edit(|s| s.skip_prefixes.push(prefix))
    }

    /// The verifier this layer uses.
    #[must_use]
    pub fn verifier(&self) -> &JwtVerifier {
        &self.verifier
    }
}

impl<S> Layer<S> for JwtAuthLayer {
    type Service = JwtAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuth {
            inner,
            verifier: self.verifier.clone(),
            settings: self.settings.clone(),
        }
    }
}

/// The service built by [`JwtAuthLayer`].
#[derive(Debug, Clone)]
pub struct JwtAuth<S> {
    inner: S,
    verifier: JwtVerifier,
    settings: Arc<Settings>,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for JwtAuth<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqB: Send + 'static,
    ResB: From<String> + Send + 'static,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<ResB, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        let settings = self.settings.clone();
        if settings.skips(&req) {
            return ResponseFuture::new(self.inner.call(req));
        }
        let token = match bearer_token(req.headers()) {
            Ok(token) => token.to_owned(),
            Err(VerifyError::Missing) if settings.optional => {
                return ResponseFuture::new(self.inner.call(req));
            }
            Err(reason) => {
                tracing::info!(%reason, path = req.uri().path(), "bearer token rejected");
                return ResponseFuture::ready(unauthorized(
                    &req,
                    &settings.realm,
                    reason.oauth_error(),
                ));
            }
        };
        let verifier = self.verifier.clone();
        // The clone goes in place of the service that was polled ready, which serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::new(async move {
            let claims = match verifier.verify(&token).await {
                Ok(claims) => claims,
                Err(VerifyError::KeysUnavailable) => {
                    tracing::warn!(
                        path = req.uri().path(),
                        "no verification keys available; answering 503"
                    );
                    return Ok(keys_unavailable(&req));
                }
                Err(reason) => {
                    tracing::info!(%reason, path = req.uri().path(), "bearer token rejected");
                    return Ok(unauthorized(&req, &settings.realm, reason.oauth_error()));
                }
            };
            if let Some(unmet) = first_unmet(&settings.requirements, &claims) {
                tracing::info!(requirement = ?unmet, subject = claims.subject(), "token misses a requirement");
                let scopes: Vec<&str> = unmet.scope().into_iter().collect();
                return Ok(forbidden(&req, &settings.realm, &scopes));
            }
            req.extensions_mut().insert(claims);
            inner.call(req).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing_table() {
        let cases: [(&str, Result<&str, VerifyError>); 10] = [
            ("Bearer abc.def.ghi", Ok("abc.def.ghi")),
            ("bearer  abc.def.ghi ", Ok("abc.def.ghi")),
            ("BEARER a-b_c~d+e/f==", Ok("a-b_c~d+e/f==")),
            ("Basic dXNlcjpwYXNz", Err(VerifyError::Missing)),
            ("Bearer", Err(VerifyError::MalformedHeader)),
            ("Bearer ", Err(VerifyError::MalformedHeader)),
            ("Bearer ===", Err(VerifyError::MalformedHeader)),
            ("Bearer a b", Err(VerifyError::MalformedHeader)),
            ("Bearer a\"b", Err(VerifyError::MalformedHeader)),
            ("Bearer a=b", Err(VerifyError::MalformedHeader)),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_bearer(value), expected, "{value:?}");
        }
    }

    #[test]
    fn skip_table() {
        let settings = Settings {
            realm: "api".to_owned(),
            requirements: Vec::new(),
            optional: false,
            skip_options: true,
            skip_paths: vec!["/health".to_owned()],
            skip_prefixes: vec!["/public/".to_owned()],
            skip_routes: vec![
                (Method::GET, "/groups".to_owned()),
                (Method::PUT, "/uploads/x".to_owned()),
            ],
        };
        let cases = [
            (Method::GET, "/groups", true),
            (Method::GET, "/groups?limit=5", true),
            (Method::POST, "/groups", false),
            (Method::HEAD, "/groups", false),
            (Method::GET, "/groups/", false),
            (Method::GET, "/groups/1/images", false),
            (Method::GET, "/Groups", false),
            (Method::PUT, "/uploads/x", true),
            (Method::GET, "/uploads/x", false),
            (Method::POST, "/health", true),
            (Method::DELETE, "/public/logo.png", true),
            (Method::OPTIONS, "/anything", true),
            (Method::GET, "/private", false),
        ];
        for (method, uri, expected) in cases {
            let req = Request::builder()
                .method(method.clone())
                .uri(uri)
                .body(())
                .unwrap_or_else(|error| panic!("{error}"));
            assert_eq!(settings.skips(&req), expected, "{method} {uri}");
        }
    }

    #[test]
    fn header_count_and_encoding_matter() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), Err(VerifyError::Missing));
        headers.append(
            header::AUTHORIZATION,
            http::HeaderValue::from_static("Bearer a.b.c"),
        );
        assert_eq!(bearer_token(&headers), Ok("a.b.c"));
        headers.append(
            header::AUTHORIZATION,
            http::HeaderValue::from_static("Bearer d.e.f"),
        );
        assert_eq!(bearer_token(&headers), Err(VerifyError::MalformedHeader));
        let mut latin1 = HeaderMap::new();
        latin1.insert(
            header::AUTHORIZATION,
            http::HeaderValue::from_bytes(b"Bearer \xe9")
                .unwrap_or(http::HeaderValue::from_static("x")),
        );
        assert_eq!(bearer_token(&latin1), Err(VerifyError::MalformedHeader));
    }
}
