//! Cold start, side by side: every variant of `lamina_bench::cold_start::VARIANTS` started as a fresh
//! process by the `lamina-local` emulator for each sample, answering the same API Gateway request.
//!
//! The samples are taken first, round-robin over the variants; then three benchmark groups read
//! them: `cold start init` (spawn to the first `/next`), `cold start first response` (invoke, spawn
//! included, to the first answer) and `cold start warm invocation`. The samples themselves, peak RSS
//! and binary sizes are saved beside criterion's estimates; the report takes its medians from them,
//! so the three figures of a variant are always of the same processes.
//!
//! Environment: `LAMINA_BENCH_VARIANTS` (comma-separated ids) runs only those variants;
//! `LAMINA_BENCH_SAMPLES` sets the number of processes per variant (default 20, at least 10).

#![allow(missing_docs)]

use std::cell::RefCell;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use lamina_bench::cold_start::{
    Fixtures, Metric, Prepared, SamplePool, VARIANTS, VariantResult, prepare, sample,
};
use lamina_bench::results;
use serde_json::json;

fn wanted(id: &str) -> bool {
    std::env::var("LAMINA_BENCH_VARIANTS")
        .map(|list| list.split(',').any(|w| w.trim() == id))
        .unwrap_or(true)
}

fn cold_start(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let fixtures = rt
        .block_on(Fixtures::start())
        .unwrap_or_else(|e| panic!("the cold-start fixtures did not start: {e}"));
    let samples = std::env::var("LAMINA_BENCH_SAMPLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_usize)
        .max(10);

    let mut prepared: Vec<Prepared> = Vec::new();
    let mut skipped: Vec<VariantResult> = Vec::new();
    for variant in VARIANTS.iter().filter(|v| wanted(v.id)) {
        match prepare(variant, &fixtures) {
            Ok(ready) => prepared.push(ready),
            Err(reason) => {
                println!("skipping cold-start variant {}: {reason}", variant.id);
                skipped.push(VariantResult {
                    id: variant.id.to_owned(),
                    label: variant.label.to_owned(),
                    language: variant.language,
                    ablation: variant.ablation,
                    runtime: String::new(),
                    binary_bytes: None,
                    samples: Vec::new(),
                    skipped: Some(reason),
                });
            }
        }
    }

    // Samples first, round-robin over the variants, so that load from other work on the machine
    // falls on every variant alike; one discarded round first warms the page cache. Test mode
    // (`cargo test --benches`) takes one round.
    let measuring = results::measuring();
    let rounds = if measuring { samples + 1 } else { 1 };
    let pools: Vec<RefCell<SamplePool>> = prepared.iter().map(|_| RefCell::default()).collect();
    for round in 0..rounds {
        for (ready, pool) in prepared.iter().zip(&pools) {
            let taken = rt
                .block_on(sample(ready, &fixtures.event(ready.variant.route)))
                .unwrap_or_else(|e| panic!("{e}"));
            if round > 0 || !measuring {
                pool.borrow_mut().push(taken);
            }
        }
    }

    for metric in Metric::ALL {
        let mut group = c.benchmark_group(metric.group());
        group
            .sample_size(samples)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_millis(1))
            .measurement_time(Duration::from_millis(1));
        for (ready, pool) in prepared.iter().zip(&pools) {
            group.bench_function(ready.variant.id, |b| {
                b.iter_custom(|iterations| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        let taken = pool.borrow_mut().next(metric);
                        total += taken.map_or(Duration::ZERO, |s| metric.of(&s));
                    }
                    total
                });
            });
        }
        group.finish();
    }

    let documents = fixtures.xray_documents();
    assert!(
        prepared.is_empty() || documents > 0,
        "no X-Ray document reached the collector"
    );
    let mut variants: Vec<VariantResult> = prepared
        .iter()
        .zip(&pools)
        .map(|(ready, pool)| VariantResult {
            id: ready.variant.id.to_owned(),
            label: ready.variant.label.to_owned(),
            language: ready.variant.language,
            ablation: ready.variant.ablation,
            runtime: ready.runtime.clone(),
            binary_bytes: ready.binary_bytes,
            samples: pool.borrow().samples().to_vec(),
            skipped: None,
        })
        .collect();
    variants.extend(skipped);
    for result in &variants {
        if let Some(mb) = result.median_memory_mb() {
            println!(
                "{:<28} max memory used (median of {}): {mb} MB{}",
                result.id,
                result.samples.len(),
                result
                    .binary_bytes
                    .map(|b| format!(", binary {:.2} MB", b as f64 / 1e6))
                    .unwrap_or_default()
            );
        }
    }
    if results::measuring() {
        let saved = results::save(
            "cold_start",
            &json!({"variants": variants, "xray_documents": documents}),
        )
        .unwrap_or_else(|e| panic!("saving the cold-start results: {e}"));
        println!("saved {}", saved.display());
    }
    rt.block_on(fixtures.shutdown());
}

criterion_group!(benches, cold_start);
criterion_main!(benches);
