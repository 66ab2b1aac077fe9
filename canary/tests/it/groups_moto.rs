//! A release group of three functions against moto through the real Lambda and SSM SDKs:
//! deploy, a step, and a gate failing on one member rolling back all three, every alias read
//! back through the SDK. The gates read the in-memory metrics: the current CloudWatch SDK speaks
//! a protocol moto does not serve.

use std::{
    sync::Arc,
    time::{Duration, UNIX_EPOCH},
};

use lamina_canary::{
    aws::AwsBackends,
    clock::{Clock, ManualClock},
    controller::{Action, Controller, GroupDeployRequest, GroupMemberRequest, Ports},
    gate::GatePolicy,
    memory::InMemoryMetrics,
    record::RolloutRecord,
    state::{LiveState, Phase, RollbackReason},
};
use lamina_local::moto::MotoServer;

use crate::moto_function::function_with_alias;

const MEMBERS: [&str; 3] = ["api", "upload", "web"];

/// The alias as the Lambda SDK reads it: primary, the weight of version 2, description.
async fn alias(lambda: &aws_sdk_lambda::Client, function: &str) -> (String, f64, String) {
    let read = lambda
        .get_alias()
        .function_name(function)
        .name("live")
        .send()
        .await
        .unwrap();
    let weight = read
        .routing_config()
        .and_then(|routing| routing.additional_version_weights())
        .and_then(|weights| weights.get("2").copied())
        .unwrap_or(0.0);
    (
        read.function_version().unwrap_or_default().to_owned(),
        weight,
        read.description().unwrap_or_default().to_owned(),
    )
}

/// A minute of traffic on every member: 1000 invocations, `errors[i]` of the canary's failing.
fn minute(metrics: &InMemoryMetrics, clock: &ManualClock, canary_errors: [u64; 3]) {
    let now = clock.now();
    for (function, errors) in MEMBERS.iter().zip(canary_errors) {
        metrics.record(function, "live", "1", now, 900, 0, 0, 40.0);
        metrics.record(function, "live", "2", now, 100, errors, 0, 40.0);
    }
    clock.advance(Duration::from_secs(60));
}

#[tokio::test]
async fn a_group_of_three_deploys_steps_and_rolls_back_together_on_moto() {
    let moto = MotoServer::start().await.unwrap();
    moto.disable_lambda_docker().await.unwrap();
    let mut lambda = None;
    for function in MEMBERS {
        lambda = Some(function_with_alias(&moto, function, "production traffic").await);
    }
    let lambda = lambda.unwrap();
    let aws = AwsBackends::new(moto.sdk_config());
    let ssm = aws_sdk_ssm::Client::new(moto.sdk_config());
    let metrics = Arc::new(InMemoryMetrics::new());
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let ports = Ports {
        aliases: Arc::new(aws.aliases),
        records: Arc::new(aws.records),
        metrics: metrics.clone(),
        hooks: Arc::new(aws.hooks),
        clock: Arc::new(clock.clone()),
    };
    let controller = Controller::new(ports.clone());
    let status = controller
        .deploy_group(GroupDeployRequest {
            name: "udagram".to_owned(),
            members: MEMBERS
                .iter()
                .map(|function| GroupMemberRequest {
                    function: (*function).to_owned(),
                    alias: "live".to_owned(),
                    version: "2".to_owned(),
                })
                .collect(),
            strategy: "steps:10,50,80@1m".parse().unwrap(),
            gates: vec!["error-rate<=5%".parse().unwrap()],
            policy: GatePolicy {
                min_requests: 50,
                ..GatePolicy::default()
            },
        })
        .await
        .unwrap();
    assert_eq!(status.members.len(), 3);

    // Every member at 10%, its description at step 1, its SSM record naming the group.
    let mut ids = Vec::new();
    for function in MEMBERS {
        let (primary, weight, description) = alias(&lambda, function).await;
        assert_eq!((primary.as_str(), weight), ("1", 0.1), "{function}");
        let live = LiveState::decode(&description).unwrap().unwrap();
        assert_eq!((live.phase, live.step), (Phase::Shifting, 0), "{function}");
        let parameter = ssm
            .get_parameter()
            .name(lamina_canary::aws::record_parameter_name(function, "live", &live.id).unwrap())
            .send()
            .await
            .unwrap();
        let record =
            RolloutRecord::from_json(parameter.parameter().unwrap().value().unwrap()).unwrap();
        let group = record.group.unwrap();
        assert_eq!(group.name, "udagram");
        assert_eq!(group.members.len(), 3);
        assert_eq!(group.member(function, "live").unwrap().id, live.id);
        ids.push(live.id);
    }

    // A healthy minute: a fresh controller moves all three to 50%.
    minute(&metrics, &clock, [0, 0, 0]);
    let outcomes = Controller::new(ports.clone()).run_all().await.unwrap();
    assert_eq!(outcomes.len(), 3, "{outcomes:#?}");
    assert!(
        outcomes
            .iter()
            .all(|outcome| matches!(outcome.action, Action::Advanced { to_step: 1, .. }))
    );
    for function in MEMBERS {
        let (primary, weight, _) = alias(&lambda, function).await;
        assert_eq!((primary.as_str(), weight), ("1", 0.5), "{function}");
    }

    // `upload`'s canary fails 30% of its requests: all three go back to version 1.
    minute(&metrics, &clock, [0, 30, 0]);
    let outcomes = Controller::new(ports.clone()).run_all().await.unwrap();
    assert!(
        outcomes.iter().all(|outcome| outcome.action
            == Action::RolledBack {
                why: RollbackReason::Gate
            }),
        "{outcomes:#?}"
    );
    for (function, id) in MEMBERS.iter().zip(&ids) {
        let (primary, weight, description) = alias(&lambda, function).await;
        assert_eq!((primary.as_str(), weight), ("1", 0.0), "{function}");
        let live = LiveState::decode(&description).unwrap().unwrap();
        assert_eq!(&live.id, id);
        assert_eq!(
            (live.phase, live.why),
            (Phase::RolledBack, Some(RollbackReason::Gate))
        );
    }
    // Nothing left to decide.
    minute(&metrics, &clock, [0, 0, 0]);
    assert!(Controller::new(ports).run_all().await.unwrap().is_empty());
}
