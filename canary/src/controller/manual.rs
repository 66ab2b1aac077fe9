//! `canary promote`, `pause`, `resume` and `abort`.

use super::{CanaryError, Controller, MAX_CONFLICTS, RolloutStatus, status};
use crate::{
    decision::{drift, plan_abort, plan_hold, plan_promote, plan_promote_step},
    gate::GateReport,
    ports::{AliasUpdate, PortError},
    record::RolloutRecord,
    state::{LiveState, Phase, RollbackReason},
};

/// Which person-driven transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Promote { force: bool, full: bool },
    Abort,
    Pause,
    Resume,
}

impl Controller {
    /// Makes the canary the primary version now (then the post-traffic hook runs at the next
    /// decision, or the rollout has succeeded), from the pre-hook, shifting or paused phase.
    /// Unless `force`, the gates are evaluated first and a failing (or unreadable) one refuses
    /// the promotion.
    pub async fn promote(
        &self,
        function: &str,
        alias: &str,
        force: bool,
    ) -> Result<RolloutStatus, CanaryError> {
        self.command(function, alias, Command::Promote { force, full: true })
            .await
    }

    /// `canary promote` (without `--full`): moves a shifting or paused rollout on to its next
    /// step now, without waiting for the step's hold or its manual gate (the next step's manual
    /// gate still pauses it); from the last step, the canary becomes the primary version.
    /// Unless `force`, the gates are evaluated first and a failing (or unreadable) one refuses.
    pub async fn promote_step(
        &self,
        function: &str,
        alias: &str,
        force: bool,
    ) -> Result<RolloutStatus, CanaryError> {
        self.command(function, alias, Command::Promote { force, full: false })
            .await
    }

    /// Puts the stable version back (no routing), with `why=abort` (or `why=drift` when the
    /// alias was edited by hand), from any phase that is not over.
    pub async fn abort(&self, function: &str, alias: &str) -> Result<RolloutStatus, CanaryError> {
        self.command(function, alias, Command::Abort).await
    }

    /// `canary pause`: the rollout stays at its step, with its traffic, until `canary resume`
    /// (or `promote`, or `abort`). Only a shifting rollout can be paused.
    pub async fn pause(&self, function: &str, alias: &str) -> Result<RolloutStatus, CanaryError> {
        self.command(function, alias, Command::Pause).await
    }

    /// `canary resume`: a paused rollout (by `canary pause` or by a manual gate) goes on from
    /// its step, whose hold starts again.
    pub async fn resume(&self, function: &str, alias: &str) -> Result<RolloutStatus, CanaryError> {
        self.command(function, alias, Command::Resume).await
    }

    /// `canary abort --force`: like [`abort`](Self::abort), and also when the alias's
    /// description cannot be read (edited by hand, truncated) or names a rollout whose record is
    /// missing: then the stable version comes from the newest record in the alias's history
    /// whose versions include the alias's primary version, and the alias gets that version, no
    /// routing, and a rolled-back description (`why=abort`).
    pub async fn force_abort(
        &self,
        function: &str,
        alias: &str,
    ) -> Result<RolloutStatus, CanaryError> {
        match self.abort(function, alias).await {
            Err(CanaryError::Drift(_) | CanaryError::NotFound(_)) => {}
            other => return other,
        }
        let state = self.read_alias(function, alias).await?;
        let mut records: Vec<RolloutRecord> = self
            .ports
            .records
            .history(function, alias)
            .await?
            .into_iter()
            .filter_map(|(id, document)| {
                RolloutRecord::from_json(&document)
                    .ok()
                    .filter(|record| record.id == id)
            })
            .filter(|record| {
                state.function_version == record.stable_version
                    || state.function_version == record.canary_version
            })
            .collect();
        records.sort_by_key(|record| record.created_at);
        let Some(record) = records.pop() else {
            return Err(CanaryError::NotFound(format!(
                "{function}:{alias} has no rollout record with version {}, so the stable version is unknown; point the alias back by hand",
                state.function_version
            )));
        };
        let now = self.now();
        let next = LiveState {
            id: record.id.clone(),
            phase: Phase::RolledBack,
            step: 0,
            since: now,
            fails: 0,
            held: None,
            why: Some(RollbackReason::Abort),
        };
        let update = AliasUpdate {
            function_version: record.stable_version.clone(),
            routing: None,
            description: next.encode(),
        };
        let written = self
            .ports
            .aliases
            .update_alias(function, alias, &update, &state.revision_id)
            .await?;
        let written = self.finish_if_over(&record, &next, written).await;
        Ok(status::build(
            &record,
            &next,
            &written,
            GateReport::default(),
        ))
    }

