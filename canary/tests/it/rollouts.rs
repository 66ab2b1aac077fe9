//! Whole rollouts on a virtual clock, through the in-memory ports: every preset, unhealthy
//! canaries, low traffic, manual gates, abort, hooks, unavailable data, drift, bad deploys, and
//! the number of AWS calls per decision.

use std::{
    sync::Arc,
    time::{Duration, UNIX_EPOCH},
};

use lamina_canary::{
    clock::ManualClock,
    controller::{
        Action, CanaryError, Controller, DeployRequest, Ports, RolloutStatus, VersionChoice,
    },
    decision::drift,
    gate::{DeadlineAction, GatePolicy},
    memory::{InMemoryLambda, InMemoryMetrics, InMemoryRecords, TrafficSimulator},
    outcome::RolloutOutcome,
    ports::{AlarmState, AliasState, AliasUpdate, HookResponse, PortError, VersionWeight},
    record::RolloutRecord,
    state::{LiveState, Phase, RollbackReason},
    strategy::PRESETS,
};

pub const FUNCTION: &str = "orders";
pub const ALIAS: &str = "live";
pub const HEALTHY_GATES: &[&str] = &["error-rate<=stable", "error-rate<=1%"];

/// A function `orders` with versions 1 (stable, behind `live`) and 2 (the canary), 1000
/// invocations a minute, on a manual clock.
pub struct Harness {
    pub lambda: Arc<InMemoryLambda>,
    pub records: Arc<InMemoryRecords>,
    pub metrics: Arc<InMemoryMetrics>,
    pub clock: ManualClock,
    pub traffic: TrafficSimulator,
}

impl Harness {
    pub fn new() -> Self {
        let lambda = Arc::new(InMemoryLambda::new());
        lambda.add_function(FUNCTION);
        assert_eq!(lambda.add_version(FUNCTION), "1");
        assert_eq!(lambda.add_version(FUNCTION), "2");
        lambda.add_alias(FUNCTION, ALIAS, "1", "production traffic");
        let metrics = Arc::new(InMemoryMetrics::new());
        let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let traffic = TrafficSimulator::new(
            lambda.clone(),
            metrics.clone(),
            clock.clone(),
            FUNCTION,
            ALIAS,
            1000,
        );
        Self {
            lambda,
            records: Arc::new(InMemoryRecords::new()),
            metrics,
            clock,
            traffic,
        }
    }

    pub fn controller_ports(&self) -> Ports {
        Ports {
            aliases: self.lambda.clone(),
            records: self.records.clone(),
            metrics: self.metrics.clone(),
            hooks: self.lambda.clone(),
            clock: Arc::new(self.clock.clone()),
        }
    }

    pub fn controller(&self) -> Controller {
        Controller::new(self.controller_ports())
    }

    pub fn request(&self, strategy: &str, gates: &[&str]) -> DeployRequest {
        DeployRequest {
            function: FUNCTION.to_owned(),
            alias: ALIAS.to_owned(),
            version: VersionChoice::Existing("2".to_owned()),
            strategy: strategy.parse().unwrap(),
            gates: gates.iter().map(|gate| gate.parse().unwrap()).collect(),
            policy: GatePolicy::default(),
            pre_hook: None,
            post_hook: None,
        }
    }

    pub fn alias(&self) -> AliasState {
        self.lambda.alias(FUNCTION, ALIAS).unwrap()
    }

    /// The live state the alias describes or, once an ended rollout has given the alias its
    /// description back, the newest rollout's stored outcome.
    pub fn live(&self) -> LiveState {
        if let Some(live) = LiveState::decode(&self.alias().description).unwrap() {
            return live;
        }
        let newest = self
            .records
            .ids(FUNCTION, ALIAS)
            .into_iter()
            .map(|id| {
                RolloutRecord::from_json(&self.records.document(FUNCTION, ALIAS, &id).unwrap())
                    .unwrap()
            })
            .max_by_key(|record| record.created_at)
            .expect("the alias describes no rollout and has no record");
        let outcome = self
            .records
            .outcome(FUNCTION, ALIAS, &newest.id)
            .expect("the alias describes no rollout and its newest has no outcome");
        RolloutOutcome::from_json(&outcome).unwrap().live_state()
    }

    pub fn record(&self) -> RolloutRecord {
        let id = self.live().id;
        RolloutRecord::from_json(&self.records.document(FUNCTION, ALIAS, &id).unwrap()).unwrap()
    }

