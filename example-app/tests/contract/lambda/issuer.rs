//! The token issuer of the Lambda deployment: `udagram`'s development issuer signs the tokens, and
//! its JWKS is served on loopback as an Auth0-style issuer publishes it, for the functions'
//! `JWKS_URL`.

use std::time::{SystemTime, UNIX_EPOCH};

use lambda_http::{Body, Request, Response};
use lamina_middleware::init::{LocalServer, serve_local};
use tempfile::TempDir;
use udagram::dev_issuer::{AUDIENCE, DevIssuer};

/// A signing key in a temporary folder and its JWKS on a loopback port.
#[derive(Debug)]
pub struct Issuer {
    issuer: DevIssuer,
    server: LocalServer,
    _key_dir: TempDir,
}

impl Issuer {
    pub async fn start() -> Self {
        let key_dir = tempfile::tempdir().unwrap();
        // The issuer URL is only a name the tokens and the verifier agree on.
        let issuer =
            DevIssuer::load_or_create(key_dir.path(), "https://udagram-test.auth0.com/").unwrap();
        let jwks = issuer.jwks().to_string();
        let service = tower::service_fn(move |_request: Request| {
            let body = jwks.clone();
            async move {
                let mut response = Response::new(Body::from(body));
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                Ok::<_, lambda_http::Error>(response)
            }
        });
        let server = serve_local("127.0.0.1:0".parse().unwrap(), service)
            .await
            .unwrap();
        Self {
            issuer,
            server,
            _key_dir: key_dir,
        }
    }

    /// `JWKS_URL`, `JWT_ISSUER` and `JWT_AUDIENCE` for the functions.
    pub fn environment(&self) -> Vec<(String, String)> {
        vec![
            (
                "JWKS_URL".to_owned(),
                format!("http://{}/.well-known/jwks.json", self.server.local_addr()),
            ),
            ("JWT_ISSUER".to_owned(), self.issuer.issuer().to_owned()),
            ("JWT_AUDIENCE".to_owned(), AUDIENCE.to_owned()),
        ]
    }

    /// A valid token for `user`.
    pub fn token(&self, user: &str) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        self.issuer.issue(user, now).unwrap()
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
    }
}
