#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use super::*;
use crate::{
    gate::{DeadlineAction, GatePolicy, GateResult},
    state::from_unix_seconds,
};

const T0: u64 = 1_700_000_000;

fn at(seconds: u64) -> SystemTime {
    from_unix_seconds(T0 + seconds)
}

fn record(strategy: &str, gates: &[&str], pre: bool, post: bool) -> RolloutRecord {
    RolloutRecord {
        format: 1,
        id: "0123456789ab".to_owned(),
        function: "orders".to_owned(),
        alias: "live".to_owned(),
        stable_version: "3".to_owned(),
        canary_version: "4".to_owned(),
        strategy: strategy.parse().unwrap(),
        gates: gates.iter().map(|gate| gate.parse().unwrap()).collect(),
        policy: GatePolicy {
            min_requests: 50,
            failure_limit: 1,
            data_deadline: Duration::from_secs(600),
            on_data_deadline: DeadlineAction::Rollback,
            ..GatePolicy::default()
        },
        pre_hook: pre.then(|| "pre".to_owned()),
        post_hook: post.then(|| "post".to_owned()),
        created_at: T0,
        original_description: String::new(),
        group: None,
    }
}

fn live(phase: Phase, step: usize) -> LiveState {
    LiveState {
        id: "0123456789ab".to_owned(),
        phase,
        step,
        since: at(0),
        fails: 0,
        held: None,
        why: (phase == Phase::RolledBack).then_some(RollbackReason::Abort),
    }
}

/// The alias exactly as `live` describes it.
fn alias(record: &RolloutRecord, live: &LiveState) -> AliasState {
    let (function_version, routing) = expected_alias(record, live.phase, live.step);
    AliasState {
        function_version,
        routing,
        description: live.encode(),
        revision_id: "r1".to_owned(),
    }
}

fn report(verdicts: &[Verdict]) -> GateReport {
    GateReport {
        results: verdicts
            .iter()
            .enumerate()
            .map(|(index, verdict)| GateResult {
                gate: format!("gate{index}"),
                verdict: *verdict,
                detail: String::new(),
                observed: BTreeMap::new(),
            })
            .collect(),
    }
}

fn decide_at(
    record: &RolloutRecord,
    live: &LiveState,
    verdicts: Option<&[Verdict]>,
    now: u64,
) -> Plan {
    let report = verdicts.map(report);
    decide(record, live, &alias(record, live), report.as_ref(), at(now))
}

/// The state a plan writes, checking that its update matches it.
fn written(record: &RolloutRecord, plan: &Plan) -> LiveState {
    let next = plan.next.clone().expect("the plan writes");
    let update = plan.update.as_ref().unwrap();
    assert_eq!(
        LiveState::decode(&update.description).unwrap(),
        Some(next.clone())
    );
    let (primary, routing) = expected_alias(record, next.phase, next.step);
    assert_eq!(update.function_version, primary);
    assert_eq!(update.routing, routing);
    crate::ports::validate_alias_update(update).unwrap();
    next
}

#[test]
fn start_goes_to_the_pre_hook_or_the_first_step_or_straight_to_full() {
    /// Strategy, gates, pre-hook, post-hook; then the decision, the phase written, the
    /// canary's weight and the primary version.
    type Case = (
        &'static str,
        &'static [&'static str],
        bool,
        bool,
        Decision,
        Phase,
        Option<f64>,
        &'static str,
    );
    let cases: &[Case] = &[
        (
            "linear10-1m",
            &[],
            true,
            false,
            Decision::RunPreHook,
            Phase::PreHook,
            None,
            "3",
        ),
        (
            "linear10-1m",
            &[],
            false,
            false,
            Decision::Advance { to_step: 0 },
            Phase::Shifting,
            Some(0.1),
            "3",
        ),
        (
            "canary10-5m",
            &["manual@5"],
            false,
            false,
            Decision::Pause { at_step: 0 },
            Phase::Paused,
            Some(0.1),
            "3",
        ),
        (
            "all-at-once",
            &[],
            false,
            false,
            Decision::Promote,
            Phase::Succeeded,
            None,
            "4",
        ),
        (
            "all-at-once",
            &[],
            false,
            true,
            Decision::Promote,
            Phase::PostHook,
            None,
            "4",
        ),
        (
            "all-at-once",
            &["manual"],
            false,
            false,
            Decision::Pause { at_step: 0 },
            Phase::Paused,
            None,
            "3",
        ),
    ];
    for (strategy, gates, pre, post, decision, phase, weight, primary) in cases {
        let record = record(strategy, gates, *pre, *post);
        let plan = plan_start(&record, at(5));
        assert_eq!(&plan.decision, decision, "{strategy} {gates:?}");
        let next = written(&record, &plan);
        assert_eq!(next.phase, *phase);
        assert_eq!(next.since, at(5));
        let update = plan.update.unwrap();
        assert_eq!(update.function_version, *primary);
        assert_eq!(update.routing.map(|r| r.weight), *weight);
    }
}

