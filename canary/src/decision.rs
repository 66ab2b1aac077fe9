//! The controller's decisions as pure functions: from the record, the live state, the alias as
//! read, the gates' report and the time, to what to do and the one alias write it implies.
//!
//! Nothing here does I/O, so every branch is tested below without ports or clocks.
//!
//! ```
//! use lamina_canary::decision::{Decision, plan_start};
//! # use lamina_canary::{record::RolloutRecord, gate::GatePolicy};
//! # let record = RolloutRecord {
//! #     format: 1, id: "0123456789ab".into(), function: "orders".into(), alias: "live".into(),
//! #     stable_version: "3".into(), canary_version: "4".into(),
//! #     strategy: "canary10-5m".parse().unwrap(), gates: vec![], policy: GatePolicy::default(),
//! #     pre_hook: None, post_hook: None, created_at: 0, original_description: String::new(), group: None,
//! # };
//! let plan = plan_start(&record, std::time::UNIX_EPOCH);
//! assert_eq!(plan.decision, Decision::Advance { to_step: 0 });
//! let update = plan.update.unwrap();
//! assert_eq!(update.function_version, "3");
//! assert_eq!(update.routing.unwrap().weight, 0.1);
//! ```

use std::time::{Duration, SystemTime};

use crate::{
    gate::{DeadlineAction, GateReport, Verdict},
    ports::{AliasState, AliasUpdate, VersionWeight},
    record::RolloutRecord,
    state::{LiveState, Phase, RollbackReason, unix_seconds},
    strategy::format_duration,
};

/// How long to wait before looking again when waiting for data.
pub const RECHECK: Duration = Duration::from_secs(60);

/// Two weights closer than this are the same (Lambda stores them as doubles).
const WEIGHT_TOLERANCE: f64 = 1e-6;

/// What the controller does next with a rollout.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nothing moves now (the step's hold has not elapsed, data is missing or insufficient, a
    /// gate failed within the tolerance, or the rollout is paused).
    Wait {
        /// Why, as a human sentence fragment.
        reason: String,
        /// When looking again makes sense, if anything but a person can change the answer.
        next_check: Option<SystemTime>,
    },
    /// Shift to step `to_step` (0-based).
    Advance {
        /// The step to shift to.
        to_step: usize,
    },
    /// A manual gate applies: stop at step `at_step` until `canary promote` or `canary abort`.
    Pause {
        /// The step the rollout stays at.
        at_step: usize,
    },
    /// Make the canary the primary version (then the post-traffic hook, or success).
    Promote,
    /// Invoke the pre-traffic hook.
    RunPreHook,
    /// Invoke the post-traffic hook.
    RunPostHook,
    /// The post-traffic hook passed: the rollout succeeded.
    Succeed,
    /// Put the stable version back.
    RollBack {
        /// Why.
        why: RollbackReason,
    },
    /// The alias does not match its description: someone edited it by hand. Traffic is left as
    /// it is; the first time, only the description is written, to note since when (the drift
    /// timeout counts from there).
    Drift {
        /// What does not match.
        detail: String,
    },
    /// A wait reached its bound and the policy says hold: nothing moves until a person promotes
    /// or aborts the rollout.
    Stall {
        /// Why, as a human sentence fragment.
        reason: String,
    },
    /// The rollout is over.
    Done,
}

/// A decision and the alias write it implies (if any), with the live state that write records.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// What to do.
    pub decision: Decision,
    /// The one conditional alias write, if the decision changes the alias.
    pub update: Option<AliasUpdate>,
    /// The live state `update` writes into the description.
    pub next: Option<LiveState>,
}

impl Plan {
    fn without_write(decision: Decision) -> Self {
        Plan {
            decision,
            update: None,
            next: None,
        }
    }

    fn writing(decision: Decision, record: &RolloutRecord, next: LiveState) -> Self {
        let (function_version, routing) = expected_alias(record, next.phase, next.step);
        Plan {
            decision,
            update: Some(AliasUpdate {
                function_version,
                routing,
                description: next.encode(),
            }),
            next: Some(next),
        }
    }
}

/// The canary's share (0.0 to 1.0) at `step` while shifting or paused.
pub fn step_weight(record: &RolloutRecord, step: usize) -> f64 {
    record
        .strategy
        .steps()
        .get(step)
        .map_or(0.0, |step| step.percent / 100.0)
}

