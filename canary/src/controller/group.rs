//! Release groups ([`crate::group`]): `deploy --group`, and the group's `status`, `promote` and
//! `abort`. Deciding a group's next step is in `group_run.rs`.
//!
//! A group is written member by member, always in the same order (sorted by function, then
//! alias). The first member's alias write decides which deploy owns the group: a deploy that
//! loses it has written no alias. Any later write that a controller does not finish, a crash
//! between two members for instance, is finished by the next decision on the group, which
//! brings every member to the step of the one furthest on, or rolls all of them back.

use std::{sync::Arc, time::SystemTime};

use serde::Serialize;

use super::{CanaryError, Controller, VersionChoice, status};
use crate::{
    decision::{Plan, plan_abort, plan_promote, plan_rollback, plan_start},
    gate::{GatePolicy, GateReport, GateSpec},
    group::{GroupMember, GroupRef, is_group_name},
    ports::{AliasState, AliasUpdate, PortError},
    record::{RECORD_FORMAT, RolloutRecord},
    state::{LiveState, Phase, RollbackReason, unix_seconds},
    strategy::Strategy,
};

/// One member of a group deploy: a function's alias and the published version to roll out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMemberRequest {
    /// The function's name.
    pub function: String,
    /// The alias whose traffic moves.
    pub alias: String,
    /// The published version to roll out, such as `"7"`.
    pub version: String,
}

/// What `canary deploy --group` asks for: one strategy, one set of gates and one policy for
/// every member. Groups have no hooks: a member's hook failing halfway through the group's
/// promotion could not be undone for the members already promoted.
#[derive(Debug)]
pub struct GroupDeployRequest {
    /// The group's name ([`is_group_name`]).
    pub name: String,
    /// The members, each function and alias at most once.
    pub members: Vec<GroupMemberRequest>,
    /// The steps, shared by every member.
    pub strategy: Strategy,
    /// The health gates, evaluated on each member against its own stable version.
    pub gates: Vec<GateSpec>,
    /// How the gates' verdicts are acted on.
    pub policy: GatePolicy,
}

/// One member of a group as the CLI shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMemberStatus {
    /// The function's name.
    pub function: String,
    /// The alias.
    pub alias: String,
    /// The member's rollout, or `None` when its alias does not describe it (not started yet,
    /// or taken over by another rollout since).
    pub rollout: Option<super::RolloutStatus>,
}

/// A release group as the CLI shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupStatus {
    /// The group's name.
    pub group: String,
    /// Every member, in write order.
    pub members: Vec<GroupMemberStatus>,
    /// One human sentence.
    pub summary: String,
}

/// One member as read: its record, its alias, and its live state when the alias describes
/// this member's rollout.
#[derive(Debug)]
pub(super) struct MemberView {
    pub(super) record: Arc<RolloutRecord>,
    pub(super) alias: AliasState,
    pub(super) live: Option<LiveState>,
}

impl MemberView {
    /// Whether this not-started member can no longer start: its alias left the stable version,
    /// routes traffic, or shows another rollout in progress (or an unreadable description).
    pub(super) fn blocked(&self) -> bool {
        if self.live.is_some() {
            return false;
        }
        let other_rollout = match LiveState::decode(&self.alias.description) {
            Ok(Some(live)) => !live.phase.is_terminal(),
            Ok(None) => false,
            Err(_) => true,
        };
        other_rollout
            || self.alias.function_version != self.record.stable_version
            || self
                .alias
                .routing
                .as_ref()
                .is_some_and(|routing| routing.weight > 0.0)
    }

    fn status(&self) -> GroupMemberStatus {
        GroupMemberStatus {
            function: self.record.function.clone(),
            alias: self.record.alias.clone(),
            rollout: self
                .live
                .as_ref()
                .map(|live| status::build(&self.record, live, &self.alias, GateReport::default())),
        }
    }
}

/// The alias write and live state that put a member at `phase` and `step`.
pub(super) fn member_at(
    record: &RolloutRecord,
    phase: Phase,
    step: usize,
    why: Option<RollbackReason>,
    now: SystemTime,
) -> (AliasUpdate, LiveState) {
    let next = LiveState {
        id: record.id.clone(),
        phase,
        step,
        since: now,
        fails: 0,
        held: None,
        why,
    };
    let (function_version, routing) = crate::decision::expected_alias(record, phase, step);
    let update = AliasUpdate {
        function_version,
        routing,
        description: next.encode(),
    };
    (update, next)
}

