//! One decision for a release group: every member moves together or not at all.
//!
//! The decision, from every member as read:
//! 1. a member rolled back, or one not started that can no longer start: roll back every
//!    member in progress (with the same reason; `drift` for a member that cannot start);
//! 2. members at different steps (a controller stopped between two members' writes): bring
//!    every member to the phase and step of the one furthest on;
//! 3. otherwise each member's own decision ([`decide`]), combined: one rolling back rolls all
//!    back; one waiting (or drifted, or stalled) holds all, each writing only its own counters;
//!    all advancing to the same step (or pausing, or promoting) do it together.

use std::time::SystemTime;

use super::{
    Action, CanaryError, Controller, RunOutcome,
    group::{MemberView, member_at},
    status,
};
use crate::{
    decision::{Decision, Plan, decide, drift, plan_rollback, step_weight},
    gate::GateReport,
    group::GroupRef,
    ports::{AliasState, PortError},
    state::{Phase, RollbackReason},
};

/// How far a member has gone: its step's rank, then when it got there (a pause and a resume
/// at one step are told apart by time).
fn progress(view: &MemberView) -> Option<(usize, SystemTime)> {
    let live = view.live.as_ref()?;
    let rank = match live.phase {
        Phase::PreHook => 0,
        Phase::Shifting | Phase::Paused => 1 + live.step,
        Phase::PostHook | Phase::Succeeded | Phase::RolledBack => usize::MAX,
    };
    Some((rank, live.since))
}

impl Controller {
    /// Makes one decision for `group` and writes it, member by member in member order. A write
    /// that loses to another controller stops there: the outcome is [`Action::LostRace`] and the
    /// next decision finishes what either wrote. Returns one outcome per member.
    pub async fn run_group(&self, group: &GroupRef) -> Result<Vec<RunOutcome>, CanaryError> {
        self.run_group_from(group, None).await
    }