    async fn command(
        &self,
        function: &str,
        alias: &str,
        command: Command,
    ) -> Result<RolloutStatus, CanaryError> {
        for _ in 0..MAX_CONFLICTS {
            let snapshot = self.snapshot(function, alias).await?;
            let (state, live, record) = (snapshot.alias, snapshot.live, snapshot.record);
            if let Some(group) = &record.group
                && !live.phase.is_terminal()
            {
                return Err(CanaryError::InvalidInput(format!(
                    "{function}:{alias} is a member of release group {}, which moves as one; use --group {}",
                    group.name, group.name
                )));
            }
            let now = self.now();
            if live.phase.is_terminal() {
                return Err(CanaryError::NoRollout {
                    function: function.to_owned(),
                    alias: alias.to_owned(),
                });
            }
            let (plan, report) = match command {
                Command::Promote { force, full } => {
                    if live.phase == Phase::PostHook {
                        return Err(CanaryError::Conflict(format!(
                            "rollout {} on {function}:{alias} is already promoted; its post-traffic hook runs at the next `canary run`",
                            live.id
                        )));
                    }
                    if live.id != record.id {
                        return Err(CanaryError::Drift(format!(
                            "{function}:{alias} describes rollout {} but the stored record is rollout {}; abort the rollout instead",
                            live.id, record.id
                        )));
                    }
                    if let Some(detail) = drift(&record, &live, &state) {
                        return Err(CanaryError::Drift(format!(
                            "{function}:{alias} was edited by hand during the rollout ({detail}); abort the rollout instead"
                        )));
                    }
                    let report = if force {
                        None
                    } else {
                        self.evaluate(&record, &live, now).await
                    };
                    // With the phase and the alias checked, only the gates can refuse.
                    let plan = if full {
                        plan_promote(&record, &live, &state, report.as_ref(), force, now)
                    } else if live.phase == Phase::PreHook {
                        // Not the gates' refusal: the rollout's state forbids it.
                        return Err(CanaryError::Conflict(format!(
                            "rollout {} on {function}:{alias} is waiting for its pre-traffic hook and has no step to move on from; use --full to promote it now",
                            live.id
                        )));
                    } else {
                        plan_promote_step(&record, &live, &state, report.as_ref(), force, now)
                    }
                    .map_err(CanaryError::Refused)?;
                    (plan, report)
                }
                Command::Abort => (
                    plan_abort(&record, &live, &state, now).map_err(CanaryError::Drift)?,
                    None,
                ),
                Command::Pause | Command::Resume => (
                    plan_hold(&record, &live, &state, command == Command::Pause, now)
                        .map_err(CanaryError::Conflict)?,
                    None,
                ),
            };
            let (Some(update), Some(next)) = (plan.update, plan.next) else {
                return Err(CanaryError::Conflict(format!(
                    "rollout {} on {function}:{alias} has nothing to change",
                    live.id
                )));
            };
            match self
                .ports
                .aliases
                .update_alias(function, alias, &update, &state.revision_id)
                .await
            {
                Ok(written) => {
                    let written = self.finish_if_over(&record, &next, written).await;
                    return Ok(status::build(
                        &record,
                        &next,
                        &written,
                        report.unwrap_or_else(GateReport::default),
                    ));
                }
                Err(PortError::Conflict(_)) => {
                    // A 412 on the SDK's retry of a write AWS had applied: the alias shows
                    // exactly what this command wrote.
                    let now = self.read_alias(function, alias).await?;
                    if now.description == update.description
                        && now.function_version == update.function_version
                        && now.routing == update.routing
                    {
                        let now = self.finish_if_over(&record, &next, now).await;
                        return Ok(status::build(
                            &record,
                            &next,
                            &now,
                            report.unwrap_or_else(GateReport::default),
                        ));
                    }
                }
                Err(error) => return Err(CanaryError::Aws(error)),
            }
        }
        Err(CanaryError::Conflict(format!(
            "{function}:{alias} kept changing under this controller ({MAX_CONFLICTS} conflicting writes); try again"
        )))
    }
}
