//! JWT auth: the layer through `oneshot`, a JWKS served over real HTTP on 127.0.0.1, the token
//! attack battery, the custom authorizer, and property tests on random tokens and headers.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_http::Body;
use lamina_middleware::auth::{
    AuthError, Authorizer, AuthorizerError, Claims, JwtAuthLayer, JwtVerifier, ResourceScope,
    SigningAlgorithm, VerificationKey, VerifyError, require_claim, require_scope,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

mod authorizer;
mod battery;
mod discovery;
mod jwks;
mod properties;

const RSA_PRIVATE: &[u8] = include_bytes!("../fixtures/auth/rsa_private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../fixtures/auth/rsa_public.pem");
const RSA_CERT: &[u8] = include_bytes!("../fixtures/auth/rsa_cert.pem");
const EC_PRIVATE: &[u8] = include_bytes!("../fixtures/auth/ec_private.pem");
const EC_PUBLIC: &[u8] = include_bytes!("../fixtures/auth/ec_public.pem");
const OTHER_PRIVATE: &[u8] = include_bytes!("../fixtures/auth/other_rsa_private.pem");

const ISS: &str = "https://lamina-test.eu.auth0.com/";
const AUD: &str = "https://api.lamina.test";

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

fn good_claims() -> Value {
    json!({
        "sub": "auth0|user-1",
        "iss": ISS,
        "aud": [AUD, "https://lamina-test.eu.auth0.com/userinfo"],
        "iat": now(),
        "exp": now() + 600,
        "scope": "openid read:photos",
        "permissions": ["write:photos"],
        "https://lamina.test/role": "editor",
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn encoding_key(alg: Algorithm, pem: &[u8]) -> EncodingKey {
    lamina_middleware::crypto::ensure_jwt_provider();
    match alg {
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem).unwrap(),
        _ => EncodingKey::from_rsa_pem(pem).unwrap(),
    }
}

fn mint(alg: Algorithm, pem: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &encoding_key(alg, pem)).unwrap()
}

fn rs256(kid: Option<&str>, claims: &Value) -> String {
    mint(Algorithm::RS256, RSA_PRIVATE, kid, claims)
}

fn b64(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(value)
}

fn jwks(keys: &[(&str, Algorithm, &[u8])]) -> String {
    let keys = keys
        .iter()
        .map(|(kid, alg, pem)| {
            let mut jwk = Jwk::from_encoding_key(&encoding_key(*alg, pem), *alg).unwrap();
            jwk.common.key_id = Some((*kid).to_owned());
            jwk
        })
        .collect();
    serde_json::to_string(&JwkSet { keys }).unwrap()
}

/// What the JWKS server answers.
#[derive(Clone)]
enum Mode {
    Serve(String),
    Status(u16),
    Hang,
    /// A body of this many bytes with a Content-Length.
    Huge(usize),
    /// A body of this many bytes delimited by closing the connection.
    HugeUnsized(usize),
}

/// A tiny HTTP/1.1 server on 127.0.0.1 that serves a JWKS and counts requests.
struct JwksServer {
    url: String,
    fetches: Arc<AtomicUsize>,
    mode: Arc<Mutex<Mode>>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    async fn start(mode: Mode) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let fetches = Arc::new(AtomicUsize::new(0));
        let mode = Arc::new(Mutex::new(mode));
        let (count, current) = (fetches.clone(), mode.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (count, current) = (count.clone(), current.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    let mode = current.lock().unwrap().clone();
                    let response = match mode {
                        Mode::Serve(body) => format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .into_bytes(),
                        Mode::Status(code) => {
                            format!("HTTP/1.1 {code} Oops\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").into_bytes()
                        }
                        Mode::Hang => {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            return;
                        }
                        Mode::Huge(n) => {
                            let mut r = format!("HTTP/1.1 200 OK\r\ncontent-length: {n}\r\nconnection: close\r\n\r\n").into_bytes();
                            r.extend(std::iter::repeat_n(b' ', n));
                            r
                        }
                        Mode::HugeUnsized(n) => {
                            let mut r = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{\"keys\":[".to_vec();
                            r.extend(std::iter::repeat_n(b' ', n));
                            r
                        }
                    };
                    let _ = socket.write_all(&response).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self {
            url,
            fetches,
            mode,
            task,
        }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn static_verifier() -> JwtVerifier {
    JwtVerifier::builder()
        .key(VerificationKey::from_pem(RSA_CERT).unwrap())
        .key(VerificationKey::from_pem(EC_PUBLIC).unwrap())
        .issuer(ISS)
        .audience(AUD)
        .build()
        .unwrap()
}

/// Long enough that a loop of requests under load stays inside one cool-down.
const COOLDOWN: Duration = Duration::from_secs(1);

fn jwks_verifier(server: &JwksServer) -> JwtVerifier {
    JwtVerifier::builder()
        .jwks_url(&server.url)
        .issuer(ISS)
        .audience(AUD)
        .jwks_cooldown(COOLDOWN)
        .jwks_timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

/// A handler that answers with what it saw: the subject and scopes, or "anonymous".
async fn echo(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let seen = match req.extensions().get::<Claims>() {
        Some(claims) => {
            json!({"sub": claims.subject(), "scopes": claims.scopes(), "role": claims.get("https://lamina.test/role")})
        }
        None => json!("anonymous"),
    };
    Ok(Response::new(Body::from(seen.to_string())))
}

struct Answer {
    status: StatusCode,
    www: Option<String>,
    content_type: Option<String>,
    body: String,
}

async fn send<S>(service: S, req: Request<Body>) -> Answer
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    let response = service.oneshot(req).await.unwrap();
    let text = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let (www, content_type) = (text(header::WWW_AUTHENTICATE), text(header::CONTENT_TYPE));
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        www,
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get(authorization: Option<&str>) -> Request<Body> {
    let mut req = Request::get("/photos").body(Body::Empty).unwrap();
    if let Some(value) = authorization {
        req.headers_mut()
            .insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
    }
    req
}

fn bearer(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

async fn through(layer: JwtAuthLayer, authorization: Option<&str>) -> Answer {
    send(
        ServiceBuilder::new().layer(layer).service(service_fn(echo)),
        get(authorization),
    )
    .await
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler_with_typed_claims() {
    let token = rs256(None, &good_claims());
    let answer = through(
        JwtAuthLayer::new(static_verifier()),
        bearer(&token).as_deref(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(
        body,
        json!({"sub": "auth0|user-1", "scopes": ["openid", "read:photos", "write:photos"], "role": "editor"})
    );
}

#[tokio::test]
async fn es256_and_ps256_tokens_verify_and_rs256_certificates_work() {
    let verifier = static_verifier();
    for token in [
        mint(Algorithm::ES256, EC_PRIVATE, None, &good_claims()),
        mint(Algorithm::PS256, RSA_PRIVATE, None, &good_claims()),
        rs256(Some("any-kid"), &good_claims()),
    ] {
        let claims = verifier.verify(&token).await;
        assert_eq!(
            claims.map(|c| c.subject().map(str::to_owned)),
            Ok(Some("auth0|user-1".to_owned()))
        );
    }
    // A PEM public key (not a certificate) narrowed to RS256 refuses PS256.
    let rs_only = JwtVerifier::builder()
        .key(
            VerificationKey::from_pem(RSA_PUBLIC)
                .unwrap()
                .with_algorithm(SigningAlgorithm::Rs256)
                .unwrap(),
        )
        .build()
        .unwrap();
    assert!(rs_only.verify(&rs256(None, &good_claims())).await.is_ok());
    let ps = mint(Algorithm::PS256, RSA_PRIVATE, None, &good_claims());
    assert_eq!(
        rs_only.verify(&ps).await.err(),
        Some(VerifyError::UnknownKey)
    );
}

#[tokio::test]
async fn a_missing_token_gets_a_challenge_without_error_and_a_problem_body() {
    let answer = through(JwtAuthLayer::new(static_verifier()).realm("photos"), None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.www.as_deref(), Some("Bearer realm=\"photos\""));
    assert_eq!(
        answer.content_type.as_deref(),
        Some("application/problem+json")
    );
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["status"], 401);
    assert_eq!(body["title"], "Unauthorized");
    // Another scheme is not a bearer token either.
    let basic = through(
        JwtAuthLayer::new(static_verifier()),
        Some("Basic dXNlcjpwYXNz"),
    )
    .await;
    assert_eq!(basic.www.as_deref(), Some("Bearer realm=\"api\""));
}

/// A token whose claims part is `claims` verbatim, correctly signed.
fn rs256_raw(kid: &str, claims: &str) -> String {
    let header = b64(&format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{kid}"}}"#));
    let message = format!("{header}.{}", b64(claims));
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &encoding_key(Algorithm::RS256, RSA_PRIVATE),
        Algorithm::RS256,
    )
    .unwrap();
    format!("{message}.{signature}")
}

#[tokio::test]
async fn scopes_and_claims_are_required_per_route_with_403() {
    let token = rs256(None, &good_claims());
    let route = |requirement: lamina_middleware::auth::RequireLayer| {
        ServiceBuilder::new()
            .layer(JwtAuthLayer::new(static_verifier()))
            .layer(requirement)
            .service(service_fn(echo))
    };
    let cases = [
        (require_scope("read:photos"), StatusCode::OK, None),
        (require_scope("write:photos"), StatusCode::OK, None),
        (
            require_scope("delete:photos"),
            StatusCode::FORBIDDEN,
            Some("Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"delete:photos\""),
        ),
        (
            require_claim("https://lamina.test/role", "editor"),
            StatusCode::OK,
            None,
        ),
        (
            require_claim("https://lamina.test/role", "admin"),
            StatusCode::FORBIDDEN,
            Some("Bearer realm=\"api\", error=\"insufficient_scope\""),
        ),
        (require_claim("aud", AUD), StatusCode::OK, None),
        (
            require_scope("read:photos").claim("email_verified", true),
            StatusCode::FORBIDDEN,
            Some("Bearer realm=\"api\", error=\"insufficient_scope\""),
        ),
    ];
    for (requirement, status, www) in cases {
        let requirements = format!("{:?}", requirement.requirements());
        let answer = send(route(requirement), get(bearer(&token).as_deref())).await;
        assert_eq!(answer.status, status, "{requirements}");
        assert_eq!(answer.www.as_deref(), www, "{requirements}");
    }
    // As layer methods.
    let answer = through(
        JwtAuthLayer::new(static_verifier()).require_scope("admin"),
        bearer(&token).as_deref(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.content_type.as_deref(),
        Some("application/problem+json")
    );
    let answer = through(
        JwtAuthLayer::new(static_verifier()).require_claim("sub", "auth0|user-1"),
        bearer(&token).as_deref(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    // A requirement without JwtAuth in front has no claims to check: 401.
    let bare = ServiceBuilder::new()
        .layer(require_scope("read:photos"))
        .service(service_fn(echo));
    assert_eq!(
        send(bare, get(bearer(&token).as_deref())).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn preflights_skipped_paths_and_optional_auth_pass_without_a_token() {
    let app = |layer: JwtAuthLayer| ServiceBuilder::new().layer(layer).service(service_fn(echo));
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/photos")
        .header(header::ORIGIN, "https://app.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .body(Body::Empty)
        .unwrap();
    assert_eq!(
        send(app(JwtAuthLayer::new(static_verifier())), preflight)
            .await
            .status,
        StatusCode::OK
    );
    let options = Request::options("/photos").body(Body::Empty).unwrap();
    assert_eq!(
        send(
            app(JwtAuthLayer::new(static_verifier()).authenticate_options()),
            options
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    let health = Request::get("/health").body(Body::Empty).unwrap();
    assert_eq!(
        send(
            app(JwtAuthLayer::new(static_verifier()).skip_path("/health")),
            health
        )
        .await
        .status,
        StatusCode::OK
    );
    let public = Request::get("/public/logo.png").body(Body::Empty).unwrap();
    assert_eq!(
        send(
            app(JwtAuthLayer::new(static_verifier()).skip_path_prefix("/public/")),
            public
        )
        .await
        .status,
        StatusCode::OK
    );
    let optional = JwtAuthLayer::new(static_verifier()).optional();
    let anonymous = send(app(optional.clone()), get(None)).await;
    assert_eq!(
        (anonymous.status, anonymous.body.as_str()),
        (StatusCode::OK, "\"anonymous\"")
    );
    assert_eq!(
        send(app(optional), get(Some("Bearer not.a.token")))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn skip_route_skips_one_method_on_one_path() {
    let layer = JwtAuthLayer::new(static_verifier())
        .realm("photos")
        .skip_route(Method::GET, "/photos");
    let app = ServiceBuilder::new().layer(layer).service(service_fn(echo));
    let request = |method: Method, authorization: Option<&str>| {
        let mut builder = Request::builder().method(method).uri("/photos");
        if let Some(value) = authorization {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        builder.body(Body::Empty).unwrap()
    };

    let read = send(app.clone(), request(Method::GET, None)).await;
    assert_eq!(
        (read.status, read.body.as_str()),
        (StatusCode::OK, "\"anonymous\"")
    );
    // Skipped means not looked at: a bad token on the skipped route is not rejected.
    let stale = send(
        app.clone(),
        request(Method::GET, Some("Bearer not.a.token")),
    )
    .await;
    assert_eq!(stale.status, StatusCode::OK);

    for method in [Method::POST, Method::HEAD] {
        let write = send(app.clone(), request(method.clone(), None)).await;
        assert_eq!(write.status, StatusCode::UNAUTHORIZED, "{method}");
        assert_eq!(
            write.www.as_deref(),
            Some("Bearer realm=\"photos\""),
            "{method}"
        );
        assert_eq!(
            write.content_type.as_deref(),
            Some("application/problem+json"),
            "{method}"
        );
    }
    let token = bearer(&rs256(None, &good_claims()));
    let signed = send(app, request(Method::POST, token.as_deref())).await;
    assert_eq!(signed.status, StatusCode::OK);
}

#[tokio::test]
async fn rejections_are_logged_with_the_reason_but_never_the_token() {
    use tracing_subscriber::fmt::MakeWriter;
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let expired = rs256(
        Some("secret-kid-value"),
        &with(good_claims(), "exp", json!(now() - 3600)),
    );
    let answer = through(
        JwtAuthLayer::new(static_verifier()),
        bearer(&expired).as_deref(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("token expired"), "{logs}");
    assert!(!logs.contains(&expired), "the token was logged");
    assert!(
        !logs.contains(expired.split('.').nth(2).unwrap()),
        "the signature was logged"
    );
    assert!(!logs.contains("secret-kid-value"));
}
