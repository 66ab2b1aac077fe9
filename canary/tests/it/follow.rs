//! `deploy --wait` and `run` keep going through transient errors, and `run` decides rollouts
//! concurrently.

use std::{
    future::ready,
    sync::{Arc, Mutex},
    time::Duration,
};

use lamina_canary::{
    controller::{Action, Backoff, CanaryError, Controller, Ports, WaitEnd, WaitEvent},
    memory::InMemoryLambda,
    ports::{BoxFuture, HookInvoker, HookResponse, PortError},
    state::Phase,
};

use crate::rollouts::{ALIAS, FUNCTION, HEALTHY_GATES, Harness};

const BACKOFF: Backoff = Backoff {
    first: Duration::from_secs(1),
    max: Duration::from_secs(8),
    attempts: 5,
};

#[tokio::test]
async fn wait_retries_transient_errors_and_carries_the_rollout_to_its_end() {
    let harness = Harness::new();
    let controller = harness.controller();
    controller
        .deploy(harness.request("canary10-5m", HEALTHY_GATES))
        .await
        .unwrap();
    let sleeps = Mutex::new(Vec::new());
    let retried = Mutex::new(Vec::new());
    // Two throttled reads: within the retry budget.
    harness.lambda.fail_next(
        "get_alias",
        2,
        PortError::Unavailable("ThrottlingException".into()),
    );
    let end = controller
        .wait(
            FUNCTION,
            ALIAS,
            Duration::from_secs(60),
            BACKOFF,
            |delay| {
                sleeps.lock().unwrap().push(delay.as_secs());
                if delay.as_secs() >= 60 {
                    harness.traffic.minute();
                }
                ready(())
            },
            |event| {
                if let WaitEvent::Retry(error, delay) = event {
                    retried.lock().unwrap().push((error.to_string(), delay));
                }
            },
        )
        .await
        .unwrap();
    let WaitEnd::Ended(outcome) = end else {
        panic!("{end:?}")
    };
    assert_eq!(outcome.status.unwrap().phase, Phase::Succeeded);
    let sleeps = sleeps.into_inner().unwrap();
    assert_eq!(&sleeps[..3], [60, 1, 2], "{sleeps:?}");
    let retried = retried.into_inner().unwrap();
    assert_eq!(retried.len(), 2, "{retried:?}");
    assert!(retried[0].0.contains("ThrottlingException"), "{retried:?}");
    harness.assert_consistent();
}

#[tokio::test]
async fn wait_gives_up_after_the_retry_budget() {
    let harness = Harness::new();
    let controller = harness.controller();
    controller
        .deploy(harness.request("canary10-5m", HEALTHY_GATES))
        .await
        .unwrap();
    harness.lambda.fail_next(
        "get_alias",
        100,
        PortError::Unavailable("ThrottlingException".into()),
    );
    let mut retries = 0;
    let error = controller
        .wait(
            FUNCTION,
            ALIAS,
            Duration::from_secs(60),
            BACKOFF,
            |_| ready(()),
            |event| {
                if let WaitEvent::Retry(..) = event {
                    retries += 1;
                }
            },
        )
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert_eq!(retries, BACKOFF.attempts);
    // The deploy's read, the first decision's, and one per retry.
    assert_eq!(
        harness.lambda.calls("get_alias"),
        2 + u64::from(BACKOFF.attempts)
    );
}

#[tokio::test]
async fn wait_does_not_retry_what_cannot_get_better() {
    let harness = Harness::new();
    let controller = harness.controller();
    let error = controller
        .wait(
            FUNCTION,
            "nope",
            Duration::from_secs(60),
            BACKOFF,
            |_| ready(()),
            |event| assert!(matches!(event, WaitEvent::Outcome(_)), "retried"),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, CanaryError::NotFound(_)), "{error}");
}

#[tokio::test]
async fn wait_stops_at_a_stall() {
    let harness = Harness::new();
    harness.traffic.set_per_minute(0);
    let controller = harness.controller();
    let mut request = harness.request("canary10-5m", HEALTHY_GATES);
    request.policy.on_progress_deadline = lamina_canary::gate::DeadlineAction::Hold;
    controller.deploy(request).await.unwrap();
    let end = controller
        .wait(
            FUNCTION,
            ALIAS,
            Duration::from_secs(60),
            BACKOFF,
            |_| {
                harness.traffic.minute();
                ready(())
            },
            |_| {},
        )
        .await
        .unwrap();
    assert!(matches!(end, WaitEnd::Stalled(_)), "{end:?}");
    assert_eq!(harness.live().phase, Phase::Shifting);
}

/// A hook that answers only once the Lambda stand-in has seen another alias write: if `run`
/// decided rollouts one after another, the slow one (listed first) would never finish.
#[derive(Debug)]
struct WaitsForAnotherWrite {
    lambda: Arc<InMemoryLambda>,
    writes_before: u64,
}

impl HookInvoker for WaitsForAnotherWrite {
    fn invoke<'a>(
        &'a self,
        _function: &'a str,
        _payload: &'a [u8],
    ) -> BoxFuture<'a, Result<HookResponse, PortError>> {
        Box::pin(async move {
            while self.lambda.writes() == self.writes_before {
                tokio::task::yield_now().await;
            }
            Ok(HookResponse {
                status_code: 200,
                function_error: None,
                payload: b"{}".to_vec(),
            })
        })
    }
}

#[tokio::test]
async fn run_decides_rollouts_concurrently() {
    let harness = Harness::new();
    // `alpha` (listed before `orders`) has a slow pre-traffic hook.
    harness.lambda.add_function("alpha");
    harness.lambda.add_version("alpha");
    harness.lambda.add_version("alpha");
    harness.lambda.add_alias("alpha", ALIAS, "1", "");
    let controller = harness.controller();
    let mut slow = harness.request("canary10-5m", &[]);
    slow.function = "alpha".to_owned();
    slow.pre_hook = Some("slow-hook".to_owned());
    controller.deploy(slow).await.unwrap();
    controller
        .deploy(harness.request("canary10-5m", &[]))
        .await
        .unwrap();
    harness.traffic.minutes(5);
    let controller = Controller::new(Ports {
        hooks: Arc::new(WaitsForAnotherWrite {
            lambda: harness.lambda.clone(),
            writes_before: harness.lambda.writes(),
        }),
        ..harness.controller_ports()
    });
    let outcomes = tokio::time::timeout(Duration::from_secs(10), controller.run_all())
        .await
        .expect("run_all is stuck behind the slow hook")
        .unwrap();
    let actions: Vec<(&str, &Action)> = outcomes
        .iter()
        .map(|outcome| (outcome.function.as_str(), &outcome.action))
        .collect();
    assert_eq!(
        actions,
        [
            ("alpha", &Action::HookPassed),
            ("orders", &Action::Promoted)
        ]
    );
}