fn group_summary(name: &str, views: &[MemberView]) -> String {
    let phases: Vec<String> = views
        .iter()
        .map(|view| match &view.live {
            Some(live) if matches!(live.phase, Phase::Shifting | Phase::Paused) => {
                format!("{} step {}", live.phase, live.step + 1)
            }
            Some(live) => live.phase.to_string(),
            None => "not started".to_owned(),
        })
        .collect();
    let first = phases.first().cloned().unwrap_or_default();
    if phases.iter().all(|phase| *phase == first) {
        format!("Group {name}: all {} member(s) {first}.", phases.len())
    } else {
        let each: Vec<String> = views
            .iter()
            .zip(&phases)
            .map(|(view, phase)| format!("{}:{} {phase}", view.record.function, view.record.alias))
            .collect();
        format!(
            "Group {name} is between two states ({}); the next `canary run` brings them together.",
            each.join(", ")
        )
    }
}

impl Controller {
    /// Starts a release group. Everything is checked before anything is written, for every
    /// member as [`deploy`](Self::deploy) checks a rollout: the name, each function and alias
    /// once, each version published and not already the primary, no rollout in progress on any
    /// member. Then every member's record is written (each naming the whole group), then each
    /// member's first step, in member order. A deploy that finds the first member's alias moved
    /// by another writer has written no alias; one that finds a later member moved rolls back
    /// the members it had started, and both are refused.
    pub async fn deploy_group(
        &self,
        request: GroupDeployRequest,
    ) -> Result<GroupStatus, CanaryError> {
        let GroupDeployRequest {
            name,
            mut members,
            strategy,
            gates,
            policy,
        } = request;
        if !is_group_name(&name) {
            return Err(CanaryError::InvalidInput(format!(
                "{name:?} is not a group name (1 to {} letters, digits, '-' or '_')",
                crate::group::MAX_GROUP_NAME
            )));
        }
        if members.is_empty() {
            return Err(CanaryError::InvalidInput(format!(
                "group {name} has no members; give FUNCTION=VERSION for each"
            )));
        }
        members.sort_by(|a, b| (&a.function, &a.alias).cmp(&(&b.function, &b.alias)));
        if let Some(pair) = members
            .windows(2)
            .find(|pair| (&pair[0].function, &pair[0].alias) == (&pair[1].function, &pair[1].alias))
        {
            return Err(CanaryError::InvalidInput(format!(
                "{}:{} appears twice in group {name}",
                pair[0].function, pair[0].alias
            )));
        }
        let mut checked = Vec::with_capacity(members.len());
        for member in &members {
            let version = VersionChoice::Existing(member.version.clone());
            checked.push(
                self.check_request(
                    &member.function,
                    &member.alias,
                    &version,
                    &policy,
                    &None,
                    &None,
                )
                .await?,
            );
        }

        let mut ids: Vec<String> = Vec::with_capacity(members.len());
        while ids.len() < members.len() {
            let id = RolloutRecord::new_id();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let group = GroupRef {
            name: name.clone(),
            members: members
                .iter()
                .zip(&ids)
                .map(|(member, id)| GroupMember {
                    function: member.function.clone(),
                    alias: member.alias.clone(),
                    id: id.clone(),
                })
                .collect(),
        };
        let now = self.now();
        let mut records = Vec::with_capacity(members.len());
        for ((member, check), id) in members.iter().zip(&checked).zip(&ids) {
            records.push(Arc::new(RolloutRecord {
                format: RECORD_FORMAT,
                id: id.clone(),
                function: member.function.clone(),
                alias: member.alias.clone(),
                stable_version: check.alias.function_version.clone(),
                canary_version: member.version.clone(),
                strategy: strategy.clone(),
                gates: gates.clone(),
                policy: policy.clone(),
                pre_hook: None,
                post_hook: None,
                created_at: unix_seconds(now),
                original_description: check.original_description.clone(),
                group: Some(group.clone()),
            }));
        }
        for record in &records {
            let document = record.to_json().map_err(|error| {
                CanaryError::InvalidInput(format!("the rollout record cannot be written: {error}"))
            })?;
            self.ports
                .records
                .create_record(&record.function, &record.alias, &record.id, &document)
                .await?;
            self.remember(record);
        }

        let mut started: Vec<MemberView> = Vec::with_capacity(records.len());
        for (record, check) in records.iter().zip(checked) {
            let plan = plan_start(record, self.now());
            let (Some(update), Some(next)) = (plan.update, plan.next) else {
                return Err(CanaryError::InvalidInput(
                    "the strategy has no first step".to_owned(),
                ));
            };
            match self
                .ports
                .aliases
                .update_alias(
                    &record.function,
                    &record.alias,
                    &update,
                    &check.alias.revision_id,
                )
                .await
            {
                Ok(written) => started.push(MemberView {
                    record: Arc::clone(record),
                    alias: written,
                    live: Some(next),
                }),
                Err(PortError::Conflict(_)) => {
                    let state = self.read_alias(&record.function, &record.alias).await?;
                    // The SDK's retry of a write AWS had applied answers 412: it is ours.
                    if let Ok(Some(live)) = LiveState::decode(&state.description)
                        && live.id == record.id
                    {
                        started.push(MemberView {
                            record: Arc::clone(record),
                            alias: state,
                            live: Some(live),
                        });
                        continue;
                    }
                    let undone = started.len();
                    self.undo_started(started).await?;
                    return Err(CanaryError::Conflict(format!(
                        "{}:{} changed while group {name} was deploying; {undone} member(s) already started were rolled back; deploy again",
                        record.function, record.alias
                    )));
                }
                // A version deleted since the checks: undo what started, refuse.
                Err(error @ (PortError::Rejected(_) | PortError::NotFound(_))) => {
                    self.undo_started(started).await?;
                    return Err(CanaryError::Aws(error));
                }
                // Unavailable: the write may have been applied. The group is in its records
                // and its first member's alias, so the next decision finishes starting it.
                Err(error) => return Err(CanaryError::Aws(error)),
            }
        }
        Ok(GroupStatus {
            summary: group_summary(&name, &started),
            group: name,
            members: started.iter().map(MemberView::status).collect(),
        })
    }

    /// Rolls back (`why=abort`) the members a refused group deploy had started.
    async fn undo_started(&self, started: Vec<MemberView>) -> Result<(), CanaryError> {
        for view in started {
            let Some(live) = &view.live else { continue };
            let plan = plan_rollback(&view.record, live, RollbackReason::Abort, self.now());
            if let Some(update) = plan.update {
                self.ports
                    .aliases
                    .update_alias(
                        &view.record.function,
                        &view.record.alias,
                        &update,
                        &view.alias.revision_id,
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Reads every member of `group`: its alias and its record (from the cache when it is
    /// there).
    pub(super) async fn read_members(
        &self,
        group: &GroupRef,
        already_read: Option<(&str, &str, &AliasState)>,
    ) -> Result<Vec<MemberView>, CanaryError> {
        let mut views = Vec::with_capacity(group.members.len());
        for member in &group.members {
            let record = self
                .record(&member.function, &member.alias, &member.id)
                .await?;
            let alias = match already_read {
                Some((function, alias, state))
                    if function == member.function && alias == member.alias =>
                {
                    state.clone()
                }
                _ => self.read_alias(&member.function, &member.alias).await?,
            };
            let live = match LiveState::decode(&alias.description) {
                Ok(Some(live)) if live.id == member.id => Some(live),
                _ => None,
            };
            views.push(MemberView {
                record,
                alias,
                live,
            });
        }
        Ok(views)
    }

    /// The group that `function:alias`'s rollout belongs to, if its record names one.
    pub(super) async fn group_of(
        &self,
        function: &str,
        alias: &str,
        live: &LiveState,
    ) -> Result<Option<GroupRef>, CanaryError> {
        Ok(self.record(function, alias, &live.id).await?.group.clone())
    }

    /// The newest group named `name` among the rollouts the aliases with records describe.
    pub async fn find_group(&self, name: &str) -> Result<GroupRef, CanaryError> {
        let mut newest: Option<(u64, GroupRef)> = None;
        for (function, alias) in self.ports.records.list_records().await? {
            let state = match self.ports.aliases.get_alias(&function, &alias).await {
                Ok(state) => state,
                Err(PortError::NotFound(_)) => continue,
                Err(error) => return Err(CanaryError::Aws(error)),
            };
            let Ok(Some(live)) = LiveState::decode(&state.description) else {
                continue;
            };
            let Ok(record) = self.record(&function, &alias, &live.id).await else {
                continue;
            };
            if let Some(group) = &record.group
                && group.name == name
                && newest
                    .as_ref()
                    .is_none_or(|(created, _)| record.created_at > *created)
            {
                newest = Some((record.created_at, group.clone()));
            }
        }
        newest.map(|(_, group)| group).ok_or_else(|| {
            CanaryError::NotFound(format!("no alias describes a rollout of group {name}"))
        })
    }

    /// The group named `name`, every member as its alias shows it. Writes nothing.
    pub async fn group_status(&self, name: &str) -> Result<GroupStatus, CanaryError> {
        let group = self.find_group(name).await?;
        let views = self.read_members(&group, None).await?;
        Ok(GroupStatus {
            summary: group_summary(name, &views),
            group: group.name,
            members: views.iter().map(MemberView::status).collect(),
        })
    }

    /// Makes every member's canary its primary version, as [`promote`](Self::promote) does for
    /// one rollout. Every member must be at the same step (a group between two steps is
    /// brought together by `canary run` first); unless `force`, every member's gates are
    /// evaluated and one failing refuses the whole promotion, with nothing written.
    pub async fn promote_group(&self, name: &str, force: bool) -> Result<GroupStatus, CanaryError> {
        let group = self.find_group(name).await?;
        let views = self.read_members(&group, None).await?;
        let aligned = aligned_phase(&views).ok_or_else(|| {
            CanaryError::Conflict(format!(
                "{} Promote it once it is.",
                group_summary(name, &views)
            ))
        })?;
        if aligned.is_terminal() {
            return Err(CanaryError::Conflict(format!(
                "group {name} is already over ({aligned})"
            )));
        }
        let now = self.now();
        let mut plans = Vec::with_capacity(views.len());
        for view in &views {
            let Some(live) = &view.live else {
                continue;
            };
            let report = if force {
                None
            } else {
                self.evaluate(&view.record, live, now).await
            };
            let plan = plan_promote(&view.record, live, &view.alias, report.as_ref(), force, now)
                .map_err(|refusal| {
                CanaryError::Refused(format!(
                    "{}:{} refuses the promotion of group {name}: {refusal}",
                    view.record.function, view.record.alias
                ))
            })?;
            plans.push(plan);
        }
        self.write_all(name, views, plans).await
    }

    /// Rolls every member back (`why=abort`), as [`abort`](Self::abort) does for one rollout.
    /// Refused once a member has succeeded: the group is then being promoted, and `canary run`
    /// finishes that.
    pub async fn abort_group(&self, name: &str) -> Result<GroupStatus, CanaryError> {
        let group = self.find_group(name).await?;
        let views = self.read_members(&group, None).await?;
        if let Some(view) = views.iter().find(|view| {
            view.live
                .as_ref()
                .is_some_and(|live| live.phase == Phase::Succeeded)
        }) {
            return Err(CanaryError::Conflict(format!(
                "{}:{} of group {name} already succeeded: the group is being promoted, and `canary run` finishes it",
                view.record.function, view.record.alias
            )));
        }
        let now = self.now();
        let mut plans = Vec::with_capacity(views.len());
        for view in &views {
            match &view.live {
                Some(live) if !live.phase.is_terminal() => plans.push(
                    plan_abort(&view.record, live, &view.alias, now).map_err(CanaryError::Drift)?,
                ),
                _ => plans.push(Plan {
                    decision: crate::decision::Decision::Done,
                    update: None,
                    next: None,
                }),
            }
        }
        if plans.iter().all(|plan| plan.update.is_none()) {
            return Err(CanaryError::Conflict(format!(
                "group {name} has no member in progress to abort"
            )));
        }
        self.write_all(name, views, plans).await
    }

    /// Writes each view's plan (those that write), in member order. A write that loses to
    /// another writer stops there and is a [`CanaryError::Conflict`]: what was written stays,
    /// and the next decision on the group finishes it.
    async fn write_all(
        &self,
        name: &str,
        mut views: Vec<MemberView>,
        plans: Vec<Plan>,
    ) -> Result<GroupStatus, CanaryError> {
        for (view, plan) in views.iter_mut().zip(plans) {
            let (Some(update), Some(next)) = (plan.update, plan.next) else {
                continue;
            };
            match self
                .ports
                .aliases
                .update_alias(
                    &view.record.function,
                    &view.record.alias,
                    &update,
                    &view.alias.revision_id,
                )
                .await
            {
                Ok(written) => {
                    view.alias = written;
                    view.live = Some(next);
                }
                Err(PortError::Conflict(_)) => {
                    return Err(CanaryError::Conflict(format!(
                        "{}:{} of group {name} changed under this command; run it again (what it wrote stays, and `canary run` finishes the group's transition)",
                        view.record.function, view.record.alias
                    )));
                }
                Err(error) => return Err(CanaryError::Aws(error)),
            }
        }
        Ok(GroupStatus {
            summary: group_summary(name, &views),
            group: name.to_owned(),
            members: views.iter().map(MemberView::status).collect(),
        })
    }
}

/// The phase every member is in at the same step, or `None` when they differ (or one has not
/// started).
fn aligned_phase(views: &[MemberView]) -> Option<Phase> {
    let first = views.first()?.live.as_ref()?;
    views
        .iter()
        .all(|view| {
            view.live
                .as_ref()
                .is_some_and(|live| live.phase == first.phase && live.step == first.step)
        })
        .then_some(first.phase)
}
