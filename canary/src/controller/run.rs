//! `canary run`: one decision per rollout, hooks included.

use futures_util::{StreamExt as _, stream};

use super::{Action, CanaryError, Controller, MAX_CONFLICTS, RunOutcome, Snapshot, status};
use crate::{
    decision::{Decision, Plan, after_hook, decide, drift, plan_rollback, step_weight},
    gate::GateReport,
    ports::{AliasState, PortError},
    record::RolloutRecord,
    state::{LiveState, Phase, RollbackReason},
};

/// How many rollouts `run_all` decides at once.
pub const CONCURRENT_ROLLOUTS: usize = 16;

/// What one attempt at a decision came to.
enum Attempt {
    Finished(Box<RunOutcome>),
    /// The write lost to another writer; the alias must be read again.
    Conflict,
}

/// Whether a hook's answer is a success: 2xx, no function error, and not `"Failed"` nor
/// `{"status":"Failed"}`.
pub(super) fn hook_passed(status_code: u16, function_error: Option<&str>, payload: &[u8]) -> bool {
    if !(200..300).contains(&status_code) || function_error.is_some() {
        return false;
    }
    match serde_json::from_slice::<serde_json::Value>(payload) {
        Ok(serde_json::Value::String(text)) => text != "Failed",
        Ok(serde_json::Value::Object(object)) => {
            object.get("status").and_then(serde_json::Value::as_str) != Some("Failed")
        }
        _ => true,
    }
}

/// The CodeDeploy hook event, plus the alias and both versions.
fn hook_event(record: &RolloutRecord, phase: Phase) -> Vec<u8> {
    let (suffix, event) = if phase == Phase::PreHook {
        ("pre", "BeforeAllowTraffic")
    } else {
        ("post", "AfterAllowTraffic")
    };
    serde_json::json!({
        "DeploymentId": record.id,
        "LifecycleEventHookExecutionId": format!("{}-{suffix}", record.id),
        "LifecycleEvent": event,
        "FunctionName": record.function,
        "Alias": record.alias,
        "StableVersion": record.stable_version,
        "CanaryVersion": record.canary_version,
    })
    .to_string()
    .into_bytes()
}

impl Controller {
    /// Makes exactly one decision for the rollout on `function:alias` (running its hook if it is
    /// in a hook phase) and writes it. A write that loses to another controller is re-decided
    /// from a fresh read, up to three times; if the other controller moved the rollout on, the
    /// outcome is [`Action::LostRace`].
    ///
    /// When the function or the alias was deleted, the rollout is over: its records are
    /// deleted and the outcome is [`Action::Vanished`] (with no records, the answer is
    /// [`CanaryError::NotFound`]).
    pub async fn run_once(&self, function: &str, alias: &str) -> Result<RunOutcome, CanaryError> {
        let state = match self.ports.aliases.get_alias(function, alias).await {
            Ok(state) => state,
            Err(PortError::NotFound(what)) => {
                if self
                    .ports
                    .records
                    .history(function, alias)
                    .await?
                    .is_empty()
                {
                    return Err(CanaryError::NotFound(format!(
                        "{function}:{alias} does not exist ({what} not found)"
                    )));
                }
                return self.vanished(function, alias, &what).await;
            }
            Err(error) => return Err(CanaryError::Aws(error)),
        };
        self.run_from(function, alias, state).await
    }

    /// The function or alias of a rollout is gone: deletes the alias's records.
    async fn vanished(
        &self,
        function: &str,
        alias: &str,
        what: &str,
    ) -> Result<RunOutcome, CanaryError> {
        self.ports.records.delete_records(function, alias).await?;
        Ok(RunOutcome {
            function: function.to_owned(),
            alias: alias.to_owned(),
            action: Action::Vanished {
                detail: format!("{what} was deleted; the rollout records were removed"),
            },
            status: None,
        })
    }

