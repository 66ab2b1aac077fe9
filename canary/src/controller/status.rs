//! `canary status`: a rollout as the CLI shows it, gates evaluated live.

use std::time::Duration;

use super::{CanaryError, Controller, RolloutStatus, Snapshot};
use crate::{
    decision::{drift, step_weight},
    gate::GateReport,
    ports::{AliasState, PortError},
    record::RolloutRecord,
    state::{LiveState, Phase, unix_seconds},
};

/// The canary's share as read from the alias.
fn canary_weight(alias: &AliasState, canary: &str) -> f64 {
    if alias.function_version == canary {
        return 1.0;
    }
    alias
        .routing
        .as_ref()
        .filter(|routing| routing.version == canary)
        .map_or(0.0, |routing| routing.weight)
}

fn percent(weight: f64) -> String {
    let percent = weight * 100.0;
    if (percent - percent.round()).abs() < 1e-6 {
        format!("{percent:.0}%")
    } else {
        format!("{percent}%")
    }
}

/// The status of a rollout from its record, live state and alias.
pub(super) fn build(
    record: &RolloutRecord,
    live: &LiveState,
    alias: &AliasState,
    gates: GateReport,
) -> RolloutStatus {
    let target = format!("{}:{}", record.function, record.alias);
    let (stable, canary) = if live.id == record.id {
        (record.stable_version.clone(), record.canary_version.clone())
    } else {
        // The stored record belongs to another rollout: say only what the alias shows.
        (alias.function_version.clone(), String::new())
    };
    let steps = record.strategy.steps().len();
    let moving = matches!(live.phase, Phase::Shifting | Phase::Paused) && live.id == record.id;
    let hold = record
        .strategy
        .steps()
        .get(live.step)
        .map_or(Duration::ZERO, |step| step.hold);
    let weight = canary_weight(alias, &canary);
    let step_text = format!("step {} of {steps}", live.step + 1);
    let mut summary = match live.phase {
        Phase::PreHook => format!(
            "Rollout {} of version {canary} to {target} is waiting for its pre-traffic hook {}.",
            live.id,
            record.pre_hook.as_deref().unwrap_or("-")
        ),
        Phase::Shifting => format!(
            "Version {canary} gets {} of {target} ({step_text}); the step holds until {}.",
            percent(step_weight(record, live.step)),
            unix_seconds(live.since + hold)
        ),
        Phase::Paused => format!(
            "Version {canary} gets {} of {target} ({step_text}), paused (by a manual gate or `canary pause`): run `canary resume`, `canary promote` or `canary abort`.",
            percent(step_weight(record, live.step))
        ),
        Phase::PostHook => format!(
            "Version {canary} serves all of {target}; the post-traffic hook {} runs next.",
            record.post_hook.as_deref().unwrap_or("-")
        ),
        Phase::Succeeded => format!("Version {canary} was rolled out to {target}."),
        Phase::RolledBack => format!(
            "Version {canary} was rolled back from {target} ({}); version {stable} serves all traffic.",
            live.why.map_or("-", |why| why.as_str())
        ),
    };
    if live.id != record.id {
        summary = format!(
            "{target} describes rollout {} ({}), whose record was replaced by rollout {}.",
            live.id, live.phase, record.id
        );
    } else if !live.phase.is_terminal()
        && let Some(detail) = drift(record, live, alias)
    {
        summary = format!("{summary} But the alias was edited by hand: {detail}.");
    }
    RolloutStatus {
        function: record.function.clone(),
        alias: record.alias.clone(),
        id: live.id.clone(),
        phase: live.phase,
        why: live.why,
        stable_version: stable,
        canary_version: canary,
        canary_weight: weight,
        step: (moving && steps > 0).then_some(live.step),
        steps,
        strategy: record.strategy.to_string(),
        step_started_unix: moving.then(|| unix_seconds(live.since)),
        next_step_unix: (moving && live.phase == Phase::Shifting)
            .then(|| unix_seconds(live.since + hold)),
        gates,
        summary,
    }
}

impl Controller {
    /// The rollout on `function:alias`, with its gates evaluated now when it is shifting or
    /// paused; when none is in progress and the newest one has ended (and given the alias its
    /// description back), how that one ended. Writes nothing.
    pub async fn status(&self, function: &str, alias: &str) -> Result<RolloutStatus, CanaryError> {
        let state = self.read_alias(function, alias).await?;
        let Snapshot {
            alias: state,
            live,
            record,
        } = match self.snapshot_of(function, alias, state.clone()).await {
            Ok(snapshot) => snapshot,
            Err(CanaryError::NoRollout { function, alias }) => {
                return match self.last_ended(&function, &alias, &state).await? {
                    Some(status) => Ok(status),
                    None => Err(CanaryError::NoRollout { function, alias }),
                };
            }
            Err(error) => return Err(error),
        };
        let report = self
            .evaluate(&record, &live, self.now())
            .await
            .unwrap_or_default();
        Ok(build(&record, &live, &state, report))
    }

    /// The status of every alias with a record whose description is lamina-canary's; aliases
    /// and functions deleted since, and aliases without a rollout, are left out.
    pub async fn status_all(&self) -> Result<Vec<RolloutStatus>, CanaryError> {
        let mut statuses = Vec::new();
        for (function, alias) in self.ports.records.list_records().await? {
            match self.status(&function, &alias).await {
                Ok(status) => statuses.push(status),
                Err(CanaryError::NotFound(_) | CanaryError::NoRollout { .. }) => {}
                Err(CanaryError::Aws(PortError::NotFound(_))) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(statuses)
    }
}
