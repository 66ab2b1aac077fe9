//! Judging gates over a window: one batched metrics call, at most one alarms call.

use std::collections::HashMap;

use super::{
    GatePolicy, GateReport, GateResult, GateSpec, GateTarget, Verdict,
    judge::{
        CANARY_DURATION_P99, CANARY_ERRORS, CANARY_INVOCATIONS, CANARY_THROTTLES, Data, Judge,
        Look, STABLE_ERRORS, STABLE_INVOCATIONS, custom_id,
    },
};
use crate::ports::{MetricQuery, MetricSource, MetricWindow, PortError, Statistic};

/// A query on one of Lambda's own metrics for one version of the alias: namespace `AWS/Lambda`,
/// dimensions `FunctionName`, `Resource` (`function:alias`) and `ExecutedVersion`.
pub fn lambda_metric_query(
    id: &str,
    target: &GateTarget<'_>,
    version: &str,
    metric: &str,
    statistic: Statistic,
) -> MetricQuery {
    MetricQuery {
        id: id.to_owned(),
        namespace: "AWS/Lambda".to_owned(),
        metric_name: metric.to_owned(),
        dimensions: vec![
            ("FunctionName".to_owned(), target.function.to_owned()),
            (
                "Resource".to_owned(),
                format!("{}:{}", target.function, target.alias),
            ),
            ("ExecutedVersion".to_owned(), version.to_owned()),
        ],
        statistic,
    }
}

/// Judges `gates` over `window`. Manual gates are left out of the report. Every metric query
/// goes into one [`MetricSource::fetch`] call and every alarm into one
/// [`MetricSource::alarm_states`] call, each made only when some gate needs it; a failed call
/// makes the gates that needed it [`Verdict::Unavailable`]. A metric with no data in the window
/// counts as 0 for sums and counts, and makes the other statistics [`Verdict::Insufficient`].
pub async fn evaluate_gates(
    gates: &[GateSpec],
    policy: &GatePolicy,
    target: &GateTarget<'_>,
    window: MetricWindow,
    metrics: &dyn MetricSource,
) -> GateReport {
    let checked: Vec<&GateSpec> = gates.iter().filter(|gate| !gate.is_manual()).collect();
    let queries = plan_queries(&checked, target);
    let mut alarm_names: Vec<String> = Vec::new();
    for gate in &checked {
        if let GateSpec::Alarm(name) = gate
            && !alarm_names.contains(name)
        {
            alarm_names.push(name.clone());
        }
    }
    let fetch = async {
        if queries.is_empty() {
            return Ok(HashMap::new());
        }
        let values = metrics.fetch(&queries, window).await?;
        Ok(values.into_iter().map(|v| (v.id, v.value)).collect())
    };
    let alarms = async {
        if alarm_names.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(metrics
            .alarm_states(&alarm_names)
            .await?
            .into_iter()
            .collect())
    };
    let (values, alarms): (
        Result<HashMap<_, _>, PortError>,
        Result<HashMap<_, _>, PortError>,
    ) = tokio::join!(fetch, alarms);
    let data = Data { values, alarms };
    let results = checked
        .iter()
        .enumerate()
        .map(|(index, gate)| {
            let look = Look {
                canary_weight: target.canary_weight,
                steps: target.steps,
            };
            let mut judge = Judge::new(&data, policy, look);
            let (verdict, detail) = judge
                .judge(gate, index)
                .unwrap_or_else(|unavailable| (Verdict::Unavailable, unavailable));
            GateResult {
                gate: gate.to_string(),
                verdict,
                detail,
                observed: judge.observed,
            }
        })
        .collect();
    GateReport { results }
}

/// Every query the gates need, each once.
fn plan_queries(gates: &[&GateSpec], target: &GateTarget<'_>) -> Vec<MetricQuery> {
    let mut queries: Vec<MetricQuery> = Vec::new();
    let mut add = |id: &str, version: &str, metric: &str, statistic: Statistic| {
        if !queries.iter().any(|q| q.id == id) {
            queries.push(lambda_metric_query(id, target, version, metric, statistic));
        }
    };
    let (canary, stable) = (target.canary_version, target.stable_version);
    for gate in gates {
        match gate {
            GateSpec::Alarm(_) | GateSpec::Manual { .. } => continue,
            _ => add(CANARY_INVOCATIONS, canary, "Invocations", Statistic::Sum),
        }
        match gate {
            GateSpec::ErrorRate(_) | GateSpec::Errors(_) => {
                add(CANARY_ERRORS, canary, "Errors", Statistic::Sum);
            }
            GateSpec::ErrorRateVsStable { .. } => {
                add(CANARY_ERRORS, canary, "Errors", Statistic::Sum);
                add(STABLE_INVOCATIONS, stable, "Invocations", Statistic::Sum);
                add(STABLE_ERRORS, stable, "Errors", Statistic::Sum);
            }
            GateSpec::Throttles(_) => add(CANARY_THROTTLES, canary, "Throttles", Statistic::Sum),
            GateSpec::DurationP99 { .. } => add(
                CANARY_DURATION_P99,
                canary,
                "Duration",
                Statistic::Percentile(99.0),
            ),
            _ => {}
        }
    }
    for (index, gate) in gates.iter().enumerate() {
        if let GateSpec::Metric(metric) = gate {
            queries.push(MetricQuery {
                id: custom_id(index),
                namespace: metric.namespace.clone(),
                metric_name: metric.name.clone(),
                dimensions: metric
                    .dimensions
                    .iter()
                    .map(|(k, v)| (k.clone(), v.replace("{version}", target.canary_version)))
                    .collect(),
                statistic: metric.statistic.clone(),
            });
        }
    }
    queries
}
