//! The whole stack in a real `lambda_http` binary (`lamina-demo-function`), run under the
//! `lamina-local` emulator, with its JWKS served on loopback and its secret in moto.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_http::{Body, Request, Response};
use lamina_local::cargo_build::BinaryBuild;
use lamina_local::emulator::{Emulator, FunctionConfig, InvocationReport};
use lamina_local::moto::MotoServer;
use lamina_middleware::init::{LocalServer, serve_local};
use serde_json::{Value, json};

const RSA_PRIVATE: &[u8] = include_bytes!("../fixtures/auth/rsa_private.pem");
const ISSUER: &str = "https://lamina-demo.eu.auth0.com/";
const AUDIENCE: &str = "https://demo.lamina.test";
const ORIGIN: &str = "https://app.example.com";
const SECRET_VALUE: &str = "sk-live-do-not-log";

fn demo_function() -> std::path::PathBuf {
    static BUILT: OnceLock<Result<std::path::PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(|| {
        BinaryBuild::new("lamina-demo-function")
            .build()
            .map_err(|e| e.to_string())
    }) {
        Ok(path) => path.clone(),
        Err(error) => panic!("building the demo function failed: {error}"),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(scope: &str) -> String {
    lamina_middleware::crypto::ensure_jwt_provider();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("demo".to_owned());
    let claims = json!({"sub": "auth0|alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now(), "exp": now() + 600, "scope": scope});
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap(),
    )
    .unwrap()
}

/// Serves the JWKS with `serve_local`, the crate's own local server.
async fn jwks_server() -> LocalServer {
    lamina_middleware::crypto::ensure_jwt_provider();
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap();
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some("demo".to_owned());
    let body = serde_json::to_string(&JwkSet { keys: vec![jwk] }).unwrap();
    let service = tower::service_fn(move |_request: Request| {
        let body = body.clone();
        async move { Ok::<_, lambda_http::Error>(Response::new(Body::from(body))) }
    });
    serve_local("127.0.0.1:0".parse().unwrap(), service)
        .await
        .unwrap()
}

/// An API Gateway HTTP API (v2) event.
fn event(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> String {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect();
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "demo",
            "domainName": "demo.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "demo",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "apigw-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "28/Nov/2026:16:00:00 +0000",
            "timeEpoch": 1795880000000u64
        },
        "body": body,
        "isBase64Encoded": false
    })
    .to_string()
}

/// The same request as a REST API (payload 1.0) event on stage `prod`, which `lambda_http` turns
/// into a request for `/prod{path}`.
fn rest_api_event(method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect();
    let multi: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    json!({
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": {"proxy": path.trim_start_matches('/')},
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012", "resourceId": "abc123", "stage": "prod",
            "requestId": "apigw-1", "identity": {"sourceIp": "127.0.0.1"},
            "resourcePath": "/{proxy+}", "httpMethod": method, "apiId": "demo",
            "path": format!("/prod{path}"), "domainName": "demo.execute-api.us-east-1.amazonaws.com",
        },
        "body": null,
        "isBase64Encoded": false,
    })
    .to_string()
}

/// The same request as a function URL event (payload 2.0 with the URL's own request context).
fn function_url_event(method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let mut event: Value = serde_json::from_str(&event(method, path, headers, None)).unwrap();
    let context = &mut event["requestContext"];
    context["apiId"] = json!("demourlid");
    context["domainName"] = json!("demourlid.lambda-url.us-east-1.on.aws");
    context["domainPrefix"] = json!("demourlid");
    event.to_string()
}

struct Answer {
    status: u64,
    headers: Value,
    body: Value,
}

/// The function's HTTP answer, after checking that nothing it logged holds the secret or a token.
fn answer(report: &InvocationReport) -> Answer {
    for line in &report.logs {
        assert!(
            !line.text.contains(SECRET_VALUE),
            "the secret reached the logs: {}",
            line.text
        );
        assert!(
            !line.text.contains("eyJ"),
            "a token reached the logs: {}",
            line.text
        );
    }
    let body = report
        .outcome
        .body()
        .unwrap_or_else(|| panic!("the function failed: {report} {:?}", report.logs));
    let response: Value = serde_json::from_slice(body).unwrap();
    let text = response["body"].as_str().unwrap_or_default();
    Answer {
        status: response["statusCode"].as_u64().unwrap(),
        headers: response["headers"].clone(),
        body: serde_json::from_str(text).unwrap_or(Value::Null),
    }
}

struct Stack {
    emulator: Emulator,
    _moto: MotoServer,
    _jwks: LocalServer,
}

async fn stack(timeout: Duration) -> Stack {
    stack_with(timeout, &[]).await
}

