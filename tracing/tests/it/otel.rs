//! The OpenTelemetry path against the native one: the same workload, exported to the X-Ray
//! daemon protocol, into a strict in-process `XrayCollector`. The OTLP exporter is checked
//! against the same tree in `otel_otlp`, which reuses this module's workload and helpers.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use lambda_runtime::{Config, Context, Error, LambdaEvent, service_fn};
use lamina_local::xray::{AnnotationValue, CollectorConfig, Trace, XrayCollector, send_document};
use lamina_tracing::otel::{OtelConfig, OtelTracing};
use lamina_tracing::xray::{SegmentId, TraceId, XrayLambdaLayer, XrayLayer, epoch_seconds};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt as _};
use tracing_subscriber::prelude::*;

pub(super) const FUNCTION: &str = "otel-orders-fn";

/// The workload: two nested spans below the handler span, one annotation.
async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let id = event.payload["id"].as_str().unwrap_or("none").to_owned();
    {
        let _load = tracing::info_span!("load_order", annotation.order_id = id.as_str()).entered();
        let _query = tracing::info_span!("query").entered();
    }
    Ok(json!({ "id": id }))
}

pub(super) async fn collector() -> XrayCollector {
    let bind = "127.0.0.1:0".parse().expect("address");
    XrayCollector::start(CollectorConfig::new().bind(bind))
        .await
        .expect("collector")
}

pub(super) fn event(header: &str) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.request_id = crate::unique_request_id();
    context.xray_trace_id = Some(header.to_owned());
    context.env_config = Arc::new(Config {
        function_name: FUNCTION.to_owned(),
        memory: 128,
        version: "$LATEST".to_owned(),
        ..Config::default()
    });
    LambdaEvent::new(json!({ "id": "o-7" }), context)
}

/// Lambda's `AWS::Lambda::Function` segment, so the trace completes.
async fn send_facade(
    collector: &XrayCollector,
    trace_id: &TraceId,
    facade: SegmentId,
    at: SystemTime,
) {
    let document = json!({
        "name": FUNCTION,
        "id": facade.to_string(),
        "trace_id": trace_id.to_string(),
        "start_time": epoch_seconds(at),
        "end_time": epoch_seconds(SystemTime::now()),
        "origin": "AWS::Lambda::Function",
    });
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("socket");
    send_document(&socket, collector.local_addr(), &document.to_string())
        .await
        .expect("send facade");
}

/// Runs one invocation through `layer` and returns the completed trace.
pub(super) async fn run<L>(collector: &XrayCollector, layer: L) -> (Trace, String)
where
    L: Layer<tower::util::ServiceFn<fn(LambdaEvent<Value>) -> HandlerFuture>>,
    L::Service: tower::Service<LambdaEvent<Value>, Response = Value, Error = Error>,
{
    let trace_id = TraceId::generate();
    let facade = SegmentId::generate();
    let header = format!("Root={trace_id};Parent={facade};Sampled=1");
    let started = SystemTime::now();
    let svc = layer.layer(service_fn(boxed_handler as fn(_) -> _));
    let response = svc.oneshot(event(&header)).await.expect("response");
    assert_eq!(response, json!({ "id": "o-7" }));
    send_facade(collector, &trace_id, facade, started).await;
    // Well under the batch processor's 5 s delay: only the flush can have sent the spans.
    let trace = collector
        .wait_for_trace(trace_id.as_str(), Duration::from_secs(2))
        .await
        .expect("complete trace");
    (trace, facade.to_string())
}

pub(super) type HandlerFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<Value, Error>> + Send>>;

pub(super) fn boxed_handler(event: LambdaEvent<Value>) -> HandlerFuture {
    Box::pin(handler(event))
}

/// (depth below the function segment, name) depth-first, plus each entity's parent id check.
pub(super) fn shape(trace: &Trace, facade: &str) -> Vec<(usize, String)> {
    assert_eq!(trace.roots().len(), 1, "one root");
    let root = &trace.roots()[0];
    assert_eq!(root.id, facade);
    for (_, entity) in root.descendants() {
        for child in &entity.subsegments {
            assert_eq!(child.parent_id.as_deref(), Some(entity.id.as_str()));
            assert_eq!(child.trace_id, trace.id());
        }
    }
    root.descendants()
        .into_iter()
        .map(|(depth, entity)| (depth, entity.name.clone()))
        .collect()
}

fn order_id(trace: &Trace) -> Option<AnnotationValue> {
    trace.roots()[0]
        .find("load_order")
        .and_then(|entity| entity.annotations.get("order_id").cloned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_and_native_produce_the_same_tree() {
    let native_collector = collector().await;
    let native = {
        let layer = XrayLayer::with_daemon_address(&native_collector.daemon_address())
            .expect("daemon address");
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
        let lambda = XrayLambdaLayer::new().cold_start(crate::fresh_cold_start());
        run(&native_collector, lambda).await
    };

    let otel_collector = collector().await;
    let otel =
        OtelTracing::init(OtelConfig::xray_daemon(otel_collector.local_addr())).expect("provider");
    let from_otel = {
        let _guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(otel.layer()));
        let lambda = otel.lambda_layer().cold_start(crate::fresh_cold_start());
        run(&otel_collector, lambda).await
    };

    let expected = vec![
        (0, FUNCTION.to_owned()),
        (1, FUNCTION.to_owned()),
        (2, "load_order".to_owned()),
        (3, "query".to_owned()),
    ];
    assert_eq!(shape(&native.0, &native.1), expected);
    assert_eq!(shape(&from_otel.0, &from_otel.1), expected);
    let o7 = Some(AnnotationValue::String("o-7".to_owned()));
    assert_eq!(order_id(&native.0), o7);
    assert_eq!(order_id(&from_otel.0), o7);
    for (trace, _) in [&native, &from_otel] {
        let handler = &trace.roots()[0].subsegments[0];
        assert_eq!(
            handler.annotations.get("ColdStart"),
            Some(&AnnotationValue::Bool(true))
        );
    }
    assert!(
        native_collector.rejections().is_empty(),
        "{:?}",
        native_collector.rejections()
    );
    assert!(
        otel_collector.rejections().is_empty(),
        "{:?}",
        otel_collector.rejections()
    );
    otel.provider().shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsampled_invocation_exports_nothing() {
    let collector = collector().await;
    let otel =
        OtelTracing::init(OtelConfig::xray_daemon(collector.local_addr())).expect("provider");
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(otel.layer()));
    let trace_id = TraceId::generate();
    let facade = SegmentId::generate();
    for header in [
        format!("Root={trace_id};Parent={facade};Sampled=0"),
        "garbage".to_owned(),
    ] {
        let svc = otel
            .lambda_layer()
            .layer(service_fn(boxed_handler as fn(_) -> _));
        let response = svc.oneshot(event(&header)).await.expect("response");
        assert_eq!(response, json!({ "id": "o-7" }));
    }
    otel.provider().shutdown().expect("shutdown");
    // Give any stray datagram time to arrive before asserting there was none.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(collector.stats().received, 0);
    assert!(collector.rejections().is_empty());
}
