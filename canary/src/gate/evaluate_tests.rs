use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, SystemTime},
};

use super::*;
use crate::ports::{
    AlarmState, BoxFuture, MetricQuery, MetricSource, MetricValue, MetricWindow, PortError,
    Statistic,
};

/// A metric source answering from tables, recording every call.
#[derive(Debug, Default)]
struct FakeMetrics {
    /// Values by query id; ids not here have no data (`None`).
    values: HashMap<String, f64>,
    /// Ids left out of the answer entirely.
    omitted: Vec<String>,
    alarms: HashMap<String, AlarmState>,
    fetch_error: Option<PortError>,
    alarm_error: Option<PortError>,
    fetches: Mutex<Vec<(Vec<MetricQuery>, MetricWindow)>>,
    alarm_calls: Mutex<Vec<Vec<String>>>,
}

impl FakeMetrics {
    fn with(values: &[(&str, f64)]) -> Self {
        Self {
            values: values.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            ..Self::default()
        }
    }

    fn fetch_count(&self) -> usize {
        self.fetches.lock().unwrap().len()
    }

    fn alarm_count(&self) -> usize {
        self.alarm_calls.lock().unwrap().len()
    }

    fn queries(&self) -> Vec<MetricQuery> {
        self.fetches
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(q, _)| q.clone())
            .collect()
    }
}

impl MetricSource for FakeMetrics {
    fn fetch<'a>(
        &'a self,
        queries: &'a [MetricQuery],
        window: MetricWindow,
    ) -> BoxFuture<'a, Result<Vec<MetricValue>, PortError>> {
        Box::pin(async move {
            self.fetches
                .lock()
                .unwrap()
                .push((queries.to_vec(), window));
            if let Some(error) = &self.fetch_error {
                return Err(error.clone());
            }
            Ok(queries
                .iter()
                .filter(|q| !self.omitted.contains(&q.id))
                .map(|q| MetricValue {
                    id: q.id.clone(),
                    value: self.values.get(&q.id).copied(),
                })
                .collect())
        })
    }

    fn alarm_states<'a>(
        &'a self,
        names: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<(String, AlarmState)>, PortError>> {
        Box::pin(async move {
            self.alarm_calls.lock().unwrap().push(names.to_vec());
            if let Some(error) = &self.alarm_error {
                return Err(error.clone());
            }
            Ok(names
                .iter()
                .filter_map(|n| self.alarms.get(n).map(|s| (n.clone(), *s)))
                .collect())
        })
    }
}

const TARGET: GateTarget<'static> = GateTarget {
    function: "orders",
    alias: "live",
    canary_version: "8",
    stable_version: "7",
    canary_weight: 0.1,
    steps: 1,
};

fn window() -> MetricWindow {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_732_800_000);
    MetricWindow {
        start,
        end: start + Duration::from_secs(120),
    }
}

fn gates(texts: &[&str]) -> Vec<GateSpec> {
    texts.iter().map(|t| t.parse().unwrap()).collect()
}

async fn run(texts: &[&str], metrics: &FakeMetrics) -> GateReport {
    evaluate_gates(
        &gates(texts),
        &GatePolicy::default(),
        &TARGET,
        window(),
        metrics,
    )
    .await
}

fn verdicts(report: &GateReport) -> Vec<Verdict> {
    report.results.iter().map(|r| r.verdict).collect()
}

const ALL: &[&str] = &[
    "error-rate<=1%",
    "error-rate<=stable",
    "errors<=5",
    "throttles<=0",
    "duration-p99<=800ms",
    "alarm:orders-5xx",
    "alarm:orders-latency",
    "metric:lamina/tracing/ColdStarts{Service=orders,Version={version}}:sum<=3",
    "manual@50",
    "manual",
];