/// The primary version and routing the alias must have in `phase` at `step`.
pub fn expected_alias(
    record: &RolloutRecord,
    phase: Phase,
    step: usize,
) -> (String, Option<VersionWeight>) {
    match phase {
        Phase::PreHook | Phase::RolledBack => (record.stable_version.clone(), None),
        Phase::Shifting | Phase::Paused => (
            record.stable_version.clone(),
            record.strategy.steps().get(step).map(|step| VersionWeight {
                version: record.canary_version.clone(),
                weight: step.percent / 100.0,
            }),
        ),
        Phase::PostHook | Phase::Succeeded => (record.canary_version.clone(), None),
    }
}

/// What does not match between the alias as read and what its live state says, if anything.
pub fn drift(record: &RolloutRecord, live: &LiveState, alias: &AliasState) -> Option<String> {
    let steps = record.strategy.steps().len();
    if matches!(live.phase, Phase::Shifting | Phase::Paused)
        && live.step >= steps
        && !(live.phase == Phase::Paused && steps == 0 && live.step == 0)
    {
        return Some(format!(
            "the description says step {} but the strategy has {steps} step(s)",
            live.step + 1
        ));
    }
    let (primary, routing) = expected_alias(record, live.phase, live.step);
    if alias.function_version != primary {
        return Some(format!(
            "the alias points at version {} but the rollout ({}) expects version {primary}",
            alias.function_version, live.phase
        ));
    }
    let describe = |routing: &Option<VersionWeight>| match routing {
        None => "no routing".to_owned(),
        Some(routing) => format!("{}% to version {}", routing.weight * 100.0, routing.version),
    };
    let same = match (&alias.routing, &routing) {
        (None, None) => true,
        (Some(actual), Some(expected)) => {
            actual.version == expected.version
                && (actual.weight - expected.weight).abs() < WEIGHT_TOLERANCE
        }
        // A zero weight is the same traffic as no routing at all.
        (Some(actual), None) => actual.weight.abs() < WEIGHT_TOLERANCE,
        (None, Some(_)) => false,
    };
    (!same).then(|| {
        format!(
            "the alias routes {} but the rollout ({} step {}) expects {}",
            describe(&alias.routing),
            live.phase,
            live.step + 1,
            describe(&routing)
        )
    })
}

/// Where a manual gate stops the rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PausePoint {
    /// On entering this step.
    AtStep(usize),
    /// After the last step's hold, before going to 100%.
    BeforeFull,
}

fn pause_point(record: &RolloutRecord) -> Option<PausePoint> {
    let percent = record.manual_pause_percent()?;
    Some(
        match record
            .strategy
            .steps()
            .iter()
            .position(|step| step.percent >= percent)
        {
            Some(index) => PausePoint::AtStep(index),
            None => PausePoint::BeforeFull,
        },
    )
}

fn fresh(live: &LiveState, phase: Phase, step: usize, now: SystemTime) -> LiveState {
    LiveState {
        id: live.id.clone(),
        phase,
        step,
        since: now,
        fails: 0,
        held: None,
        why: None,
    }
}

/// Moves to step `to` (pausing there if a manual gate says so), or promotes after the last step.
fn enter(record: &RolloutRecord, live: &LiveState, to: usize, now: SystemTime) -> Plan {
    let steps = record.strategy.steps().len();
    let pause = pause_point(record);
    if to < steps {
        if pause == Some(PausePoint::AtStep(to)) {
            return Plan::writing(
                Decision::Pause { at_step: to },
                record,
                fresh(live, Phase::Paused, to, now),
            );
        }
        return Plan::writing(
            Decision::Advance { to_step: to },
            record,
            fresh(live, Phase::Shifting, to, now),
        );
    }
    if pause == Some(PausePoint::BeforeFull) && live.phase != Phase::Paused {
        let at_step = steps.saturating_sub(1);
        return Plan::writing(
            Decision::Pause { at_step },
            record,
            fresh(live, Phase::Paused, at_step, now),
        );
    }
    promote(record, live, now)
}

fn promote(record: &RolloutRecord, live: &LiveState, now: SystemTime) -> Plan {
    let phase = if record.post_hook.is_some() {
        Phase::PostHook
    } else {
        Phase::Succeeded
    };
    Plan::writing(
        Decision::Promote,
        record,
        fresh(live, phase, live.step, now),
    )
}

