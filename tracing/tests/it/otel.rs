//! The OpenTelemetry path against the native one: the same workload, exported to the X-Ray
//! daemon protocol, into a strict in-process `XrayCollector`.

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

const FUNCTION: &str = "otel-orders-fn";

/// The workload: two nested spans below the handler span, one annotation.
async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let id = event.payload["id"].as_str().unwrap_or("none").to_owned();
    {
        let _load = tracing::info_span!("load_order", annotation.order_id = id.as_str()).entered();
        let _query = tracing::info_span!("query").entered();
    }
    Ok(json!({ "id": id }))
}

async fn collector() -> XrayCollector {
    let bind = "127.0.0.1:0".parse().expect("address");
    XrayCollector::start(CollectorConfig::new().bind(bind))
        .await
        .expect("collector")
}

fn event(header: &str) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned();
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
async fn run<L>(collector: &XrayCollector, layer: L) -> (Trace, String)
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

type HandlerFuture = std::pin::Pin<Box<dyn Future<Output = Result<Value, Error>> + Send>>;

fn boxed_handler(event: LambdaEvent<Value>) -> HandlerFuture {
    Box::pin(handler(event))
}

/// (depth below the function segment, name) depth-first, plus each entity's parent id check.
fn shape(trace: &Trace, facade: &str) -> Vec<(usize, String)> {
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
        run(&native_collector, XrayLambdaLayer::new()).await
    };

    let otel_collector = collector().await;
    let otel =
        OtelTracing::init(OtelConfig::xray_daemon(otel_collector.local_addr())).expect("provider");
    let from_otel = {
        let _guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(otel.layer()));
        run(&otel_collector, otel.lambda_layer()).await
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

/// A collector's OTLP/HTTP receiver stand-in: counts `POST /v1/traces` requests with a protobuf
/// body and answers 200, as a collector does.
async fn otlp_receiver() -> (String, Arc<std::sync::Mutex<Vec<(String, String, usize)>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!(
        "http://{}/v1/traces",
        listener.local_addr().expect("address")
    );
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let head_end = buffer.windows(4).position(|w| w == b"\r\n\r\n");
                    if let Some(end) = head_end {
                        let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buffer.len() >= end + 4 + length {
                            let request_line = head.lines().next().unwrap_or_default().to_owned();
                            let content_type = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-type:"))
                                .unwrap_or_default()
                                .trim()
                                .to_owned();
                            record
                                .lock()
                                .expect("lock")
                                .push((request_line, content_type, length));
                            buffer.drain(..end + 4 + length);
                            let reply = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                            if socket.write_all(reply.as_bytes()).await.is_err() {
                                return;
                            }
                            continue;
                        }
                    }
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => buffer.extend_from_slice(&chunk[..read]),
                    }
                }
            });
        }
    });
    (endpoint, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_otlp_exporter_delivers_before_the_invocation_returns() {
    let (endpoint, seen) = otlp_receiver().await;
    let otel = OtelTracing::init(OtelConfig::otlp(endpoint)).expect("provider");
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(otel.layer()));
    let header = format!(
        "Root={};Parent={};Sampled=1",
        TraceId::generate(),
        SegmentId::generate()
    );
    let svc = otel
        .lambda_layer()
        .layer(service_fn(boxed_handler as fn(_) -> _));
    let response = svc.oneshot(event(&header)).await.expect("response");
    assert_eq!(response, json!({ "id": "o-7" }));
    // No waiting: the layer's flush must already have delivered the batch (the batch processor
    // would otherwise hold it for 5 s).
    let requests = seen.lock().expect("lock").clone();
    assert!(
        !requests.is_empty(),
        "no OTLP export arrived before the response"
    );
    for (request_line, content_type, length) in &requests {
        assert!(
            request_line.starts_with("post /v1/traces "),
            "{request_line}"
        );
        assert_eq!(content_type, "application/x-protobuf");
        assert!(*length > 0);
    }
    otel.provider().shutdown().expect("shutdown");
}

#[tokio::test]
async fn a_bad_otlp_endpoint_is_a_clear_error() {
    let error = OtelTracing::init(OtelConfig::otlp("not a url"))
        .err()
        .map(|e| e.to_string());
    let error = error.unwrap_or_default();
    assert!(
        error.contains("cannot build the OTLP exporter for not a url"),
        "{error}"
    );
    assert!(!error.contains("Tokio runtime"), "{error}");
}

#[test]
fn otlp_export_needs_a_tokio_runtime_and_says_so() {
    let error = OtelTracing::init(OtelConfig::otlp("http://localhost:4318/v1/traces"))
        .err()
        .map(|e| e.to_string());
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("inside a Tokio runtime")),
        "{error:?}"
    );
}
