//! Every wait has a bound, and what happens there is the user's choice; a write whose answer
//! was lost and retried is still recognised as this controller's own.

use std::time::Duration;

use lamina_canary::{
    controller::{Action, CanaryError},
    gate::DeadlineAction,
    ports::{AliasUpdate, PortError, VersionWeight},
    state::{Phase, RollbackReason},
};

use crate::rollouts::{ALIAS, FUNCTION, HEALTHY_GATES, Harness};

#[tokio::test]
async fn a_deploy_whose_write_was_retried_after_it_landed_succeeds() {
    let harness = Harness::new();
    let controller = harness.controller();
    harness.lambda.conflict_after_next_write();
    let status = controller
        .deploy(harness.request("canary10-5m", HEALTHY_GATES))
        .await
        .unwrap();
    assert_eq!(status.phase, Phase::Shifting);
    assert_eq!(status.id, harness.live().id);
    assert_eq!(harness.lambda.writes(), 1);
    harness.assert_consistent();
}

#[tokio::test]
async fn an_abort_whose_write_was_retried_after_it_landed_succeeds() {
    let harness = Harness::new();
    let controller = harness.controller();
    controller
        .deploy(harness.request("canary10-5m", HEALTHY_GATES))
        .await
        .unwrap();
    harness.lambda.conflict_after_next_write();
    let status = controller.abort(FUNCTION, ALIAS).await.unwrap();
    assert_eq!(status.why, Some(RollbackReason::Abort));
    assert_eq!(harness.live().phase, Phase::RolledBack);
    // The deploy, the rollback, and the write that gave the alias its description back.
    assert_eq!(harness.lambda.writes(), 3);
    assert_eq!(harness.alias().description, "production traffic");
}

#[tokio::test]
async fn no_traffic_rolls_back_at_the_progress_deadline_by_default() {
    let harness = Harness::new();
    harness.traffic.set_per_minute(0);
    let controller = harness.controller();
    let mut request = harness.request("canary10-5m", HEALTHY_GATES);
    request.policy.progress_deadline = Duration::from_secs(600);
    controller.deploy(request).await.unwrap();
    let actions = harness.drive(&controller, 60).await;
    // 5 minutes of hold, then 10 of waiting for data; the 15th decision is at the deadline.
    assert_eq!(actions.len(), 15, "{actions:?}");
    assert!(
        actions[..14]
            .iter()
            .all(|a| matches!(a, Action::Waited { .. }))
    );
    assert_eq!(
        actions[14],
        Action::RolledBack {
            why: RollbackReason::Progress
        }
    );
    assert_eq!(harness.alias().function_version, "1");
    harness.assert_consistent();
}

#[tokio::test]
async fn the_progress_deadline_can_hold_or_promote_instead() {
    for (action, expected) in [
        (DeadlineAction::Hold, Phase::Shifting),
        (DeadlineAction::Promote, Phase::Succeeded),
    ] {
        let harness = Harness::new();
        harness.traffic.set_per_minute(0);
        let controller = harness.controller();
        let mut request = harness.request("canary10-5m", HEALTHY_GATES);
        request.policy.progress_deadline = Duration::from_secs(600);
        request.policy.on_progress_deadline = action;
        controller.deploy(request).await.unwrap();
        let actions = harness.drive(&controller, 20).await;
        assert_eq!(harness.live().phase, expected, "{action}: {actions:?}");
        if action == DeadlineAction::Hold {
            assert_eq!(actions.len(), 20);
            assert!(
                matches!(&actions[14], Action::Stalled { reason } if reason.contains("progress deadline")),
                "{:?}",
                actions[14]
            );
            assert!(matches!(&actions[19], Action::Stalled { .. }));
            assert_eq!(harness.canary_weight(), 0.1);
            // A person settles it.
            controller.promote(FUNCTION, ALIAS, true).await.unwrap();
            assert_eq!(harness.live().phase, Phase::Succeeded);
        } else {
            assert_eq!(actions.last(), Some(&Action::Promoted));
        }
        harness.assert_consistent();
    }
}

#[tokio::test]
async fn a_failing_metrics_api_holds_healthy_rollouts_by_default() {
    let harness = Harness::new();
    let controller = harness.controller();
    controller
        .deploy(harness.request("canary10-5m", HEALTHY_GATES))
        .await
        .unwrap();
    harness.metrics.fail_next(
        "fetch",
        1000,
        PortError::Unavailable("ThrottlingException: Rate exceeded".into()),
    );
    let actions = harness.drive(&controller, 30).await;
    assert_eq!(actions.len(), 30);
    assert!(
        actions[..11]
            .iter()
            .all(|a| matches!(a, Action::Waited { reason } if reason.contains("holding")))
    );
    assert!(
        matches!(&actions[11], Action::Stalled { reason } if reason.contains("data deadline")),
        "{:?}",
        actions[11]
    );
    assert_eq!(harness.live().phase, Phase::Shifting);
    assert_eq!(harness.canary_weight(), 0.1);
    harness.assert_consistent();
}

#[tokio::test]
async fn a_data_deadline_cannot_promote() {
    let harness = Harness::new();
    let mut request = harness.request("canary10-5m", HEALTHY_GATES);
    request.policy.on_data_deadline = DeadlineAction::Promote;
    let error = harness.controller().deploy(request).await.unwrap_err();
    assert!(matches!(error, CanaryError::InvalidInput(_)), "{error}");
    assert_eq!((harness.lambda.writes(), harness.records.writes()), (0, 0));
}