#[test]
fn terminal_phases_are_done_and_write_nothing() {
    let record = record("linear10-1m", &["error-rate<=1%"], false, false);
    for phase in [Phase::Succeeded, Phase::RolledBack] {
        let plan = decide_at(&record, &live(phase, 3), Some(&[Verdict::Fail]), 999);
        assert_eq!(plan.decision, Decision::Done);
        assert!(plan.update.is_none());
    }
}

#[test]
fn hook_phases_run_their_hook() {
    let record = record("linear10-1m", &[], true, true);
    assert_eq!(
        decide_at(&record, &live(Phase::PreHook, 0), None, 1).decision,
        Decision::RunPreHook
    );
    assert_eq!(
        decide_at(&record, &live(Phase::PostHook, 8), None, 1).decision,
        Decision::RunPostHook
    );
}

#[test]
fn hook_results() {
    let record = record("linear10-1m", &[], true, true);
    let cases = [
        (
            Phase::PreHook,
            true,
            Decision::Advance { to_step: 0 },
            Phase::Shifting,
            None,
        ),
        (
            Phase::PreHook,
            false,
            Decision::RollBack {
                why: RollbackReason::Hook,
            },
            Phase::RolledBack,
            Some(RollbackReason::Hook),
        ),
        (
            Phase::PostHook,
            true,
            Decision::Succeed,
            Phase::Succeeded,
            None,
        ),
        (
            Phase::PostHook,
            false,
            Decision::RollBack {
                why: RollbackReason::PostHook,
            },
            Phase::RolledBack,
            Some(RollbackReason::PostHook),
        ),
    ];
    for (phase, passed, decision, next_phase, why) in cases {
        let plan = after_hook(&record, &live(phase, 0), passed, at(30));
        assert_eq!(plan.decision, decision);
        let next = written(&record, &plan);
        assert_eq!((next.phase, next.why), (next_phase, why));
    }
    assert_eq!(
        after_hook(&record, &live(Phase::Shifting, 0), true, at(1)).decision,
        Decision::Done
    );
    // A failed pre-hook with a manual gate at the first step still pauses when it passes.
    let manual = self::record("canary10-5m", &["manual@10"], true, false);
    let plan = after_hook(&manual, &live(Phase::PreHook, 0), true, at(1));
    assert_eq!(plan.decision, Decision::Pause { at_step: 0 });
}

#[test]
fn shifting_waits_for_the_hold_then_advances() {
    let record = record("linear10-1m", &["error-rate<=1%"], false, false);
    let state = live(Phase::Shifting, 2);
    let plan = decide_at(&record, &state, Some(&[Verdict::Pass]), 59);
    assert_eq!(
        plan.decision,
        Decision::Wait {
            reason: format!("step 3 holds until {}", T0 + 60),
            next_check: Some(at(60))
        }
    );
    assert!(plan.update.is_none());
    let plan = decide_at(&record, &state, Some(&[Verdict::Pass]), 60);
    assert_eq!(plan.decision, Decision::Advance { to_step: 3 });
    let next = written(&record, &plan);
    assert_eq!((next.step, next.since, next.fails), (3, at(60), 0));
    assert_eq!(plan.update.unwrap().routing.unwrap().weight, 0.4);
}

#[test]
fn no_gates_means_pass() {
    let record = record("canary10-5m", &[], false, false);
    assert_eq!(
        decide_at(&record, &live(Phase::Shifting, 0), None, 300).decision,
        Decision::Promote
    );
}

