//! `canary deploy --dry-run`: what a deploy would do, checked, without writing anything.

use serde::Serialize;

use super::{CanaryError, Controller, DeployRequest, VersionChoice};
use crate::{gate::GatePolicy, strategy::Strategy};

/// One step of a planned rollout.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedStep {
    /// The step's number, from 1.
    pub step: usize,
    /// The canary's share of the traffic in the step (0.0 to 1.0).
    pub weight: f64,
    /// When the step begins at the earliest, in seconds after the first step.
    pub starts_after_secs: u64,
    /// How long the step holds at the least.
    pub hold_secs: u64,
    /// Whether a manual gate pauses the rollout when it enters this step.
    pub pauses: bool,
}

/// A rollout as `deploy` would start it: versions, the schedule of weights and times, the
/// gates and hooks, and the policy.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutPlan {
    /// The function's name.
    pub function: String,
    /// The alias.
    pub alias: String,
    /// The version the alias serves now.
    pub stable_version: String,
    /// The version to roll out.
    pub canary_version: String,
    /// The strategy, as written.
    pub strategy: String,
    /// The steps, in order.
    pub steps: Vec<PlannedStep>,
    /// When the canary gets all the traffic at the earliest, in seconds after the first step.
    pub full_after_secs: u64,
    /// Whether a manual gate pauses the rollout before it goes to 100%.
    pub pauses_before_full: bool,
    /// The gates, as written.
    pub gates: Vec<String>,
    /// The pre-traffic hook, if any.
    pub pre_hook: Option<String>,
    /// The post-traffic hook, if any.
    pub post_hook: Option<String>,
    /// How gates are judged and how long the rollout waits for them.
    pub policy: GatePolicy,
}

/// The schedule of `strategy`: each step's weight, earliest start and hold; where a manual gate
/// pausing at `pause_percent` stops it; and the earliest time of 100%.
pub fn schedule(strategy: &Strategy, pause_percent: Option<f64>) -> (Vec<PlannedStep>, bool, u64) {
    let steps = strategy.steps();
    let pause_at =
        pause_percent.and_then(|percent| steps.iter().position(|s| s.percent >= percent));
    let mut start = 0;
    let planned = steps
        .iter()
        .enumerate()
        .map(|(index, step)| {
            let planned = PlannedStep {
                step: index + 1,
                weight: step.percent / 100.0,
                starts_after_secs: start,
                hold_secs: step.hold.as_secs(),
                pauses: pause_at == Some(index),
            };
            start += step.hold.as_secs();
            planned
        })
        .collect();
    let before_full = pause_percent.is_some() && pause_at.is_none();
    (planned, before_full, start)
}

impl Controller {
    /// What [`deploy`](Self::deploy) would do with `request`, after the same checks, with reads
    /// only: nothing is written, and [`VersionChoice::Publish`] is refused (publishing is a
    /// write).
    pub async fn plan(&self, request: DeployRequest) -> Result<RolloutPlan, CanaryError> {
        if request.version == VersionChoice::Publish {
            return Err(CanaryError::InvalidInput(
                "a dry run cannot publish a version: give --version".to_owned(),
            ));
        }
        let checked = self
            .check_request(
                &request.function,
                &request.alias,
                &request.version,
                &request.policy,
                &request.pre_hook,
                &request.post_hook,
            )
            .await?;
        let pause_percent = request
            .gates
            .iter()
            .filter_map(|gate| gate.manual_pause_percent())
            .reduce(f64::min);
        let (steps, pauses_before_full, full_after_secs) =
            schedule(&request.strategy, pause_percent);
        Ok(RolloutPlan {
            function: request.function,
            alias: request.alias,
            stable_version: checked.alias.function_version,
            canary_version: checked.canary_version.unwrap_or_default(),
            strategy: request.strategy.to_string(),
            steps,
            full_after_secs,
            pauses_before_full,
            gates: request.gates.iter().map(ToString::to_string).collect(),
            pre_hook: request.pre_hook,
            post_hook: request.post_hook,
            policy: request.policy,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn schedules() {
        let strategy: Strategy = "linear10-10m".parse().unwrap();
        let (steps, before_full, full) = schedule(&strategy, None);
        assert_eq!(steps.len(), 9);
        assert_eq!((steps[0].weight, steps[0].starts_after_secs), (0.1, 0));
        assert_eq!(
            (steps[8].starts_after_secs, steps[8].hold_secs),
            (4800, 600)
        );
        assert_eq!((before_full, full), (false, 5400));

        let strategy: Strategy = "steps:5@1m,25,50@10m".parse().unwrap();
        let (steps, before_full, full) = schedule(&strategy, Some(20.0));
        let pauses: Vec<bool> = steps.iter().map(|s| s.pauses).collect();
        assert_eq!(pauses, [false, true, false]);
        assert_eq!((before_full, full), (false, 1260));
        let (_, before_full, _) = schedule(&strategy, Some(100.0));
        assert!(before_full);
    }
}