#[tokio::test]
async fn a_drifted_alias_is_rolled_back_after_the_drift_timeout() {
    let harness = Harness::new();
    let controller = harness.controller();
    controller
        .deploy(harness.request("canary10-30m", HEALTHY_GATES))
        .await
        .unwrap();
    harness.drive(&controller, 2).await;
    let description = harness.alias().description;
    harness.lambda.edit_alias(
        FUNCTION,
        ALIAS,
        AliasUpdate {
            function_version: "1".into(),
            routing: Some(VersionWeight {
                version: "2".into(),
                weight: 0.3,
            }),
            description,
        },
    );
    let actions = harness.drive(&controller, 30).await;
    // Noted at the first decision, then 10 minutes of drift, then rolled back.
    assert_eq!(actions.len(), 12, "{actions:?}");
    assert!(
        actions[..11]
            .iter()
            .all(|a| matches!(a, Action::Drifted { .. }))
    );
    assert_eq!(
        actions[11],
        Action::RolledBack {
            why: RollbackReason::Drift
        }
    );
    assert_eq!(harness.alias().function_version, "1");
    assert_eq!(harness.alias().routing, None);
}

#[tokio::test]
async fn abort_force_rolls_back_from_the_record_when_the_description_is_unreadable() {
    let harness = Harness::new();
    let controller = harness.controller();
    let status = controller
        .deploy(harness.request("linear10-1m", HEALTHY_GATES))
        .await
        .unwrap();
    harness.drive(&controller, 3).await;
    let alias = harness.alias();
    harness.lambda.edit_alias(
        FUNCTION,
        ALIAS,
        AliasUpdate {
            function_version: alias.function_version,
            routing: alias.routing,
            description: "lamina-canary/1 id=garbled".into(),
        },
    );
    let writes = harness.lambda.writes();
    // Without --force: refused, nothing written.
    let error = controller.abort(FUNCTION, ALIAS).await.unwrap_err();
    assert!(matches!(error, CanaryError::Drift(_)), "{error}");
    assert_eq!(harness.lambda.writes(), writes);
    let aborted = controller.force_abort(FUNCTION, ALIAS).await.unwrap();
    assert_eq!(aborted.id, status.id);
    assert_eq!(aborted.why, Some(RollbackReason::Abort));
    let live = harness.live();
    assert_eq!((live.id, live.phase), (status.id, Phase::RolledBack));
    let alias = harness.alias();
    assert_eq!(
        (alias.function_version.as_str(), alias.routing),
        ("1", None)
    );
    // Over: a second forced abort is refused.
    assert!(matches!(
        controller.force_abort(FUNCTION, ALIAS).await,
        Err(CanaryError::NoRollout { .. })
    ));
}

#[tokio::test]
async fn a_dry_run_checks_everything_and_writes_nothing() {
    let harness = Harness::new();
    let controller = harness.controller();
    let plan = controller
        .plan(harness.request("linear10-2m", &["error-rate<=stable", "manual@50"]))
        .await
        .unwrap();
    assert_eq!(
        (plan.stable_version.as_str(), plan.canary_version.as_str()),
        ("1", "2")
    );
    assert_eq!(plan.steps.len(), 9);
    assert_eq!(plan.full_after_secs, 9 * 120);
    let paused: Vec<usize> = plan
        .steps
        .iter()
        .filter(|s| s.pauses)
        .map(|s| s.step)
        .collect();
    assert_eq!(paused, [5]);
    assert_eq!(plan.gates, ["error-rate<=stable", "manual@50"]);
    assert_eq!((harness.lambda.writes(), harness.records.writes()), (0, 0));
    // The same checks as deploy, refused the same way, with nothing written either.
    let mut bad = harness.request("canary10-5m", &[]);
    bad.version = lamina_canary::controller::VersionChoice::Existing("9".into());
    assert!(matches!(
        controller.plan(bad).await,
        Err(CanaryError::NotFound(_))
    ));
    let mut publish = harness.request("canary10-5m", &[]);
    publish.version = lamina_canary::controller::VersionChoice::Publish;
    assert!(matches!(
        controller.plan(publish).await,
        Err(CanaryError::InvalidInput(_))
    ));
    controller
        .deploy(harness.request("canary10-5m", &[]))
        .await
        .unwrap();
    let writes = (harness.lambda.writes(), harness.records.writes());
    assert!(matches!(
        controller.plan(harness.request("canary10-5m", &[])).await,
        Err(CanaryError::AlreadyInProgress { .. })
    ));
    assert_eq!((harness.lambda.writes(), harness.records.writes()), writes);
}

#[tokio::test]
async fn pause_holds_a_rollout_until_resume() {
    let harness = Harness::new();
    let controller = harness.controller();
    controller
        .deploy(harness.request("linear10-1m", HEALTHY_GATES))
        .await
        .unwrap();
    harness.drive(&controller, 2).await;
    let weight = harness.canary_weight();
    let paused = controller.pause(FUNCTION, ALIAS).await.unwrap();
    assert_eq!(paused.phase, Phase::Paused);
    assert!(matches!(
        controller.pause(FUNCTION, ALIAS).await,
        Err(CanaryError::Conflict(_))
    ));
    let actions = harness.drive(&controller, 10).await;
    assert!(
        actions.iter().all(|a| matches!(a, Action::Waited { .. })),
        "{actions:?}"
    );
    assert_eq!(harness.canary_weight(), weight);
    let writes = harness.lambda.writes();
    let resumed = controller.resume(FUNCTION, ALIAS).await.unwrap();
    assert_eq!(resumed.phase, Phase::Shifting);
    assert_eq!(harness.lambda.writes(), writes + 1);
    assert_eq!(harness.canary_weight(), weight);
    let actions = harness.drive(&controller, 20).await;
    assert_eq!(actions.last(), Some(&Action::Promoted));
    harness.assert_consistent();
    assert!(matches!(
        controller.resume(FUNCTION, ALIAS).await,
        Err(CanaryError::NoRollout { .. })
    ));
}
