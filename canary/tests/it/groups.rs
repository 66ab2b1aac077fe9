//! Release groups on the in-memory ports: three functions that move in lock-step, a gate
//! failing on one rolling all back, a controller killed after every single write, two
//! controllers racing, person-run commands, and bad input refused with nothing written.

use std::{
    sync::Arc,
    time::{Duration, UNIX_EPOCH},
};

use lamina_canary::{
    clock::{Clock, ManualClock},
    controller::{
        Action, CanaryError, Controller, DeployRequest, GroupDeployRequest, GroupMemberRequest,
        Ports, VersionChoice,
    },
    decision::drift,
    gate::GatePolicy,
    group::GroupRef,
    memory::{InMemoryLambda, InMemoryMetrics, InMemoryRecords, TrafficSimulator},
    ports::PortError,
    record::RolloutRecord,
    state::{LiveState, Phase, RollbackReason},
};

use crate::rollouts::HEALTHY_GATES;

pub const MEMBERS: [&str; 3] = ["api", "upload", "web"];
const ALIAS: &str = "live";
const GROUP: &str = "udagram";

/// Three functions, each with versions 1 (stable, behind `live`) and 2, each with 1000
/// invocations a minute.
pub struct GroupHarness {
    pub lambda: Arc<InMemoryLambda>,
    pub records: Arc<InMemoryRecords>,
    pub metrics: Arc<InMemoryMetrics>,
    pub clock: ManualClock,
    traffic: Vec<(ManualClock, TrafficSimulator)>,
}

impl GroupHarness {
    pub fn new() -> Self {
        let lambda = Arc::new(InMemoryLambda::new());
        let metrics = Arc::new(InMemoryMetrics::new());
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let clock = ManualClock::new(start);
        let traffic = MEMBERS
            .iter()
            .map(|function| {
                lambda.add_function(function);
                assert_eq!(lambda.add_version(function), "1");
                assert_eq!(lambda.add_version(function), "2");
                lambda.add_alias(function, ALIAS, "1", "production traffic");
                // Each simulator advances its own clock; `minute` keeps them with the harness's.
                let own = ManualClock::new(start);
                let simulator = TrafficSimulator::new(
                    lambda.clone(),
                    metrics.clone(),
                    own.clone(),
                    function,
                    ALIAS,
                    1000,
                );
                (own, simulator)
            })
            .collect();
        Self {
            lambda,
            records: Arc::new(InMemoryRecords::new()),
            metrics,
            clock,
            traffic,
        }
    }

    pub fn controller(&self) -> Controller {
        Controller::new(Ports {
            aliases: self.lambda.clone(),
            records: self.records.clone(),
            metrics: self.metrics.clone(),
            hooks: self.lambda.clone(),
            clock: Arc::new(self.clock.clone()),
        })
    }

    /// A minute of traffic on every member.
    pub fn minute(&self) {
        for (own, simulator) in &self.traffic {
            own.set(self.clock.now());
            simulator.minute();
        }
        self.clock.advance(Duration::from_secs(60));
    }

    pub fn set_canary_error_rate(&self, member: usize, rate: f64) {
        self.traffic[member].1.set_error_rate("2", rate);
    }

    pub fn request(&self, strategy: &str, gates: &[&str]) -> GroupDeployRequest {
        GroupDeployRequest {
            name: GROUP.to_owned(),
            members: MEMBERS
                .iter()
                .map(|function| GroupMemberRequest {
                    function: (*function).to_owned(),
                    alias: ALIAS.to_owned(),
                    version: "2".to_owned(),
                })
                .collect(),
            strategy: strategy.parse().unwrap(),
            gates: gates.iter().map(|gate| gate.parse().unwrap()).collect(),
            policy: GatePolicy::default(),
        }
    }

    /// Each member's live state, `None` where its alias does not describe a rollout.
    pub fn lives(&self) -> Vec<Option<LiveState>> {
        MEMBERS
            .iter()
            .map(|function| {
                let alias = self.lambda.alias(function, ALIAS).unwrap();
                LiveState::decode(&alias.description).unwrap()
            })
            .collect()
    }

    pub fn all_in(&self, phase: Phase) -> bool {
        self.lives()
            .iter()
            .all(|live| live.as_ref().is_some_and(|live| live.phase == phase))
    }