#[tokio::test]
async fn every_gate_in_one_fetch_and_one_alarm_call() {
    let mut metrics = FakeMetrics::with(&[
        ("canary_invocations", 200.0),
        ("canary_errors", 1.0),
        ("canary_throttles", 0.0),
        ("canary_duration_p99", 412.5),
        ("stable_invocations", 2000.0),
        ("stable_errors", 10.0),
        ("custom_7", 2.0),
    ]);
    metrics.alarms.insert("orders-5xx".into(), AlarmState::Ok);
    metrics
        .alarms
        .insert("orders-latency".into(), AlarmState::InsufficientData);
    let report = run(ALL, &metrics).await;
    assert_eq!(metrics.fetch_count(), 1);
    assert_eq!(metrics.alarm_count(), 1);
    assert_eq!(
        *metrics.alarm_calls.lock().unwrap(),
        vec![vec!["orders-5xx".to_owned(), "orders-latency".to_owned()]]
    );
    assert_eq!(metrics.fetches.lock().unwrap()[0].1, window());
    // Manual gates are not in the report; the others are, in order, all passing.
    let names: Vec<&str> = report.results.iter().map(|r| r.gate.as_str()).collect();
    assert_eq!(names, &ALL[..8]);
    assert_eq!(verdicts(&report), vec![Verdict::Pass; 8], "{report:#?}");
    assert_eq!(report.overall(), Verdict::Pass);

    // Each query once, with the design's dimensions.
    let queries = metrics.queries();
    let ids: Vec<&str> = queries.iter().map(|q| q.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "canary_invocations",
            "canary_errors",
            "stable_invocations",
            "stable_errors",
            "canary_throttles",
            "canary_duration_p99",
            "custom_7",
        ]
    );
    let stable_errors = &queries[3];
    assert_eq!(stable_errors.namespace, "AWS/Lambda");
    assert_eq!(stable_errors.metric_name, "Errors");
    assert_eq!(stable_errors.statistic, Statistic::Sum);
    assert_eq!(
        stable_errors.dimensions,
        [
            ("FunctionName".to_owned(), "orders".to_owned()),
            ("Resource".to_owned(), "orders:live".to_owned()),
            ("ExecutedVersion".to_owned(), "7".to_owned()),
        ]
    );
    assert_eq!(queries[5].metric_name, "Duration");
    assert_eq!(queries[5].statistic, Statistic::Percentile(99.0));
    let custom = &queries[6];
    assert_eq!(custom.namespace, "lamina/tracing");
    assert_eq!(custom.metric_name, "ColdStarts");
    assert_eq!(
        custom.dimensions,
        [
            ("Service".to_owned(), "orders".to_owned()),
            ("Version".to_owned(), "8".to_owned()),
        ]
    );

    let rate = &report.results[0];
    assert_eq!(
        rate.detail,
        "canary 1/200 errors (0.50%) is within error-rate<=1%"
    );
    assert_eq!(rate.observed["canary_invocations"], 200.0);
    assert_eq!(rate.observed["canary_error_rate_percent"], 0.5);
    let versus = &report.results[1];
    assert_eq!(
        versus.detail,
        "canary 1/200 errors (0.50%) vs stable 10/2000 (0.50%) at a 10% share: evidence 0.5111 < 20 (level 0.05)"
    );
    assert!(versus.observed["e_value"] < versus.observed["e_value_threshold"]);
    assert_eq!(
        report.results[4].detail,
        "canary p99 duration 412.5ms over 200 invocations is within duration-p99<=800ms"
    );
    assert_eq!(
        report.results[6].detail,
        "alarm orders-latency is INSUFFICIENT_DATA, which passes (as in CodeDeploy)"
    );
}

#[tokio::test]
async fn no_calls_without_gates_that_need_them() {
    let metrics = FakeMetrics::default();
    let report = run(&["manual", "manual@25"], &metrics).await;
    assert!(report.results.is_empty());
    assert_eq!(report.overall(), Verdict::Pass);
    assert_eq!((metrics.fetch_count(), metrics.alarm_count()), (0, 0));

    let mut metrics = FakeMetrics::default();
    metrics.alarms.insert("a".into(), AlarmState::Alarm);
    let report = run(&["alarm:a", "alarm:a"], &metrics).await;
    assert_eq!((metrics.fetch_count(), metrics.alarm_count()), (0, 1));
    assert_eq!(
        *metrics.alarm_calls.lock().unwrap(),
        vec![vec!["a".to_owned()]]
    );
    assert_eq!(verdicts(&report), [Verdict::Fail, Verdict::Fail]);
    assert_eq!(report.results[0].detail, "alarm a is in ALARM");

    let metrics = FakeMetrics::with(&[("canary_invocations", 100.0)]);
    let report = run(&["errors<=0"], &metrics).await;
    assert_eq!((metrics.fetch_count(), metrics.alarm_count()), (1, 0));
    assert_eq!(verdicts(&report), [Verdict::Pass]);
    assert_eq!(
        report.results[0].detail,
        "canary 0 errors in 100 invocations is within errors<=0"
    );
}