/// The stack with further environment variables for the function.
async fn stack_with(timeout: Duration, extra_env: &[(&str, &str)]) -> Stack {
    let moto = MotoServer::start().await.unwrap();
    let secrets = aws_sdk_secretsmanager::Client::new(moto.sdk_config());
    secrets
        .create_secret()
        .name("demo/api-key")
        .secret_string(SECRET_VALUE)
        .send()
        .await
        .unwrap();
    let jwks = jwks_server().await;
    let config = FunctionConfig::new(demo_function())
        .timeout(timeout)
        .envs(moto.environment())
        .env(
            "DEMO_JWKS_URL",
            format!("http://{}/.well-known/jwks.json", jwks.local_addr()),
        )
        .env("DEMO_ISSUER", ISSUER)
        .env("DEMO_AUDIENCE", AUDIENCE)
        .env("DEMO_SECRET_ID", "demo/api-key")
        .env("DEMO_DEADLINE_MARGIN_MS", "300")
        .env("LAMINA_CORS_ALLOWED_ORIGINS", ORIGIN)
        .env("LAMINA_CORS_ALLOWED_HEADERS", "authorization,content-type");
    let config = extra_env
        .iter()
        .fold(config, |config, (name, value)| config.env(*name, *value));
    Stack {
        emulator: Emulator::start(config).await.unwrap(),
        _moto: moto,
        _jwks: jwks,
    }
}