    /// Every member at the same phase and step, each alias routing what its description says,
    /// each record naming the same group.
    pub fn assert_aligned(&self) {
        let lives = self.lives();
        let first = lives[0]
            .clone()
            .expect("the first member describes a rollout");
        let mut group: Option<GroupRef> = None;
        for (function, live) in MEMBERS.iter().zip(&lives) {
            let live = live
                .clone()
                .unwrap_or_else(|| panic!("{function}: no rollout"));
            assert_eq!(
                (live.phase, live.step),
                (first.phase, first.step),
                "{function}"
            );
            let alias = self.lambda.alias(function, ALIAS).unwrap();
            let record = RolloutRecord::from_json(
                &self.records.document(function, ALIAS, &live.id).unwrap(),
            )
            .unwrap();
            assert_eq!(drift(&record, &live, &alias), None, "{function}");
            let named = record
                .group
                .clone()
                .expect("a member's record names its group");
            assert_eq!(named.name, GROUP);
            assert_eq!(named.member(function, ALIAS).unwrap().id, live.id);
            if let Some(group) = &group {
                assert_eq!(group, &named);
            }
            group = Some(named);
        }
    }

    /// Every alias back on version 1 with no routing.
    pub fn assert_all_stable(&self) {
        for function in MEMBERS {
            let alias = self.lambda.alias(function, ALIAS).unwrap();
            assert_eq!(
                (alias.function_version.as_str(), alias.routing),
                ("1", None)
            );
        }
    }

    /// Every alias on version 2 with no routing.
    pub fn assert_all_promoted(&self) {
        for function in MEMBERS {
            let alias = self.lambda.alias(function, ALIAS).unwrap();
            assert_eq!(
                (alias.function_version.as_str(), alias.routing),
                ("2", None)
            );
        }
    }
}

/// Deploys the group, then a fresh controller's `run_all` every minute until every member is
/// over. Returns how many calls reported the crash; checks that every pass without a crash
/// leaves the members aligned.
async fn drive(harness: &GroupHarness, crash_at: Option<u64>) -> usize {
    if let Some(write) = crash_at {
        harness.lambda.crash_after_writes(write);
    }
    let mut crashes = 0;
    match harness
        .controller()
        .deploy_group(harness.request("steps:10,50@1m", HEALTHY_GATES))
        .await
    {
        Ok(status) => assert_eq!(status.members.len(), 3),
        Err(CanaryError::Aws(PortError::Unavailable(_))) => crashes += 1,
        Err(other) => panic!("deploy: {other}"),
    }
    if crashes == 0 {
        harness.assert_aligned();
    }
    for _ in 0..60 {
        let lives = harness.lives();
        if lives
            .iter()
            .all(|live| live.as_ref().is_some_and(|live| live.phase.is_terminal()))
        {
            return crashes;
        }
        harness.minute();
        let mut crashed = false;
        for outcome in harness.controller().run_all().await.unwrap() {
            if let Action::Failed { error } = &outcome.action {
                assert!(error.contains("simulated crash"), "{error}");
                crashed = true;
            }
        }
        if crashed {
            crashes += 1;
        } else {
            harness.assert_aligned();
        }
    }
    panic!("the group did not end: {:?}", harness.lives());
}

#[tokio::test]
async fn a_healthy_group_moves_in_lock_step_to_success() {
    let harness = GroupHarness::new();
    assert_eq!(drive(&harness, None).await, 0);
    assert!(harness.all_in(Phase::Succeeded), "{:?}", harness.lives());
    harness.assert_all_promoted();
    // Per member: step 1, step 2, promotion.
    assert_eq!(harness.lambda.writes(), 9);
}

#[tokio::test]
async fn a_gate_failing_on_one_member_rolls_back_every_member() {
    for failing in 0..MEMBERS.len() {
        let harness = GroupHarness::new();
        harness.set_canary_error_rate(failing, 0.3);
        drive(&harness, None).await;
        for live in harness.lives() {
            let live = live.unwrap();
            assert_eq!(
                (live.phase, live.why),
                (Phase::RolledBack, Some(RollbackReason::Gate)),
                "member {failing} failing"
            );
        }
        harness.assert_all_stable();
        // Per member: step 1, then the rollback.
        assert_eq!(harness.lambda.writes(), 6, "member {failing} failing");
    }
}

#[tokio::test]
async fn a_crash_after_every_write_of_a_healthy_group_resumes_to_success() {
    let clean = GroupHarness::new();
    drive(&clean, None).await;
    let writes = clean.lambda.writes();
    for crash_at in 1..=writes {
        let harness = GroupHarness::new();
        assert_eq!(drive(&harness, Some(crash_at)).await, 1, "write {crash_at}");
        assert!(harness.all_in(Phase::Succeeded), "write {crash_at}");
        harness.assert_aligned();
        harness.assert_all_promoted();
        // The write whose answer was lost is not made twice.
        assert_eq!(harness.lambda.writes(), writes, "write {crash_at}");
    }
}