fn roll_back(
    record: &RolloutRecord,
    live: &LiveState,
    why: RollbackReason,
    now: SystemTime,
) -> Plan {
    let next = LiveState {
        why: Some(why),
        ..fresh(live, Phase::RolledBack, live.step, now)
    };
    Plan::writing(Decision::RollBack { why }, record, next)
}

/// Puts the stable version back with reason `why`, from any phase: the plan
/// [`Decision::RollBack`] makes.
pub fn plan_rollback(
    record: &RolloutRecord,
    live: &LiveState,
    why: RollbackReason,
    now: SystemTime,
) -> Plan {
    roll_back(record, live, why, now)
}

/// A wait, writing the live state only when `next` differs from it.
fn wait(
    record: &RolloutRecord,
    live: &LiveState,
    next: LiveState,
    reason: String,
    next_check: Option<SystemTime>,
) -> Plan {
    let decision = Decision::Wait { reason, next_check };
    if &next == live {
        Plan::without_write(decision)
    } else {
        Plan::writing(decision, record, next)
    }
}

/// The first transition of a new rollout: to the pre-hook phase, or straight to its first step.
pub fn plan_start(record: &RolloutRecord, now: SystemTime) -> Plan {
    let start = LiveState {
        id: record.id.clone(),
        phase: Phase::PreHook,
        step: 0,
        since: now,
        fails: 0,
        held: None,
        why: None,
    };
    if record.pre_hook.is_some() {
        Plan::writing(Decision::RunPreHook, record, start)
    } else {
        enter(record, &start, 0, now)
    }
}

fn verdict_names(report: &GateReport, wanted: fn(&Verdict) -> bool) -> Vec<String> {
    report
        .results
        .iter()
        .filter(|result| wanted(&result.verdict))
        .map(|result| {
            if result.detail.is_empty() {
                result.gate.clone()
            } else {
                format!("{} ({})", result.gate, result.detail)
            }
        })
        .collect()
}

/// The next decision for a rollout. `report` is the gates' verdicts over the current step, or
/// `None` when the rollout has no gates to evaluate (manual gates are never evaluated).
pub fn decide(
    record: &RolloutRecord,
    live: &LiveState,
    alias: &AliasState,
    report: Option<&GateReport>,
    now: SystemTime,
) -> Plan {
    if live.phase.is_terminal() {
        return Plan::without_write(Decision::Done);
    }
    if live.id != record.id {
        return Plan::without_write(Decision::Drift {
            detail: format!(
                "the alias describes rollout {} but the stored record is rollout {}",
                live.id, record.id
            ),
        });
    }
    if let Some(detail) = drift(record, live, alias) {
        return on_drift(record, live, alias, detail, now);
    }
    match live.phase {
        Phase::PreHook => return Plan::without_write(Decision::RunPreHook),
        Phase::PostHook => return Plan::without_write(Decision::RunPostHook),
        _ => {}
    }

    let empty = GateReport::default();
    let report = report.unwrap_or(&empty);
    let failed = verdict_names(report, |v| matches!(v, Verdict::Fail));
    let unavailable = verdict_names(report, |v| matches!(v, Verdict::Unavailable));
    let insufficient = verdict_names(report, |v| matches!(v, Verdict::Insufficient));
    let held = if unavailable.is_empty() {
        None
    } else {
        Some(live.held.unwrap_or(now))
    };
    let next_check = Some(now + RECHECK);

    if !failed.is_empty() {
        let fails = live.fails.saturating_add(1);
        if fails > record.policy.failure_limit {
            return roll_back(record, live, RollbackReason::Gate, now);
        }
        let next = LiveState {
            fails,
            held,
            ..live.clone()
        };
        let reason = format!(
            "gate failed: {} ({fails} of {} tolerated failure(s) in this step)",
            failed.join(", "),
            record.policy.failure_limit
        );
        return wait(record, live, next, reason, next_check);
    }
    if let Some(held_since) = held {
        let held_for = now.duration_since(held_since).unwrap_or_default();
        let next = LiveState {
            held,
            ..live.clone()
        };
        if held_for > record.policy.data_deadline {
            if record.policy.on_data_deadline == DeadlineAction::Rollback {
                return roll_back(record, live, RollbackReason::Deadline, now);
            }
            let reason = format!(
                "stalled: no data from {} since {}, past the data deadline of {}; run `canary promote` or `canary abort`",
                unavailable.join(", "),
                unix_seconds(held_since),
                format_duration(record.policy.data_deadline)
            );
            return stall(record, live, next, reason);
        }
        let reason = format!(
            "holding: no data from {} since {}",
            unavailable.join(", "),
            unix_seconds(held_since)
        );
        return wait(record, live, next, reason, next_check);
    }
    let next = LiveState {
        held: None,
        ..live.clone()
    };
    if live.phase == Phase::Paused {
        let reason = format!(
            "paused at step {} (by a manual gate or `canary pause`): waiting for `canary resume`, `canary promote` or `canary abort`",
            live.step + 1
        );
        return wait(record, live, next, reason, None);
    }
    let hold = record
        .strategy
        .steps()
        .get(live.step)
        .map_or(Duration::ZERO, |step| step.hold);
    let hold_end = live.since + hold;
    if now < hold_end {
        let reason = format!(
            "step {} holds until {}",
            live.step + 1,
            unix_seconds(hold_end)
        );
        return wait(record, live, next, reason, Some(hold_end));
    }
    if !insufficient.is_empty() {
        let deadline = hold_end + record.policy.progress_deadline;
        if now >= deadline {
            match record.policy.on_progress_deadline {
                DeadlineAction::Rollback => {
                    return roll_back(record, live, RollbackReason::Progress, now);
                }
                DeadlineAction::Promote => return enter(record, live, live.step + 1, now),
                DeadlineAction::Hold => {
                    let reason = format!(
                        "stalled: step {} still lacks data ({}) past its progress deadline ({}); run `canary promote` or `canary abort`",
                        live.step + 1,
                        insufficient.join(", "),
                        unix_seconds(deadline)
                    );
                    return stall(record, live, next, reason);
                }
            }
        }
        let reason = format!("waiting for enough data: {}", insufficient.join(", "));
        return wait(
            record,
            live,
            next,
            reason,
            Some(deadline.min(now + RECHECK)),
        );
    }
    enter(record, live, live.step + 1, now)
}