    /// Whether `version` of `function` no longer exists (a missing function counts as gone).
    async fn version_gone(&self, function: &str, version: &str) -> Result<bool, CanaryError> {
        match self.ports.aliases.version_exists(function, version).await {
            Ok(exists) => Ok(!exists),
            Err(PortError::NotFound(_)) => Ok(true),
            Err(error) => Err(CanaryError::Aws(error)),
        }
    }

    /// One decision for every rollout with a record whose alias shows a phase that is not over,
    /// up to [`CONCURRENT_ROLLOUTS`] at a time, so that one slow hook or call does not hold up
    /// the others. Outcomes come in the order of the records. A rollout that fails is reported
    /// as [`Action::Failed`]; the others go on.
    pub async fn run_all(&self) -> Result<Vec<RunOutcome>, CanaryError> {
        let listed = self.ports.records.list_records().await?;
        // A release group is decided once per pass, by the first of its members listed.
        let groups_decided = std::sync::Mutex::new(std::collections::HashSet::new());
        let groups_decided = &groups_decided;
        let outcomes: Vec<Vec<RunOutcome>> = stream::iter(listed)
            .map(|(function, alias)| async move {
                self.run_listed(function, alias, groups_decided).await
            })
            .buffered(CONCURRENT_ROLLOUTS)
            .collect()
            .await;
        Ok(outcomes.into_iter().flatten().collect())
    }

    /// The decisions for one listed rollout (one per member for a release group), none when
    /// it has nothing to decide.
    async fn run_listed(
        &self,
        function: String,
        alias: String,
        groups_decided: &std::sync::Mutex<std::collections::HashSet<String>>,
    ) -> Vec<RunOutcome> {
        self.run_listed_one(function, alias, groups_decided)
            .await
            .unwrap_or_else(|outcome| vec![outcome])
    }

    /// [`run_listed`](Self::run_listed), with a single outcome as `Err`.
    async fn run_listed_one(
        &self,
        function: String,
        alias: String,
        groups_decided: &std::sync::Mutex<std::collections::HashSet<String>>,
    ) -> Result<Vec<RunOutcome>, RunOutcome> {
        let state = match self.ports.aliases.get_alias(&function, &alias).await {
            Ok(state) => state,
            Err(PortError::NotFound(what)) => {
                return Err(self
                    .vanished(&function, &alias, &what)
                    .await
                    .unwrap_or_else(|error| failed(&function, &alias, &error)));
            }
            Err(error) => return Err(failed(&function, &alias, &CanaryError::Aws(error))),
        };
        let live = match LiveState::decode(&state.description) {
            // An ended rollout still described is one whose description was not given back yet.
            Ok(Some(live)) => live,
            Ok(None) => return Ok(Vec::new()),
            Err(error) => {
                let error = CanaryError::Drift(format!(
                    "the description of {function}:{alias} cannot be read: {error}"
                ));
                return Err(failed(&function, &alias, &error));
            }
        };
        let group = match self.group_of(&function, &alias, &live).await {
            Ok(group) => group,
            // An ended rollout whose record is gone still gets its description back.
            Err(_) if live.phase.is_terminal() => None,
            Err(error) => return Err(failed(&function, &alias, &error)),
        };
        if let Some(group) = group {
            // A release group's ended members keep their description: the group's decision
            // reads every member's phase from it.
            if live.phase.is_terminal() {
                return Ok(Vec::new());
            }
            let first = group.members.first().map(|member| member.id.clone());
            let key = format!("{}/{}", group.name, first.unwrap_or_default());
            let fresh = groups_decided
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(key);
            if !fresh {
                return Ok(Vec::new());
            }
            return self
                .run_group_from(&group, Some((&function, &alias, &state)))
                .await
                .map_err(|error| failed(&function, &alias, &error));
        }
        Ok(vec![match self.run_from(&function, &alias, state).await {
            Ok(outcome) => outcome,
            Err(error) => failed(&function, &alias, &error),
        }])
    }

