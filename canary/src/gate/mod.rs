//! Health gates: what they check, and their verdicts over a window.
//!
//! A gate is written as text on the command line (`--gate error-rate<=1%`) and kept in the
//! rollout's record in the same form; [`GateSpec`] parses and prints it. [`evaluate_gates`]
//! judges a set of gates over a window with one metrics call and at most one alarms call.
//!
//! ```
//! use lamina_canary::gate::GateSpec;
//!
//! let gate: GateSpec = "error-rate<=stable@0.01".parse().unwrap();
//! assert_eq!(gate, GateSpec::ErrorRateVsStable { alpha: 0.01 });
//! assert_eq!(gate.to_string(), "error-rate<=stable@0.01");
//!
//! let manual: GateSpec = "manual".parse().unwrap();
//! assert_eq!(manual.manual_pause_percent(), Some(100.0));
//!
//! let error = "error-rate<=150%".parse::<GateSpec>().unwrap_err();
//! assert_eq!(error.to_string(), "error-rate threshold 150% is over 100%");
//! ```

mod evaluate;
mod judge;
mod parse;

use std::{collections::BTreeMap, fmt, time::Duration};

pub use evaluate::{evaluate_gates, lambda_metric_query};
pub use parse::GateError;

use crate::{ports::Statistic, strategy::format_duration};

/// The false-rollback rate of `error-rate<=stable` when none is given.
pub const DEFAULT_ALPHA: f64 = 0.05;

/// The most dimensions CloudWatch accepts on a metric.
pub const MAX_DIMENSIONS: usize = 30;

/// An upper limit on an observed value: `<=N` (inclusive) or `<N`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// The limit.
    pub limit: f64,
    /// Whether the limit itself is allowed (`<=`) or not (`<`).
    pub inclusive: bool,
}

impl Threshold {
    /// Whether `value` is within the limit.
    pub fn allows(&self, value: f64) -> bool {
        if self.inclusive {
            value <= self.limit
        } else {
            value < self.limit
        }
    }

    fn operator(&self) -> &'static str {
        if self.inclusive { "<=" } else { "<" }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.operator(), self.limit)
    }
}

/// A custom CloudWatch metric gate: `metric:NAMESPACE/NAME{Dim=Value,...}:STAT<=N`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricGate {
    /// The namespace, such as `lamina/tracing` (it may contain `/`).
    pub namespace: String,
    /// The metric's name (the text after the namespace's last `/`).
    pub name: String,
    /// The dimensions, in the order written; `{version}` in a value is replaced by the canary
    /// version when the gate is evaluated.
    pub dimensions: Vec<(String, String)>,
    /// The statistic over the window: `sum`, `avg`, `max`, `min`, `count` or `pNN`.
    pub statistic: Statistic,
    /// The limit on the statistic.
    pub threshold: Threshold,
}

/// A health gate, as given with `--gate`.
#[derive(Debug, Clone, PartialEq)]
pub enum GateSpec {
    /// `error-rate<=1%`: the canary's Errors over Invocations, in percent.
    ErrorRate(Threshold),
    /// `error-rate<=stable[@alpha]`: the canary's error rate is not significantly higher than
    /// the stable version's, by a sequential test ([`crate::stats::sequential_error_test`])
    /// whose chance of rolling back a canary as good as the stable version, over the whole
    /// rollout and however often it is checked, is at most `alpha`.
    ErrorRateVsStable {
        /// The false-rollback rate, above 0 and below 1; [`DEFAULT_ALPHA`] when not written.
        alpha: f64,
    },
    /// `errors<=5`: the canary's error count.
    Errors(Threshold),
    /// `throttles<=0`: the canary's throttle count.
    Throttles(Threshold),
    /// `duration-p99<=800ms`: the canary's 99th percentile duration.
    DurationP99 {
        /// The limit.
        limit: Duration,
        /// Whether the limit itself is allowed (`<=`) or not (`<`).
        inclusive: bool,
    },
    /// `alarm:NAME`: a CloudWatch alarm; `ALARM` fails, `OK` and `INSUFFICIENT_DATA` pass.
    Alarm(String),
    /// `metric:NAMESPACE/NAME{Dim=Value,...}:STAT<=N`: a custom metric.
    Metric(MetricGate),
    /// `manual` (pause before 100%) or `manual@50` (pause at the first step at or above 50%).
    Manual {
        /// Where to pause: `None` for bare `manual`.
        at_percent: Option<f64>,
    },
}

