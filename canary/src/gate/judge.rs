//! Judging one gate from the answers of the metrics and alarms calls.

use std::collections::{BTreeMap, HashMap};

use super::{GatePolicy, GateSpec, MetricGate, Threshold, Verdict};
use crate::{
    ports::{AlarmState, PortError, Statistic},
    stats::sequential_error_test,
};

pub(super) const CANARY_INVOCATIONS: &str = "canary_invocations";
pub(super) const CANARY_ERRORS: &str = "canary_errors";
pub(super) const CANARY_THROTTLES: &str = "canary_throttles";
pub(super) const CANARY_DURATION_P99: &str = "canary_duration_p99";
pub(super) const STABLE_INVOCATIONS: &str = "stable_invocations";
pub(super) const STABLE_ERRORS: &str = "stable_errors";

/// The query id of the custom metric gate at `index` among the judged gates.
pub(super) fn custom_id(index: usize) -> String {
    format!("custom_{index}")
}

/// The answers of the two calls.
pub(super) struct Data {
    pub(super) values: Result<HashMap<String, Option<f64>>, PortError>,
    pub(super) alarms: Result<HashMap<String, AlarmState>, PortError>,
}

/// The level of `error-rate<=stable` in each step: `alpha` split evenly among the `steps` that
/// shift traffic. Each step is tested on its own window, so the whole rollout's chance of a
/// false rollback is at most the sum, `alpha`.
pub(super) fn step_level(alpha: f64, steps: usize) -> f64 {
    alpha / steps.max(1) as f64
}

/// What the sequential comparison needs to know about the step being judged.
#[derive(Debug, Clone, Copy)]
pub(super) struct Look {
    /// The canary's share of the alias's traffic in this step (0 to 1).
    pub(super) canary_weight: f64,
    /// How many steps of the rollout shift traffic: the gate's level is split evenly among them.
    pub(super) steps: usize,
}

/// Judges one gate, recording the numbers it looks at. `Err` is an unavailable data source.
pub(super) struct Judge<'a> {
    data: &'a Data,
    policy: &'a GatePolicy,
    look: Look,
    /// The numbers looked at, by name.
    pub(super) observed: BTreeMap<String, f64>,
}

type Judgement = Result<(Verdict, String), String>;

impl<'a> Judge<'a> {
    pub(super) fn new(data: &'a Data, policy: &'a GatePolicy, look: Look) -> Self {
        Self {
            data,
            policy,
            look,
            observed: BTreeMap::new(),
        }
    }

    /// A query's value, `None` when the metric had no data in the window.
    fn value(&mut self, id: &str) -> Result<Option<f64>, String> {
        let values = self
            .data
            .values
            .as_ref()
            .map_err(|error| format!("metrics unavailable: {error}"))?;
        let value = values.get(id).ok_or_else(|| {
            format!("metrics unavailable: the metric source gave no answer for {id}")
        })?;
        if let Some(value) = value {
            self.observed.insert(id.to_owned(), *value);
        }
        Ok(*value)
    }

    /// A sum: no data is 0.
    fn sum(&mut self, id: &str) -> Result<f64, String> {
        let value = self.value(id)?.unwrap_or(0.0);
        self.observed.insert(id.to_owned(), value);
        Ok(value)
    }

    fn too_few(&self, invocations: f64) -> bool {
        invocations < self.policy.min_requests as f64
    }

    fn insufficient(&self, who: &str, invocations: f64) -> (Verdict, String) {
        (
            Verdict::Insufficient,
            format!(
                "{who} has {invocations} invocations in the window, fewer than the {} needed",
                self.policy.min_requests
            ),
        )
    }