    async fn run_from(
        &self,
        function: &str,
        alias: &str,
        mut state: AliasState,
    ) -> Result<RunOutcome, CanaryError> {
        let mut conflicts = 0;
        loop {
            let snapshot = self.snapshot_of(function, alias, state).await?;
            // A member of a release group moves only with the whole group.
            if let Some(group) = snapshot.record.group.clone()
                && snapshot.live.id == snapshot.record.id
            {
                return self
                    .run_group_from(&group, Some((function, alias, &snapshot.alias)))
                    .await?
                    .into_iter()
                    .find(|outcome| outcome.function == function && outcome.alias == alias)
                    .ok_or_else(|| {
                        CanaryError::Drift(format!(
                            "group {} does not list {function}:{alias}",
                            group.name
                        ))
                    });
            }
            let read = snapshot.live.clone();
            match self.attempt(snapshot).await? {
                Attempt::Finished(outcome) => return Ok(*outcome),
                Attempt::Conflict => {
                    conflicts += 1;
                    state = self.read_alias(function, alias).await?;
                    let now = Self::live_state(function, alias, &state);
                    if now.as_ref().ok() != Some(&read) {
                        // The other writer moved the rollout: it made this decision.
                        let status =
                            match now {
                                Ok(live) => self.record(function, alias, &live.id).await.ok().map(
                                    |record| {
                                        status::build(&record, &live, &state, GateReport::default())
                                    },
                                ),
                                Err(_) => None,
                            };
                        return Ok(RunOutcome {
                            function: function.to_owned(),
                            alias: alias.to_owned(),
                            action: Action::LostRace,
                            status,
                        });
                    }
                    if conflicts >= MAX_CONFLICTS {
                        return Err(CanaryError::Conflict(format!(
                            "{function}:{alias} kept changing under this controller ({conflicts} conflicting writes); try again"
                        )));
                    }
                }
            }
        }
    }

    async fn attempt(&self, snapshot: Snapshot) -> Result<Attempt, CanaryError> {
        let Snapshot {
            alias: state,
            live,
            record,
        } = snapshot;
        if live.phase.is_terminal() {
            // The decision after the one that ended it (each keeps within its three calls):
            // store the outcome and give the alias its description back.
            let restored = self.finish(&record, &live, state).await?;
            let status = status::build(&record, &live, &restored, GateReport::default());
            return Ok(Attempt::Finished(Box::new(RunOutcome {
                function: record.function.clone(),
                alias: record.alias.clone(),
                action: Action::Finished,
                status: Some(status),
            })));
        }
        let now = self.now();
        // Drift and ended rollouts need no metrics.
        let report = if live.phase.is_terminal() || drift(&record, &live, &state).is_some() {
            None
        } else {
            self.evaluate(&record, &live, now).await
        };
        let mut plan = decide(&record, &live, &state, report.as_ref(), now);
        let mut hook_ran = false;
        if matches!(plan.decision, Decision::RunPreHook | Decision::RunPostHook) {
            let passed = self.run_hook(&record, live.phase).await?;
            hook_ran = true;
            plan = after_hook(&record, &live, passed, self.now());
        }
        let Plan {
            mut decision,
            update,
            next,
        } = plan;
        let (written, live_after) = match (update, next) {
            (Some(update), Some(next)) => {
                match self
                    .ports
                    .aliases
                    .update_alias(&record.function, &record.alias, &update, &state.revision_id)
                    .await
                {
                    Ok(written) => (written, next),
                    Err(PortError::Conflict(_)) => return Ok(Attempt::Conflict),
                    Err(error @ (PortError::Rejected(_) | PortError::NotFound(_))) => {
                        // Lambda refuses a write naming a version that no longer exists: a
                        // canary version deleted mid-rollout ends it, with the stable version.
                        if self
                            .version_gone(&record.function, &record.canary_version)
                            .await?
                        {
                            let plan =
                                plan_rollback(&record, &live, RollbackReason::Vanished, self.now());
                            let (Some(update), Some(next)) = (plan.update, plan.next) else {
                                return Err(CanaryError::Aws(error));
                            };
                            decision = plan.decision;
                            match self
                                .ports
                                .aliases
                                .update_alias(
                                    &record.function,
                                    &record.alias,
                                    &update,
                                    &state.revision_id,
                                )
                                .await
                            {
                                Ok(written) => (written, next),
                                Err(PortError::Conflict(_)) => return Ok(Attempt::Conflict),
                                Err(error) => return Err(CanaryError::Aws(error)),
                            }
                        } else {
                            return Err(CanaryError::Aws(error));
                        }
                    }
                    Err(error) => return Err(CanaryError::Aws(error)),
                }
            }
            _ => (state, live),
        };
        let action = match decision {
            Decision::Wait { reason, .. } => Action::Waited { reason },
            Decision::Stall { reason } => Action::Stalled { reason },
            _ if hook_ran
                && live_after.phase != Phase::RolledBack
                && live_after.phase != Phase::Succeeded =>
            {
                Action::HookPassed
            }
            Decision::Advance { to_step } => Action::Advanced {
                to_step,
                weight: step_weight(&record, to_step),
            },
            Decision::Pause { at_step } => Action::Paused { at_step },
            Decision::Promote => Action::Promoted,
            Decision::Succeed => Action::Succeeded,
            Decision::RollBack { why } => Action::RolledBack { why },
            Decision::Drift { detail } => Action::Drifted { detail },
            Decision::Done | Decision::RunPreHook | Decision::RunPostHook => Action::NothingToDo,
        };
        let status = status::build(&record, &live_after, &written, report.unwrap_or_default());
        Ok(Attempt::Finished(Box::new(RunOutcome {
            function: record.function.clone(),
            alias: record.alias.clone(),
            action,
            status: Some(status),
        })))
    }