    /// The alias routes exactly what its description says.
    pub fn assert_consistent(&self) {
        let (record, live, alias) = (self.record(), self.live(), self.alias());
        assert_eq!(record.id, live.id);
        assert_eq!(drift(&record, &live, &alias), None, "{alias:?}");
    }

    /// The canary's share as the alias routes it now.
    pub fn canary_weight(&self) -> f64 {
        let alias = self.alias();
        if alias.function_version == "2" {
            1.0
        } else {
            alias.routing.map_or(0.0, |routing| routing.weight)
        }
    }

    /// A minute of traffic, then one decision; until the rollout is over or `minutes` pass.
    pub async fn drive(&self, controller: &Controller, minutes: u32) -> Vec<Action> {
        let mut actions = Vec::new();
        for _ in 0..minutes {
            if self.live().phase.is_terminal() {
                break;
            }
            self.traffic.minute();
            actions.push(controller.run_once(FUNCTION, ALIAS).await.unwrap().action);
        }
        actions
    }

    pub fn set_hook(&self, name: &str, function_error: Option<&str>, payload: &str) {
        self.lambda.set_hook(
            name,
            HookResponse {
                status_code: 200,
                function_error: function_error.map(str::to_owned),
                payload: payload.as_bytes().to_vec(),
            },
        );
    }
}

