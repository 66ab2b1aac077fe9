//! A function, alias or version deleted during a rollout ends it cleanly: no endless errors,
//! no records left behind for a function that is gone.

use std::sync::Arc;

use lamina_canary::{
    aws::AwsBackends,
    clock::SystemClock,
    controller::{Action, CanaryError, Controller, DeployRequest, Ports, VersionChoice},
    gate::GatePolicy,
    ports::RecordStore,
    state::{Phase, RollbackReason},
};
use lamina_local::moto::MotoServer;

use crate::{
    moto_function::function_with_alias,
    rollouts::{ALIAS, FUNCTION, HEALTHY_GATES, Harness},
};

#[tokio::test]
async fn a_deleted_function_ends_its_rollout_and_its_records() {
    let harness = Harness::new();
    let controller = harness.controller();
    controller
        .deploy(harness.request("linear10-1m", HEALTHY_GATES))
        .await
        .unwrap();
    harness.drive(&controller, 2).await;
    harness.lambda.delete_function(FUNCTION);
    let outcomes = controller.run_all().await.unwrap();
    assert_eq!(outcomes.len(), 1);
    assert!(
        matches!(&outcomes[0].action, Action::Vanished { detail } if detail.contains(FUNCTION)),
        "{:?}",
        outcomes[0].action
    );
    assert!(harness.records.ids(FUNCTION, ALIAS).is_empty());
    // Nothing is left to decide, and asking about it again is a plain "not found".
    assert!(controller.run_all().await.unwrap().is_empty());
    assert!(matches!(
        controller.run_once(FUNCTION, ALIAS).await,
        Err(CanaryError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_canary_version_deleted_before_it_got_traffic_rolls_back() {
    let harness = Harness::new();
    harness.set_hook("pre", None, "{}");
    let controller = harness.controller();
    let mut request = harness.request("canary10-5m", HEALTHY_GATES);
    request.pre_hook = Some("pre".to_owned());
    controller.deploy(request).await.unwrap();
    // In the pre-hook phase no alias routes to the canary, so Lambda lets it be deleted.
    harness.lambda.delete_version(FUNCTION, "2").unwrap();
    let outcome = controller.run_once(FUNCTION, ALIAS).await.unwrap();
    assert_eq!(
        outcome.action,
        Action::RolledBack {
            why: RollbackReason::Vanished
        }
    );
    let live = harness.live();
    assert_eq!(
        (live.phase, live.why),
        (Phase::RolledBack, Some(RollbackReason::Vanished))
    );
    let alias = harness.alias();
    assert_eq!(
        (alias.function_version.as_str(), alias.routing),
        ("1", None)
    );
    // The record stays as history; the next decision gives the alias its description back.
    assert_eq!(
        harness.records.ids(FUNCTION, ALIAS),
        std::slice::from_ref(&live.id)
    );
    assert_eq!(
        controller.run_once(FUNCTION, ALIAS).await.unwrap().action,
        Action::Finished
    );
    assert_eq!(harness.alias().description, "production traffic");
    assert_eq!(harness.live().why, Some(RollbackReason::Vanished));
}

#[tokio::test]
async fn a_referenced_version_cannot_be_deleted_so_a_shifting_rollout_keeps_both() {
    let harness = Harness::new();
    let controller = harness.controller();
    controller
        .deploy(harness.request("canary10-5m", HEALTHY_GATES))
        .await
        .unwrap();
    assert!(harness.lambda.delete_version(FUNCTION, "2").is_err());
    assert!(harness.lambda.delete_version(FUNCTION, "1").is_err());
}

#[tokio::test]
async fn against_moto_a_deleted_function_leaves_no_records() {
    let moto = MotoServer::start().await.unwrap();
    moto.disable_lambda_docker().await.unwrap();
    let lambda = function_with_alias(&moto, "orders", "production traffic").await;
    let aws = AwsBackends::new(moto.sdk_config());
    let records = Arc::new(aws.records);
    let controller = Controller::new(Ports {
        aliases: Arc::new(aws.aliases),
        records: records.clone(),
        metrics: Arc::new(aws.metrics),
        hooks: Arc::new(aws.hooks),
        clock: Arc::new(SystemClock),
    });
    let status = controller
        .deploy(DeployRequest {
            function: "orders".to_owned(),
            alias: "live".to_owned(),
            version: VersionChoice::Existing("2".to_owned()),
            strategy: "canary10-30m".parse().unwrap(),
            gates: Vec::new(),
            policy: GatePolicy::default(),
            pre_hook: None,
            post_hook: None,
        })
        .await
        .unwrap();
    assert_eq!(
        records.history("orders", "live").await.unwrap()[0].0,
        status.id
    );
    lambda
        .delete_function()
        .function_name("orders")
        .send()
        .await
        .unwrap();
    let outcomes = controller.run_all().await.unwrap();
    assert!(
        matches!(outcomes.as_slice(), [outcome] if matches!(outcome.action, Action::Vanished { .. })),
        "{outcomes:?}"
    );
    assert!(records.history("orders", "live").await.unwrap().is_empty());
    assert!(records.list_records().await.unwrap().is_empty());
}
