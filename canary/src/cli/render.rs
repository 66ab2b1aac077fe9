//! How results look: JSON documents for programs, short aligned lines for people.

use std::{
    fmt::Write as _,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use lamina_canary::{
    controller::{Action, HistoryEntry, HistoryOutcome, RolloutPlan, RolloutStatus, RunOutcome},
    gate::Verdict,
    state::Phase,
    strategy::format_duration,
};
use serde::Serialize;

use super::OutputFormat;

/// Prints `value` as one JSON line, or `text` as it is.
pub(super) fn print<T: Serialize>(output: OutputFormat, value: &T, text: String) {
    match output {
        OutputFormat::Json => print_json(value),
        OutputFormat::Text => print!("{text}"),
    }
}

/// Prints `value` as one line of JSON.
pub(super) fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string(value) {
        Ok(json) => println!("{json}"),
        Err(error) => eprintln!("error: could not write the result as JSON: {error}"),
    }
}

/// Several rollouts, one block each.
pub(super) fn statuses_text(statuses: &[RolloutStatus]) -> String {
    if statuses.is_empty() {
        return "no rollouts\n".to_owned();
    }
    statuses
        .iter()
        .map(status_text)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One rollout: a headline, its timing, and a line per gate.
pub(super) fn status_text(status: &RolloutStatus) -> String {
    status_text_at(status, SystemTime::now())
}

/// [`status_text`] as seen at `now` (for the countdown to the next step).
pub(super) fn status_text_at(status: &RolloutStatus, now: SystemTime) -> String {
    let mut text = String::new();
    let step = match status.step {
        Some(step) => format!("step {}/{}", step + 1, status.steps),
        None => format!("{} steps", status.steps),
    };
    let _ = writeln!(
        text,
        "{}:{}  {}  {}  {}  canary v{} {} {:>5.1}%  stable v{}",
        status.function,
        status.alias,
        status.id,
        phase_name(
            status.phase,
            status.why.as_ref().map(|why| format!("{why:?}"))
        ),
        step,
        status.canary_version,
        weight_bar(status.canary_weight),
        status.canary_weight * 100.0,
        status.stable_version,
    );
    let mut timing = format!("  strategy {}", status.strategy);
    if let Some(started) = status.step_started_unix {
        let _ = write!(timing, "; step began {}", utc(started));
    }
    if let Some(next) = status.next_step_unix {
        let _ = write!(timing, "; next step at {}", utc(next));
        let next_at = UNIX_EPOCH + Duration::from_secs(next);
        if let Ok(left) = next_at.duration_since(now) {
            let _ = write!(timing, " (in {}s)", left.as_secs());
        }
    }
    let _ = writeln!(text, "{timing}");
    for result in &status.gates.results {
        let _ = writeln!(
            text,
            "  {:<12} {:<28} {}",
            verdict_name(result.verdict),
            result.gate,
            result.detail
        );
    }
    let _ = writeln!(text, "  {}", status.summary);
    text
}

/// The outcomes of one `canary run`.
pub(super) fn outcomes_text(outcomes: &[RunOutcome]) -> String {
    if outcomes.is_empty() {
        return "no rollouts in progress\n".to_owned();
    }
    outcomes.iter().map(outcome_text).collect()
}

/// One decision, on one line.
pub(super) fn outcome_text(outcome: &RunOutcome) -> String {
    let action = match &outcome.action {
        Action::Waited { reason } => format!("waiting: {reason}"),
        Action::Advanced { to_step, weight } => {
            format!("advanced to step {} ({:.1}%)", to_step + 1, weight * 100.0)
        }
        Action::Paused { at_step } => {
            format!(
                "paused at step {} for `canary promote` or `canary abort`",
                at_step + 1
            )
        }
        Action::Promoted => "promoted: all traffic on the new version".to_owned(),
        Action::Succeeded => "succeeded".to_owned(),
        Action::RolledBack { why } => format!("rolled back ({why:?})"),
        Action::HookPassed => "hook passed".to_owned(),
        Action::NothingToDo => "nothing to do".to_owned(),
        Action::Finished => "over: outcome kept, the alias's own description put back".to_owned(),
        Action::Drifted { detail } => format!("drift, not touching the alias: {detail}"),
        Action::Stalled { reason } => reason.clone(),
        Action::Vanished { detail } => format!("over: {detail}"),
        Action::LostRace => "another controller made this decision".to_owned(),
        Action::Failed { error } => format!("failed: {error}"),
    };
    format!("{}:{}  {action}\n", outcome.function, outcome.alias)
}

fn phase_name(phase: Phase, why: Option<String>) -> String {
    let name = match phase {
        Phase::PreHook => "pre-hook",
        Phase::Shifting => "shifting",
        Phase::Paused => "paused",
        Phase::PostHook => "post-hook",
        Phase::Succeeded => "succeeded",
        Phase::RolledBack => "rolled-back",
    };
    match why {
        Some(why) => format!("{name} ({})", why.to_lowercase()),
        None => name.to_owned(),
    }
}

fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "FAIL",
        Verdict::Insufficient => "insufficient",
        Verdict::Unavailable => "unavailable",
    }
}