fn advanced_steps(actions: &[Action]) -> Vec<usize> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Advanced { to_step, .. } => Some(*to_step),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_healthy_canary_is_promoted_through_every_preset() {
    for preset in PRESETS {
        let harness = Harness::new();
        let controller = harness.controller();
        let status = controller
            .deploy(harness.request(preset, HEALTHY_GATES))
            .await
            .unwrap();
        let steps = status.steps;
        let actions = harness.drive(&controller, 200).await;
        assert_eq!(
            harness.live().phase,
            Phase::Succeeded,
            "{preset}: {actions:?}"
        );
        harness.assert_consistent();
        assert_eq!(harness.alias().function_version, "2");
        assert_eq!(harness.alias().routing, None);
        let expected: Vec<usize> = (1..steps).collect();
        assert_eq!(advanced_steps(&actions), expected, "{preset}");
        let promoted = actions
            .iter()
            .filter(|a| matches!(a, Action::Promoted))
            .count();
        assert_eq!(promoted, usize::from(steps > 0), "{preset}: {actions:?}");
        assert!(
            !actions
                .iter()
                .any(|a| matches!(a, Action::RolledBack { .. })),
            "{preset}"
        );
        // Each step was held at least its interval: the whole rollout took its total duration.
        let record = harness.record();
        let took = harness
            .live()
            .since
            .duration_since(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
            .unwrap();
        assert!(
            took >= record.strategy.total_duration(),
            "{preset}: {took:?}"
        );
        assert_eq!(
            harness.record().original_description,
            "production traffic",
            "{preset}"
        );
    }
}

#[tokio::test]
async fn an_unhealthy_canary_is_rolled_back_at_its_first_failing_step() {
    // Failing from the start: rolled back in the first step, at the first check.
    let harness = Harness::new();
    harness.traffic.set_error_rate("2", 0.2);
    let controller = harness.controller();
    controller
        .deploy(harness.request("linear10-1m", HEALTHY_GATES))
        .await
        .unwrap();
    let actions = harness.drive(&controller, 100).await;
    assert_eq!(
        actions,
        [Action::RolledBack {
            why: RollbackReason::Gate
        }]
    );
    let live = harness.live();
    assert_eq!(
        (live.phase, live.why, live.step),
        (Phase::RolledBack, Some(RollbackReason::Gate), 0)
    );
    assert_eq!(harness.alias().function_version, "1");
    assert_eq!(harness.alias().routing, None);
    harness.assert_consistent();

    // Healthy for three steps, then failing: rolled back in the fourth.
    let harness = Harness::new();
    let controller = harness.controller();
    controller
        .deploy(harness.request("linear10-2m", HEALTHY_GATES))
        .await
        .unwrap();
    while harness.live().step < 3 {
        harness.traffic.minute();
        controller.run_once(FUNCTION, ALIAS).await.unwrap();
    }
    harness.traffic.set_error_rate("2", 0.05);
    let actions = harness.drive(&controller, 100).await;
    assert_eq!(
        actions.last(),
        Some(&Action::RolledBack {
            why: RollbackReason::Gate
        })
    );
    assert_eq!(harness.live().step, 3);
    harness.assert_consistent();
}

#[tokio::test]
async fn the_failure_limit_tolerates_failed_checks_within_a_step() {
    let harness = Harness::new();
    harness.traffic.set_error_rate("2", 0.2);
    let controller = harness.controller();
    let mut request = harness.request("canary10-30m", &["error-rate<=1%"]);
    request.policy.failure_limit = 2;
    controller.deploy(request).await.unwrap();
    let actions = harness.drive(&controller, 100).await;
    assert_eq!(actions.len(), 3, "{actions:?}");
    assert!(matches!(&actions[0], Action::Waited { reason } if reason.contains("1 of 2")));
    assert!(matches!(&actions[1], Action::Waited { reason } if reason.contains("2 of 2")));
    assert_eq!(
        actions[2],
        Action::RolledBack {
            why: RollbackReason::Gate
        }
    );
}

#[tokio::test]
async fn low_traffic_waits_without_aborting_then_proceeds() {
    let harness = Harness::new();
    harness.traffic.set_per_minute(10); // the canary gets 1 a minute, below min_requests (50)
    let controller = harness.controller();
    controller
        .deploy(harness.request("canary10-5m", HEALTHY_GATES))
        .await
        .unwrap();
    let actions = harness.drive(&controller, 30).await;
    assert_eq!(actions.len(), 30);
    assert!(
        actions.iter().all(|a| matches!(a, Action::Waited { .. })),
        "{actions:?}"
    );
    assert!(matches!(&actions[29], Action::Waited { reason } if reason.contains("enough data")));
    assert_eq!(harness.live().phase, Phase::Shifting);
    let status = controller.status(FUNCTION, ALIAS).await.unwrap();
    assert!(
        status
            .gates
            .results
            .iter()
            .any(|r| matches!(r.verdict, lamina_canary::gate::Verdict::Insufficient))
    );
    harness.traffic.set_per_minute(1000);
    let actions = harness.drive(&controller, 10).await;
    assert_eq!(actions, [Action::Promoted]);
    assert_eq!(harness.live().phase, Phase::Succeeded);
}

#[tokio::test]
async fn a_manual_gate_pauses_until_promote() {
    for (gates, pause_step, weight) in [
        (&["manual@50"][..], 4, 0.5),
        (&["manual", "error-rate<=1%"][..], 8, 0.9),
    ] {
        let harness = Harness::new();
        let controller = harness.controller();
        controller
            .deploy(harness.request("linear10-1m", gates))
            .await
            .unwrap();
        let actions = harness.drive(&controller, 60).await;
        assert!(
            actions.contains(&Action::Paused {
                at_step: pause_step
            }),
            "{actions:?}"
        );
        let live = harness.live();
        assert_eq!((live.phase, live.step), (Phase::Paused, pause_step));
        assert!((harness.canary_weight() - weight).abs() < 1e-9);
        let status = controller.status(FUNCTION, ALIAS).await.unwrap();
        assert!(
            status.summary.contains("canary promote"),
            "{}",
            status.summary
        );
        let status = controller.promote(FUNCTION, ALIAS, false).await.unwrap();
        assert_eq!(status.phase, Phase::Succeeded);
        assert_eq!(status.canary_weight, 1.0);
        harness.assert_consistent();
    }
}

#[tokio::test]
async fn promote_is_refused_by_a_failing_gate_unless_forced() {
    let harness = Harness::new();
    harness.traffic.set_error_rate("2", 0.2);
    let controller = harness.controller();
    let mut request = harness.request("canary10-30m", &["error-rate<=1%"]);
    request.policy.failure_limit = 100;
    controller.deploy(request).await.unwrap();
    harness.traffic.minutes(2);
    let writes = harness.lambda.writes();
    let refused = controller
        .promote(FUNCTION, ALIAS, false)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, CanaryError::Refused(ref m) if m.contains("--force")),
        "{refused}"
    );
    assert_eq!(harness.lambda.writes(), writes);
    let status = controller.promote(FUNCTION, ALIAS, true).await.unwrap();
    assert_eq!(status.phase, Phase::Succeeded);
    let again = controller.promote(FUNCTION, ALIAS, true).await.unwrap_err();
    assert!(matches!(again, CanaryError::NoRollout { .. }), "{again}");
}