    pub(super) fn judge(&mut self, gate: &GateSpec, index: usize) -> Judgement {
        match gate {
            GateSpec::ErrorRate(threshold) => self.error_rate(gate, threshold),
            GateSpec::ErrorRateVsStable { alpha } => self.versus_stable(*alpha),
            GateSpec::Errors(threshold) => self.count(gate, CANARY_ERRORS, "errors", threshold),
            GateSpec::Throttles(threshold) => {
                self.count(gate, CANARY_THROTTLES, "throttles", threshold)
            }
            GateSpec::DurationP99 { limit, inclusive } => {
                let threshold = Threshold {
                    limit: limit.as_secs_f64() * 1000.0,
                    inclusive: *inclusive,
                };
                self.duration(gate, &threshold)
            }
            GateSpec::Alarm(name) => self.alarm(name),
            GateSpec::Metric(metric) => self.metric(gate, metric, index),
            // Filtered out before judging; a manual gate has nothing to measure.
            GateSpec::Manual { .. } => Ok((Verdict::Pass, "a manual gate".to_owned())),
        }
    }

    fn error_rate(&mut self, gate: &GateSpec, threshold: &Threshold) -> Judgement {
        let invocations = self.sum(CANARY_INVOCATIONS)?;
        let errors = self.sum(CANARY_ERRORS)?;
        if self.too_few(invocations) {
            return Ok(self.insufficient("the canary", invocations));
        }
        let rate = percent(errors, invocations);
        self.observed
            .insert("canary_error_rate_percent".to_owned(), rate);
        self.observed.insert("limit".to_owned(), threshold.limit);
        let (verdict, verb) = verdict(threshold.allows(rate));
        Ok((
            verdict,
            format!("canary {errors}/{invocations} errors ({rate:.2}%) {verb} {gate}"),
        ))
    }

    fn versus_stable(&mut self, alpha: f64) -> Judgement {
        let canary_invocations = self.sum(CANARY_INVOCATIONS)?;
        let canary_errors = self.sum(CANARY_ERRORS)?;
        let stable_invocations = self.sum(STABLE_INVOCATIONS)?;
        let stable_errors = self.sum(STABLE_ERRORS)?;
        if self.too_few(canary_invocations) {
            return Ok(self.insufficient("the canary", canary_invocations));
        }
        if self.too_few(stable_invocations) {
            return Ok(self.insufficient("the stable version", stable_invocations));
        }
        let count = |value: f64| value.max(0.0).round() as u64;
        // Errors above the invocations (CloudWatch can count them a period apart) count as the
        // invocations.
        let canary_errors = canary_errors.min(canary_invocations);
        let stable_errors = stable_errors.min(stable_invocations);
        // Each traffic-shifting step is its own sequential test on its own window: splitting the
        // level evenly keeps the whole rollout's false-rollback rate within `alpha`.
        let level = step_level(alpha, self.look.steps);
        let test = sequential_error_test(
            count(canary_errors),
            count(stable_errors),
            self.look.canary_weight,
            level,
        );
        let rate = |errors: f64, total: f64| percent(errors, total);
        let canary_rate = rate(canary_errors, canary_invocations);
        let stable_rate = rate(stable_errors, stable_invocations);
        self.observed.insert("e_value".to_owned(), test.e_value);
        self.observed
            .insert("e_value_threshold".to_owned(), test.threshold);
        self.observed.insert("alpha".to_owned(), alpha);
        self.observed
            .insert("canary_error_rate_percent".to_owned(), canary_rate);
        self.observed
            .insert("stable_error_rate_percent".to_owned(), stable_rate);
        let (verdict, relation) = if test.significant {
            (Verdict::Fail, ">=")
        } else {
            (Verdict::Pass, "<")
        };
        Ok((
            verdict,
            format!(
                "canary {canary_errors}/{canary_invocations} errors ({canary_rate:.2}%) vs stable \
                 {stable_errors}/{stable_invocations} ({stable_rate:.2}%) at a {:.0}% share: \
                 evidence {} {relation} {} (level {})",
                self.look.canary_weight * 100.0,
                format_number(test.e_value),
                format_number(test.threshold),
                format_number(level),
            ),
        ))
    }

