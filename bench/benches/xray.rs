//! The cost of one span turned into a sent X-Ray subsegment, in Rust with `lamina-tracing` and, in
//! the same run, in Python with the official `aws-xray-sdk` doing the same work (one subsegment with
//! one annotation, streamed to the daemon as its own document). Report the ratio.
//!
//! Both send real UDP datagrams to a socket on loopback that a thread drains.

#![allow(missing_docs)]

use std::hint::black_box;
use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use lamina_tracing::xray::{SegmentId, TraceId, XrayLayer};
use tracing_subscriber::layer::SubscriberExt as _;

/// A UDP "daemon" on loopback that reads and discards every datagram, so sends never back up.
fn draining_daemon() -> std::net::SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let address = socket
        .local_addr()
        .unwrap_or_else(|e| panic!("address: {e}"));
    std::thread::spawn(move || {
        let mut buffer = vec![0u8; 65_536];
        while socket.recv(&mut buffer).is_ok() {}
    });
    address
}

const PYTHON_SUBSEGMENTS: &str = r#"
import sys, time, logging
logging.disable(logging.CRITICAL)
from aws_xray_sdk.core import xray_recorder
xray_recorder.configure(daemon_address=sys.argv[1], context_missing="LOG_ERROR", sampling=False,
                        streaming_threshold=0)
xray_recorder.begin_segment("bench")
iterations = int(sys.argv[2])
start = time.perf_counter()
for _ in range(iterations):
    subsegment = xray_recorder.begin_subsegment("work")
    subsegment.put_annotation("k", 1)
    xray_recorder.end_subsegment()
print(time.perf_counter() - start)
"#;

fn subsegment(c: &mut Criterion) {
    let daemon = draining_daemon();
    let layer = XrayLayer::new(daemon);
    let stats = layer.clone();
    let subscriber = tracing_subscriber::registry().with(layer);
    let mut group = c.benchmark_group("X-Ray subsegment sent");
    tracing::subscriber::with_default(subscriber, || {
        let trace_id = TraceId::generate();
        let parent = SegmentId::generate();
        let root = tracing::info_span!(
            "lambda.handler",
            "xray.trace_id" = trace_id.as_str(),
            "xray.parent_id" = parent.to_string(),
        );
        let _invocation = root.enter();
        group.bench_function("Rust, lamina-tracing", |b| {
            b.iter(|| {
                let span = tracing::info_span!("work", annotation.k = black_box(1_u64));
                drop(span);
            });
        });
    });
    let sent = stats.stats().sent;
    assert!(sent > 0, "no subsegment was sent: {:?}", stats.stats());

    group.sample_size(10);
    group.bench_function("Python, aws-xray-sdk", |b| {
        b.iter_custom(|iterations| {
            let output = Command::new("python3")
                .args([
                    "-c",
                    PYTHON_SUBSEGMENTS,
                    &daemon.to_string(),
                    &iterations.to_string(),
                ])
                .output()
                .unwrap_or_else(|e| panic!("python3: {e}"));
            assert!(
                output.status.success(),
                "the Python SDK failed (python3 -m pip install aws-xray-sdk): {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let seconds: f64 = String::from_utf8_lossy(&output.stdout)
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("python output: {e}"));
            Duration::from_secs_f64(seconds)
        });
    });
    group.finish();
}

criterion_group!(benches, subsegment);
criterion_main!(benches);