#[tokio::test]
async fn a_crash_after_every_write_of_a_failing_group_resumes_to_rollback() {
    let clean = GroupHarness::new();
    clean.set_canary_error_rate(1, 0.3);
    drive(&clean, None).await;
    let writes = clean.lambda.writes();
    assert_eq!(writes, 6);
    for crash_at in 1..=writes {
        let harness = GroupHarness::new();
        harness.set_canary_error_rate(1, 0.3);
        assert_eq!(drive(&harness, Some(crash_at)).await, 1, "write {crash_at}");
        assert!(harness.all_in(Phase::RolledBack), "write {crash_at}");
        harness.assert_aligned();
        harness.assert_all_stable();
    }
}

#[tokio::test]
async fn two_controllers_racing_on_a_group_make_one_transition() {
    let harness = GroupHarness::new();
    harness
        .controller()
        .deploy_group(harness.request("steps:10,50@1m", HEALTHY_GATES))
        .await
        .unwrap();
    harness.minute();
    let before = harness.lambda.writes();
    let (first, second) = (harness.controller(), harness.controller());
    let (a, b) = tokio::join!(first.run_all(), second.run_all());
    let (a, b) = (a.unwrap(), b.unwrap());
    // One transition: one write per member, whoever made it.
    assert_eq!(harness.lambda.writes() - before, 3);
    harness.assert_aligned();
    assert_eq!(harness.lives()[0].as_ref().unwrap().step, 1);
    let won = |outcomes: &[lamina_canary::controller::RunOutcome]| {
        outcomes
            .iter()
            .all(|outcome| matches!(outcome.action, Action::Advanced { to_step: 1, .. }))
    };
    let lost = |outcomes: &[lamina_canary::controller::RunOutcome]| {
        outcomes
            .iter()
            .all(|outcome| matches!(outcome.action, Action::LostRace))
    };
    assert!(
        (won(&a) && lost(&b)) || (won(&b) && lost(&a)),
        "{a:#?}\n{b:#?}"
    );
}

#[tokio::test]
async fn two_group_deploys_racing_start_one_group() {
    let harness = GroupHarness::new();
    let (first, second) = (harness.controller(), harness.controller());
    let (a, b) = tokio::join!(
        first.deploy_group(harness.request("steps:10,50@1m", HEALTHY_GATES)),
        second.deploy_group(harness.request("steps:10,50@1m", HEALTHY_GATES)),
    );
    assert!(a.is_ok() != b.is_ok(), "{a:?}\n{b:?}");
    let loser = if a.is_ok() { b } else { a };
    assert!(
        matches!(
            loser,
            Err(CanaryError::Conflict(_) | CanaryError::AlreadyInProgress { .. })
        ),
        "{loser:?}"
    );
    // The loser wrote no alias: three writes, one per member, all by the winner.
    assert_eq!(harness.lambda.writes(), 3);
    harness.assert_aligned();
}

#[tokio::test]
async fn abort_promote_and_status_take_the_whole_group() {
    let harness = GroupHarness::new();
    let controller = harness.controller();
    controller
        .deploy_group(harness.request("linear10-1m", HEALTHY_GATES))
        .await
        .unwrap();
    let status = controller.group_status(GROUP).await.unwrap();
    assert_eq!(status.members.len(), 3);
    assert!(
        status.summary.contains("all 3 member(s) shifting step 1"),
        "{}",
        status.summary
    );
    // One member alone cannot be moved.
    for refused in [
        controller.promote("api", ALIAS, true).await,
        controller.abort("web", ALIAS).await,
        controller.pause("upload", ALIAS).await,
    ] {
        assert!(
            matches!(refused, Err(CanaryError::InvalidInput(ref message)) if message.contains("--group udagram")),
            "{refused:?}"
        );
    }
    let writes = harness.lambda.writes();
    let aborted = controller.abort_group(GROUP).await.unwrap();
    assert_eq!(harness.lambda.writes() - writes, 3);
    assert!(aborted.members.iter().all(|member| {
        member
            .rollout
            .as_ref()
            .is_some_and(|rollout| rollout.why == Some(RollbackReason::Abort))
    }));
    harness.assert_all_stable();
    assert!(matches!(
        controller.abort_group(GROUP).await,
        Err(CanaryError::Conflict(_))
    ));

    let harness = GroupHarness::new();
    let controller = harness.controller();
    controller
        .deploy_group(harness.request("linear10-1m", HEALTHY_GATES))
        .await
        .unwrap();
    controller.promote_group(GROUP, true).await.unwrap();
    assert!(harness.all_in(Phase::Succeeded));
    harness.assert_all_promoted();
    assert!(matches!(
        controller.group_status("nobody").await,
        Err(CanaryError::NotFound(_))
    ));
}