    /// A count gate. A count over the limit fails even below `min_requests`: within a step's
    /// window the count only grows, so more traffic cannot bring it back under.
    fn count(&mut self, gate: &GateSpec, id: &str, what: &str, threshold: &Threshold) -> Judgement {
        let invocations = self.sum(CANARY_INVOCATIONS)?;
        let count = self.sum(id)?;
        self.observed.insert("limit".to_owned(), threshold.limit);
        if !threshold.allows(count) {
            return Ok((
                Verdict::Fail,
                format!("canary {count} {what} in {invocations} invocations breaks {gate}"),
            ));
        }
        if self.too_few(invocations) {
            return Ok(self.insufficient("the canary", invocations));
        }
        Ok((
            Verdict::Pass,
            format!("canary {count} {what} in {invocations} invocations is within {gate}"),
        ))
    }

    fn duration(&mut self, gate: &GateSpec, threshold: &Threshold) -> Judgement {
        let invocations = self.sum(CANARY_INVOCATIONS)?;
        let p99 = self.value(CANARY_DURATION_P99)?;
        if self.too_few(invocations) {
            return Ok(self.insufficient("the canary", invocations));
        }
        let Some(p99) = p99 else {
            return Ok((
                Verdict::Insufficient,
                "no Duration data for the canary in the window".to_owned(),
            ));
        };
        self.observed.insert("limit_ms".to_owned(), threshold.limit);
        let (verdict, verb) = verdict(threshold.allows(p99));
        Ok((
            verdict,
            format!("canary p99 duration {p99:.1}ms over {invocations} invocations {verb} {gate}"),
        ))
    }

    fn alarm(&mut self, name: &str) -> Judgement {
        let states = self
            .data
            .alarms
            .as_ref()
            .map_err(|error| format!("alarm states unavailable: {error}"))?;
        let state = states.get(name).ok_or_else(|| {
            format!("alarm states unavailable: no state returned for alarm {name}")
        })?;
        Ok(match state {
            AlarmState::Alarm => (Verdict::Fail, format!("alarm {name} is in ALARM")),
            AlarmState::Ok => (Verdict::Pass, format!("alarm {name} is OK")),
            AlarmState::InsufficientData => (
                Verdict::Pass,
                format!("alarm {name} is INSUFFICIENT_DATA, which passes (as in CodeDeploy)"),
            ),
        })
    }

    fn metric(&mut self, gate: &GateSpec, metric: &MetricGate, index: usize) -> Judgement {
        let invocations = self.sum(CANARY_INVOCATIONS)?;
        let id = custom_id(index);
        let value = match metric.statistic {
            Statistic::Sum | Statistic::SampleCount => Some(self.sum(&id)?),
            _ => self.value(&id)?,
        };
        if self.too_few(invocations) {
            return Ok(self.insufficient("the canary", invocations));
        }
        let Some(value) = value else {
            return Ok((
                Verdict::Insufficient,
                format!(
                    "no data for {}/{} in the window",
                    metric.namespace, metric.name
                ),
            ));
        };
        self.observed.insert("value".to_owned(), value);
        self.observed
            .insert("limit".to_owned(), metric.threshold.limit);
        let (verdict, verb) = verdict(metric.threshold.allows(value));
        Ok((
            verdict,
            format!(
                "{}/{} is {value} {verb} {gate}",
                metric.namespace, metric.name
            ),
        ))
    }
}

fn verdict(allowed: bool) -> (Verdict, &'static str) {
    if allowed {
        (Verdict::Pass, "is within")
    } else {
        (Verdict::Fail, "breaks")
    }
}

fn percent(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        100.0 * part / whole
    } else {
        0.0
    }
}

/// A number for people: four significant decimals at most (trailing zeros dropped), or
/// scientific when tiny or huge.
fn format_number(value: f64) -> String {
    if value == 0.0 {
        return "0".to_owned();
    }
    if value.abs() < 0.0001 || value.abs() >= 1e6 {
        return format!("{value:.1e}");
    }
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::format_number;

    #[test]
    fn numbers_read_well() {
        assert_eq!(format_number(0.11), "0.11");
        assert_eq!(format_number(0.0498), "0.0498");
        assert_eq!(format_number(1.0), "1");
        assert_eq!(format_number(20.0), "20");
        assert_eq!(format_number(0.000_065_5), "6.6e-5");
        assert_eq!(format_number(3.2e9), "3.2e9");
        assert_eq!(format_number(0.0), "0");
    }
}