async fn abort_in(harness: &Harness, controller: &Controller, phase: Phase) {
    assert_eq!(harness.live().phase, phase);
    let status = controller.abort(FUNCTION, ALIAS).await.unwrap();
    assert_eq!(
        (status.phase, status.why),
        (Phase::RolledBack, Some(RollbackReason::Abort))
    );
    assert_eq!(status.canary_weight, 0.0);
    let alias = harness.alias();
    assert_eq!(
        (alias.function_version.as_str(), alias.routing),
        ("1", None)
    );
    harness.assert_consistent();
    let again = controller.abort(FUNCTION, ALIAS).await.unwrap_err();
    assert!(matches!(again, CanaryError::NoRollout { .. }), "{again}");
    // A rollout that is over is left alone by `run`.
    assert!(controller.run_all().await.unwrap().is_empty());
}

#[tokio::test]
async fn abort_from_every_phase() {
    // pre-hook
    let harness = Harness::new();
    let controller = harness.controller();
    let mut request = harness.request("linear10-1m", &["manual@30"]);
    request.pre_hook = Some("pre".to_owned());
    request.post_hook = Some("post".to_owned());
    controller.deploy(request).await.unwrap();
    abort_in(&harness, &controller, Phase::PreHook).await;

    // shifting
    let harness = Harness::new();
    let controller = harness.controller();
    controller
        .deploy(harness.request("linear10-1m", HEALTHY_GATES))
        .await
        .unwrap();
    harness.drive(&controller, 3).await;
    abort_in(&harness, &controller, Phase::Shifting).await;

    // paused
    let harness = Harness::new();
    let controller = harness.controller();
    controller
        .deploy(harness.request("linear10-1m", &["manual@30"]))
        .await
        .unwrap();
    harness.drive(&controller, 5).await;
    abort_in(&harness, &controller, Phase::Paused).await;

    // post-hook: the primary goes back to the stable version
    let harness = Harness::new();
    let controller = harness.controller();
    let mut request = harness.request("all-at-once", &[]);
    request.post_hook = Some("post".to_owned());
    controller.deploy(request).await.unwrap();
    assert_eq!(harness.alias().function_version, "2");
    abort_in(&harness, &controller, Phase::PostHook).await;

    // succeeded: refused, nothing written
    let harness = Harness::new();
    let controller = harness.controller();
    controller
        .deploy(harness.request("all-at-once", &[]))
        .await
        .unwrap();
    let writes = harness.lambda.writes();
    assert!(matches!(
        controller.abort(FUNCTION, ALIAS).await,
        Err(CanaryError::NoRollout { .. })
    ));
    assert_eq!(harness.lambda.writes(), writes);
}

fn hook_payload(harness: &Harness, index: usize) -> serde_json::Value {
    let invocations = harness.lambda.hook_invocations();
    serde_json::from_slice(&invocations[index].1).unwrap()
}