#[tokio::test]
async fn the_design_comparison_examples() {
    // stable 50/1000 and canary 2/40: not significant (min_requests lowered to 40).
    let policy = GatePolicy {
        min_requests: 40,
        ..GatePolicy::default()
    };
    let gate = gates(&["error-rate<=stable"]);
    let metrics = FakeMetrics::with(&[
        ("canary_invocations", 40.0),
        ("canary_errors", 2.0),
        ("stable_invocations", 1000.0),
        ("stable_errors", 50.0),
    ]);
    let report = evaluate_gates(&gate, &policy, &TARGET, window(), &metrics).await;
    assert_eq!(report.overall(), Verdict::Pass);
    assert_eq!(
        report.results[0].detail,
        "canary 2/40 errors (5.00%) vs stable 50/1000 (5.00%) at a 10% share: evidence 0.1066 < 20 (level 0.05)"
    );
    // stable 0/1000 (no data at all: counted as 0) and canary 5/40: significant.
    let metrics = FakeMetrics::with(&[
        ("canary_invocations", 40.0),
        ("canary_errors", 5.0),
        ("stable_invocations", 1000.0),
    ]);
    let report = evaluate_gates(&gate, &policy, &TARGET, window(), &metrics).await;
    assert_eq!(report.overall(), Verdict::Fail);
    assert_eq!(
        report.results[0].detail,
        "canary 5/40 errors (12.50%) vs stable 0/1000 (0.00%) at a 10% share: evidence 790.9715 >= 20 (level 0.05)"
    );
    assert_eq!(report.results[0].observed["stable_errors"], 0.0);
    assert_eq!(report.results[0].observed["alpha"], 0.05);
}

#[tokio::test]
async fn failing_verdicts() {
    let mut metrics = FakeMetrics::with(&[
        ("canary_invocations", 120.0),
        ("canary_errors", 9.0),
        ("canary_throttles", 2.0),
        ("canary_duration_p99", 912.25),
        ("custom_4", 7.5),
    ]);
    metrics.values.insert("stable_invocations".into(), 1000.0);
    metrics.values.insert("stable_errors".into(), 10.0);
    let report = run(
        &[
            "error-rate<5%",
            "errors<=5",
            "throttles<=0",
            "duration-p99<=800ms",
            "metric:App/Latency{Fn=orders}:p90<7.5",
            "error-rate<=stable@0.01",
        ],
        &metrics,
    )
    .await;
    assert_eq!(verdicts(&report), [Verdict::Fail; 6], "{report:#?}");
    let details: Vec<&str> = report.results.iter().map(|r| r.detail.as_str()).collect();
    assert_eq!(
        details[0],
        "canary 9/120 errors (7.50%) breaks error-rate<5%"
    );
    assert_eq!(
        details[1],
        "canary 9 errors in 120 invocations breaks errors<=5"
    );
    assert_eq!(
        details[2],
        "canary 2 throttles in 120 invocations breaks throttles<=0"
    );
    assert_eq!(
        details[3],
        "canary p99 duration 912.2ms over 120 invocations breaks duration-p99<=800ms"
    );
    assert_eq!(
        details[4],
        "App/Latency is 7.5 breaks metric:App/Latency{Fn=orders}:p90<7.5"
    );
    assert!(
        details[5].ends_with("evidence 1507.0566 >= 100 (level 0.01)"),
        "{}",
        details[5]
    );
    assert_eq!(report.overall(), Verdict::Fail);
}

