//! Per-invocation cost of `lamina-tracing`'s outputs: an EMF metrics flush and a JSON log line.
//!
//! Absolute times on shared machines are noise; compare the ratios measured in one run.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use lamina_tracing::logs::{LogConfig, LogLayer};
use lamina_tracing::metrics::{Metrics, MetricsConfig, Unit, WriterSink};
use tracing_subscriber::layer::SubscriberExt as _;

fn emf_flush(c: &mut Criterion) {
    let config = MetricsConfig::new()
        .namespace("Lamina")
        .and_then(|config| config.service("bench"))
        .unwrap_or_else(|e| panic!("metrics config: {e}"));
    let sink = WriterSink::new(std::io::sink());
    c.bench_function("EMF flush, 5 metrics", |b| {
        b.iter(|| {
            let metrics = Metrics::new(config.clone()).unwrap_or_else(|e| panic!("metrics: {e}"));
            for (name, value) in [
                ("Orders", 1.0),
                ("Latency", 12.5),
                ("Bytes", 512.0),
                ("Hits", 3.0),
                ("Misses", 0.0),
            ] {
                metrics
                    .add_metric(name, Unit::Count, value)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            black_box(metrics.flush_to(&sink))
        });
    });
}

fn log_line(c: &mut Criterion) {
    let layer = LogLayer::new(LogConfig::new()).with_writer(std::io::sink);
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        c.bench_function("JSON log line, 2 fields", |b| {
            b.iter(|| {
                tracing::info!(
                    order_id = black_box(42_u64),
                    customer = "c-7",
                    "order placed"
                );
            });
        });
    });
}

criterion_group!(benches, emf_flush, log_line);
criterion_main!(benches);