#[test]
fn after_the_last_step_promotes_to_post_hook_or_success() {
    for (post, phase) in [(false, Phase::Succeeded), (true, Phase::PostHook)] {
        let record = record("linear10-1m", &[], false, post);
        let plan = decide_at(&record, &live(Phase::Shifting, 8), None, 60);
        assert_eq!(plan.decision, Decision::Promote);
        let next = written(&record, &plan);
        assert_eq!(next.phase, phase);
        let update = plan.update.unwrap();
        assert_eq!(
            (update.function_version.as_str(), update.routing),
            ("4", None)
        );
    }
}

#[test]
fn failures_within_the_limit_wait_and_count() {
    let record = record("linear10-1m", &["error-rate<=1%"], false, false);
    let state = live(Phase::Shifting, 1);
    let plan = decide_at(&record, &state, Some(&[Verdict::Pass, Verdict::Fail]), 10);
    assert!(matches!(&plan.decision, Decision::Wait { reason, .. } if reason.contains("gate1")));
    assert_eq!(written(&record, &plan).fails, 1);
    // Even after the hold, a failing gate does not advance.
    let state = LiveState { fails: 1, ..state };
    let plan = decide_at(&record, &state, Some(&[Verdict::Fail]), 100);
    assert_eq!(
        plan.decision,
        Decision::RollBack {
            why: RollbackReason::Gate
        }
    );
    let next = written(&record, &plan);
    assert_eq!(
        (next.phase, next.why, next.step),
        (Phase::RolledBack, Some(RollbackReason::Gate), 1)
    );
    assert_eq!(plan.update.unwrap().function_version, "3");
}

#[test]
fn a_zero_failure_limit_rolls_back_at_the_first_failure() {
    let mut record = record("canary10-5m", &["error-rate<=1%"], false, false);
    record.policy.failure_limit = 0;
    let plan = decide_at(
        &record,
        &live(Phase::Shifting, 0),
        Some(&[Verdict::Fail]),
        1,
    );
    assert_eq!(
        plan.decision,
        Decision::RollBack {
            why: RollbackReason::Gate
        }
    );
}

#[test]
fn failure_beats_unavailable_and_insufficient() {
    let mut record = record("canary10-5m", &["error-rate<=1%"], false, false);
    record.policy.failure_limit = 0;
    let verdicts = [Verdict::Insufficient, Verdict::Unavailable, Verdict::Fail];
    let plan = decide_at(&record, &live(Phase::Shifting, 0), Some(&verdicts), 1);
    assert_eq!(
        plan.decision,
        Decision::RollBack {
            why: RollbackReason::Gate
        }
    );
}

#[test]
fn unavailable_data_holds_then_rolls_back_after_the_deadline() {
    let record = record("canary10-5m", &["error-rate<=1%"], false, false);
    let state = live(Phase::Shifting, 0);
    // First unavailable check: held is set (a write).
    let plan = decide_at(&record, &state, Some(&[Verdict::Unavailable]), 400);
    assert!(matches!(plan.decision, Decision::Wait { .. }));
    let held = written(&record, &plan);
    assert_eq!(held.held, Some(at(400)));
    // Still unavailable within the deadline: no write, even after the hold.
    let plan = decide_at(&record, &held, Some(&[Verdict::Unavailable]), 1000);
    assert!(matches!(plan.decision, Decision::Wait { .. }));
    assert!(plan.update.is_none());
    // Past the deadline: rolled back.
    let plan = decide_at(&record, &held, Some(&[Verdict::Unavailable]), 1001);
    assert_eq!(
        plan.decision,
        Decision::RollBack {
            why: RollbackReason::Deadline
        }
    );
    // Data back: held is cleared, and the step advances if its hold is over.
    let plan = decide_at(&record, &held, Some(&[Verdict::Pass]), 500);
    assert_eq!(plan.decision, Decision::Promote);
    let plan = decide_at(&record, &held, Some(&[Verdict::Pass]), 200);
    assert!(matches!(plan.decision, Decision::Wait { .. }));
    assert_eq!(written(&record, &plan).held, None);
}