    /// Invokes the hook of `phase`: `Ok(false)` when it failed or does not exist, an error when
    /// Lambda could not be reached (the hook runs again at the next decision).
    async fn run_hook(&self, record: &RolloutRecord, phase: Phase) -> Result<bool, CanaryError> {
        let hook = if phase == Phase::PreHook {
            &record.pre_hook
        } else {
            &record.post_hook
        };
        let Some(hook) = hook else {
            return Ok(true);
        };
        let payload = hook_event(record, phase);
        match self.ports.hooks.invoke(hook, &payload).await {
            Ok(response) => Ok(hook_passed(
                response.status_code,
                response.function_error.as_deref(),
                &response.payload,
            )),
            Err(PortError::NotFound(_) | PortError::Rejected(_)) => Ok(false),
            Err(error) => Err(CanaryError::Aws(error)),
        }
    }
}

fn failed(function: &str, alias: &str, error: &CanaryError) -> RunOutcome {
    RunOutcome {
        function: function.to_owned(),
        alias: alias.to_owned(),
        action: Action::Failed {
            error: error.to_string(),
        },
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::hook_passed;

    #[test]
    fn hook_answers() {
        let cases: &[(u16, Option<&str>, &str, bool)] = &[
            (200, None, "", true),
            (200, None, "null", true),
            (200, None, r#""Succeeded""#, true),
            (200, None, r#"{"status":"Succeeded"}"#, true),
            (200, None, "not json", true),
            (200, None, r#""Failed""#, false),
            (200, None, r#"{"status":"Failed"}"#, false),
            (200, Some("Unhandled"), "{}", false),
            (200, Some("Handled"), "{}", false),
            (500, None, "{}", false),
            (202, None, "{}", true),
        ];
        for (status, error, payload, expected) in cases {
            assert_eq!(
                hook_passed(*status, *error, payload.as_bytes()),
                *expected,
                "{status} {error:?} {payload}"
            );
        }
    }
}
