//! Invocations through `XrayLambdaLayer` + `XrayLayer`, sent to a real `XrayCollector`.

use lamina_tracing::cold_start::ColdStart;
use std::time::{Duration, SystemTime};

use lambda_runtime::{Error, LambdaEvent, service_fn};
use lamina_local::xray::{AnnotationValue, Cause, Entity, Trace, XrayCollector};
use lamina_tracing::xray::{XrayLambdaLayer, XrayLayer, XrayStats};
use serde_json::{Value, json};
use tower::{Layer as _, ServiceExt as _};
use tracing::{Instrument as _, instrument};
use tracing_subscriber::prelude::*;

use super::{FUNCTION, collector, event, layer_for, sampled_trace, send_facade};

#[derive(Debug, thiserror::Error)]
#[error("order {0} not found")]
struct NotFound(String);

#[instrument(fields(annotation.order_id = %id, metadata.shard = 3_u64, region = "eu-west-1"))]
async fn load_order(id: &str) -> Result<Value, Error> {
    let query = tracing::info_span!(
        "dynamodb query",
        xray.name = "orders-table",
        http.status_code = 200_u64
    );
    async { tokio::task::yield_now().await }
        .instrument(query)
        .await;
    Ok(json!({ "id": id, "total": 42 }))
}

#[instrument(err)]
async fn audit(id: &str) -> Result<(), NotFound> {
    Err(NotFound(id.to_owned()))
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let id = event.payload["id"].as_str().unwrap_or("none").to_owned();
    if id == "fail" {
        return Err("the database is down".into());
    }
    let order = load_order(&id).await?;
    let _ = audit(&id).await;
    {
        let _throttled =
            tracing::info_span!("payments", http.response.status_code = 429_u64).entered();
    }
    {
        let _missing = tracing::info_span!("inventory", http.status_code = 404_u64).entered();
    }
    Ok(order)
}

/// Runs one invocation with the given trace header through a fresh service stack.
async fn invoke(
    layer: &XrayLambdaLayer,
    payload: Value,
    header: Option<&str>,
) -> Result<Value, Error> {
    layer
        .layer(service_fn(handler))
        .oneshot(event(payload, header))
        .await
}

fn subscriber(layer: XrayLayer) -> tracing::subscriber::DefaultGuard {
    tracing::subscriber::set_default(tracing_subscriber::registry().with(layer))
}

async fn traced(
    collector: &XrayCollector,
    lambda: &XrayLambdaLayer,
    payload: Value,
) -> (Result<Value, Error>, Trace) {
    let (trace_id, facade, header) = sampled_trace();
    let started = SystemTime::now();
    let result = invoke(lambda, payload, Some(&header)).await;
    send_facade(collector, &trace_id, facade, started).await;
    let trace = collector
        .wait_for_trace(trace_id.as_str(), Duration::from_secs(5))
        .await
        .expect("complete trace");
    assert_eq!(trace.roots().len(), 1);
    assert_eq!(trace.roots()[0].id, facade.to_string());
    (result, trace)
}

/// The handler subsegment: the function segment's only child (they share the function's name).
fn handler_of(trace: &Trace) -> &Entity {
    let facade = &trace.roots()[0];
    assert_eq!(facade.subsegments.len(), 1, "{:?}", facade.child_names());
    &facade.subsegments[0]
}

fn annotation<'a>(entity: &'a Entity, key: &str) -> Option<&'a AnnotationValue> {
    entity.annotations.get(key)
}

