//! The OpenTelemetry path exported as OTLP over HTTP: what a collector's receiver decodes from
//! the wire is the same trace tree the native `XrayLayer` sends to the daemon, delivered before
//! the invocation returns.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use lambda_runtime::service_fn;
use lamina_tracing::otel::{OtelConfig, OtelTracing};
use lamina_tracing::xray::{SegmentId, TraceId, XrayLambdaLayer, XrayLayer};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{AnyValue, any_value::Value as OtlpValue},
    trace::v1::Span,
};
use prost::Message as _;
use serde_json::json;
use tower::{Layer as _, ServiceExt as _};
use tracing_subscriber::prelude::*;

use super::otel::{FUNCTION, boxed_handler, collector, event, run, shape};

/// One `POST` as the receiver saw it: the request line and content type (lowercased), the body
/// length, and the body decoded as an OTLP trace export.
#[derive(Debug, Clone)]
struct OtlpRequest {
    request_line: String,
    content_type: String,
    length: usize,
    export: Result<ExportTraceServiceRequest, prost::DecodeError>,
}

type Received = Arc<Mutex<Vec<OtlpRequest>>>;

/// A collector's OTLP/HTTP receiver stand-in: decodes each request body as an
/// `ExportTraceServiceRequest` and answers 200, as a collector does.
async fn otlp_receiver() -> (String, Received) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!(
        "http://{}/v1/traces",
        listener.local_addr().expect("address")
    );
    let seen = Received::default();
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
                        let body_start = end + 4;
                        if buffer.len() >= body_start + length {
                            let request_line = head.lines().next().unwrap_or_default().to_owned();
                            let content_type = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-type:"))
                                .unwrap_or_default()
                                .trim()
                                .to_owned();
                            let body = &buffer[body_start..body_start + length];
                            let export = ExportTraceServiceRequest::decode(body);
                            record.lock().expect("lock").push(OtlpRequest {
                                request_line,
                                content_type,
                                length,
                                export,
                            });
                            buffer.drain(..body_start + length);
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

/// Checks every request's wire form and returns all the spans they carried.
fn received_spans(requests: &[OtlpRequest]) -> Vec<Span> {
    assert!(
        !requests.is_empty(),
        "no OTLP export arrived before the response"
    );
    let mut spans = Vec::new();
    for request in requests {
        assert!(
            request.request_line.starts_with("post /v1/traces "),
            "{}",
            request.request_line
        );
        assert_eq!(request.content_type, "application/x-protobuf");
        assert!(request.length > 0);
        let export = request
            .export
            .as_ref()
            .expect("an ExportTraceServiceRequest");
        spans.extend(
            export
                .resource_spans
                .iter()
                .flat_map(|resource| &resource.scope_spans)
                .flat_map(|scope| scope.spans.iter().cloned()),
        );
    }
    spans
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The OTel trace id in X-Ray form: `1-{first 8 hex}-{last 24 hex}`.
fn xray_trace_id(otel: &[u8]) -> String {
    assert_eq!(otel.len(), 16, "an OTel trace id is 16 bytes");
    let hex = hex(otel);
    format!("1-{}-{}", &hex[..8], &hex[8..])
}

/// The same (depth, name) list as `otel::shape`, rebuilt from the spans' `parent_span_id`s.
/// Depth 0 is Lambda's function segment `facade`: Lambda sends it to X-Ray, so the spans only
/// name it as the parent of the handler span. Checks on the way that every span belongs to
/// `trace_id`, has a unique id, hangs off the facade or another received span, and is reached.
fn otlp_shape(spans: &[Span], trace_id: &str, facade: &str) -> Vec<(usize, String)> {
    let mut ids = HashSet::new();
    for span in spans {
        assert_eq!(xray_trace_id(&span.trace_id), trace_id, "{}", span.name);
        assert_eq!(span.span_id.len(), 8, "{}", span.name);
        assert!(
            ids.insert(hex(&span.span_id)),
            "duplicate span {}",
            span.name
        );
    }
    for span in spans {
        let parent = hex(&span.parent_span_id);
        assert!(
            parent == facade || ids.contains(&parent),
            "{} has parent {parent:?}, neither the facade nor a received span",
            span.name
        );
    }
    let children = |parent: &str| {
        let mut children: Vec<&Span> = spans
            .iter()
            .filter(|span| hex(&span.parent_span_id) == parent)
            .collect();
        children.sort_by_key(|span| span.start_time_unix_nano);
        children
    };
    assert_eq!(children(facade).len(), 1, "one span below the facade");
    let mut out = Vec::new();
    let mut stack = vec![(0, facade.to_owned(), FUNCTION.to_owned())];
    while let Some((depth, id, name)) = stack.pop() {
        out.push((depth, name));
        stack.extend(
            children(&id)
                .into_iter()
                .rev()
                .map(|span| (depth + 1, hex(&span.span_id), span.name.clone())),
        );
    }
    assert_eq!(
        out.len(),
        spans.len() + 1,
        "every span reached from the facade"
    );
    out
}

/// The value of the attribute `key` on the first span named `name`.
fn attribute(spans: &[Span], name: &str, key: &str) -> Option<OtlpValue> {
    spans
        .iter()
        .find(|span| span.name == name)?
        .attributes
        .iter()
        .find(|attribute| attribute.key == key)?
        .value
        .clone()
        .and_then(|AnyValue { value }| value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_and_native_produce_the_same_tree() {
    let native_collector = collector().await;
    let (native, native_facade) = {
        let layer = XrayLayer::with_daemon_address(&native_collector.daemon_address())
            .expect("daemon address");
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
        let lambda = XrayLambdaLayer::new().cold_start(crate::fresh_cold_start());
        run(&native_collector, lambda).await
    };
    let native_shape = shape(&native, &native_facade);

    let (endpoint, seen) = otlp_receiver().await;
    let otel = OtelTracing::init(OtelConfig::otlp(endpoint)).expect("provider");
    let trace_id = TraceId::generate();
    let facade = SegmentId::generate().to_string();
    {
        let _guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(otel.layer()));
        let svc = otel
            .lambda_layer()
            .cold_start(crate::fresh_cold_start())
            .layer(service_fn(boxed_handler as fn(_) -> _));
        let header = format!("Root={trace_id};Parent={facade};Sampled=1");
        let response = svc.oneshot(event(&header)).await.expect("response");
        assert_eq!(response, json!({ "id": "o-7" }));
    }
    // No waiting: the layer's flush must already have delivered the batch (the batch processor
    // would otherwise hold it for 5 s).
    let requests = seen.lock().expect("lock").clone();
    let spans = received_spans(&requests);

    assert_eq!(otlp_shape(&spans, trace_id.as_str(), &facade), native_shape);
    assert_eq!(
        native_shape,
        [
            (0, FUNCTION.to_owned()),
            (1, FUNCTION.to_owned()),
            (2, "load_order".to_owned()),
            (3, "query".to_owned()),
        ]
    );
    // Annotations travel as `annotation.`-prefixed attributes, for the collector to index.
    assert_eq!(
        attribute(&spans, "load_order", "annotation.order_id"),
        Some(OtlpValue::StringValue("o-7".to_owned()))
    );
    assert_eq!(
        attribute(&spans, FUNCTION, "annotation.ColdStart"),
        Some(OtlpValue::BoolValue(true))
    );
    assert!(
        native_collector.rejections().is_empty(),
        "{:?}",
        native_collector.rejections()
    );
    otel.provider().shutdown().expect("shutdown");
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
    assert!(!received_spans(&requests).is_empty());
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