impl GateSpec {
    /// Whether this is a manual gate (which pauses the rollout rather than checking metrics).
    pub fn is_manual(&self) -> bool {
        matches!(self, Self::Manual { .. })
    }

    /// Where a manual gate pauses: `Some(100.0)` for bare `manual` (before going to 100%),
    /// `Some(p)` for `manual@p`, `None` for other gates.
    pub fn manual_pause_percent(&self) -> Option<f64> {
        match self {
            Self::Manual { at_percent } => Some(at_percent.unwrap_or(100.0)),
            _ => None,
        }
    }
}

impl fmt::Display for GateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ErrorRate(threshold) => write!(f, "error-rate{threshold}%"),
            Self::ErrorRateVsStable { alpha } if *alpha == DEFAULT_ALPHA => {
                f.write_str("error-rate<=stable")
            }
            Self::ErrorRateVsStable { alpha } => write!(f, "error-rate<=stable@{alpha}"),
            Self::Errors(threshold) => write!(f, "errors{threshold}"),
            Self::Throttles(threshold) => write!(f, "throttles{threshold}"),
            Self::DurationP99 { limit, inclusive } => {
                let operator = if *inclusive { "<=" } else { "<" };
                write!(f, "duration-p99{operator}{}", format_duration(*limit))
            }
            Self::Alarm(name) => write!(f, "alarm:{name}"),
            Self::Metric(metric) => {
                write!(f, "metric:{}/{}", metric.namespace, metric.name)?;
                if !metric.dimensions.is_empty() {
                    f.write_str("{")?;
                    for (index, (name, value)) in metric.dimensions.iter().enumerate() {
                        let separator = if index == 0 { "" } else { "," };
                        write!(f, "{separator}{name}={value}")?;
                    }
                    f.write_str("}")?;
                }
                write!(
                    f,
                    ":{}{}",
                    StatisticText(&metric.statistic),
                    metric.threshold
                )
            }
            Self::Manual { at_percent: None } => f.write_str("manual"),
            Self::Manual {
                at_percent: Some(percent),
            } => write!(f, "manual@{percent}"),
        }
    }
}

/// A statistic as a metric gate writes it.
struct StatisticText<'a>(&'a Statistic);

impl fmt::Display for StatisticText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Statistic::Sum => f.write_str("sum"),
            Statistic::Average => f.write_str("avg"),
            Statistic::Maximum => f.write_str("max"),
            Statistic::Minimum => f.write_str("min"),
            Statistic::SampleCount => f.write_str("count"),
            Statistic::Percentile(p) => write!(f, "p{p}"),
        }
    }
}

impl serde::Serialize for GateSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for GateSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What the controller does when a wait reaches its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeadlineAction {
    /// Stay where the rollout is (no traffic moves) and report it as stalled at every decision,
    /// until a person runs `canary promote` or `canary abort`.
    Hold,
    /// Put the stable version back.
    Rollback,
    /// Go on as if the gates had passed: the next step (or 100%).
    Promote,
}

impl DeadlineAction {
    /// The action's name: `hold`, `rollback`, `promote`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hold => "hold",
            Self::Rollback => "rollback",
            Self::Promote => "promote",
        }
    }
}

impl fmt::Display for DeadlineAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DeadlineAction {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [Self::Hold, Self::Rollback, Self::Promote]
            .into_iter()
            .find(|action| action.as_str() == text)
            .ok_or_else(|| format!("{text:?} is not one of hold, rollback, promote"))
    }
}