#[tokio::test]
async fn too_little_traffic_is_insufficient_but_counts_over_the_limit_still_fail() {
    let metrics = FakeMetrics::with(&[
        ("canary_invocations", 20.0),
        ("canary_errors", 9.0),
        ("canary_duration_p99", 100.0),
        ("stable_invocations", 5000.0),
    ]);
    let report = run(
        &[
            "error-rate<=1%",
            "error-rate<=stable",
            "errors<=1",
            "throttles<=0",
            "duration-p99<=1s",
            "metric:X/Y:max<=1",
        ],
        &metrics,
    )
    .await;
    assert_eq!(
        verdicts(&report),
        [
            Verdict::Insufficient,
            Verdict::Insufficient,
            Verdict::Fail,
            Verdict::Insufficient,
            Verdict::Insufficient,
            Verdict::Insufficient,
        ]
    );
    assert_eq!(
        report.results[0].detail,
        "the canary has 20 invocations in the window, fewer than the 50 needed"
    );
    assert_eq!(report.overall(), Verdict::Fail);

    // Enough canary traffic, too little stable traffic for the comparison.
    let metrics = FakeMetrics::with(&[("canary_invocations", 500.0), ("stable_invocations", 10.0)]);
    let report = run(&["error-rate<=stable"], &metrics).await;
    assert_eq!(report.overall(), Verdict::Insufficient);
    assert_eq!(
        report.results[0].detail,
        "the stable version has 10 invocations in the window, fewer than the 50 needed"
    );

    // No invocations data at all counts as 0.
    let report = run(&["error-rate<=1%"], &FakeMetrics::default()).await;
    assert_eq!(report.overall(), Verdict::Insufficient);
}

#[tokio::test]
async fn no_data_for_a_percentile_or_average_is_insufficient_but_sums_are_zero() {
    let metrics = FakeMetrics::with(&[("canary_invocations", 100.0)]);
    let report = run(
        &[
            "duration-p99<=800ms",
            "metric:X/Y:avg<=1",
            "metric:X/Y:sum<=0",
            "metric:X/Y:count<1",
        ],
        &metrics,
    )
    .await;
    assert_eq!(
        verdicts(&report),
        [
            Verdict::Insufficient,
            Verdict::Insufficient,
            Verdict::Pass,
            Verdict::Pass
        ]
    );
    assert_eq!(
        report.results[0].detail,
        "no Duration data for the canary in the window"
    );
    assert_eq!(report.results[1].detail, "no data for X/Y in the window");
    assert_eq!(report.results[2].observed["value"], 0.0);
}

#[tokio::test]
async fn a_failed_fetch_makes_metric_gates_unavailable_but_alarms_still_judged() {
    let mut metrics = FakeMetrics {
        fetch_error: Some(PortError::Unavailable("GetMetricData throttled".into())),
        ..FakeMetrics::default()
    };
    metrics.alarms.insert("a".into(), AlarmState::Ok);
    let report = run(&["errors<=5", "alarm:a", "duration-p99<=1s"], &metrics).await;
    assert_eq!((metrics.fetch_count(), metrics.alarm_count()), (1, 1));
    assert_eq!(
        verdicts(&report),
        [Verdict::Unavailable, Verdict::Pass, Verdict::Unavailable]
    );
    assert_eq!(
        report.results[0].detail,
        "metrics unavailable: unavailable: GetMetricData throttled"
    );
    assert_eq!(report.overall(), Verdict::Unavailable);
}

#[tokio::test]
async fn a_failed_alarm_call_makes_alarm_gates_unavailable() {
    let metrics = FakeMetrics {
        alarm_error: Some(PortError::NotFound("alarm missing-alarm".into())),
        ..FakeMetrics::with(&[("canary_invocations", 100.0)])
    };
    let report = run(&["alarm:missing-alarm", "errors<=5"], &metrics).await;
    assert_eq!(verdicts(&report), [Verdict::Unavailable, Verdict::Pass]);
    assert_eq!(
        report.results[0].detail,
        "alarm states unavailable: not found: alarm missing-alarm"
    );
    // A failed gate outweighs an unavailable one.
    let metrics = FakeMetrics {
        alarm_error: Some(PortError::Unavailable("timeout".into())),
        ..FakeMetrics::with(&[("canary_invocations", 100.0), ("canary_errors", 6.0)])
    };
    let report = run(&["alarm:x", "errors<=5"], &metrics).await;
    assert_eq!(verdicts(&report), [Verdict::Unavailable, Verdict::Fail]);
    assert_eq!(report.overall(), Verdict::Fail);
}