fn exception_messages(entity: &Entity) -> Vec<String> {
    match &entity.cause {
        Some(Cause::Exceptions { exceptions, .. }) => exceptions
            .iter()
            .filter_map(|exception| exception.message.clone())
            .collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn the_tree_assembles_under_the_function_segment() {
    let collector = collector().await;
    let layer = layer_for(&collector);
    let _guard = subscriber(layer.clone());
    let lambda = XrayLambdaLayer::new()
        .service("orders")
        .cold_start(crate::fresh_cold_start());
    let (result, trace) = traced(&collector, &lambda, json!({ "id": "o-1" })).await;
    assert_eq!(
        result.expect("handler result"),
        json!({ "id": "o-1", "total": 42 })
    );

    // Everything was sent before the response came back.
    let stats = layer.stats();
    assert_eq!(
        (
            stats.sent,
            stats.dropped,
            stats.trimmed,
            stats.annotations_dropped
        ),
        (7, 0, 0, 0),
        "six subsegments and the handler's in-progress copy"
    );
    assert!(
        collector.rejections().is_empty(),
        "{:?}",
        collector.rejections()
    );
    assert_eq!(trace.documents().len(), 7);

    let facade = &trace.roots()[0];
    assert_eq!(facade.child_names(), vec![FUNCTION]);
    let handler = &facade.subsegments[0];
    assert_eq!(handler.namespace.as_deref(), Some("local"));
    assert_eq!(
        annotation(handler, "ColdStart"),
        Some(&AnnotationValue::Bool(true))
    );
    assert_eq!(
        annotation(handler, "Service"),
        Some(&AnnotationValue::String("orders".into()))
    );
    assert_eq!(
        handler.metadata["default"]["response"],
        json!({ "id": "o-1", "total": 42 })
    );
    assert!(!handler.fault && !handler.error && !handler.throttle);
    let mut children = handler.child_names();
    children.sort_unstable();
    assert_eq!(
        children,
        vec!["audit", "inventory", "load_order", "payments"]
    );

    let load = handler.find("load_order").expect("load_order");
    assert_eq!(
        annotation(load, "order_id"),
        Some(&AnnotationValue::String("o-1".into()))
    );
    assert_eq!(load.metadata["default"]["shard"], json!(3));
    assert_eq!(load.metadata["default"]["region"], json!("eu-west-1"));
    assert_eq!(load.metadata["default"]["id"], json!("o-1"));
    assert_eq!(load.child_names(), vec!["orders-table"]);
    let query = &load.subsegments[0];
    assert!(!query.fault && !query.error);
    assert!(query.start_time >= load.start_time && query.end_time <= load.end_time);

    let audit = handler.find("audit").expect("audit");
    assert!(audit.fault && !audit.error);
    assert_eq!(exception_messages(audit), vec!["order o-1 not found"]);
    let payments = handler.find("payments").expect("payments");
    assert!(payments.throttle && payments.error && !payments.fault);
    let inventory = handler.find("inventory").expect("inventory");
    assert!(inventory.error && !inventory.throttle && !inventory.fault);

    // Every document is a standalone subsegment carrying type, trace id and parent id.
    for document in &trace.documents()[..6] {
        let value: Value = serde_json::from_str(document).expect("json");
        assert_eq!(value["type"], "subsegment");
        assert_eq!(value["trace_id"], trace.id());
        assert!(value["parent_id"].is_string());
        assert!(value.get("in_progress").is_none() && value.get("subsegments").is_none());
    }
    collector.shutdown().await;
}

#[tokio::test]
async fn a_handler_error_is_a_fault_with_a_cause() {
    let collector = collector().await;
    let layer = layer_for(&collector);
    let _guard = subscriber(layer.clone());
    let lambda = XrayLambdaLayer::new().name("checkout");
    let (result, trace) = traced(&collector, &lambda, json!({ "id": "fail" })).await;
    assert_eq!(
        result.expect_err("handler error").to_string(),
        "the database is down"
    );
    let handler = trace.find("checkout").expect("handler");
    assert!(handler.fault && !handler.error);
    assert_eq!(exception_messages(handler), vec!["the database is down"]);
    assert_eq!(
        handler.metadata["default"]["error"],
        json!("the database is down")
    );
    assert!(handler.metadata["default"].get("response").is_none());
    assert_eq!(
        annotation(handler, "Service"),
        Some(&AnnotationValue::String(FUNCTION.into()))
    );
    assert!(collector.rejections().is_empty());

    // Without capture, the cause stays but the metadata goes.
    let quiet = XrayLambdaLayer::new()
        .capture_error(false)
        .capture_response(false);
    let (_, trace) = traced(&collector, &quiet, json!({ "id": "fail" })).await;
    let handler = handler_of(&trace);
    assert!(handler.fault && handler.metadata.is_empty());
    let (_, trace) = traced(&collector, &quiet, json!({ "id": "o-2" })).await;
    assert!(handler_of(&trace).metadata.is_empty());
    collector.shutdown().await;
}

#[tokio::test]
async fn cold_start_is_true_only_for_the_first_invocation() {
    let collector = collector().await;
    let _guard = subscriber(layer_for(&collector));
    let on_demand = crate::fresh_cold_start();
    let mut cold_starts = Vec::new();
    // Two layers (two stacks built in one process) share the source: one cold start in all.
    for lambda in [XrayLambdaLayer::new(), XrayLambdaLayer::new()] {
        let lambda = lambda.cold_start(on_demand.clone());
        for _ in 0..2 {
            let (_, trace) = traced(&collector, &lambda, json!({ "id": "o-3" })).await;
            cold_starts.push(annotation(handler_of(&trace), "ColdStart").cloned());
        }
    }
    let expected = [true, false, false, false].map(|cold| Some(AnnotationValue::Bool(cold)));
    assert_eq!(cold_starts, expected);
    collector.shutdown().await;
}

#[tokio::test]
async fn provisioned_concurrency_and_snap_start_are_not_cold_starts() {
    let collector = collector().await;
    let _guard = subscriber(layer_for(&collector));
    for initialization_type in ["provisioned-concurrency", "snap-start"] {
        let source = ColdStart::for_initialization_type(Some(initialization_type));
        let lambda = XrayLambdaLayer::new().cold_start(source);
        let (_, trace) = traced(&collector, &lambda, json!({ "id": "o-3" })).await;
        assert_eq!(
            annotation(handler_of(&trace), "ColdStart"),
            Some(&AnnotationValue::Bool(false)),
            "{initialization_type}"
        );
    }
    collector.shutdown().await;
}

#[tokio::test]
async fn unsampled_or_untraced_invocations_send_nothing() {
    let collector = collector().await;
    let layer = layer_for(&collector);
    let _guard = subscriber(layer.clone());
    let lambda = XrayLambdaLayer::new();
    let (trace_id, facade, _) = sampled_trace();
    let headers = [
        Some(format!(
            "Root={trace_id};Parent={facade};Sampled=0;Lineage=a87bd80c:1"
        )),
        Some(format!("Root={trace_id};Parent={facade};Sampled=?")),
        Some(format!("Root={trace_id};Sampled=1")),
        Some("garbage".to_owned()),
        None,
    ];
    for header in &headers {
        let result = invoke(&lambda, json!({ "id": "o-4" }), header.as_deref()).await;
        assert_eq!(result.expect("result"), json!({ "id": "o-4", "total": 42 }));
    }
    // Spans outside any invocation are not traced either.
    drop(tracing::info_span!("background", annotation.job = "x").entered());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(layer.stats(), XrayStats::default());
    assert_eq!(collector.stats().received, 0);
    collector.shutdown().await;
}

#[tokio::test]
async fn at_most_fifty_annotations_per_trace() {
    let collector = collector().await;
    let layer = layer_for(&collector);
    let _guard = subscriber(layer.clone());
    let (trace_id, facade, header) = sampled_trace();
    let started = SystemTime::now();
    let lambda = XrayLambdaLayer::new();
    let service = lambda.layer(service_fn(|_: LambdaEvent<Value>| async {
        for index in 0..60_u64 {
            let _span = tracing::info_span!("step", annotation.index = index, annotation.ok = true)
                .entered();
        }
        Ok::<_, Error>(json!(null))
    }));
    service
        .oneshot(event(json!({}), Some(&header)))
        .await
        .expect("result");
    send_facade(&collector, &trace_id, facade, started).await;
    let trace = collector
        .wait_for_trace(trace_id.as_str(), Duration::from_secs(5))
        .await
        .expect("trace");
    let total: usize = trace
        .entities()
        .iter()
        .map(|(_, entity)| entity.annotations.len())
        .sum();
    assert_eq!(total, 50);
    // 2 on the handler, 48 on the steps, 120 - 48 dropped.
    assert_eq!(layer.stats().annotations_dropped, 72);
    assert!(collector.rejections().is_empty());
    collector.shutdown().await;
}

#[tokio::test]
async fn a_missing_or_garbage_daemon_does_not_affect_the_handler() {
    // Nothing listens: the port of a socket that was just closed.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let closed_address = closed.local_addr().expect("address");
    drop(closed);
    // A "daemon" that answers every datagram with garbage.
    let garbage = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let garbage_address = garbage.local_addr().expect("address");
    let answering = tokio::spawn(async move {
        let mut buffer = vec![0; 70_000];
        while let Ok((_, from)) = garbage.recv_from(&mut buffer).await {
            let _ = garbage.send_to(b"\xff\x00not a daemon", from).await;
        }
    });
    for address in [closed_address, garbage_address] {
        let layer = XrayLayer::new(address);
        let _guard = subscriber(layer.clone());
        let lambda = XrayLambdaLayer::new();
        for _ in 0..20 {
            let (_, _, header) = sampled_trace();
            let result = invoke(&lambda, json!({ "id": "o-5" }), Some(&header)).await;
            assert_eq!(result.expect("result"), json!({ "id": "o-5", "total": 42 }));
            let failed = invoke(&lambda, json!({ "id": "fail" }), Some(&header)).await;
            assert_eq!(
                failed.expect_err("error").to_string(),
                "the database is down"
            );
            tokio::task::yield_now().await;
        }
        let stats = layer.stats();
        assert_eq!(stats.sent + stats.dropped, 20 * 8, "{address}: {stats:?}");
    }
    answering.abort();
}

/// A service that opens its span in `call`, as `lambda_http`'s adapter and tower trace layers
/// do, and returns a future instrumented with it.
#[derive(Clone)]
struct SpanInCall;

impl tower::Service<LambdaEvent<Value>> for SpanInCall {
    type Response = Value;
    type Error = Error;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Value, Error>> + Send>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, event: LambdaEvent<Value>) -> Self::Future {
        let span = tracing::info_span!("api.request", annotation.groupId = "g-1");
        Box::pin(async move { Ok(event.payload) }.instrument(span))
    }
}

#[tokio::test]
async fn spans_opened_in_the_inner_services_call_are_children_of_the_handler() {
    let collector = collector().await;
    let layer = layer_for(&collector);
    let _guard = subscriber(layer.clone());
    let (trace_id, facade, header) = sampled_trace();
    let started = SystemTime::now();
    let result = XrayLambdaLayer::new()
        .layer(SpanInCall)
        .oneshot(event(json!({ "id": "o-2" }), Some(&header)))
        .await;
    assert_eq!(result.expect("response"), json!({ "id": "o-2" }));
    send_facade(&collector, &trace_id, facade, started).await;
    let trace = collector
        .wait_for_trace(trace_id.as_str(), Duration::from_secs(5))
        .await
        .expect("complete trace");
    let handler = handler_of(&trace);
    assert_eq!(handler.child_names(), vec!["api.request"]);
    assert_eq!(
        annotation(&handler.subsegments[0], "groupId"),
        Some(&AnnotationValue::String("g-1".into()))
    );
    collector.shutdown().await;
}

/// A handler Lambda stops at its timeout never closes its span, so its complete subsegment is
/// never sent. The subsegments it already finished must still hang in one tree: the handler is
/// sent `in_progress` before its first child, as the X-Ray SDKs send long work.
#[tokio::test]
async fn a_handler_that_never_ends_still_makes_one_tree() {
    let collector = collector().await;
    let _guard = subscriber(layer_for(&collector));
    let lambda = XrayLambdaLayer::new();
    let (trace_id, facade, header) = sampled_trace();
    let started = SystemTime::now();
    let hanging = service_fn(|_event: LambdaEvent<Value>| async {
        load_order("o-9").await?;
        // Lambda's timeout: the process is frozen or killed with the handler still running.
        std::future::pending::<()>().await;
        Ok::<Value, Error>(Value::Null)
    });
    let mut invocation = std::pin::pin!(
        lambda
            .layer(hanging)
            .oneshot(event(json!({}), Some(&header)))
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), invocation.as_mut())
            .await
            .is_err()
    );
    send_facade(&collector, &trace_id, facade, started).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let trace = collector.trace(trace_id.as_str()).expect("trace");
    assert!(
        collector.rejections().is_empty(),
        "{:?}",
        collector.rejections()
    );
    // One tree: the function segment, the handler still open, its finished children under it.
    assert_eq!(trace.roots().len(), 1, "{:?}", trace.missing());
    let handler = handler_of(&trace);
    assert!(handler.is_in_progress());
    assert_eq!(handler.child_names(), vec!["load_order"]);
    assert_eq!(handler.subsegments[0].child_names(), vec!["orders-table"]);
    assert_eq!(
        trace.missing(),
        &[lamina_local::xray::Missing::Open {
            id: handler.id.clone(),
            name: FUNCTION.to_owned()
        }]
    );
    collector.shutdown().await;
}
