//! A controller killed at any point: the crash switch makes every alias write of a full rollout,
//! in turn, lose its answer after it was applied (as a killed process would). A fresh controller
//! each minute must take the rollout to a consistent end.

use lamina_canary::{
    controller::{Action, CanaryError},
    ports::PortError,
    state::{Phase, RollbackReason},
};

use crate::rollouts::{ALIAS, FUNCTION, HEALTHY_GATES, Harness};

/// Deploys with both hooks over two steps, then runs `run_all` with a fresh controller every
/// minute until the rollout is over. Returns how many calls reported the crash.
async fn rollout(harness: &Harness, canary_error_rate: f64, crash_at: Option<u64>) -> usize {
    harness.set_hook("pre", None, "{}");
    harness.set_hook("post", None, "{}");
    harness.traffic.set_error_rate("2", canary_error_rate);
    if let Some(write) = crash_at {
        harness.lambda.crash_after_writes(write);
    }
    let mut request = harness.request("steps:10,50@1m", HEALTHY_GATES);
    request.pre_hook = Some("pre".to_owned());
    request.post_hook = Some("post".to_owned());
    let mut crashes = 0;
    match harness.controller().deploy(request).await {
        Ok(_) => {}
        Err(CanaryError::Aws(PortError::Unavailable(_))) => crashes += 1,
        Err(other) => panic!("deploy: {other}"),
    }
    for _ in 0..60 {
        if harness.live().phase.is_terminal() {
            return crashes;
        }
        harness.traffic.minute();
        for outcome in harness.controller().run_all().await.unwrap() {
            if let Action::Failed { error } = &outcome.action {
                assert!(error.contains("simulated crash"), "{error}");
                crashes += 1;
            }
        }
    }
    panic!("the rollout did not end: {:?}", harness.live());
}

#[tokio::test]
async fn a_crash_after_every_write_of_a_successful_rollout_resumes_to_success() {
    let clean = Harness::new();
    assert_eq!(rollout(&clean, 0.0, None).await, 0);
    assert_eq!(clean.live().phase, Phase::Succeeded);
    let writes = clean.lambda.writes();
    // pre-hook, step 1, step 2, promotion to post-hook, success.
    assert_eq!(writes, 5);
    for crash_at in 1..=writes {
        let harness = Harness::new();
        let crashes = rollout(&harness, 0.0, Some(crash_at)).await;
        assert_eq!(crashes, 1, "write {crash_at}");
        assert_eq!(harness.live().phase, Phase::Succeeded, "write {crash_at}");
        harness.assert_consistent();
        let alias = harness.alias();
        assert_eq!(
            (alias.function_version.as_str(), alias.routing),
            ("2", None)
        );
        // No transition was made twice: the crashed write counted once.
        assert_eq!(harness.lambda.writes(), writes, "write {crash_at}");
        let hooks = harness.lambda.hook_invocations();
        assert!(hooks.iter().any(|(name, _)| name == "pre"));
        assert!(hooks.iter().any(|(name, _)| name == "post"));
    }
}

#[tokio::test]
async fn a_crash_after_every_write_of_a_failing_rollout_resumes_to_rollback() {
    let clean = Harness::new();
    rollout(&clean, 0.3, None).await;
    let live = clean.live();
    assert_eq!(
        (live.phase, live.why),
        (Phase::RolledBack, Some(RollbackReason::Gate))
    );
    let writes = clean.lambda.writes();
    assert_eq!(writes, 3); // pre-hook, step 1, rollback
    for crash_at in 1..=writes {
        let harness = Harness::new();
        assert_eq!(
            rollout(&harness, 0.3, Some(crash_at)).await,
            1,
            "write {crash_at}"
        );
        let live = harness.live();
        assert_eq!(
            (live.phase, live.why),
            (Phase::RolledBack, Some(RollbackReason::Gate))
        );
        harness.assert_consistent();
        assert_eq!(harness.alias().function_version, "1");
    }
}

#[tokio::test]
async fn a_crash_during_promote_or_abort_leaves_a_consistent_end() {
    for promote in [true, false] {
        let harness = Harness::new();
        let controller = harness.controller();
        controller
            .deploy(harness.request("linear10-1m", &[]))
            .await
            .unwrap();
        harness.lambda.crash_after_next_write();
        let result = if promote {
            controller.promote(FUNCTION, ALIAS, true).await
        } else {
            controller.abort(FUNCTION, ALIAS).await
        };
        assert!(matches!(
            result,
            Err(CanaryError::Aws(PortError::Unavailable(_)))
        ));
        // Retrying finds the command already done.
        let fresh = harness.controller();
        let again = if promote {
            fresh.promote(FUNCTION, ALIAS, true).await
        } else {
            fresh.abort(FUNCTION, ALIAS).await
        };
        assert!(
            matches!(again, Err(CanaryError::NoRollout { .. })),
            "{again:?}"
        );
        let expected = if promote {
            Phase::Succeeded
        } else {
            Phase::RolledBack
        };
        assert_eq!(harness.live().phase, expected);
        harness.assert_consistent();
    }
}

#[tokio::test]
async fn a_failed_record_write_leaves_the_alias_untouched() {
    let harness = Harness::new();
    harness.records.fail_next(
        "create_record",
        1,
        PortError::Unavailable("SSM is down".into()),
    );
    let before = harness.alias();
    let result = harness
        .controller()
        .deploy(harness.request("canary10-5m", &[]))
        .await;
    assert!(matches!(result, Err(CanaryError::Aws(_))));
    assert_eq!(harness.alias(), before);
    assert_eq!(harness.lambda.writes(), 0);
}