    /// [`run_group`](Self::run_group), with one member's alias already read (by `run_all` or
    /// `run_once`), so that a decision reads each alias once.
    pub(super) async fn run_group_from(
        &self,
        group: &GroupRef,
        already_read: Option<(&str, &str, &AliasState)>,
    ) -> Result<Vec<RunOutcome>, CanaryError> {
        let views = self.read_members(group, already_read).await?;
        let now = self.now();
        let (action, plans) = self.decide_group(&views, now).await;
        let mut views = views;
        let mut reports: Vec<GateReport> = Vec::new();
        let mut action = action;
        for (view, (plan, report)) in views.iter_mut().zip(plans) {
            reports.push(report.unwrap_or_default());
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
                    action = Action::LostRace;
                    break;
                }
                Err(error) => return Err(CanaryError::Aws(error)),
            }
        }
        reports.resize_with(views.len(), GateReport::default);
        Ok(views
            .iter()
            .zip(reports)
            .map(|(view, report)| RunOutcome {
                function: view.record.function.clone(),
                alias: view.record.alias.clone(),
                action: action.clone(),
                status: view
                    .live
                    .as_ref()
                    .map(|live| status::build(&view.record, live, &view.alias, report)),
            })
            .collect())
    }

    /// The group's decision and each member's plan (with its gates' report, if evaluated).
    async fn decide_group(
        &self,
        views: &[MemberView],
        now: SystemTime,
    ) -> (Action, Vec<(Plan, Option<GateReport>)>) {
        let nothing = || Plan {
            decision: Decision::Done,
            update: None,
            next: None,
        };
        let roll_all_back = |why: RollbackReason| {
            let plans = views
                .iter()
                .map(|view| match &view.live {
                    Some(live) if !live.phase.is_terminal() => {
                        (plan_rollback(&view.record, live, why, now), None)
                    }
                    _ => (nothing(), None),
                })
                .collect::<Vec<_>>();
            let action = if plans.iter().any(|(plan, _)| plan.update.is_some()) {
                Action::RolledBack { why }
            } else {
                Action::NothingToDo
            };
            (action, plans)
        };

        // 1. One member down takes the group down.
        let rolled_back = views.iter().find_map(|view| {
            view.live
                .as_ref()
                .filter(|live| live.phase == Phase::RolledBack)
                .and_then(|live| live.why)
        });
        if let Some(why) = rolled_back {
            return roll_all_back(why);
        }
        if views.iter().any(MemberView::blocked) {
            return roll_all_back(RollbackReason::Drift);
        }

        // 2. Members at different steps: bring them to the one furthest on.
        let Some(leader) = views
            .iter()
            .filter(|view| view.live.is_some())
            .max_by_key(|view| progress(view))
            .and_then(|view| view.live.clone())
        else {
            return (
                Action::Waited {
                    reason: "no member of the group has started".to_owned(),
                },
                views.iter().map(|_| (nothing(), None)).collect(),
            );
        };
        let behind = |view: &MemberView| {
            view.live
                .as_ref()
                .is_none_or(|live| live.phase != leader.phase || live.step != leader.step)
        };
        if views.iter().any(behind) {
            let plans = views
                .iter()
                .map(|view| {
                    if !behind(view) {
                        return (nothing(), None);
                    }
                    let (update, next) =
                        member_at(&view.record, leader.phase, leader.step, None, now);
                    let plan = Plan {
                        decision: Decision::Advance {
                            to_step: leader.step,
                        },
                        update: Some(update),
                        next: Some(next),
                    };
                    (plan, None)
                })
                .collect();
            let action = match leader.phase {
                Phase::Paused => Action::Paused {
                    at_step: leader.step,
                },
                Phase::Succeeded => Action::Promoted,
                _ => Action::Advanced {
                    to_step: leader.step,
                    weight: step_weight(&views[0].record, leader.step),
                },
            };
            return (action, plans);
        }
        if leader.phase.is_terminal() {
            return (
                Action::NothingToDo,
                views.iter().map(|_| (nothing(), None)).collect(),
            );
        }

        // 3. Every member at the same step: each decides, the group acts on the sum.
        let mut decided = Vec::with_capacity(views.len());
        for view in views {
            let Some(live) = &view.live else {
                decided.push((nothing(), None));
                continue;
            };
            let report = if drift(&view.record, live, &view.alias).is_some() {
                None
            } else {
                self.evaluate(&view.record, live, now).await
            };
            let plan = decide(&view.record, live, &view.alias, report.as_ref(), now);
            decided.push((plan, report));
        }
        if let Some(why) = decided.iter().find_map(|(plan, _)| match plan.decision {
            Decision::RollBack { why } => Some(why),
            _ => None,
        }) {
            let (action, plans) = roll_all_back(why);
            let plans = plans
                .into_iter()
                .zip(decided)
                .map(|((plan, _), (_, report))| (plan, report))
                .collect();
            return (action, plans);
        }
        let member_name = |index: usize| {
            format!(
                "{}:{}",
                views[index].record.function, views[index].record.alias
            )
        };
        let holding =
            decided
                .iter()
                .enumerate()
                .find_map(|(index, (plan, _))| match &plan.decision {
                    Decision::Drift { detail } => Some(Action::Drifted {
                        detail: format!("{}: {detail}", member_name(index)),
                    }),
                    Decision::Stall { reason } => Some(Action::Stalled {
                        reason: format!("{}: {reason}", member_name(index)),
                    }),
                    Decision::Wait { reason, .. } => Some(Action::Waited {
                        reason: format!("{}: {reason}", member_name(index)),
                    }),
                    _ => None,
                });
        if let Some(action) = holding {
            // Only the writes that keep traffic where it is (counters, held marks) go out.
            let plans = decided
                .into_iter()
                .map(|(plan, report)| match plan.decision {
                    Decision::Drift { .. } | Decision::Stall { .. } | Decision::Wait { .. } => {
                        (plan, report)
                    }
                    _ => (nothing(), report),
                })
                .collect();
            return (action, plans);
        }
        let first = decided[0].0.decision.clone();
        if decided.iter().any(|(plan, _)| plan.decision != first) {
            let plans = decided
                .into_iter()
                .map(|(_, report)| (nothing(), report))
                .collect();
            return (
                Action::Waited {
                    reason: "the members decided differently; deciding again next time".to_owned(),
                },
                plans,
            );
        }
        let action = match first {
            Decision::Advance { to_step } => Action::Advanced {
                to_step,
                weight: step_weight(&views[0].record, to_step),
            },
            Decision::Pause { at_step } => Action::Paused { at_step },
            Decision::Promote => Action::Promoted,
            _ => Action::NothingToDo,
        };
        (action, decided)
    }
}