#[tokio::test]
async fn hooks_that_pass() {
    let harness = Harness::new();
    harness.set_hook("pre", None, r#"{"status":"Succeeded"}"#);
    harness.set_hook("post", None, "null");
    let controller = harness.controller();
    let mut request = harness.request("canary10-5m", HEALTHY_GATES);
    request.pre_hook = Some("pre".to_owned());
    request.post_hook = Some("post".to_owned());
    let status = controller.deploy(request).await.unwrap();
    assert_eq!((status.phase, status.canary_weight), (Phase::PreHook, 0.0));
    let outcome = controller.run_once(FUNCTION, ALIAS).await.unwrap();
    assert_eq!(outcome.action, Action::HookPassed);
    assert_eq!(harness.live().phase, Phase::Shifting);
    let actions = harness.drive(&controller, 20).await;
    assert_eq!(
        actions.iter().rev().take(2).collect::<Vec<_>>(),
        [&Action::Succeeded, &Action::Promoted]
    );
    harness.assert_consistent();

    let id = harness.live().id;
    let pre = hook_payload(&harness, 0);
    assert_eq!(pre["DeploymentId"], id.as_str());
    assert_eq!(pre["LifecycleEventHookExecutionId"], format!("{id}-pre"));
    assert_eq!(pre["LifecycleEvent"], "BeforeAllowTraffic");
    assert_eq!(
        (pre["FunctionName"].as_str(), pre["Alias"].as_str()),
        (Some(FUNCTION), Some(ALIAS))
    );
    assert_eq!(
        (pre["StableVersion"].as_str(), pre["CanaryVersion"].as_str()),
        (Some("1"), Some("2"))
    );
    let post = hook_payload(&harness, 1);
    assert_eq!(post["LifecycleEvent"], "AfterAllowTraffic");
    assert_eq!(post["LifecycleEventHookExecutionId"], format!("{id}-post"));
    assert_eq!(harness.lambda.hook_invocations().len(), 2);
}

#[tokio::test]
async fn hooks_that_fail() {
    // A pre-traffic hook answering "Failed": rolled back before any traffic moved.
    let harness = Harness::new();
    harness.set_hook("pre", None, r#""Failed""#);
    let controller = harness.controller();
    let mut request = harness.request("canary10-5m", &[]);
    request.pre_hook = Some("pre".to_owned());
    controller.deploy(request).await.unwrap();
    let outcome = controller.run_once(FUNCTION, ALIAS).await.unwrap();
    assert_eq!(
        outcome.action,
        Action::RolledBack {
            why: RollbackReason::Hook
        }
    );
    assert_eq!(harness.alias().function_version, "1");
    harness.assert_consistent();

    // A pre-traffic hook that does not exist fails the same way.
    let harness = Harness::new();
    let controller = harness.controller();
    let mut request = harness.request("canary10-5m", &[]);
    request.pre_hook = Some("missing-hook".to_owned());
    controller.deploy(request).await.unwrap();
    let outcome = controller.run_once(FUNCTION, ALIAS).await.unwrap();
    assert_eq!(
        outcome.action,
        Action::RolledBack {
            why: RollbackReason::Hook
        }
    );

    // Lambda unreachable while invoking the hook: an error, and the hook runs again next time.
    let harness = Harness::new();
    harness.set_hook("pre", None, "{}");
    let controller = harness.controller();
    let mut request = harness.request("canary10-5m", &[]);
    request.pre_hook = Some("pre".to_owned());
    controller.deploy(request).await.unwrap();
    harness
        .lambda
        .fail_next("invoke", 1, PortError::Unavailable("throttled".into()));
    assert!(matches!(
        controller.run_once(FUNCTION, ALIAS).await,
        Err(CanaryError::Aws(_))
    ));
    assert_eq!(harness.live().phase, Phase::PreHook);
    assert_eq!(
        controller.run_once(FUNCTION, ALIAS).await.unwrap().action,
        Action::HookPassed
    );

    // A post-traffic hook that throws: the primary goes back to the stable version.
    let harness = Harness::new();
    harness.set_hook("post", Some("Unhandled"), r#"{"errorMessage":"boom"}"#);
    let controller = harness.controller();
    let mut request = harness.request("canary10-5m", HEALTHY_GATES);
    request.post_hook = Some("post".to_owned());
    controller.deploy(request).await.unwrap();
    let actions = harness.drive(&controller, 20).await;
    assert_eq!(
        actions.last(),
        Some(&Action::RolledBack {
            why: RollbackReason::PostHook
        })
    );
    let alias = harness.alias();
    assert_eq!(
        (alias.function_version.as_str(), alias.routing),
        ("1", None)
    );
    harness.assert_consistent();
}

#[tokio::test]
async fn unavailable_data_holds_then_rolls_back_after_the_deadline_when_told_to() {
    let harness = Harness::new();
    let controller = harness.controller();
    let mut request = harness.request("canary10-5m", HEALTHY_GATES);
    request.policy.on_data_deadline = DeadlineAction::Rollback;
    controller.deploy(request).await.unwrap();
    harness.metrics.fail_next(
        "fetch",
        1000,
        PortError::Unavailable("CloudWatch is down".into()),
    );
    let actions = harness.drive(&controller, 30).await;
    // Held from the first check; rolled back once held longer than 10 minutes.
    assert_eq!(actions.len(), 12, "{actions:?}");
    assert!(
        actions[..11]
            .iter()
            .all(|a| matches!(a, Action::Waited { reason } if reason.contains("holding")))
    );
    assert_eq!(
        actions[11],
        Action::RolledBack {
            why: RollbackReason::Deadline
        }
    );
    harness.assert_consistent();
    assert_eq!(harness.alias().function_version, "1");
}

#[tokio::test]
async fn a_short_data_outage_holds_and_then_proceeds() {
    let harness = Harness::new();
    let controller = harness.controller();
    controller
        .deploy(harness.request("canary10-5m", HEALTHY_GATES))
        .await
        .unwrap();
    harness.metrics.fail_next(
        "fetch",
        3,
        PortError::Unavailable("CloudWatch is down".into()),
    );
    harness.drive(&controller, 3).await;
    assert!(harness.live().held.is_some());
    let actions = harness.drive(&controller, 30).await;
    assert_eq!(actions.last(), Some(&Action::Promoted));
    assert_eq!(harness.live().phase, Phase::Succeeded);
}

#[tokio::test]
async fn alarm_gates_roll_back_on_alarm() {
    let harness = Harness::new();
    harness.metrics.set_alarm("orders-5xx", AlarmState::Ok);
    let controller = harness.controller();
    controller
        .deploy(harness.request("linear10-1m", &["alarm:orders-5xx"]))
        .await
        .unwrap();
    harness.drive(&controller, 3).await;
    harness.metrics.set_alarm("orders-5xx", AlarmState::Alarm);
    let actions = harness.drive(&controller, 3).await;
    assert_eq!(
        actions,
        [Action::RolledBack {
            why: RollbackReason::Gate
        }]
    );
}

#[tokio::test]
async fn drift_is_reported_and_never_fought() {
    let harness = Harness::new();
    let controller = harness.controller();
    controller
        .deploy(harness.request("linear10-1m", HEALTHY_GATES))
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
                weight: 0.5,
            }),
            description,
        },
    );
    let writes = harness.lambda.writes();
    for _ in 0..3 {
        harness.traffic.minute();
        let outcome = controller.run_once(FUNCTION, ALIAS).await.unwrap();
        assert!(
            matches!(&outcome.action, Action::Drifted { detail } if detail.contains("50%")),
            "{:?}",
            outcome.action
        );
    }
    // One write, of the description alone, to note since when: the traffic is as edited.
    assert_eq!(harness.lambda.writes(), writes + 1);
    let alias = harness.alias();
    assert_eq!(alias.function_version, "1");
    assert_eq!(alias.routing.as_ref().map(|r| r.weight), Some(0.5));
    assert!(harness.live().held.is_some());
    let status = controller.status(FUNCTION, ALIAS).await.unwrap();
    assert!(
        status.summary.contains("edited by hand"),
        "{}",
        status.summary
    );
    assert!(matches!(
        controller.promote(FUNCTION, ALIAS, true).await,
        Err(CanaryError::Drift(_))
    ));
    let status = controller.abort(FUNCTION, ALIAS).await.unwrap();
    assert_eq!(status.why, Some(RollbackReason::Drift));
    harness.assert_consistent();
}