#[test]
fn a_failure_while_held_keeps_the_hold() {
    let record = record("canary10-5m", &["error-rate<=1%"], false, false);
    let state = LiveState {
        held: Some(at(7)),
        ..live(Phase::Shifting, 0)
    };
    let plan = decide_at(
        &record,
        &state,
        Some(&[Verdict::Fail, Verdict::Unavailable]),
        10,
    );
    let next = written(&record, &plan);
    assert_eq!((next.fails, next.held), (1, Some(at(7))));
}

#[test]
fn insufficient_data_waits_until_the_progress_deadline() {
    let mut record = record("canary10-5m", &["error-rate<=1%"], false, false);
    let state = live(Phase::Shifting, 0);
    // The hold ends at 300 s; the progress deadline (30 minutes) at 2100 s.
    for now in [10, 300, 2099] {
        let plan = decide_at(
            &record,
            &state,
            Some(&[Verdict::Pass, Verdict::Insufficient]),
            now,
        );
        assert!(matches!(plan.decision, Decision::Wait { .. }), "{now}");
        assert!(plan.update.is_none());
    }
    let plan = decide_at(
        &record,
        &state,
        Some(&[Verdict::Pass, Verdict::Insufficient]),
        300,
    );
    assert!(matches!(&plan.decision, Decision::Wait { reason, .. } if reason.contains("gate1")));
    let verdicts = [Verdict::Pass, Verdict::Insufficient];
    let cases = [
        (
            DeadlineAction::Rollback,
            Decision::RollBack {
                why: RollbackReason::Progress,
            },
        ),
        (DeadlineAction::Promote, Decision::Promote),
    ];
    for (action, expected) in cases {
        record.policy.on_progress_deadline = action;
        let plan = decide_at(&record, &state, Some(&verdicts), 2100);
        assert_eq!(plan.decision, expected, "{action}");
        written(&record, &plan);
    }
    record.policy.on_progress_deadline = DeadlineAction::Hold;
    let plan = decide_at(&record, &state, Some(&verdicts), 5000);
    assert!(
        matches!(&plan.decision, Decision::Stall { reason } if reason.contains("progress deadline")),
        "{:?}",
        plan.decision
    );
    assert!(plan.update.is_none());
}

#[test]
fn manual_gates_pause_where_they_say() {
    // Bare `manual`: after the last step's hold, before 100%.
    let record = record("linear10-1m", &["manual"], false, false);
    let plan = decide_at(&record, &live(Phase::Shifting, 7), None, 60);
    assert_eq!(plan.decision, Decision::Advance { to_step: 8 });
    let plan = decide_at(&record, &live(Phase::Shifting, 8), None, 60);
    assert_eq!(plan.decision, Decision::Pause { at_step: 8 });
    let next = written(&record, &plan);
    assert_eq!(plan.update.unwrap().routing.unwrap().weight, 0.9);
    // Paused stays paused however long, writing nothing.
    let plan = decide_at(&record, &next, None, 1_000_000);
    assert!(matches!(
        plan.decision,
        Decision::Wait {
            next_check: None,
            ..
        }
    ));
    assert!(plan.update.is_none());
    // `manual@50`: on entering the first step at or above 50%.
    let record = self::record("linear10-1m", &["manual@50"], false, false);
    let plan = decide_at(&record, &live(Phase::Shifting, 3), None, 60);
    assert_eq!(plan.decision, Decision::Pause { at_step: 4 });
    assert_eq!(plan.update.unwrap().routing.unwrap().weight, 0.5);
    // `manual@95` with steps up to 90%: like bare `manual`.
    let record = self::record("linear10-1m", &["manual@95"], false, false);
    let plan = decide_at(&record, &live(Phase::Shifting, 8), None, 60);
    assert_eq!(plan.decision, Decision::Pause { at_step: 8 });
}

#[test]
fn a_paused_rollout_still_rolls_back_on_failing_gates() {
    let mut record = record(
        "linear10-1m",
        &["manual@50", "error-rate<=1%"],
        false,
        false,
    );
    record.policy.failure_limit = 0;
    let plan = decide_at(&record, &live(Phase::Paused, 4), Some(&[Verdict::Fail]), 5);
    assert_eq!(
        plan.decision,
        Decision::RollBack {
            why: RollbackReason::Gate
        }
    );
    let plan = decide_at(&record, &live(Phase::Paused, 4), Some(&[Verdict::Pass]), 5);
    assert!(matches!(plan.decision, Decision::Wait { .. }));
}

