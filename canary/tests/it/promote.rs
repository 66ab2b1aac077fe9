//! `canary promote` moves a rollout on one step; `canary promote --full` finishes it now.

use lamina_canary::{
    controller::CanaryError,
    state::{Phase, RollbackReason},
};

use crate::rollouts::{ALIAS, FUNCTION, HEALTHY_GATES, Harness};

#[tokio::test]
async fn promote_moves_on_one_step_and_then_finishes() {
    let harness = Harness::new();
    let controller = harness.controller();
    controller
        .deploy(harness.request("steps:10,50@1h", &[]))
        .await
        .unwrap();
    let stepped = controller
        .promote_step(FUNCTION, ALIAS, false)
        .await
        .unwrap();
    assert_eq!((stepped.phase, stepped.step), (Phase::Shifting, Some(1)));
    assert_eq!(harness.alias().routing.unwrap().weight, 0.5);
    harness.assert_consistent();
    // From the last step, the next one is all the traffic.
    let done = controller
        .promote_step(FUNCTION, ALIAS, false)
        .await
        .unwrap();
    assert_eq!(done.phase, Phase::Succeeded);
    assert_eq!(harness.alias().function_version, "2");
    assert_eq!(harness.alias().description, "production traffic");
}

#[tokio::test]
async fn promote_stops_at_the_next_manual_gate_and_full_goes_past_it() {
    let harness = Harness::new();
    let controller = harness.controller();
    controller
        .deploy(harness.request("steps:10,50,80@1h", &["manual@50"]))
        .await
        .unwrap();
    let stepped = controller
        .promote_step(FUNCTION, ALIAS, false)
        .await
        .unwrap();
    assert_eq!((stepped.phase, stepped.step), (Phase::Paused, Some(1)));
    // Promoting a paused rollout lets it past its gate, to the step after.
    let stepped = controller
        .promote_step(FUNCTION, ALIAS, false)
        .await
        .unwrap();
    assert_eq!((stepped.phase, stepped.step), (Phase::Shifting, Some(2)));
    let full = controller.promote(FUNCTION, ALIAS, false).await.unwrap();
    assert_eq!(full.phase, Phase::Succeeded);
}

#[tokio::test]
async fn promote_is_refused_by_failing_gates_and_before_the_pre_hook_and_changes_nothing() {
    let harness = Harness::new();
    harness.traffic.set_error_rate("2", 0.5);
    let controller = harness.controller();
    controller
        .deploy(harness.request("steps:10,50@1h", HEALTHY_GATES))
        .await
        .unwrap();
    harness.traffic.minute();
    harness.traffic.minute();
    let writes = harness.lambda.writes();
    let refused = controller.promote_step(FUNCTION, ALIAS, false).await;
    assert!(
        matches!(refused, Err(CanaryError::Refused(_))),
        "{refused:?}"
    );
    assert_eq!(harness.lambda.writes(), writes);
    assert_eq!(harness.live().step, 0);
    // --force goes on anyway.
    let forced = controller
        .promote_step(FUNCTION, ALIAS, true)
        .await
        .unwrap();
    assert_eq!(forced.step, Some(1));
    controller.abort(FUNCTION, ALIAS).await.unwrap();
    assert_eq!(harness.live().why, Some(RollbackReason::Abort));

    let mut request = harness.request("steps:10,50@1h", &[]);
    request.pre_hook = Some("pre".to_owned());
    controller.deploy(request).await.unwrap();
    let writes = harness.lambda.writes();
    let refused = controller.promote_step(FUNCTION, ALIAS, false).await;
    match refused {
        Err(CanaryError::Conflict(message)) => assert!(message.contains("--full"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(harness.lambda.writes(), writes);
    assert_eq!(harness.live().phase, Phase::PreHook);
}