#[tokio::test]
async fn bad_deploys_are_refused_with_nothing_written() {
    let harness = Harness::new();
    let controller = harness.controller();
    let with = |change: &dyn Fn(&mut DeployRequest)| {
        let mut request = harness.request("canary10-5m", HEALTHY_GATES);
        change(&mut request);
        request
    };
    let cases: Vec<(&str, DeployRequest)> = vec![
        ("missing function", with(&|r| r.function = "nope".into())),
        ("missing alias", with(&|r| r.alias = "nope".into())),
        (
            "missing version",
            with(&|r| r.version = VersionChoice::Existing("9".into())),
        ),
        (
            "not a version",
            with(&|r| r.version = VersionChoice::Existing("$LATEST".into())),
        ),
        (
            "same version",
            with(&|r| r.version = VersionChoice::Existing("1".into())),
        ),
        ("empty hook", with(&|r| r.pre_hook = Some(String::new()))),
        ("bad function name", with(&|r| r.function = "a b".into())),
        (
            "publish on a missing alias",
            with(&|r| {
                r.alias = "nope".into();
                r.version = VersionChoice::Publish;
            }),
        ),
    ];
    for (what, request) in cases {
        let error = controller.deploy(request).await.unwrap_err();
        assert!(
            matches!(
                error,
                CanaryError::NotFound(_) | CanaryError::InvalidInput(_)
            ),
            "{what}: {error}"
        );
        assert!(!error.to_string().is_empty());
    }
    assert_eq!((harness.lambda.writes(), harness.records.writes()), (0, 0));
    assert_eq!(harness.lambda.calls("publish_version"), 0);

    // An alias with routing of its own, or at $LATEST, or with a broken description of ours.
    let edits = [
        (
            "foreign routing",
            "1",
            Some(("2", 0.2)),
            "blue/green by hand",
        ),
        ("at $LATEST", "$LATEST", None, ""),
        ("broken state", "1", None, "lamina-canary/1 id=zz"),
    ];
    for (what, primary, routing, description) in edits {
        harness.lambda.edit_alias(
            FUNCTION,
            ALIAS,
            AliasUpdate {
                function_version: primary.into(),
                routing: routing.map(|(version, weight)| VersionWeight {
                    version: version.into(),
                    weight,
                }),
                description: description.into(),
            },
        );
        let error = controller
            .deploy(harness.request("canary10-5m", &[]))
            .await
            .unwrap_err();
        assert!(
            matches!(error, CanaryError::Drift(_) | CanaryError::InvalidInput(_)),
            "{what}: {error}"
        );
    }
    assert_eq!((harness.lambda.writes(), harness.records.writes()), (0, 0));

    // A rollout in progress.
    harness.lambda.add_alias(FUNCTION, ALIAS, "1", "");
    let status = controller
        .deploy(harness.request("canary10-5m", &[]))
        .await
        .unwrap();
    let writes = (harness.lambda.writes(), harness.records.writes());
    let error = controller
        .deploy(harness.request("canary10-5m", &[]))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CanaryError::AlreadyInProgress { id } if *id == status.id),
        "{error}"
    );
    assert_eq!((harness.lambda.writes(), harness.records.writes()), writes);
}

