//! Per-request cost of `lamina-middleware`: the whole stack against the bare handler, a JWT
//! verification with and without the verification cache, and a secret cache hit.
//!
//! Absolute times on shared machines are noise; compare the ratios measured in one run.

#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tower::ServiceExt as _;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

fn stack_overhead(c: &mut Criterion) {
    let rt = runtime();
    let token = lamina_bench::token();
    let bare = lamina_bench::bare_service();
    let stack =
        lamina_bench::stack_service(lamina_bench::verifier(1024), lamina_bench::secret_cache());
    // Warm the verification and secret caches, as every request after the first finds them.
    rt.block_on(async {
        let warm = stack.clone().oneshot(lamina_bench::request(&token)).await;
        assert_eq!(warm.map(|r| r.status().as_u16()).ok(), Some(200));
    });
    let mut group = c.benchmark_group("request");
    group.bench_function("bare handler", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(bare.clone().oneshot(lamina_bench::request(&token)).await)
        });
    });
    group.bench_function("whole stack, cached token", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(stack.clone().oneshot(lamina_bench::request(&token)).await)
        });
    });
    group.finish();
}

fn jwt_verification(c: &mut Criterion) {
    let rt = runtime();
    let token = lamina_bench::token();
    let uncached = lamina_bench::verifier(0);
    let cached = lamina_bench::verifier(1024);
    rt.block_on(async {
        assert!(cached.verify(&token).await.is_ok());
    });
    let mut group = c.benchmark_group("jwt");
    group.bench_function("verify RS256, signature checked", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(uncached.verify(&token).await) });
    });
    group.bench_function("verify RS256, cached", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(cached.verify(&token).await) });
    });
    group.finish();
}

fn secret_cache_hit(c: &mut Criterion) {
    let rt = runtime();
    let cache = lamina_bench::secret_cache();
    rt.block_on(async {
        assert!(cache.get_string("api-key").await.is_ok());
    });
    c.bench_function("secret cache hit", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(cache.get_string("api-key").await) });
    });
}

criterion_group!(benches, stack_overhead, jwt_verification, secret_cache_hit);
criterion_main!(benches);
