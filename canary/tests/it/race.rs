//! Two controllers on the same rollout: every transition is won by exactly one of them.

use std::sync::{Arc, Mutex};

use lamina_canary::{
    controller::{Action, CanaryError, Controller, Ports, RunOutcome},
    memory::InMemoryLambda,
    ports::{AliasState, AliasStore, AliasUpdate, BoxFuture, PortError},
    state::{Phase, RollbackReason},
};

use crate::rollouts::{ALIAS, FUNCTION, HEALTHY_GATES, Harness};

fn is_transition(action: &Action) -> bool {
    matches!(
        action,
        Action::Advanced { .. }
            | Action::Paused { .. }
            | Action::Promoted
            | Action::Succeeded
            | Action::RolledBack { .. }
            | Action::HookPassed
    )
}

/// Checks one round: at most one transition, and then the other lost or waited.
fn check_round(a: &RunOutcome, b: &RunOutcome) -> (usize, usize) {
    let transitions = usize::from(is_transition(&a.action)) + usize::from(is_transition(&b.action));
    assert!(
        transitions <= 1,
        "both moved: {:?} / {:?}",
        a.action,
        b.action
    );
    let lost = [&a.action, &b.action]
        .iter()
        .filter(|x| matches!(x, Action::LostRace))
        .count();
    if transitions == 1 {
        let other = if is_transition(&a.action) {
            &b.action
        } else {
            &a.action
        };
        assert!(
            matches!(other, Action::LostRace | Action::Waited { .. }),
            "{other:?}"
        );
    }
    (transitions, lost)
}