#[tokio::test]
async fn promote_is_refused_for_the_whole_group_when_one_member_fails_its_gates() {
    let harness = GroupHarness::new();
    harness.set_canary_error_rate(2, 0.3);
    let controller = harness.controller();
    controller
        .deploy_group(harness.request("linear10-1m", HEALTHY_GATES))
        .await
        .unwrap();
    harness.minute();
    let writes = harness.lambda.writes();
    let refused = controller.promote_group(GROUP, false).await;
    assert!(
        matches!(refused, Err(CanaryError::Refused(ref message)) if message.contains("web:live")),
        "{refused:?}"
    );
    assert_eq!(harness.lambda.writes(), writes, "nothing written");
    harness.assert_aligned();
}

#[tokio::test]
async fn bad_group_deploys_are_refused_with_nothing_written() {
    let harness = GroupHarness::new();
    // web is already in a rollout of its own.
    harness
        .controller()
        .deploy(DeployRequest {
            function: "web".to_owned(),
            alias: ALIAS.to_owned(),
            version: VersionChoice::Existing("2".to_owned()),
            strategy: "canary10-5m".parse().unwrap(),
            gates: vec![],
            policy: GatePolicy::default(),
            pre_hook: None,
            post_hook: None,
        })
        .await
        .unwrap();
    let aliases_before: Vec<_> = MEMBERS
        .iter()
        .map(|function| harness.lambda.alias(function, ALIAS).unwrap())
        .collect();
    let (writes, records) = (harness.lambda.writes(), harness.records.writes());
    let member = |function: &str, version: &str| GroupMemberRequest {
        function: function.to_owned(),
        alias: ALIAS.to_owned(),
        version: version.to_owned(),
    };
    let with = |members: Vec<GroupMemberRequest>| GroupDeployRequest {
        members,
        ..harness.request("canary10-5m", &[])
    };
    let cases = [
        ("in another rollout", harness.request("canary10-5m", &[])),
        (
            "unknown function",
            with(vec![member("api", "2"), member("nope", "2")]),
        ),
        (
            "duplicate member",
            with(vec![member("api", "2"), member("api", "2")]),
        ),
        (
            "unknown version",
            with(vec![member("api", "2"), member("upload", "9")]),
        ),
        (
            "already the primary",
            with(vec![member("api", "2"), member("upload", "1")]),
        ),
        ("no members", with(vec![])),
        (
            "bad name",
            GroupDeployRequest {
                name: "no spaces".to_owned(),
                ..with(vec![member("api", "2")])
            },
        ),
    ];
    for (what, request) in cases {
        let result = harness.controller().deploy_group(request).await;
        let error = result.expect_err(what);
        match what {
            "in another rollout" => assert!(
                matches!(error, CanaryError::AlreadyInProgress { .. }),
                "{what}: {error:?}"
            ),
            "unknown function" => {
                assert!(
                    matches!(error, CanaryError::NotFound(_)),
                    "{what}: {error:?}"
                )
            }
            "unknown version" => {
                assert!(
                    matches!(error, CanaryError::NotFound(_)),
                    "{what}: {error:?}"
                )
            }
            _ => assert!(
                matches!(error, CanaryError::InvalidInput(_)),
                "{what}: {error:?}"
            ),
        }
        assert_eq!(harness.lambda.writes(), writes, "{what}");
        assert_eq!(harness.records.writes(), records, "{what}");
    }
    let aliases_after: Vec<_> = MEMBERS
        .iter()
        .map(|function| harness.lambda.alias(function, ALIAS).unwrap())
        .collect();
    assert_eq!(aliases_before, aliases_after);
}

#[tokio::test]
async fn a_warm_controller_makes_at_most_three_calls_per_member_per_decision() {
    let harness = GroupHarness::new();
    let controller = harness.controller();
    controller
        .deploy_group(harness.request("linear10-1m", HEALTHY_GATES))
        .await
        .unwrap();
    let calls = || {
        harness.lambda.total_calls()
            + ["get_record", "create_record", "history", "list_records"]
                .iter()
                .map(|method| harness.records.calls(method))
                .sum::<u64>()
            + harness.metrics.calls("fetch")
            + harness.metrics.calls("alarm_states")
    };
    let mut decisions = 0;
    while !harness.all_in(Phase::Succeeded) {
        harness.minute();
        let before = calls();
        controller.run_once("api", ALIAS).await.unwrap();
        let made = calls() - before;
        assert!(
            made <= 3 * 3,
            "{made} calls for a group of 3 in one decision"
        );
        decisions += 1;
    }
    // linear10-1m: eight advances (10% to 90%), then the promotion.
    assert_eq!(decisions, 9);
}