#[tokio::test]
async fn answers_missing_from_the_source_are_unavailable_not_zero() {
    let metrics = FakeMetrics {
        omitted: vec!["canary_errors".into()],
        ..FakeMetrics::with(&[("canary_invocations", 100.0)])
    };
    let report = run(&["errors<=0", "throttles<=0"], &metrics).await;
    assert_eq!(verdicts(&report), [Verdict::Unavailable, Verdict::Pass]);
    assert_eq!(
        report.results[0].detail,
        "metrics unavailable: the metric source gave no answer for canary_errors"
    );
    // An alarm the source does not report on is unavailable too.
    let report = run(&["alarm:ghost"], &FakeMetrics::default()).await;
    assert_eq!(report.overall(), Verdict::Unavailable);
}

#[test]
fn overall_precedence() {
    let result = |verdict| GateResult {
        gate: "g".into(),
        verdict,
        detail: String::new(),
        observed: BTreeMap::new(),
    };
    let overall = |verdicts: &[Verdict]| {
        GateReport {
            results: verdicts.iter().map(|v| result(*v)).collect(),
        }
        .overall()
    };
    use Verdict::*;
    assert_eq!(overall(&[]), Pass);
    assert_eq!(overall(&[Pass, Pass]), Pass);
    assert_eq!(overall(&[Pass, Insufficient]), Insufficient);
    assert_eq!(overall(&[Insufficient, Unavailable, Pass]), Unavailable);
    assert_eq!(overall(&[Unavailable, Fail, Insufficient]), Fail);
}

#[test]
fn reports_and_policies_serialize() {
    let report = GateReport {
        results: vec![GateResult {
            gate: "errors<=5".into(),
            verdict: Verdict::Insufficient,
            detail: "few".into(),
            observed: BTreeMap::from([("canary_invocations".to_owned(), 3.0)]),
        }],
    };
    assert_eq!(
        serde_json::to_string(&report).unwrap(),
        r#"{"results":[{"gate":"errors<=5","verdict":"insufficient","detail":"few","observed":{"canary_invocations":3.0}}]}"#
    );
    let policy = GatePolicy::default();
    assert_eq!(
        (
            policy.min_requests,
            policy.failure_limit,
            policy.data_deadline
        ),
        (50, 0, Duration::from_secs(600))
    );
    let json = serde_json::to_string(&policy).unwrap();
    assert_eq!(
        json,
        r#"{"min_requests":50,"failure_limit":0,"data_deadline":"10m","on_data_deadline":"hold","progress_deadline":"30m","on_progress_deadline":"rollback","drift_timeout":"10m"}"#
    );
    assert_eq!(serde_json::from_str::<GatePolicy>(&json).unwrap(), policy);
    let partial: GatePolicy = serde_json::from_str(r#"{"failure_limit":2}"#).unwrap();
    assert_eq!(
        partial,
        GatePolicy {
            failure_limit: 2,
            ..GatePolicy::default()
        }
    );
    assert!(serde_json::from_str::<GatePolicy>(r#"{"data_deadline":"soon"}"#).is_err());
    assert!(serde_json::from_str::<GatePolicy>(r#"{"on_data_deadline":"panic"}"#).is_err());
    assert!(
        GatePolicy {
            on_data_deadline: crate::gate::DeadlineAction::Promote,
            ..GatePolicy::default()
        }
        .validate()
        .is_err()
    );
    assert!(GatePolicy::default().validate().is_ok());
}

#[test]
fn lambda_queries_carry_the_three_dimensions() {
    let query = lambda_metric_query("q", &TARGET, "8", "Throttles", Statistic::Sum);
    assert_eq!(
        query,
        MetricQuery {
            id: "q".into(),
            namespace: "AWS/Lambda".into(),
            metric_name: "Throttles".into(),
            dimensions: vec![
                ("FunctionName".into(), "orders".into()),
                ("Resource".into(), "orders:live".into()),
                ("ExecutedVersion".into(), "8".into()),
            ],
            statistic: Statistic::Sum,
        }
    );
}