#[tokio::test]
async fn the_whole_stack_answers_as_designed_under_the_emulator() {
    let stack = stack(Duration::from_secs(10)).await;
    let invoke = |method: &'static str,
                  path: &'static str,
                  headers: Vec<(&'static str, String)>,
                  body: Option<&'static str>| {
        let emulator = stack.emulator.clone();
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            emulator
                .invoke(event(method, path, &headers, body))
                .await
                .unwrap()
        }
    };
    let origin = || ("origin", ORIGIN.to_owned());
    let bearer = |scope: &str| ("authorization", format!("Bearer {}", token(scope)));

    // Init prefetched the JWKS and the secret; the first request is the cold start.
    let health = invoke("GET", "/health", vec![origin()], None).await;
    assert!(health.cold_start && health.init_duration.is_some());
    let health = answer(&health);
    assert_eq!(
        (health.status, &health.body),
        (200, &json!({"status": "ok"}))
    );
    assert_eq!(health.headers["access-control-allow-origin"], ORIGIN);

    // No token: 401 with the RFC 6750 challenge, a problem body, and CORS headers all the same.
    let anonymous = answer(&invoke("GET", "/me", vec![origin()], None).await);
    assert_eq!(anonymous.status, 401);
    assert!(
        anonymous.headers["www-authenticate"]
            .as_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(
        anonymous.headers["content-type"],
        "application/problem+json"
    );
    assert_eq!(anonymous.headers["access-control-allow-origin"], ORIGIN);

    // A good token: the claims, the context and the secret reach the handler (the secret's value does not leave it).
    let me = invoke("GET", "/me", vec![origin(), bearer("read:items")], None).await;
    assert!(!me.cold_start);
    let me_answer = answer(&me);
    assert_eq!(me_answer.status, 200, "{:?}", me_answer.body);
    assert_eq!(me_answer.body["sub"], "auth0|alice");
    assert_eq!(me_answer.body["cold_start"], false);
    assert_eq!(me_answer.body["request_id"], me.request_id.as_str());
    assert_eq!(me_answer.body["secret_loaded"], true);

    // Preflight is answered by CORS before auth, without a token.
    let preflight = answer(
        &invoke(
            "OPTIONS",
            "/items",
            vec![
                origin(),
                ("access-control-request-method", "POST".to_owned()),
                ("access-control-request-headers", "authorization".to_owned()),
            ],
            None,
        )
        .await,
    );
    assert_eq!(preflight.status, 200);
    assert_eq!(preflight.headers["access-control-allow-origin"], ORIGIN);

    // Scope, validation, routing.
    let forbidden = answer(
        &invoke(
            "POST",
            "/items",
            vec![bearer("read:items")],
            Some(r#"{"title":"x"}"#),
        )
        .await,
    );
    assert_eq!(forbidden.status, 403);
    let invalid = answer(
        &invoke(
            "POST",
            "/items",
            vec![
                bearer("write:items"),
                ("content-type", "application/json".to_owned()),
            ],
            Some(r#"{"title":"","colour":"red"}"#),
        )
        .await,
    );
    assert_eq!(invalid.status, 400, "{:?}", invalid.body);
    assert_eq!(invalid.headers["content-type"], "application/problem+json");
    let created = answer(
        &invoke(
            "POST",
            "/items",
            vec![
                bearer("write:items"),
                ("content-type", "application/json".to_owned()),
            ],
            Some(r#"{"title":"a cat"}"#),
        )
        .await,
    );
    assert_eq!(
        (created.status, &created.body["title"]),
        (201, &json!("a cat"))
    );
    let missing = answer(&invoke("GET", "/items/9", vec![bearer("read:items")], None).await);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["status"], 404);
    let wrong_method = answer(&invoke("DELETE", "/me", vec![bearer("read:items")], None).await);
    assert_eq!(wrong_method.status, 405);
}

#[tokio::test]
async fn a_slow_handler_gets_a_504_problem_before_lambda_would_kill_it() {
    let stack = stack(Duration::from_secs(1)).await;
    let token = token("read:items");
    let headers = [("authorization", format!("Bearer {token}"))];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let report = stack
        .emulator
        .invoke(event("GET", "/slow?ms=5000", &headers, None))
        .await
        .unwrap();
    let slow = answer(&report);
    assert_eq!(slow.status, 504, "{:?}", slow.body);
    assert_eq!(slow.body["requestId"], report.request_id.as_str());
    assert!(
        report.duration < Duration::from_secs(1),
        "answered before the timeout: {report}"
    );
    // The process was not killed: the next request is warm.
    let next = stack
        .emulator
        .invoke(event("GET", "/health", &[], None))
        .await
        .unwrap();
    assert!(!next.cold_start);
}

/// A function wired as the middleware guide shows answers the same behind a REST API (whose
/// stage `lambda_http` puts in front of the path), an HTTP API and a function URL: the public
/// route without a token, a route with a parameter with one, and 404 only where no route is.
#[tokio::test]
async fn the_stack_routes_rest_api_http_api_and_function_url_events_alike() {
    let stack = stack(Duration::from_secs(10)).await;
    let token = format!("Bearer {}", token("read:items"));
    type MakeEvent = fn(&str, &str, &[(&str, &str)]) -> String;
    let kinds: [(&str, MakeEvent); 3] = [
        ("REST API", rest_api_event),
        ("HTTP API", |method, path, headers| {
            event(method, path, headers, None)
        }),
        ("function URL", function_url_event),
    ];
    for (kind, make_event) in kinds {
        let invoke = |path: &'static str, headers: Vec<(&'static str, String)>| {
            let emulator = stack.emulator.clone();
            async move {
                let headers: Vec<(&str, &str)> =
                    headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                answer(
                    &emulator
                        .invoke(make_event("GET", path, &headers))
                        .await
                        .unwrap(),
                )
            }
        };
        let health = invoke("/health", vec![]).await;
        assert_eq!((health.status, kind), (200, kind), "{:?}", health.body);
        let item = invoke("/items/1", vec![("authorization", token.clone())]).await;
        assert_eq!((item.status, kind), (200, kind), "{:?}", item.body);
        assert_eq!(item.body["title"], "first");
        let anonymous = invoke("/items/1", vec![]).await;
        assert_eq!((anonymous.status, kind), (401, kind));
        let nowhere = invoke("/nowhere", vec![("authorization", token.clone())]).await;
        assert_eq!((nowhere.status, kind), (404, kind), "{:?}", nowhere.body);
    }
}

/// The handler's `cold_start` for the first request of a fresh execution environment started as
/// `initialization_type` says (`None`: the emulator's own `on-demand`).
async fn first_request_cold_start(initialization_type: Option<&str>) -> Value {
    let env: Vec<(&str, &str)> = initialization_type
        .map(|value| ("AWS_LAMBDA_INITIALIZATION_TYPE", value))
        .into_iter()
        .collect();
    let stack = stack_with(Duration::from_secs(10), &env).await;
    let headers = [("authorization", format!("Bearer {}", token("read:items")))];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let report = stack
        .emulator
        .invoke(event("GET", "/me", &headers, None))
        .await
        .unwrap();
    let me = answer(&report);
    assert_eq!(me.status, 200, "{:?}", me.body);
    me.body["cold_start"].clone()
}

#[tokio::test]
async fn only_an_on_demand_start_reports_a_cold_start() {
    assert_eq!(first_request_cold_start(None).await, true);
    // `snap-start` is left to the in-process tests: lambda_runtime then waits on the Runtime
    // API's SnapStart restore endpoint, which the emulator does not serve.
    assert_eq!(
        first_request_cold_start(Some("provisioned-concurrency")).await,
        false
    );
}

#[tokio::test]
async fn missing_configuration_fails_init_with_a_clear_message() {
    let config = FunctionConfig::new(demo_function()).env("DEMO_ISSUER", ISSUER);
    let report = Emulator::start(config)
        .await
        .unwrap()
        .invoke(event("GET", "/health", &[], None))
        .await
        .unwrap();
    assert_eq!(report.outcome.error_type(), Some("Runtime.ExitError"));
    let logs: String = report
        .logs
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(logs.contains("DEMO_JWKS_URL is not set"), "{logs}");
}