/// A stall: like [`wait`], with nothing for the controller to look at again.
fn stall(record: &RolloutRecord, live: &LiveState, next: LiveState, reason: String) -> Plan {
    let decision = Decision::Stall { reason };
    if &next == live {
        Plan::without_write(decision)
    } else {
        Plan::writing(decision, record, next)
    }
}

/// A drifted alias: the first time, note since when in the description (traffic untouched);
/// past the drift timeout, roll back as `canary abort` would; otherwise nothing.
fn on_drift(
    record: &RolloutRecord,
    live: &LiveState,
    alias: &AliasState,
    detail: String,
    now: SystemTime,
) -> Plan {
    match live.held {
        None => {
            let next = LiveState {
                held: Some(now),
                ..live.clone()
            };
            Plan {
                decision: Decision::Drift { detail },
                update: Some(AliasUpdate {
                    function_version: alias.function_version.clone(),
                    routing: alias.routing.clone(),
                    description: next.encode(),
                }),
                next: Some(next),
            }
        }
        Some(since)
            if now.duration_since(since).unwrap_or_default() > record.policy.drift_timeout =>
        {
            roll_back(record, live, RollbackReason::Drift, now)
        }
        Some(_) => Plan::without_write(Decision::Drift { detail }),
    }
}

/// What follows a hook's result, for a rollout in the pre-hook or post-hook phase.
pub fn after_hook(record: &RolloutRecord, live: &LiveState, passed: bool, now: SystemTime) -> Plan {
    match (live.phase, passed) {
        (Phase::PreHook, true) => enter(record, live, 0, now),
        (Phase::PreHook, false) => roll_back(record, live, RollbackReason::Hook, now),
        (Phase::PostHook, true) => Plan::writing(
            Decision::Succeed,
            record,
            fresh(live, Phase::Succeeded, live.step, now),
        ),
        (Phase::PostHook, false) => roll_back(record, live, RollbackReason::PostHook, now),
        _ => Plan::without_write(Decision::Done),
    }
}

#[path = "decision_commands.rs"]
mod commands;

pub use commands::{plan_abort, plan_hold, plan_promote, plan_promote_step};

#[cfg(test)]
#[path = "decision_tests.rs"]
mod tests;