#[tokio::test]
async fn two_controllers_race_through_a_rollout() {
    let harness = Harness::new();
    harness.set_hook("pre", None, "{}");
    harness.set_hook("post", None, "{}");
    let (a, b) = (harness.controller(), harness.controller());
    let mut request = harness.request("linear10-1m", HEALTHY_GATES);
    request.pre_hook = Some("pre".to_owned());
    request.post_hook = Some("post".to_owned());
    a.deploy(request).await.unwrap();
    let (mut transitions, mut lost) = (0, 0);
    for _ in 0..60 {
        if harness.live().phase.is_terminal() {
            break;
        }
        harness.traffic.minute();
        let writes = harness.lambda.writes();
        let (one, two) = tokio::join!(a.run_once(FUNCTION, ALIAS), b.run_once(FUNCTION, ALIAS));
        let (moved, lost_now) = check_round(&one.unwrap(), &two.unwrap());
        assert_eq!(harness.lambda.writes() - writes, moved as u64);
        transitions += moved;
        lost += lost_now;
    }
    assert_eq!(harness.live().phase, Phase::Succeeded);
    harness.assert_consistent();
    // pre-hook passed, 8 advances, promotion, success.
    assert_eq!(transitions, 11);
    assert_eq!(lost, transitions, "every transition was raced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controllers_on_threads_never_both_move() {
    let harness = Harness::new();
    let controllers: Vec<Arc<Controller>> =
        (0..3).map(|_| Arc::new(harness.controller())).collect();
    controllers[0]
        .deploy(harness.request("linear10-1m", HEALTHY_GATES))
        .await
        .unwrap();
    let mut transitions = 0;
    for _ in 0..60 {
        if harness.live().phase.is_terminal() {
            break;
        }
        harness.traffic.minute();
        let writes = harness.lambda.writes();
        let tasks: Vec<_> = controllers
            .iter()
            .map(|controller| {
                let controller = Arc::clone(controller);
                tokio::spawn(async move { controller.run_once(FUNCTION, ALIAS).await })
            })
            .collect();
        let (mut moved, mut finished) = (0, 0);
        for task in tasks {
            let outcome = task.await.unwrap().unwrap();
            moved += usize::from(is_transition(&outcome.action));
            // A controller that reads the rollout just after another ended it gives the alias
            // its description back in the same round: a later write, not a second move.
            finished += usize::from(matches!(outcome.action, Action::Finished));
        }
        assert!(moved <= 1);
        assert!(finished <= 1);
        assert_eq!(harness.lambda.writes() - writes, (moved + finished) as u64);
        transitions += moved;
    }
    assert_eq!(harness.live().phase, Phase::Succeeded);
    assert_eq!(transitions, 9);
    harness.assert_consistent();
}

#[tokio::test]
async fn promote_and_abort_race() {
    let harness = Harness::new();
    let (a, b) = (harness.controller(), harness.controller());
    a.deploy(harness.request("linear10-1m", &[])).await.unwrap();
    let (promoted, aborted) =
        tokio::join!(a.promote(FUNCTION, ALIAS, true), b.abort(FUNCTION, ALIAS));
    let live = harness.live();
    match (promoted, aborted) {
        (Ok(_), Err(CanaryError::NoRollout { .. })) => assert_eq!(live.phase, Phase::Succeeded),
        (Err(CanaryError::NoRollout { .. }), Ok(_)) => {
            assert_eq!(
                (live.phase, live.why),
                (Phase::RolledBack, Some(RollbackReason::Abort))
            );
        }
        other => panic!("exactly one should win: {other:?}"),
    }
    // The deploy, the winner's write, and the winner giving the description back.
    assert_eq!(harness.lambda.writes(), 3);
    harness.assert_consistent();
}

#[tokio::test]
async fn a_controller_that_keeps_losing_gives_up_with_a_conflict() {
    let harness = Harness::new();
    let controller = harness.controller();
    controller
        .deploy(harness.request("all-at-once", &["manual"]))
        .await
        .unwrap();
    // The description is unchanged by these conflicts, so the controller re-decides each time.
    harness
        .lambda
        .fail_next("update_alias", 3, PortError::Conflict("moved".into()));
    let error = controller.promote(FUNCTION, ALIAS, true).await.unwrap_err();
    assert!(matches!(error, CanaryError::Conflict(_)), "{error}");
    assert_eq!(harness.live().phase, Phase::Paused);
    harness
        .lambda
        .fail_next("update_alias", 2, PortError::Conflict("moved".into()));
    assert_eq!(
        controller
            .promote(FUNCTION, ALIAS, true)
            .await
            .unwrap()
            .phase,
        Phase::Succeeded
    );
}

#[tokio::test]
async fn two_deploys_race() {
    let harness = Harness::new();
    harness.lambda.add_version(FUNCTION); // version 3
    let (a, b) = (harness.controller(), harness.controller());
    let mut other = harness.request("canary10-5m", &[]);
    other.version = lamina_canary::controller::VersionChoice::Existing("3".into());
    let (one, two) = tokio::join!(
        a.deploy(harness.request("canary10-5m", &[])),
        b.deploy(other)
    );
    let (winner, loser) = match (one, two) {
        (Ok(status), Err(error)) | (Err(error), Ok(status)) => (status, error),
        other => panic!("exactly one deploy should win: {other:?}"),
    };
    assert!(
        matches!(&loser, CanaryError::AlreadyInProgress { id } if *id == winner.id),
        "{loser}"
    );
    assert_eq!(harness.live().id, winner.id);
    assert_eq!(harness.lambda.writes(), 1);
    // Both records were written, each under its own id; neither replaced the other.
    assert_eq!(harness.records.writes(), 2);
    assert_eq!(harness.records.ids(FUNCTION, ALIAS).len(), 2);
    assert_eq!(harness.record().id, winner.id);
    harness.assert_consistent();
    let actions = harness.drive(&harness.controller(), 10).await;
    assert_eq!(actions.last(), Some(&Action::Promoted));
    assert_eq!(harness.alias().function_version, winner.canary_version);
}

/// An alias store that answers the first read with the alias as it was before: a deploy that
/// read the alias just before another deploy won it.
#[derive(Debug)]
struct StaleFirstRead {
    inner: Arc<InMemoryLambda>,
    stale: Mutex<Option<AliasState>>,
}

impl AliasStore for StaleFirstRead {
    fn get_alias<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
    ) -> BoxFuture<'a, Result<AliasState, PortError>> {
        let stale = self.stale.lock().unwrap().take();
        match stale {
            Some(state) => Box::pin(async move { Ok(state) }),
            None => self.inner.get_alias(function, alias),
        }
    }

    fn update_alias<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        update: &'a AliasUpdate,
        expected_revision: &'a str,
    ) -> BoxFuture<'a, Result<AliasState, PortError>> {
        self.inner
            .update_alias(function, alias, update, expected_revision)
    }

    fn version_exists<'a>(
        &'a self,
        function: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        self.inner.version_exists(function, version)
    }

    fn publish_version<'a>(
        &'a self,
        function: &'a str,
    ) -> BoxFuture<'a, Result<String, PortError>> {
        self.inner.publish_version(function)
    }
}

#[tokio::test]
async fn a_losing_deploy_never_replaces_the_winners_record() {
    let harness = Harness::new();
    harness.lambda.add_version(FUNCTION); // version 3
    let before = harness.alias();
    let winner = harness
        .controller()
        .deploy(harness.request("canary10-5m", HEALTHY_GATES))
        .await
        .unwrap();
    // The loser read the alias before the winner wrote it, so it writes its record after the
    // winner's whole deploy, then loses the alias write.
    let loser = Controller::new(Ports {
        aliases: Arc::new(StaleFirstRead {
            inner: harness.lambda.clone(),
            stale: Mutex::new(Some(before)),
        }),
        ..harness.controller_ports()
    });
    let mut other = harness.request("canary10-5m", &[]);
    other.version = lamina_canary::controller::VersionChoice::Existing("3".into());
    let error = loser.deploy(other).await.unwrap_err();
    assert!(
        matches!(&error, CanaryError::AlreadyInProgress { id } if *id == winner.id),
        "{error}"
    );
    assert_eq!(harness.records.ids(FUNCTION, ALIAS).len(), 2);
    harness.assert_consistent();
    // The winner's rollout goes on to its end, never drifted.
    let actions = harness.drive(&harness.controller(), 10).await;
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Drifted { .. })),
        "{actions:?}"
    );
    assert_eq!(actions.last(), Some(&Action::Promoted));
    assert_eq!(harness.alias().function_version, "2");
}
