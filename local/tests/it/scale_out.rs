//! Lambda's concurrency model: an execution environment per concurrent invocation up to the
//! function's concurrency, throttling beyond it, replacement of a crashed environment.

use std::collections::BTreeSet;
use std::time::Duration;

use lamina_local::apigw::{RestApi, RestApiConfig};
use lamina_local::emulator::{Emulator, EmulatorError, InvocationReport, InvokeEndpoint};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::support::{body_json, echo_config, emulator, post};

fn spawn_invoke(emulator: &Emulator, event: Value) -> JoinHandle<InvocationReport> {
    let emulator = emulator.clone();
    tokio::spawn(async move { emulator.invoke(event.to_string()).await.unwrap() })
}

/// Waits (up to 30 s) until `emulator` has `running` environments checked out or idle.
async fn wait_for_environments(emulator: &Emulator, running: usize) {
    for _ in 0..600 {
        if emulator.environments().running == running {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "expected {running} environments, have {:?}",
        emulator.environments()
    );
}

fn u64_field(body: &Value, field: &str) -> u64 {
    body[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {body}"))
}

#[tokio::test]
async fn n_concurrent_callers_get_n_environments_and_the_next_is_throttled() {
    const N: usize = 4;
    let emulator = emulator(echo_config().concurrency(N)).await;
    let burst: Vec<_> = (0..N)
        .map(|i| spawn_invoke(&emulator, json!({"echo": i, "sleep_ms": 1500})))
        .collect();
    // All N are checked out and sleeping for 1.5 s after their hand-over: one more is throttled.
    wait_for_environments(&emulator, N).await;
    match emulator.invoke(r#"{"echo": "one too many"}"#).await {
        Err(EmulatorError::TooManyRequests { concurrency }) => assert_eq!(concurrency, N),
        other => panic!("expected a throttle, got {other:?}"),
    }

    let mut reports = Vec::new();
    for call in burst {
        reports.push(call.await.unwrap());
    }
    let bodies: Vec<Value> = reports.iter().map(body_json).collect();
    let environments: BTreeSet<u64> = reports.iter().map(|r| r.environment).collect();
    assert_eq!(environments, (1..=N as u64).collect(), "{reports:#?}");
    let pids: BTreeSet<u64> = bodies.iter().map(|b| u64_field(b, "pid")).collect();
    assert_eq!(pids.len(), N, "{bodies:#?}");
    let log_streams: BTreeSet<&str> = reports.iter().map(|r| r.log_stream.as_str()).collect();
    assert_eq!(log_streams.len(), N);
    assert!(
        reports
            .iter()
            .all(|r| r.cold_start && r.init_duration.is_some()),
        "{reports:#?}"
    );
    for report in &reports {
        assert!(
            report
                .to_string()
                .ends_with(&format!("Environment: {}", report.environment)),
            "{report}"
        );
    }
    // The handlers ran at the same time: the last to start started before the first to end ended.
    let last_start = bodies.iter().map(|b| u64_field(b, "started_ms")).max();
    let first_end = bodies.iter().map(|b| u64_field(b, "ended_ms")).min();
    assert!(last_start < first_end, "{bodies:#?}");

    // A second burst finds them warm: no cold start, the same environments.
    let again: Vec<_> = (0..N)
        .map(|i| spawn_invoke(&emulator, json!({"echo": i, "sleep_ms": 300})))
        .collect();
    let mut warm = Vec::new();
    for call in again {
        warm.push(call.await.unwrap());
    }
    assert!(
        warm.iter()
            .all(|r| !r.cold_start && r.init_duration.is_none())
    );
    let reused: BTreeSet<u64> = warm.iter().map(|r| r.environment).collect();
    assert!(reused.is_subset(&environments), "{reused:?}");
    assert_eq!(emulator.environments().running, N);
    emulator.shutdown().await;
    assert_eq!(emulator.environments().running, 0);
}

#[tokio::test]
async fn an_environment_that_crashes_mid_burst_is_replaced_while_the_others_serve() {
    let emulator = emulator(echo_config().concurrency(3)).await;
    let survivors: Vec<_> = (0..2)
        .map(|i| spawn_invoke(&emulator, json!({"echo": i, "sleep_ms": 4000})))
        .collect();
    let crash = emulator
        .invoke(r#"{"sleep_ms": 200, "exit": 3}"#)
        .await
        .unwrap();
    assert_eq!(crash.outcome.error_type(), Some("Runtime.ExitError"));
    assert_eq!(
        emulator.environments().running,
        2,
        "the crashed one is gone"
    );

    // The next request gets a new environment while the other two are still busy.
    let replacement = emulator.invoke(r#"{"echo": "replacement"}"#).await.unwrap();
    assert!(replacement.cold_start, "{replacement}");
    assert_eq!(replacement.environment, 4, "{replacement}");
    let replacement_body = body_json(&replacement);

    for (i, call) in survivors.into_iter().enumerate() {
        let report = call.await.unwrap();
        let body = body_json(&report);
        assert_eq!(body["echo"], i);
        assert!(report.cold_start);
        assert_ne!(report.environment, crash.environment);
        assert!(
            u64_field(&replacement_body, "ended_ms") < u64_field(&body, "ended_ms"),
            "the replacement should have served while this one was busy: {replacement_body} / {body}"
        );
    }
    assert_eq!(emulator.environments().running, 3);
    emulator.shutdown().await;
}

#[tokio::test]
async fn queued_invocations_wait_for_an_environment_instead_of_being_throttled() {
    let emulator = emulator(echo_config().concurrency(1)).await;
    let busy = spawn_invoke(&emulator, json!({"sleep_ms": 800}));
    wait_for_environments(&emulator, 1).await;
    assert!(matches!(
        emulator.invoke("{}").await,
        Err(EmulatorError::TooManyRequests { concurrency: 1 })
    ));
    let queued = emulator
        .invoke_queued(r#"{"echo": "waited"}"#)
        .await
        .unwrap();
    let first = busy.await.unwrap();
    assert_eq!(body_json(&queued)["echo"], "waited");
    assert_eq!(queued.environment, first.environment);
    assert!(!queued.cold_start);
    assert!(
        u64_field(&body_json(&first), "ended_ms") <= u64_field(&body_json(&queued), "started_ms")
    );
}

#[tokio::test]
async fn idle_environments_are_reclaimed_and_the_next_call_is_cold() {
    let emulator = emulator(echo_config().idle_timeout(Duration::from_millis(300))).await;
    let first = emulator.invoke("{}").await.unwrap();
    assert!(first.cold_start);
    wait_for_environments(&emulator, 0).await;
    let next = emulator.invoke("{}").await.unwrap();
    assert!(next.cold_start, "{next}");
    assert_eq!(next.environment, 2);
}

#[tokio::test]
async fn the_invoke_api_answers_a_throttle_with_429() {
    let emulator = emulator(echo_config().concurrency(1)).await;
    let endpoint = InvokeEndpoint::bind(emulator.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let busy = spawn_invoke(&emulator, json!({"sleep_ms": 1500}));
    wait_for_environments(&emulator, 1).await;
    let response = post(&endpoint.invocations_url(), &[], "{}").await;
    assert_eq!(response.status, 429, "{}", response.body);
    assert_eq!(
        response
            .headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok()),
        Some("TooManyRequestsException")
    );
    let body: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(
        body["Reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    assert!(busy.await.unwrap().outcome.is_success());
    endpoint.shutdown().await;
}

#[tokio::test]
async fn the_rest_api_answers_a_throttled_function_with_500_as_api_gateway_does() {
    let emulator = emulator(echo_config().concurrency(1)).await;
    let api = RestApi::bind(
        [emulator.clone()],
        RestApiConfig::new(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let busy = spawn_invoke(&emulator, json!({"sleep_ms": 1500}));
    wait_for_environments(&emulator, 1).await;
    let response = post(&format!("{}/anything", api.url()), &[], "{}").await;
    assert_eq!(response.status, 500, "{}", response.body);
    assert_eq!(
        serde_json::from_str::<Value>(&response.body).unwrap(),
        json!({"message": "Internal server error"})
    );
    assert!(busy.await.unwrap().outcome.is_success());
    api.shutdown().await;
}