/// A 10-character bar for a weight from 0.0 to 1.0.
fn weight_bar(weight: f64) -> String {
    let filled = (weight.clamp(0.0, 1.0) * 10.0).round() as usize;
    format!("[{}{}]", "#".repeat(filled), ".".repeat(10 - filled))
}

/// Unix seconds as an RFC 3339 UTC time, such as `2026-11-28T17:40:00Z`.
pub(super) fn utc(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|seconds| time::OffsetDateTime::from_unix_timestamp(seconds).ok())
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{unix} (unix seconds)"))
}

/// `deploy --dry-run`: the schedule, one line a step.
pub(super) fn plan_text(plan: &RolloutPlan) -> String {
    let at = |seconds: u64| format_duration(Duration::from_secs(seconds));
    let mut lines = vec![format!(
        "Dry run: {}:{} would move from version {} to version {} by {} (nothing was written).",
        plan.function, plan.alias, plan.stable_version, plan.canary_version, plan.strategy
    )];
    if let Some(hook) = &plan.pre_hook {
        lines.push(format!("  before any traffic: pre-traffic hook {hook}"));
    }
    for step in &plan.steps {
        let pause = if step.pauses {
            ", paused there by a manual gate"
        } else {
            ""
        };
        lines.push(format!(
            "  step {}: {}% from +{} for {}{pause}",
            step.step,
            step.weight * 100.0,
            at(step.starts_after_secs),
            at(step.hold_secs)
        ));
    }
    let pause = if plan.pauses_before_full {
        " (after a manual gate's pause)"
    } else {
        ""
    };
    lines.push(format!("  100% from +{}{pause}", at(plan.full_after_secs)));
    if let Some(hook) = &plan.post_hook {
        lines.push(format!("  then: post-traffic hook {hook}"));
    }
    let gates = if plan.gates.is_empty() {
        "none".to_owned()
    } else {
        plan.gates.join(", ")
    };
    lines.push(format!("  gates: {gates}"));
    lines.join("\n")
}

/// `canary history`: one line a rollout.
pub(super) fn history_text(entries: &[HistoryEntry]) -> String {
    if entries.is_empty() {
        return "No rollouts recorded for this alias.".to_owned();
    }
    entries
        .iter()
        .map(|entry| {
            let outcome = match &entry.outcome {
                HistoryOutcome::Described {
                    phase,
                    why: Some(why),
                } => format!("{phase} ({why})"),
                HistoryOutcome::Described { phase, why: None } => phase.to_string(),
                HistoryOutcome::Succeeded => "succeeded".to_owned(),
                HistoryOutcome::NotRolledOut => "not rolled out".to_owned(),
                HistoryOutcome::Unknown => "unknown".to_owned(),
            };
            format!(
                "{}  {}  {} -> {}  {}  {}",
                entry.id,
                entry.created_unix,
                entry.stable_version,
                entry.canary_version,
                entry.strategy,
                outcome
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_795_887_600), "2026-11-28T17:40:00Z");
    }

    #[test]
    fn the_weight_bar_is_always_ten_wide() {
        for weight in [-1.0, 0.0, 0.04, 0.05, 0.5, 0.99, 1.0, 7.0] {
            assert_eq!(weight_bar(weight).len(), 12, "{weight}");
        }
        assert_eq!(weight_bar(0.2), "[##........]");
    }
}
