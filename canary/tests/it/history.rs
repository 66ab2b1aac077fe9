//! `canary history`: every rollout of an alias stays on record, with how it went.

use lamina_canary::{
    controller::{HistoryOutcome, VersionChoice},
    state::{Phase, RollbackReason},
};

use crate::rollouts::{ALIAS, FUNCTION, HEALTHY_GATES, Harness};

#[tokio::test]
async fn past_rollouts_are_kept_with_their_outcomes() {
    let harness = Harness::new();
    harness.lambda.add_version(FUNCTION); // version 3
    let controller = harness.controller();
    // 1 -> 2 succeeds; 2 -> 3 is aborted; 2 -> 3 again is in progress.
    let first = controller
        .deploy(harness.request("all-at-once", &[]))
        .await
        .unwrap();
    assert_eq!(first.phase, Phase::Succeeded);
    harness.clock.advance(std::time::Duration::from_secs(60));
    let mut second = harness.request("canary10-5m", HEALTHY_GATES);
    second.version = VersionChoice::Existing("3".into());
    let second = controller.deploy(second).await.unwrap();
    controller.abort(FUNCTION, ALIAS).await.unwrap();
    harness.clock.advance(std::time::Duration::from_secs(60));
    let mut third = harness.request("canary10-5m", HEALTHY_GATES);
    third.version = VersionChoice::Existing("3".into());
    let third = controller.deploy(third).await.unwrap();

    let history = controller.history(FUNCTION, ALIAS).await.unwrap();
    let summary: Vec<(&str, &str, &str, &HistoryOutcome)> = history
        .iter()
        .map(|e| {
            (
                e.id.as_str(),
                e.stable_version.as_str(),
                e.canary_version.as_str(),
                &e.outcome,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            // Ended rollouts keep how they ended (and why) in their stored outcome, though the
            // alias's description was given back.
            (
                first.id.as_str(),
                "1",
                "2",
                &HistoryOutcome::Described {
                    phase: Phase::Succeeded,
                    why: None
                }
            ),
            (
                second.id.as_str(),
                "2",
                "3",
                &HistoryOutcome::Described {
                    phase: Phase::RolledBack,
                    why: Some(RollbackReason::Abort)
                }
            ),
            (
                third.id.as_str(),
                "2",
                "3",
                &HistoryOutcome::Described {
                    phase: Phase::Shifting,
                    why: None
                }
            ),
        ]
    );
    controller.abort(FUNCTION, ALIAS).await.unwrap();
    let last = controller
        .history(FUNCTION, ALIAS)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        last.outcome,
        HistoryOutcome::Described {
            phase: Phase::RolledBack,
            why: Some(RollbackReason::Abort)
        }
    );
}
