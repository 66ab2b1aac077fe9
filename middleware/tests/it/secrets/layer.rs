//! `SecretsLayer` driven through `oneshot` with real requests, over moto and in memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_ssm::types::ParameterType;
use http::{Request, Response, StatusCode};
use lambda_http::Body;
use lamina_middleware::secrets::{
    InMemorySource, ParameterStoreSource, Secret, SecretCache, Secrets, SecretsLayer,
    SecretsManagerSource,
};
use tower::{ServiceBuilder, ServiceExt, service_fn};

use super::{
    CountingSource, DbCredentials, capture_logs, create_secret, moto, put_parameter,
    secrets_manager, ssm,
};

async fn echo_secrets(req: Request<Body>) -> Result<Response<Body>, std::convert::Infallible> {
    let secrets = req
        .extensions()
        .get::<Secrets>()
        .cloned()
        .unwrap_or_default();
    let db = req
        .extensions()
        .get::<Secret<DbCredentials>>()
        .map(|db| db.expose().username.clone());
    let body = format!(
        "api={} db={}",
        secrets.expose("API_KEY").unwrap_or("-"),
        db.as_deref().unwrap_or("-")
    );
    Ok(Response::new(Body::from(body)))
}

async fn body_text(response: Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

#[tokio::test]
async fn layer_puts_moto_secrets_into_extensions() {
    let moto = moto().await;
    create_secret(
        &secrets_manager(&moto),
        "prod/db",
        r#"{"username":"svc","password":"layer-pw","port":5432}"#,
    )
    .await;
    put_parameter(
        &ssm(&moto),
        "/app/api-key",
        "k-777",
        ParameterType::SecureString,
    )
    .await;
    let sm_cache = SecretCache::new(CountingSource::new(SecretsManagerSource::new(
        secrets_manager(&moto),
    )));
    let ssm_source = CountingSource::new(ParameterStoreSource::new(ssm(&moto)));
    let ssm_cache = SecretCache::new(ssm_source.clone());

    let service = ServiceBuilder::new()
        .layer(SecretsLayer::new(ssm_cache).secret("API_KEY", "/app/api-key"))
        .layer(SecretsLayer::new(sm_cache).json::<DbCredentials>("prod/db"))
        .service(service_fn(echo_secrets));
    for _ in 0..3 {
        let response = service
            .clone()
            .oneshot(Request::new(Body::Empty))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body_text(response).await, "api=k-777 db=svc");
    }
    assert_eq!(ssm_source.calls(), 1, "later requests are cache hits");
}

#[tokio::test]
async fn layer_answers_a_problem_without_leaking_when_a_secret_fails() {
    let (logs, _guard) = capture_logs();
    let source = InMemorySource::new();
    source.insert_text("prod/ok", "visible-only-to-handler");
    source.insert_text("prod/db", "{not json, but secret-in-body}");
    let cache = SecretCache::new(source.clone());
    let handler_calls = Arc::new(AtomicUsize::new(0));
    let calls = Arc::clone(&handler_calls);
    let service = ServiceBuilder::new()
        .layer(
            SecretsLayer::new(cache)
                .secret("OK", "prod/ok")
                .secret("MISSING", "prod/missing")
                .json::<DbCredentials>("prod/db"),
        )
        .service(service_fn(move |req: Request<Body>| {
            calls.fetch_add(1, Ordering::SeqCst);
            echo_secrets(req)
        }));

    let mut context = lambda_http::Context::default();
    context.request_id = "req-123".to_owned();
    let mut request = Request::new(Body::Empty);
    request.extensions_mut().insert(context);
    let response = service.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body = body_text(response).await;
    let problem: serde_json::Value = serde_json::from_str(&body).expect("problem json");
    assert_eq!(problem["status"], 500);
    assert_eq!(
        problem["type"],
        lamina_middleware::secrets::SECRET_UNAVAILABLE_TYPE
    );
    assert_eq!(problem["requestId"], "req-123");
    for leak in [
        "visible-only-to-handler",
        "secret-in-body",
        "prod/",
        "MISSING",
    ] {
        assert!(!body.contains(leak), "{leak} in {body}");
    }
    assert_eq!(handler_calls.load(Ordering::SeqCst), 0);

    let logs = logs.text();
    assert!(logs.contains("prod/missing"), "{logs}");
    assert!(logs.contains("req-123"), "{logs}");
    assert!(
        !logs.contains("visible-only-to-handler") && !logs.contains("secret-in-body"),
        "{logs}"
    );

    // The JSON secret alone fails to decode: still a 500, still nothing leaked.
    let decode_only = ServiceBuilder::new()
        .layer(SecretsLayer::new(SecretCache::new(source)).json::<DbCredentials>("prod/db"))
        .service(service_fn(echo_secrets));
    let response = decode_only
        .oneshot(Request::new(Body::Empty))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!body_text(response).await.contains("secret-in-body"));
}

#[tokio::test]
async fn layer_inserts_an_empty_map_when_nothing_is_configured() {
    let service = ServiceBuilder::new()
        .layer(SecretsLayer::new(SecretCache::new(InMemorySource::new())))
        .service(service_fn(|req: Request<Body>| async move {
            let count = req.extensions().get::<Secrets>().map(Secrets::len);
            Ok::<_, std::convert::Infallible>(Response::new(Body::from(format!("{count:?}"))))
        }));
    let response = service
        .oneshot(Request::new(Body::Empty))
        .await
        .expect("infallible");
    assert_eq!(body_text(response).await, "Some(0)");
}
