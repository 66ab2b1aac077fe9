//! The invocation context and the deadline layer, driven through `oneshot` with real requests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;
use lambda_http::{Body, Context, Request, Response};
use lamina_middleware::context::{
    ColdStart, DeadlineLayer, InvocationContext, InvocationContextLayer,
};
use tower::{ServiceBuilder, ServiceExt as _, service_fn};

/// A Lambda context whose deadline is `in_ms` milliseconds from now.
fn lambda_context(request_id: &str, in_ms: u64) -> Context {
    let now_ms = u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let mut context = Context::default();
    context.request_id = request_id.to_owned();
    context.deadline = now_ms + in_ms;
    context.invoked_function_arn =
        "arn:aws:lambda:us-east-1:123456789012:function:api:live".to_owned();
    context.xray_trace_id = Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".to_owned());
    context
}

fn request_with(context: Option<Context>) -> Request {
    let mut request = Request::new(Body::Empty);
    if let Some(context) = context {
        request.extensions_mut().insert(context);
    }
    request
}

async fn echo_context(request: Request) -> Result<Response<Body>, lambda_http::Error> {
    let context = request
        .extensions()
        .get::<InvocationContext>()
        .cloned()
        .unwrap();
    let body = serde_json::json!({
        "request_id": context.request_id,
        "arn": context.invoked_function_arn,
        "trace": context.trace_header,
        "cold_start": context.cold_start,
        "remaining_ms": context.remaining_time().map(|d| d.as_millis()),
    });
    Ok(Response::new(Body::from(body.to_string())))
}

fn json(response: &Response<Body>) -> serde_json::Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

#[tokio::test]
async fn the_context_comes_from_lambda_and_only_the_first_request_is_cold() {
    // A source of its own (an on-demand environment), so that other tests of this binary cannot
    // have taken the cold start first.
    let on_demand = ColdStart::for_initialization_type(Some("on-demand"));
    let service = ServiceBuilder::new()
        .layer(InvocationContextLayer::new().cold_start(on_demand.clone()))
        .service(service_fn(echo_context));
    let first = service
        .clone()
        .oneshot(request_with(Some(lambda_context("req-1", 5000))))
        .await
        .unwrap();
    let second = service
        .oneshot(request_with(Some(lambda_context("req-2", 5000))))
        .await
        .unwrap();
    let (first, second) = (json(&first), json(&second));
    assert_eq!(first["cold_start"], true);
    assert_eq!(first["request_id"], "req-1");
    assert_eq!(
        first["arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:api:live"
    );
    assert_eq!(
        first["trace"],
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    );
    assert_eq!(second["cold_start"], false);
    assert!(!on_demand.is_pending());
    let remaining = second["remaining_ms"].as_u64().unwrap();
    assert!(remaining > 4000 && remaining <= 5000, "{remaining}");
}

#[tokio::test]
async fn provisioned_concurrency_and_snap_start_have_no_cold_start() {
    for initialization_type in ["provisioned-concurrency", "snap-start"] {
        let source = ColdStart::for_initialization_type(Some(initialization_type));
        let service = ServiceBuilder::new()
            .layer(InvocationContextLayer::new().cold_start(source))
            .service(service_fn(echo_context));
        let first = service
            .oneshot(request_with(Some(lambda_context("req-1", 5000))))
            .await
            .unwrap();
        assert_eq!(json(&first)["cold_start"], false, "{initialization_type}");
    }
}

#[tokio::test]
async fn outside_lambda_the_request_id_comes_from_the_header_or_is_made_up() {
    let service = ServiceBuilder::new()
        .layer(InvocationContextLayer::new())
        .service(service_fn(echo_context));
    let mut request = request_with(None);
    request
        .headers_mut()
        .insert("x-request-id", "local-7".parse().unwrap());
    let given = json(&service.clone().oneshot(request).await.unwrap());
    assert_eq!(given["request_id"], "local-7");
    assert!(given["remaining_ms"].is_null());
    let made_up = json(&service.oneshot(request_with(None)).await.unwrap());
    assert_eq!(made_up["request_id"].as_str().map(str::len), Some(36));
}

#[tokio::test]
async fn a_slow_handler_gets_a_504_problem_before_the_deadline() {
    let service = ServiceBuilder::new()
        .layer(DeadlineLayer::new(Duration::from_millis(200)))
        .service(service_fn(|_request: Request| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok::<_, lambda_http::Error>(Response::new(Body::from("too late")))
        }));
    let response = service
        .oneshot(request_with(Some(lambda_context("req-slow", 400))))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body = json(&response);
    assert_eq!(body["status"], 504);
    assert_eq!(body["requestId"], "req-slow");
}

#[tokio::test]
async fn a_fast_handler_and_requests_without_a_deadline_pass_through() {
    let service = ServiceBuilder::new()
        .layer(DeadlineLayer::new(Duration::from_millis(200)))
        .service(service_fn(|_request: Request| async {
            Ok::<_, lambda_http::Error>(Response::new(Body::from("done")))
        }));
    let in_time = service
        .clone()
        .oneshot(request_with(Some(lambda_context("req", 5000))))
        .await
        .unwrap();
    assert_eq!(in_time.status(), StatusCode::OK);
    let local = service.oneshot(request_with(None)).await.unwrap();
    assert_eq!(local.body().as_ref(), b"done");
}

#[tokio::test]
async fn a_deadline_already_inside_the_margin_answers_at_once() {
    let service = ServiceBuilder::new()
        .layer(DeadlineLayer::new(Duration::from_millis(500)))
        .service(service_fn(|_request: Request| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok::<_, lambda_http::Error>(Response::new(Body::Empty))
        }));
    let answered = tokio::time::timeout(
        Duration::from_secs(5),
        service.oneshot(request_with(Some(lambda_context("req-late", 100)))),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(answered.status(), StatusCode::GATEWAY_TIMEOUT);
}
