//! A rollout that ends gives the alias its own description back, and keeps how it ended beside
//! its record: at the decision after the ending one (so every decision stays within its three
//! calls), at once for a command a person runs, and after a crash between the two writes.

use lamina_canary::{
    controller::{Action, CanaryError},
    outcome::RolloutOutcome,
    ports::PortError,
    state::{LiveState, Phase, RollbackReason},
};

use crate::rollouts::{ALIAS, FUNCTION, HEALTHY_GATES, Harness};

fn description(harness: &Harness) -> String {
    harness.alias().description
}

#[tokio::test]
async fn the_decision_after_a_rollback_puts_the_description_back() {
    let harness = Harness::new();
    harness.traffic.set_error_rate("2", 0.2);
    let controller = harness.controller();
    let deployed = controller
        .deploy(harness.request("linear10-1m", HEALTHY_GATES))
        .await
        .unwrap();
    let actions = harness.drive(&controller, 100).await;
    assert_eq!(
        actions.last(),
        Some(&Action::RolledBack {
            why: RollbackReason::Gate
        })
    );
    // The ending decision wrote the traffic and the ended state, nothing more.
    let ended = LiveState::decode(&description(&harness)).unwrap().unwrap();
    assert_eq!(ended.phase, Phase::RolledBack);
    assert!(
        harness
            .records
            .outcome(FUNCTION, ALIAS, &deployed.id)
            .is_none()
    );

    let outcome = controller.run_once(FUNCTION, ALIAS).await.unwrap();
    assert_eq!(outcome.action, Action::Finished);
    assert_eq!(description(&harness), "production traffic");
    let alias = harness.alias();
    assert_eq!(
        (alias.function_version.as_str(), alias.routing),
        ("1", None)
    );
    let stored = harness
        .records
        .outcome(FUNCTION, ALIAS, &deployed.id)
        .unwrap();
    let stored = RolloutOutcome::from_json(&stored).unwrap();
    assert_eq!(
        (stored.phase, stored.why),
        (Phase::RolledBack, Some(RollbackReason::Gate))
    );
    // status still says how it went; run has nothing left to do.
    let status = controller.status(FUNCTION, ALIAS).await.unwrap();
    assert_eq!(
        (status.id.as_str(), status.phase, status.why),
        (
            deployed.id.as_str(),
            Phase::RolledBack,
            Some(RollbackReason::Gate)
        )
    );
    assert!(controller.run_all().await.unwrap().is_empty());
    assert!(matches!(
        controller.abort(FUNCTION, ALIAS).await,
        Err(CanaryError::NoRollout { .. })
    ));
    // The next rollout starts from the owner's description and keeps it.
    let next = controller
        .deploy(harness.request("canary10-5m", &[]))
        .await
        .unwrap();
    assert_ne!(next.id, deployed.id);
    assert_eq!(harness.record().original_description, "production traffic");
}

#[tokio::test]
async fn abort_and_promote_put_the_description_back_at_once() {
    let harness = Harness::new();
    let controller = harness.controller();
    controller
        .deploy(harness.request("linear10-1m", &[]))
        .await
        .unwrap();
    let aborted = controller.abort(FUNCTION, ALIAS).await.unwrap();
    assert_eq!(aborted.phase, Phase::RolledBack);
    assert_eq!(description(&harness), "production traffic");
    assert_eq!(harness.live().why, Some(RollbackReason::Abort));

    harness.clock.advance(std::time::Duration::from_secs(60));
    controller
        .deploy(harness.request("linear10-1m", &[]))
        .await
        .unwrap();
    let promoted = controller.promote(FUNCTION, ALIAS, true).await.unwrap();
    assert_eq!(promoted.phase, Phase::Succeeded);
    assert_eq!(description(&harness), "production traffic");
    assert_eq!(harness.alias().function_version, "2");
    assert_eq!(harness.live().phase, Phase::Succeeded);
}

#[tokio::test]
async fn a_failed_restore_is_finished_by_the_next_decision() {
    let harness = Harness::new();
    let controller = harness.controller();
    let deployed = controller
        .deploy(harness.request("linear10-1m", &[]))
        .await
        .unwrap();
    // The abort's rollback lands but its controller dies before it learns so: nothing more.
    harness.lambda.crash_after_next_write();
    assert!(controller.abort(FUNCTION, ALIAS).await.is_err());
    let left = LiveState::decode(&description(&harness)).unwrap().unwrap();
    assert_eq!(left.phase, Phase::RolledBack);
    assert!(
        harness
            .records
            .outcome(FUNCTION, ALIAS, &deployed.id)
            .is_none()
    );
    // `canary run` finds the ended rollout still described, and finishes it.
    let outcomes = controller.run_all().await.unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].action, Action::Finished);
    assert_eq!(description(&harness), "production traffic");
    assert_eq!(harness.live().why, Some(RollbackReason::Abort));

    harness.clock.advance(std::time::Duration::from_secs(60));
    // A store that cannot take the outcome: the description stays, and the next decision
    // tries again.
    controller
        .deploy(harness.request("linear10-1m", &[]))
        .await
        .unwrap();
    harness.records.fail_next(
        "create_outcome",
        1,
        PortError::Unavailable("throttled".to_owned()),
    );
    controller.abort(FUNCTION, ALIAS).await.unwrap();
    assert!(LiveState::decode(&description(&harness)).unwrap().is_some());
    assert_eq!(
        controller.run_once(FUNCTION, ALIAS).await.unwrap().action,
        Action::Finished
    );
    assert_eq!(description(&harness), "production traffic");
}
