//! The cost of one `canary` controller decision, and the AWS calls it makes.
//!
//! A rollout of `orders` (version 1 stable, version 2 at 10%) with two gates, `error-rate<=stable`
//! and `duration-p99<=800ms`, over a minute of traffic, on the in-memory ports (which enforce
//! what AWS does, without the network): `run_once` is one whole decision (read the alias,
//! evaluate the gates from one metrics fetch, decide), with the record cached as in a warm
//! `canary run --follow` or a warm scheduled Lambda.
//!
//! Absolute times on shared machines are noise; compare the ratios measured in one run.

#![allow(missing_docs)]

use std::{
    hint::black_box,
    sync::Arc,
    time::{Duration, UNIX_EPOCH},
};

use criterion::{Criterion, criterion_group, criterion_main};
use lamina_canary::{
    clock::ManualClock,
    controller::{Controller, DeployRequest, Ports, VersionChoice},
    gate::GatePolicy,
    memory::{InMemoryLambda, InMemoryMetrics, InMemoryRecords, TrafficSimulator},
};

const FUNCTION: &str = "orders";
const ALIAS: &str = "live";

struct Rollout {
    lambda: Arc<InMemoryLambda>,
    records: Arc<InMemoryRecords>,
    metrics: Arc<InMemoryMetrics>,
    controller: Controller,
}

/// A rollout at its first step (10% for an hour), with a minute of traffic behind it.
fn rollout(rt: &tokio::runtime::Runtime) -> Rollout {
    let lambda = Arc::new(InMemoryLambda::new());
    lambda.add_function(FUNCTION);
    lambda.add_version(FUNCTION);
    lambda.add_version(FUNCTION);
    lambda.add_alias(FUNCTION, ALIAS, "1", "production traffic");
    let records = Arc::new(InMemoryRecords::new());
    let metrics = Arc::new(InMemoryMetrics::new());
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let controller = Controller::new(Ports {
        aliases: lambda.clone(),
        records: records.clone(),
        metrics: metrics.clone(),
        hooks: lambda.clone(),
        clock: Arc::new(clock.clone()),
    });
    let request = DeployRequest {
        function: FUNCTION.to_owned(),
        alias: ALIAS.to_owned(),
        version: VersionChoice::Existing("2".to_owned()),
        strategy: "steps:10,50@1h".parse().unwrap_or_else(|e| panic!("{e}")),
        gates: ["error-rate<=stable", "duration-p99<=800ms"]
            .iter()
            .map(|gate| gate.parse().unwrap_or_else(|e| panic!("{e}")))
            .collect(),
        policy: GatePolicy::default(),
        pre_hook: None,
        post_hook: None,
    };
    rt.block_on(controller.deploy(request))
        .unwrap_or_else(|e| panic!("deploy: {e}"));
    let traffic = TrafficSimulator::new(
        lambda.clone(),
        metrics.clone(),
        clock,
        FUNCTION,
        ALIAS,
        1000,
    );
    traffic.minute();
    // One decision warms the record cache.
    rt.block_on(controller.run_once(FUNCTION, ALIAS))
        .unwrap_or_else(|e| panic!("first decision: {e}"));
    Rollout {
        lambda,
        records,
        metrics,
        controller,
    }
}

fn decision(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let rollout = rollout(&rt);

    // The AWS calls one warm decision makes, counted by the in-memory ports.
    rollout.lambda.reset_calls();
    let (lambda_before, records_before) = (rollout.lambda.total_calls(), records_calls(&rollout));
    let fetches_before = rollout.metrics.calls("fetch") + rollout.metrics.calls("alarm_states");
    rt.block_on(rollout.controller.run_once(FUNCTION, ALIAS))
        .unwrap_or_else(|e| panic!("decision: {e}"));
    let calls = rollout.lambda.total_calls() - lambda_before + records_calls(&rollout)
        - records_before
        + rollout.metrics.calls("fetch")
        + rollout.metrics.calls("alarm_states")
        - fetches_before;
    eprintln!("canary: AWS calls in one warm decision (hold, two gates): {calls}");

    let mut group = c.benchmark_group("canary");
    group.bench_function("one decision, two gates, warm record", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(rollout.controller.run_once(FUNCTION, ALIAS).await) });
    });
    group.finish();
}

fn records_calls(rollout: &Rollout) -> u64 {
    [
        "create_record",
        "get_record",
        "history",
        "list_records",
        "delete_records",
    ]
    .iter()
    .map(|method| rollout.records.calls(method))
    .sum()
}

criterion_group!(benches, decision);
criterion_main!(benches);