#[test]
fn drift_is_noted_once_then_rolled_back_after_the_timeout() {
    let record = record("linear10-1m", &[], true, true);
    let state = live(Phase::Shifting, 2);
    let good = alias(&record, &state);
    let edits: Vec<(&str, AliasState)> = vec![
        (
            "primary changed",
            AliasState {
                function_version: "9".into(),
                ..good.clone()
            },
        ),
        (
            "routing removed",
            AliasState {
                routing: None,
                ..good.clone()
            },
        ),
        (
            "weight changed",
            AliasState {
                routing: Some(VersionWeight {
                    version: "4".into(),
                    weight: 0.5,
                }),
                ..good.clone()
            },
        ),
        (
            "other version routed",
            AliasState {
                routing: Some(VersionWeight {
                    version: "5".into(),
                    weight: 0.3,
                }),
                ..good.clone()
            },
        ),
    ];
    for (what, edited) in edits {
        // The first time: the description alone notes since when; the traffic stays as edited.
        let plan = decide(&record, &state, &edited, None, at(100));
        assert!(matches!(plan.decision, Decision::Drift { .. }), "{what}");
        let update = plan.update.as_ref().unwrap();
        assert_eq!(
            (&update.function_version, &update.routing),
            (&edited.function_version, &edited.routing),
            "{what}"
        );
        let noted = plan.next.clone().unwrap();
        assert_eq!(noted.held, Some(at(100)), "{what}");
        assert_eq!(
            LiveState::decode(&update.description).unwrap(),
            Some(noted.clone())
        );
        // Then nothing, until the drift timeout (10 minutes) has passed.
        let plan = decide(&record, &noted, &edited, None, at(700));
        assert!(matches!(plan.decision, Decision::Drift { .. }), "{what}");
        assert!(plan.update.is_none(), "{what}");
        let plan = decide(&record, &noted, &edited, None, at(701));
        assert_eq!(
            plan.decision,
            Decision::RollBack {
                why: RollbackReason::Drift
            },
            "{what}"
        );
        written(&record, &plan);
    }
    for phase in [Phase::PreHook, Phase::PostHook] {
        let state = live(phase, 0);
        let edited = AliasState {
            routing: Some(VersionWeight {
                version: "5".into(),
                weight: 0.3,
            }),
            ..alias(&record, &state)
        };
        let plan = decide(&record, &state, &edited, None, at(100));
        assert!(matches!(plan.decision, Decision::Drift { .. }), "{phase}");
    }
    // A zero-weight routing is the same traffic as none.
    let state = live(Phase::PreHook, 0);
    let zero = AliasState {
        routing: Some(VersionWeight {
            version: "4".into(),
            weight: 0.0,
        }),
        ..alias(&record, &state)
    };
    assert_eq!(
        decide(&record, &state, &zero, None, at(1)).decision,
        Decision::RunPreHook
    );
    // A step beyond the strategy, or another rollout's id, is drift too.
    let beyond = live(Phase::Shifting, 9);
    assert!(drift(&record, &beyond, &good).is_some());
    let other = LiveState {
        id: "ffffffffffff".into(),
        ..state
    };
    assert!(matches!(
        decide(&record, &other, &good, None, at(1)).decision,
        Decision::Drift { .. }
    ));
}

#[test]
fn promote_from_each_phase() {
    let record = record("linear10-1m", &["error-rate<=1%"], true, true);
    for phase in [Phase::PreHook, Phase::Shifting, Phase::Paused] {
        let state = live(phase, 0);
        let plan =
            plan_promote(&record, &state, &alias(&record, &state), None, false, at(3)).unwrap();
        assert_eq!(plan.decision, Decision::Promote);
        assert_eq!(written(&record, &plan).phase, Phase::PostHook);
    }
    for phase in [Phase::PostHook, Phase::Succeeded, Phase::RolledBack] {
        let state = live(phase, 0);
        assert!(plan_promote(&record, &state, &alias(&record, &state), None, true, at(3)).is_err());
    }
}