#[tokio::test]
async fn publish_then_deploy_and_replace_a_finished_rollout() {
    let harness = Harness::new();
    let controller = harness.controller();
    // Unchanged code publishes nothing new: version 2, which differs from the primary.
    let mut request = harness.request("all-at-once", &[]);
    request.version = VersionChoice::Publish;
    let status = controller.deploy(request).await.unwrap();
    assert_eq!(
        (status.canary_version.as_str(), status.phase),
        ("2", Phase::Succeeded)
    );
    // Publishing again gives 2, now the primary: refused.
    let mut request = harness.request("all-at-once", &[]);
    request.version = VersionChoice::Publish;
    assert!(matches!(
        controller.deploy(request).await,
        Err(CanaryError::InvalidInput(_))
    ));
    // New code: version 3 replaces the finished rollout, keeping the first description.
    harness.lambda.change_code(FUNCTION);
    let mut request = harness.request("canary10-5m", &[]);
    request.version = VersionChoice::Publish;
    let status = controller.deploy(request).await.unwrap();
    assert_eq!(
        (
            status.stable_version.as_str(),
            status.canary_version.as_str()
        ),
        ("2", "3")
    );
    assert_eq!(harness.record().original_description, "production traffic");
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["canaryWeight"], 0.1);
    assert_eq!(json["phase"], "shifting");
    assert_eq!(json["step"], 0);
}

/// Calls to every port since the last reset, and the per-method split.
fn calls(harness: &Harness) -> u64 {
    harness.lambda.total_calls()
        + [
            "get_record",
            "create_record",
            "history",
            "list_records",
            "delete_records",
        ]
        .iter()
        .map(|m| harness.records.calls(m))
        .sum::<u64>()
        + ["fetch", "alarm_states"]
            .iter()
            .map(|m| harness.metrics.calls(m))
            .sum::<u64>()
}

