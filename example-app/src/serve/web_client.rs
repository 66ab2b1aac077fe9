//! The web client, served by `udagram serve` beside the API: the built React app (embedded in
//! the binary, so running it needs no Node.js), its run-time `config.json`, and the fallback that
//! lets the client's own routes (`/groups/…`) load the app on a reload.
//!
//! - `/assets/*` are content-hashed by the build: cached for a year, `immutable`.
//! - Every other file, `index.html` included, is revalidated (`no-cache`) against its `ETag`.
//! - A `GET` that asks for HTML (a browser navigation) on any path that is not an API-only one
//!   gets `index.html`; everything else goes to the API.
//! - A Content-Security-Policy that allows the app's own files and exactly the origins its
//!   configuration names (the API, the WebSocket endpoint, the OpenID Connect provider).
//!
//! Debug builds read `example-app/web/dist/` from disk at run time (a fresh `npm run build` is
//! served at once); release builds carry the files inside.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use lambda_http::Body;
use serde::Serialize;
use tower::Service;

/// The built client: `npm run build` in `example-app/web/`.
#[derive(rust_embed::Embed)]
#[folder = "web/dist/"]
struct Assets;

/// Paths the API alone answers, even to a browser navigation.
const API_ONLY_PREFIXES: [&str; 7] = [
    "/dev/",
    "/files/",
    "/uploads/",
    "/.well-known/",
    "/ws",
    "/health",
    "/config.json",
];

/// What the client reads from `/config.json` at start: where the API, the notices and the
/// OpenID Connect provider are. On AWS the same file is written from the stack's outputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebClientConfig {
    /// The API's base URL, without a trailing slash.
    pub api_url: String,
    /// The WebSocket notices endpoint.
    pub web_socket_url: String,
    /// The OpenID Connect provider and client.
    pub oidc: OidcClientConfig,
}

/// The OpenID Connect settings of the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OidcClientConfig {
    /// The issuer URL (discovery is at `{authority}/.well-known/openid-configuration`).
    pub authority: String,
    /// The client id registered with the provider.
    pub client_id: String,
    /// The scopes asked for.
    pub scope: String,
    /// The API's audience, for providers (Auth0) that need it on the authorize request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
}

impl WebClientConfig {
    /// The Content-Security-Policy for the app: its own files, and connections to exactly the
    /// origins this configuration names.
    #[must_use]
    pub fn content_security_policy(&self) -> String {
        let mut connect = vec!["'self'".to_owned()];
        for url in [&self.api_url, &self.web_socket_url, &self.oidc.authority] {
            if let Some(origin) = origin_of(url).filter(|o| !connect.contains(o)) {
                connect.push(origin);
            }
        }
        format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
             connect-src {}; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; \
             form-action 'self'",
            connect.join(" ")
        )
    }
}

/// `scheme://host[:port]` of an absolute URL.
fn origin_of(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
}

/// Serves the client in front of `inner` (the API).
#[derive(Debug, Clone)]
pub struct WebClient<S> {
    inner: S,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: Vec<u8>,
    policy: HeaderValue,
}

impl<S> WebClient<S> {
    /// The client with `config`, in front of `inner`.
    ///
    /// # Errors
    /// The configuration's URLs make a header value that HTTP cannot carry.
    pub fn new(
        inner: S,
        config: &WebClientConfig,
    ) -> Result<Self, http::header::InvalidHeaderValue> {
        let policy = HeaderValue::from_str(&config.content_security_policy())?;
        // Serialising plain strings cannot fail.
        let config = serde_json::to_vec(config).unwrap_or_default();
        Ok(Self {
            inner,
            shared: Arc::new(Shared { config, policy }),
        })
    }

    /// The client's own answer to `req`, or `None` when the API should answer.
    fn answer(&self, req: &Request<Body>) -> Option<Response<Body>> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return None;
        }
        let path = req.uri().path();
        if path == "/config.json" {
            let mut response = bytes_response(self.shared.config.clone(), "application/json");
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            return Some(response);
        }
        let file_path = path.trim_start_matches('/');
        let file = (!file_path.is_empty() && file_path != "index.html")
            .then(|| Assets::get(file_path).map(|file| (file_path, file)))
            .flatten();
        let (name, file) = match file {
            Some(found) => found,
            None if wants_html(req.headers()) && !is_api_only(path) => {
                ("index.html", Assets::get("index.html")?)
            }
            None => return None,
        };
        let etag = format!("\"{}\"", hex_of(&file.metadata.sha256_hash()[..16]));
        let mut response = if if_none_match(req.headers(), &etag) {
            let mut response = Response::new(Body::Empty);
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            response
        } else {
            bytes_response(file.data.into_owned(), file.metadata.mimetype())
        };
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, value);
        }
        let cache = if name.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        headers.insert(header::CONTENT_SECURITY_POLICY, self.shared.policy.clone());
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        );
        Some(response)
    }
}

fn is_api_only(path: &str) -> bool {
    API_ONLY_PREFIXES
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// Whether the request is a browser navigation (it asks for HTML).
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("text/html"))
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| tag.trim() == etag || tag.trim() == "*")
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn bytes_response(bytes: Vec<u8>, content_type: &str) -> Response<Body> {
    let mut response = Response::new(Body::Binary(bytes));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

impl<S> Service<Request<Body>> for WebClient<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Error: Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        match self.answer(&req) {
            Some(response) => Box::pin(std::future::ready(Ok(response))),
            None => Box::pin(self.inner.call(req)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    fn config(api: &str, authority: &str) -> WebClientConfig {
        WebClientConfig {
            api_url: api.to_owned(),
            web_socket_url: format!("{}/ws", api.replace("http", "ws")),
            oidc: OidcClientConfig {
                authority: authority.to_owned(),
                client_id: "udagram-web".to_owned(),
                scope: "openid".to_owned(),
                audience: None,
            },
        }
    }

    #[test]
    fn the_policy_names_exactly_the_configured_origins() {
        let local = config("http://127.0.0.1:3000", "http://127.0.0.1:3000/");
        assert!(
            local
                .content_security_policy()
                .contains("connect-src 'self' http://127.0.0.1:3000 ws://127.0.0.1:3000;")
        );
        let aws = config("https://api.example.com/prod", "https://tenant.auth0.com/");
        let policy = aws.content_security_policy();
        assert!(policy.contains(
            "connect-src 'self' https://api.example.com wss://api.example.com https://tenant.auth0.com;"
        ));
        assert!(policy.contains("script-src 'self';"));
        assert!(!policy.contains("unsafe"));
    }

    #[test]
    fn navigations_get_the_app_but_api_only_paths_never_do() {
        let html: HeaderMap = [(header::ACCEPT, HeaderValue::from_static("text/html,*/*"))]
            .into_iter()
            .collect();
        assert!(wants_html(&html));
        assert!(!wants_html(&HeaderMap::new()));
        for path in [
            "/dev/authorize",
            "/files/x",
            "/.well-known/jwks.json",
            "/ws",
            "/health",
        ] {
            assert!(is_api_only(path), "{path}");
        }
        for path in ["/", "/groups/abc", "/images/abc", "/search"] {
            assert!(!is_api_only(path), "{path}");
        }
    }

    #[test]
    fn etags_match_one_of_a_list_or_any() {
        let headers: HeaderMap = [(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"a\", \"b\""),
        )]
        .into_iter()
        .collect();
        assert!(if_none_match(&headers, "\"b\""));
        assert!(!if_none_match(&headers, "\"c\""));
    }
}