/// How gates are judged and how long the rollout waits for them. Every wait has a bound, and
/// what happens at the bound is the user's choice.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GatePolicy {
    /// Below this many canary invocations in the window (and, for comparisons, stable ones),
    /// metric gates are [`Verdict::Insufficient`]: the rollout waits.
    pub min_requests: u64,
    /// Failed gate checks tolerated in one step before rolling back.
    pub failure_limit: u32,
    /// How long a gate whose data source fails may hold the rollout before
    /// [`on_data_deadline`](Self::on_data_deadline) applies. Written as text such as `10m` in JSON.
    #[serde(with = "crate::strategy::duration_text")]
    pub data_deadline: Duration,
    /// What happens once a data source has failed for longer than the data deadline: hold (the
    /// default, so that a throttled or failing metrics API does not roll back every healthy
    /// release in a region) or roll back. Promoting on no data is refused.
    pub on_data_deadline: DeadlineAction,
    /// How long past its hold a step may wait for enough data before
    /// [`on_progress_deadline`](Self::on_progress_deadline) applies.
    #[serde(with = "crate::strategy::duration_text")]
    pub progress_deadline: Duration,
    /// What happens when a step is still waiting for data at its progress deadline.
    pub on_progress_deadline: DeadlineAction,
    /// How long an alias edited by hand during the rollout may stay so before the rollout is
    /// rolled back (as `canary abort` would), so that no wait on a drifted alias is endless.
    #[serde(with = "crate::strategy::duration_text")]
    pub drift_timeout: Duration,
}

impl Default for GatePolicy {
    fn default() -> Self {
        Self {
            min_requests: 50,
            failure_limit: 0,
            data_deadline: Duration::from_secs(600),
            on_data_deadline: DeadlineAction::Hold,
            progress_deadline: Duration::from_secs(1800),
            on_progress_deadline: DeadlineAction::Rollback,
            drift_timeout: Duration::from_secs(600),
        }
    }
}

impl GatePolicy {
    /// Refuses a policy that makes no sense: promoting when the data source has failed.
    pub fn validate(&self) -> Result<(), String> {
        if self.on_data_deadline == DeadlineAction::Promote {
            return Err(
                "the data deadline cannot promote: a controller that cannot see must not shift \
                 traffic (choose hold or rollback)"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

/// Whose metrics the gates read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateTarget<'a> {
    /// The function's name.
    pub function: &'a str,
    /// The alias being rolled out.
    pub alias: &'a str,
    /// The version receiving the shifted traffic.
    pub canary_version: &'a str,
    /// The version being replaced.
    pub stable_version: &'a str,
    /// The canary's share of the alias's traffic in the step being judged (0 to 1).
    pub canary_weight: f64,
    /// How many steps of the rollout shift traffic: `error-rate<=stable` splits its level
    /// evenly among them, so that the whole rollout's false-rollback rate stays within it.
    pub steps: usize,
}

/// A gate's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Healthy.
    Pass,
    /// Unhealthy: counts toward the step's failure limit.
    Fail,
    /// Too little traffic to judge: the rollout waits.
    Insufficient,
    /// The data source failed: the rollout holds, up to the data deadline.
    Unavailable,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Insufficient => "insufficient",
            Self::Unavailable => "unavailable",
        })
    }
}

/// One gate's verdict and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GateResult {
    /// The gate, as text.
    pub gate: String,
    /// The verdict.
    pub verdict: Verdict,
    /// A sentence with the numbers behind the verdict.
    pub detail: String,
    /// The numbers, by name (such as `canary_invocations` or `e_value`).
    pub observed: BTreeMap<String, f64>,
}

/// The verdicts of one evaluation, in the order the gates were given (manual gates left out).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct GateReport {
    /// One result per non-manual gate.
    pub results: Vec<GateResult>,
}

impl GateReport {
    /// The verdict of all gates together: `Fail` if any fails, else `Unavailable` if any is,
    /// else `Insufficient` if any is, else `Pass` (also when there are no gates).
    pub fn overall(&self) -> Verdict {
        let any = |verdict| self.results.iter().any(|r| r.verdict == verdict);
        [Verdict::Fail, Verdict::Unavailable, Verdict::Insufficient]
            .into_iter()
            .find(|verdict| any(*verdict))
            .unwrap_or(Verdict::Pass)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod evaluate_tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod parse_tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod simulation_tests;
