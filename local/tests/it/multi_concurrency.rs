//! Lambda Managed Instances: one execution environment serving several invocations at once, its
//! answers routed back by request id.

use std::collections::BTreeSet;
use std::time::Duration;

use lamina_local::emulator::{Emulator, EmulatorError, InvocationReport, Outcome};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::support::{body_json, echo_config, emulator};

const PER_ENVIRONMENT: usize = 4;

fn spawn_invoke(emulator: &Emulator, event: Value) -> JoinHandle<InvocationReport> {
    let emulator = emulator.clone();
    tokio::spawn(async move { emulator.invoke(event.to_string()).await.unwrap() })
}

fn u64_field(body: &Value, field: &str) -> u64 {
    body[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {body}"))
}

#[tokio::test]
async fn one_environment_serves_several_invocations_at_once() {
    let emulator = emulator(
        echo_config()
            .concurrency(1)
            .per_environment_concurrency(PER_ENVIRONMENT),
    )
    .await;
    let warm_up = emulator.invoke(r#"{"echo": "warm-up"}"#).await.unwrap();
    assert!(warm_up.cold_start, "{warm_up}");
    let pid = u64_field(&body_json(&warm_up), "pid");

    let burst: Vec<_> = (0..PER_ENVIRONMENT)
        .map(|i| spawn_invoke(&emulator, json!({"echo": i, "sleep_ms": 1500})))
        .collect();
    // The one environment the function may have is full: one more is throttled.
    tokio::time::sleep(Duration::from_millis(300)).await;
    match emulator.invoke(r#"{"echo": "one too many"}"#).await {
        Err(EmulatorError::TooManyRequests { concurrency }) => assert_eq!(concurrency, 1),
        other => panic!("expected a throttle, got {other:?}"),
    }

    let mut reports = Vec::new();
    for call in burst {
        reports.push(call.await.unwrap());
    }
    let bodies: Vec<Value> = reports.iter().map(body_json).collect();
    for (i, (report, body)) in reports.iter().zip(&bodies).enumerate() {
        // Each answer reached the caller whose event it was: routed by request id, not by order.
        assert_eq!(body["echo"], json!(i), "{body}");
        assert_eq!(body["request_id"], report.request_id.as_str(), "{body}");
        assert_eq!(body["trace_id"], report.trace_header.as_str(), "{body}");
        assert_eq!(u64_field(body, "pid"), pid, "{body}");
        assert_eq!(report.environment, warm_up.environment, "{report}");
        assert!(
            !report.cold_start && report.init_duration.is_none(),
            "{report}"
        );
    }
    let request_ids: BTreeSet<&str> = reports.iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!(request_ids.len(), PER_ENVIRONMENT);
    // The handler saw all of them in flight at once, and they overlapped.
    let peak = bodies.iter().map(|b| u64_field(b, "in_flight_peak")).max();
    assert_eq!(peak, Some(PER_ENVIRONMENT as u64), "{bodies:#?}");
    let last_start = bodies.iter().map(|b| u64_field(b, "started_ms")).max();
    let first_end = bodies.iter().map(|b| u64_field(b, "ended_ms")).min();
    assert!(last_start < first_end, "{bodies:#?}");
    assert_eq!(emulator.environments().running, 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn without_the_option_an_environment_serves_one_invocation_at_a_time() {
    let emulator = emulator(echo_config().concurrency(1)).await;
    emulator.invoke(r#"{"echo": "warm-up"}"#).await.unwrap();
    let running = spawn_invoke(&emulator, json!({"sleep_ms": 1000}));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(matches!(
        emulator.invoke(r#"{"echo": "second"}"#).await,
        Err(EmulatorError::TooManyRequests { concurrency: 1 })
    ));
    let body = body_json(&running.await.unwrap());
    assert_eq!(u64_field(&body, "in_flight_peak"), 1, "{body}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_crash_ends_every_invocation_the_environment_was_serving() {
    let emulator = emulator(
        echo_config()
            .concurrency(1)
            .per_environment_concurrency(PER_ENVIRONMENT),
    )
    .await;
    let warm_up = emulator.invoke(r#"{"echo": "warm-up"}"#).await.unwrap();
    let sleeping = spawn_invoke(&emulator, json!({"sleep_ms": 5000}));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let crashing = emulator.invoke(r#"{"exit": 3}"#).await.unwrap();
    assert!(
        matches!(&crashing.outcome, Outcome::Crashed { exit } if exit.contains('3')),
        "{crashing}"
    );
    let sleeping = sleeping.await.unwrap();
    assert!(
        matches!(sleeping.outcome, Outcome::Crashed { .. }),
        "{sleeping}"
    );
    assert_eq!(sleeping.environment, warm_up.environment);
    // The environment is gone: the next invocation starts a new one.
    let next = emulator.invoke(r#"{"echo": "fresh"}"#).await.unwrap();
    assert!(next.cold_start, "{next}");
    assert_ne!(next.environment, warm_up.environment);
    emulator.shutdown().await;
}
