//! `cors`: preflights answered before auth, CORS headers on every response, configuration errors at init.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};
use lambda_http::Body;
use lamina_middleware::cors::{
    CorsConfig, CorsConfigError, ENV_ALLOW_CREDENTIALS, ENV_ALLOWED_HEADERS, ENV_ALLOWED_ORIGINS,
    ENV_MAX_AGE,
};
use lamina_middleware::errors::{ApiError, BoxError, Problem, ProblemLayer, Router};
use tower::{Service, ServiceBuilder, ServiceExt, util::BoxCloneService};

/// A stand-in for an authentication layer: 401 without `authorization`, 403 for `Bearer reader`.
#[derive(Clone)]
struct DemoAuth<S> {
    inner: S,
    calls: Arc<AtomicUsize>,
}

impl<S> Service<http::Request<Body>> for DemoAuth<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Send,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future =
        std::pin::Pin<Box<dyn Future<Output = Result<http::Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let rejection = match req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
        {
            None => Some(Problem::new(StatusCode::UNAUTHORIZED)),
            Some("Bearer reader") => Some(Problem::new(StatusCode::FORBIDDEN)),
            Some(_) => None,
        };
        match rejection {
            Some(problem) => {
                let mut response: http::Response<Body> = problem.to_response();
                response
                    .headers_mut()
                    .insert("www-authenticate", http::HeaderValue::from_static("Bearer"));
                Box::pin(std::future::ready(Ok(response)))
            }
            None => Box::pin(self.inner.call(req)),
        }
    }
}

async fn panicking() -> Result<http::Response<Body>, ApiError> {
    panic!("handler bug")
}

struct Counters {
    auth: Arc<AtomicUsize>,
    handler: Arc<AtomicUsize>,
}

/// CORS (outermost) -> ProblemLayer -> auth -> router: the documented order.
fn app(
    cors: CorsConfig,
) -> (
    BoxCloneService<http::Request<Body>, http::Response<Body>, std::convert::Infallible>,
    Counters,
) {
    let counters = Counters {
        auth: Arc::default(),
        handler: Arc::default(),
    };
    let handler_calls = Arc::clone(&counters.handler);
    let count = move || {
        handler_calls.fetch_add(1, Ordering::SeqCst);
    };
    let (c1, c2, c3) = (count.clone(), count.clone(), count);
    let router = Router::new()
        .route(Method::GET, "/photos", move |_req: http::Request<Body>| {
            c1();
            async { Ok::<_, ApiError>(http::Response::new(Body::from("[]"))) }
        })
        .route(Method::GET, "/panic", move |_req: http::Request<Body>| {
            c2();
            panicking()
        })
        .route(Method::GET, "/fail", move |_req: http::Request<Body>| {
            c3();
            async { Err::<http::Response<Body>, BoxError>("dynamodb throttled".into()) }
        });
    let auth_calls = Arc::clone(&counters.auth);
    let auth = tower::layer::layer_fn(move |inner| DemoAuth {
        inner,
        calls: Arc::clone(&auth_calls),
    });
    let cors = cors.into_layer().unwrap_or_else(|error| panic!("{error}"));
    let service = ServiceBuilder::new()
        .layer(cors)
        .layer(ProblemLayer::new())
        .layer(auth)
        .service(router);
    (BoxCloneService::new(service), counters)
}

fn config() -> CorsConfig {
    CorsConfig::new()
        .allow_origins(["https://app.example.com", "https://*.preview.example.com"])
        .allow_credentials(true)
        .max_age(Duration::from_secs(600))
}

fn request(
    method: Method,
    path: &str,
    origin: Option<&str>,
    token: Option<&str>,
) -> http::Request<Body> {
    let mut builder = http::Request::builder().method(method).uri(path);
    if let Some(origin) = origin {
        builder = builder.header("origin", origin);
    }
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(Body::Empty).unwrap_or_default()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn vary_has_origin(headers: &HeaderMap) -> bool {
    headers
        .get_all("vary")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| {
            value
                .split(',')
                .any(|item| item.trim().eq_ignore_ascii_case("origin"))
        })
}

