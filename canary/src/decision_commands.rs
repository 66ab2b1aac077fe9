//! The plans of the commands a person runs: `promote` (a step or `--full`), `pause` /
//! `resume` and `abort`.

use std::time::SystemTime;

use super::{Decision, Plan, drift, enter, fresh, promote, roll_back, verdict_names};
use crate::{
    gate::{GateReport, Verdict},
    ports::{AliasState, AliasUpdate},
    record::RolloutRecord,
    state::{LiveState, Phase, RollbackReason},
};

/// `canary promote --full`: straight to 100% from the pre-hook, shifting or paused phase.
/// Unless `force`, a failing (or unreadable) gate refuses it. `Err` is the refusal, as a
/// sentence.
pub fn plan_promote(
    record: &RolloutRecord,
    live: &LiveState,
    alias: &AliasState,
    report: Option<&GateReport>,
    force: bool,
    now: SystemTime,
) -> Result<Plan, String> {
    check_promotable(record, live, alias, report, force)?;
    Ok(promote(record, live, now))
}

/// `canary promote`: on to the next step now, from the shifting or paused phase, without
/// waiting for the current step's hold (or its manual gate). The next step's own manual gate
/// still pauses it; from the last step, the canary becomes the primary version. Unless `force`,
/// a failing (or unreadable) gate refuses it. `Err` is the refusal, as a sentence.
pub fn plan_promote_step(
    record: &RolloutRecord,
    live: &LiveState,
    alias: &AliasState,
    report: Option<&GateReport>,
    force: bool,
    now: SystemTime,
) -> Result<Plan, String> {
    check_promotable(record, live, alias, report, force)?;
    if live.phase == Phase::PreHook {
        return Err(format!(
            "rollout {} is waiting for its pre-traffic hook and has no step to move on from; use --full to promote it now",
            live.id
        ));
    }
    Ok(enter(record, live, live.step + 1, now))
}

fn check_promotable(
    record: &RolloutRecord,
    live: &LiveState,
    alias: &AliasState,
    report: Option<&GateReport>,
    force: bool,
) -> Result<(), String> {
    match live.phase {
        Phase::Succeeded | Phase::RolledBack => {
            return Err(format!(
                "rollout {} is already over ({})",
                live.id, live.phase
            ));
        }
        Phase::PostHook => {
            return Err(format!(
                "rollout {} is already promoted; its post-traffic hook runs next",
                live.id
            ));
        }
        Phase::PreHook | Phase::Shifting | Phase::Paused => {}
    }
    if live.id != record.id {
        return Err(format!(
            "the alias describes rollout {} but the stored record is rollout {}",
            live.id, record.id
        ));
    }
    if let Some(detail) = drift(record, live, alias) {
        return Err(format!(
            "the alias was edited by hand ({detail}); abort the rollout instead"
        ));
    }
    if !force && let Some(report) = report {
        let blocking = verdict_names(report, |v| {
            matches!(v, Verdict::Fail | Verdict::Unavailable)
        });
        if !blocking.is_empty() {
            return Err(format!(
                "gates do not pass: {}; use --force to promote anyway",
                blocking.join(", ")
            ));
        }
    }
    Ok(())
}

/// `canary pause` (`pause` true) or `canary resume`: a shifting rollout becomes paused at its
/// step, or a paused one shifting again at its step (whose hold starts again); the traffic does
/// not change. `Err` is the refusal.
pub fn plan_hold(
    record: &RolloutRecord,
    live: &LiveState,
    alias: &AliasState,
    pause: bool,
    now: SystemTime,
) -> Result<Plan, String> {
    let (from, to, verb) = if pause {
        (Phase::Shifting, Phase::Paused, "paused")
    } else {
        (Phase::Paused, Phase::Shifting, "resumed")
    };
    if live.phase != from {
        return Err(format!(
            "rollout {} is {}; only a {} rollout can be {verb}",
            live.id, live.phase, from
        ));
    }
    if live.id != record.id {
        return Err(format!(
            "the alias describes rollout {} but the stored record is rollout {}",
            live.id, record.id
        ));
    }
    if let Some(detail) = drift(record, live, alias) {
        return Err(format!(
            "the alias was edited by hand ({detail}); abort the rollout instead"
        ));
    }
    let decision = if pause {
        Decision::Pause { at_step: live.step }
    } else {
        Decision::Advance { to_step: live.step }
    };
    Ok(Plan::writing(
        decision,
        record,
        fresh(live, to, live.step, now),
    ))
}

/// `canary abort`: the stable version back, from any phase that is not over. A rollout whose
/// alias was edited by hand is rolled back with `why=drift`. A rollout whose record was replaced
/// by another deploy's (before the post-hook phase) is rolled back to the alias's primary
/// version. `Err` is the refusal.
pub fn plan_abort(
    record: &RolloutRecord,
    live: &LiveState,
    alias: &AliasState,
    now: SystemTime,
) -> Result<Plan, String> {
    if live.phase.is_terminal() {
        return Err(format!(
            "rollout {} is already over ({})",
            live.id, live.phase
        ));
    }
    if live.id != record.id {
        // The record was replaced (two deploys raced). Before promotion the primary is still
        // the stable version, so the alias alone says what to put back.
        if live.phase == Phase::PostHook {
            return Err(format!(
                "the alias describes rollout {} but the stored record is rollout {}, so the stable version is unknown; point the alias back by hand",
                live.id, record.id
            ));
        }
        let next = LiveState {
            why: Some(RollbackReason::Abort),
            ..fresh(live, Phase::RolledBack, live.step, now)
        };
        return Ok(Plan {
            decision: Decision::RollBack {
                why: RollbackReason::Abort,
            },
            update: Some(AliasUpdate {
                function_version: alias.function_version.clone(),
                routing: None,
                description: next.encode(),
            }),
            next: Some(next),
        });
    }
    let why = if drift(record, live, alias).is_some() {
        RollbackReason::Drift
    } else {
        RollbackReason::Abort
    };
    Ok(roll_back(record, live, why, now))
}
