//! X-Ray: the trace header against the Python SDK, and invocations traced in-process into a
//! real `XrayCollector`.

pub mod emulator;
mod invocation;
mod python;

use std::{sync::Arc, time::SystemTime};

use lambda_runtime::{Config, Context, LambdaEvent};
use lamina_local::xray::{CollectorConfig, XrayCollector, send_document};
use lamina_tracing::xray::{SegmentId, TraceId, XrayLayer, epoch_seconds};
use serde_json::json;

/// The function name every test invocation carries.
const FUNCTION: &str = "orders-fn";

async fn collector() -> XrayCollector {
    let bind = "127.0.0.1:0".parse().expect("address");
    XrayCollector::start(CollectorConfig::new().bind(bind))
        .await
        .expect("collector")
}

fn layer_for(collector: &XrayCollector) -> XrayLayer {
    XrayLayer::with_daemon_address(&collector.daemon_address()).expect("daemon address")
}

/// A fresh sampled trace: the trace id, Lambda's function segment id, and the header value.
fn sampled_trace() -> (TraceId, SegmentId, String) {
    let trace_id = TraceId::generate();
    let facade = SegmentId::generate();
    let header = format!("Root={trace_id};Parent={facade};Sampled=1;Lineage=a87bd80c:1");
    (trace_id, facade, header)
}

fn event(payload: serde_json::Value, trace_header: Option<&str>) -> LambdaEvent<serde_json::Value> {
    let mut context = Context::default();
    context.request_id = crate::unique_request_id();
    context.xray_trace_id = trace_header.map(str::to_owned);
    context.env_config = Arc::new(Config {
        function_name: FUNCTION.to_owned(),
        memory: 128,
        version: "$LATEST".to_owned(),
        ..Config::default()
    });
    LambdaEvent::new(payload, context)
}

/// Sends the `AWS::Lambda::Function` segment Lambda records itself, so the trace completes.
async fn send_facade(
    collector: &XrayCollector,
    trace_id: &TraceId,
    facade: SegmentId,
    started: SystemTime,
) {
    let document = json!({
        "name": FUNCTION,
        "id": facade.to_string(),
        "trace_id": trace_id.to_string(),
        "start_time": epoch_seconds(started),
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