#[tokio::test]
async fn a_warm_controller_makes_at_most_three_calls_per_decision() {
    for (gates, limit) in [
        (HEALTHY_GATES, 3),
        (&["error-rate<=1%", "alarm:orders-5xx"][..], 4),
    ] {
        let harness = Harness::new();
        harness.metrics.set_alarm("orders-5xx", AlarmState::Ok);
        harness.set_hook("pre", None, "{}");
        harness.set_hook("post", None, "{}");
        let controller = harness.controller();
        let mut request = harness.request("linear10-1m", gates);
        request.pre_hook = Some("pre".to_owned());
        request.post_hook = Some("post".to_owned());
        controller.deploy(request).await.unwrap();
        // The deploy creates its record and never reads it back: no racing deploy can replace it.
        let deploy_reads = harness.records.calls("get_record");
        assert_eq!(deploy_reads, 0);
        let mut decisions = 0;
        while !harness.live().phase.is_terminal() {
            harness.traffic.minute();
            let before = calls(&harness);
            controller.run_once(FUNCTION, ALIAS).await.unwrap();
            let made = calls(&harness) - before;
            assert!(made <= limit, "{gates:?}: {made} calls in one decision");
            decisions += 1;
        }
        assert!(decisions >= 11);
        assert_eq!(
            harness.records.calls("get_record"),
            deploy_reads,
            "the record comes from the cache"
        );
        // A cold controller reads the record once, then is warm.
        let harness2 = Harness::new();
        let controller = harness2.controller();
        controller
            .deploy(harness2.request("linear10-1m", HEALTHY_GATES))
            .await
            .unwrap();
        let cold = harness2.controller();
        let deploy_reads = harness2.records.calls("get_record");
        for _ in 0..3 {
            harness2.traffic.minute();
            cold.run_once(FUNCTION, ALIAS).await.unwrap();
        }
        assert_eq!(harness2.records.calls("get_record"), deploy_reads + 1);
    }
}

#[tokio::test]
async fn status_and_run_all_cover_every_rollout() {
    let harness = Harness::new();
    harness.lambda.add_alias(FUNCTION, "beta", "1", "");
    harness.lambda.add_alias(FUNCTION, "gamma", "1", "");
    let controller = harness.controller();
    controller
        .deploy(harness.request("linear10-1m", &[]))
        .await
        .unwrap();
    let mut beta = harness.request("canary10-5m", &[]);
    beta.alias = "beta".into();
    controller.deploy(beta).await.unwrap();
    let mut gamma = harness.request("all-at-once", &[]);
    gamma.alias = "gamma".into();
    controller.deploy(gamma).await.unwrap();

    let statuses: Vec<RolloutStatus> = controller.status_all().await.unwrap();
    let phases: Vec<(&str, Phase)> = statuses
        .iter()
        .map(|s| (s.alias.as_str(), s.phase))
        .collect();
    assert_eq!(
        phases,
        [
            ("beta", Phase::Shifting),
            ("gamma", Phase::Succeeded),
            ("live", Phase::Shifting)
        ]
    );
    let live = statuses.iter().find(|s| s.alias == "live").unwrap();
    assert_eq!((live.step, live.steps), (Some(0), 9));
    assert_eq!(
        live.next_step_unix,
        Some(live.step_started_unix.unwrap() + 60)
    );
    assert!(live.summary.contains("10%"), "{}", live.summary);

    // One alias unreachable: its outcome says so; the other still moves; gamma is over.
    harness.clock.advance(Duration::from_secs(60));
    harness
        .lambda
        .fail_next("get_alias", 1, PortError::Unavailable("throttled".into()));
    let outcomes = controller.run_all().await.unwrap();
    let actions: Vec<(&str, &Action)> = outcomes
        .iter()
        .map(|o| (o.alias.as_str(), &o.action))
        .collect();
    // Rollouts are decided concurrently: whichever read the scheduler ran first got the error;
    // it alone failed, and every other rollout in progress got its decision (gamma is over).
    let failed = actions
        .iter()
        .filter(
            |(_, action)| matches!(action, Action::Failed { error } if error.contains("throttled")),
        )
        .count();
    assert_eq!(failed, 1, "{actions:?}");
    for (alias, action) in &actions {
        match (*alias, action) {
            (_, Action::Failed { .. }) => {}
            ("live", Action::Advanced { to_step: 1, .. }) | ("beta", Action::Waited { .. }) => {}
            other => panic!("{other:?} in {actions:?}"),
        }
    }
    let moved = controller.run_all().await.unwrap();
    let live = moved.iter().find(|o| o.alias == "live").unwrap();
    let json = serde_json::to_value(live).unwrap();
    assert!(
        ["advanced", "waited"].contains(&json["action"]["action"].as_str().unwrap()),
        "{json}"
    );
    assert_eq!(live.status.as_ref().unwrap().step, Some(1));
    assert!(matches!(
        controller.status(FUNCTION, "nope").await,
        Err(CanaryError::NotFound(_))
    ));
    harness.lambda.add_alias(FUNCTION, "plain", "1", "");
    assert!(matches!(
        controller.status(FUNCTION, "plain").await,
        Err(CanaryError::NoRollout { .. })
    ));
}