#[test]
fn failing_gates_refuse_promotion_unless_forced() {
    let record = record("linear10-1m", &["error-rate<=1%"], false, false);
    let state = live(Phase::Shifting, 0);
    let current = alias(&record, &state);
    for verdict in [Verdict::Fail, Verdict::Unavailable] {
        let failing = report(&[verdict]);
        let refused = plan_promote(&record, &state, &current, Some(&failing), false, at(3));
        assert!(refused.unwrap_err().contains("--force"));
        let forced = plan_promote(&record, &state, &current, Some(&failing), true, at(3)).unwrap();
        assert_eq!(written(&record, &forced).phase, Phase::Succeeded);
    }
    let insufficient = report(&[Verdict::Insufficient]);
    assert!(plan_promote(&record, &state, &current, Some(&insufficient), false, at(3)).is_ok());
    let drifted = AliasState {
        routing: None,
        ..current
    };
    assert!(plan_promote(&record, &state, &drifted, None, true, at(3)).is_err());
}

#[test]
fn abort_from_every_live_phase() {
    let record = record("linear10-1m", &[], true, true);
    for phase in [
        Phase::PreHook,
        Phase::Shifting,
        Phase::Paused,
        Phase::PostHook,
    ] {
        let state = live(phase, 1);
        let plan = plan_abort(&record, &state, &alias(&record, &state), at(9)).unwrap();
        assert_eq!(
            plan.decision,
            Decision::RollBack {
                why: RollbackReason::Abort
            }
        );
        let next = written(&record, &plan);
        assert_eq!(
            (next.phase, next.why),
            (Phase::RolledBack, Some(RollbackReason::Abort))
        );
        let update = plan.update.unwrap();
        assert_eq!(
            (update.function_version.as_str(), update.routing),
            ("3", None)
        );
    }
    for phase in [Phase::Succeeded, Phase::RolledBack] {
        let state = live(phase, 1);
        assert!(plan_abort(&record, &state, &alias(&record, &state), at(9)).is_err());
    }
    // Aborting an alias edited by hand records why=drift.
    let state = live(Phase::Shifting, 1);
    let edited = AliasState {
        function_version: "7".into(),
        ..alias(&record, &state)
    };
    let plan = plan_abort(&record, &state, &edited, at(9)).unwrap();
    assert_eq!(
        plan.decision,
        Decision::RollBack {
            why: RollbackReason::Drift
        }
    );
}

#[test]
fn every_step_of_every_preset_is_visited_in_order() {
    for preset in crate::strategy::PRESETS {
        let record = record(preset, &[], false, false);
        let mut state = match plan_start(&record, at(0)).next {
            Some(state) => state,
            None => panic!("{preset}: no start"),
        };
        let mut now = 0;
        let mut visited = Vec::new();
        while state.phase == Phase::Shifting {
            visited.push(state.step);
            now += 3600;
            let plan = decide_at(&record, &state, None, now);
            state = written(&record, &plan);
        }
        assert_eq!(state.phase, Phase::Succeeded, "{preset}");
        let expected: Vec<usize> = (0..record.strategy.steps().len()).collect();
        assert_eq!(visited, expected, "{preset}");
    }
}

#[test]
fn abort_without_the_rollouts_record_uses_the_alias() {
    let record = record("linear10-1m", &[], false, false);
    let state = LiveState {
        id: "ffffffffffff".into(),
        ..live(Phase::Shifting, 1)
    };
    let current = AliasState {
        function_version: "7".into(),
        routing: Some(VersionWeight {
            version: "8".into(),
            weight: 0.2,
        }),
        description: state.encode(),
        revision_id: "r".into(),
    };
    let plan = plan_abort(&record, &state, &current, at(9)).unwrap();
    let update = plan.update.unwrap();
    assert_eq!(
        (update.function_version.as_str(), update.routing),
        ("7", None)
    );
    let next = LiveState::decode(&update.description).unwrap().unwrap();
    assert_eq!(
        (next.id.as_str(), next.phase),
        ("ffffffffffff", Phase::RolledBack)
    );
    let post = LiveState {
        phase: Phase::PostHook,
        ..state
    };
    assert!(plan_abort(&record, &post, &current, at(9)).is_err());
}