#[tokio::test(flavor = "current_thread")]
async fn cors_headers_on_every_response() {
    let (service, _) = app(config());
    let origin = "https://pr-42.preview.example.com";
    // (path, token, expected status)
    let cases = [
        ("/photos", Some("writer"), 200),
        ("/photos", None, 401),
        ("/photos", Some("reader"), 403),
        ("/missing", Some("writer"), 404),
        ("/fail", Some("writer"), 500),
        ("/panic", Some("writer"), 500),
    ];
    for (path, token, status) in cases {
        let response = service
            .clone()
            .oneshot(request(Method::GET, path, Some(origin), token))
            .await
            .unwrap_or_else(|n| match n {});
        assert_eq!(response.status().as_u16(), status, "{path} {token:?}");
        let headers = response.headers();
        assert_eq!(
            header(headers, "access-control-allow-origin"),
            Some(origin),
            "{path} {token:?}"
        );
        assert_eq!(
            header(headers, "access-control-allow-credentials"),
            Some("true"),
            "{path}"
        );
        assert!(vary_has_origin(headers), "{path}: {headers:?}");
        // Preflight-only headers stay off actual responses.
        assert_eq!(header(headers, "access-control-max-age"), None);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn preflight_is_answered_before_auth_and_never_reaches_the_handler() {
    let (service, counters) = app(config());
    let mut req = request(
        Method::OPTIONS,
        "/photos",
        Some("https://app.example.com"),
        None,
    );
    req.headers_mut().insert(
        "access-control-request-method",
        http::HeaderValue::from_static("POST"),
    );
    req.headers_mut().insert(
        "access-control-request-headers",
        http::HeaderValue::from_static("authorization,content-type"),
    );
    let response = service.oneshot(req).await.unwrap_or_else(|n| match n {});
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(
        header(headers, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        header(headers, "access-control-allow-methods"),
        Some("GET,HEAD,POST,PUT,PATCH,DELETE")
    );
    let allowed_headers = header(headers, "access-control-allow-headers").unwrap_or_default();
    assert!(
        allowed_headers.contains("authorization") && allowed_headers.contains("content-type"),
        "{allowed_headers}"
    );
    assert_eq!(header(headers, "access-control-max-age"), Some("600"));
    assert!(vary_has_origin(headers));
    assert_eq!(
        counters.auth.load(Ordering::SeqCst),
        0,
        "auth saw the preflight"
    );
    assert_eq!(
        counters.handler.load(Ordering::SeqCst),
        0,
        "handler saw the preflight"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn disallowed_origins_get_no_allow_origin() {
    let (service, counters) = app(config());
    for origin in [
        "https://evil.example",
        "https://app.example.com.evil.example",
        "https://preview.example.com",
        "http://app.example.com",
        "null",
    ] {
        for method in [Method::OPTIONS, Method::GET] {
            let response = service
                .clone()
                .oneshot(request(
                    method.clone(),
                    "/photos",
                    Some(origin),
                    Some("writer"),
                ))
                .await
                .unwrap_or_else(|n| match n {});
            assert_eq!(
                header(response.headers(), "access-control-allow-origin"),
                None,
                "{method} {origin}"
            );
            assert!(vary_has_origin(response.headers()), "{method} {origin}");
        }
    }
    // The GETs still ran (CORS is enforced by browsers); the OPTIONS never did.
    assert_eq!(counters.handler.load(Ordering::SeqCst), 5);
}

#[tokio::test(flavor = "current_thread")]
async fn configuration_from_environment_variables() {
    let vars = [
        (
            ENV_ALLOWED_ORIGINS,
            "https://a.example.com, http://localhost:*",
        ),
        (ENV_ALLOW_CREDENTIALS, "false"),
        (ENV_ALLOWED_HEADERS, "*"),
        (ENV_MAX_AGE, "30"),
    ];
    let config = CorsConfig::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap_or_else(|error| panic!("{error}"));
    let (service, _) = app(config);
    let mut req = request(
        Method::OPTIONS,
        "/photos",
        Some("http://localhost:5173"),
        None,
    );
    req.headers_mut().insert(
        "access-control-request-headers",
        http::HeaderValue::from_static("x-custom"),
    );
    let response = service.oneshot(req).await.unwrap_or_else(|n| match n {});
    assert_eq!(
        header(response.headers(), "access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert_eq!(
        header(response.headers(), "access-control-allow-headers"),
        Some("*")
    );
    assert_eq!(
        header(response.headers(), "access-control-max-age"),
        Some("30")
    );
    assert_eq!(
        header(response.headers(), "access-control-allow-credentials"),
        None
    );
}

#[tokio::test(flavor = "current_thread")]
async fn any_origin_without_credentials() {
    let (service, _) = app(CorsConfig::new().allow_origins(["*"]));
    let response = service
        .oneshot(request(
            Method::GET,
            "/photos",
            Some("https://anyone.example"),
            None,
        ))
        .await
        .unwrap_or_else(|n| match n {});
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(response.headers(), "access-control-allow-origin"),
        Some("*")
    );
}

#[test]
fn invalid_configuration_is_an_init_error() {
    let cases = [
        (CorsConfig::new(), CorsConfigError::NoAllowedOrigins),
        (
            CorsConfig::new()
                .allow_origins(["*"])
                .allow_credentials(true),
            CorsConfigError::CredentialsWithWildcard { what: "origin" },
        ),
        (
            CorsConfig::new().allow_origins(["app.example.com"]),
            CorsConfigError::InvalidOrigin {
                origin: "app.example.com".into(),
                reason: "must start with a scheme such as https://",
            },
        ),
        (
            CorsConfig::new()
                .allow_origins(["https://a.com"])
                .allow_methods(["GE T"]),
            CorsConfigError::InvalidMethod("GE T".into()),
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(config.validate(), Err(expected.clone()));
        assert_eq!(config.into_layer().err(), Some(expected));
    }
}
