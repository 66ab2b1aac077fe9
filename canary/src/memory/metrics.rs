//! [`InMemoryMetrics`]: datapoints and alarms, aggregated the way CloudWatch does.

use std::{collections::BTreeMap, sync::Mutex, time::SystemTime};

use super::{faults::Faults, lock};
use crate::ports::{
    AlarmState, BoxFuture, MetricQuery, MetricSource, MetricValue, MetricWindow, PortError,
    Statistic,
};

#[derive(Debug, Clone)]
struct Datapoint {
    namespace: String,
    name: String,
    /// Sorted, so that dimension sets compare regardless of order.
    dimensions: Vec<(String, String)>,
    at: SystemTime,
    value: f64,
}

#[derive(Debug, Default)]
struct Inner {
    datapoints: Vec<Datapoint>,
    alarms: BTreeMap<String, AlarmState>,
    faults: Faults,
}

/// Metrics and alarms in memory: implements [`MetricSource`]. A query matches datapoints with
/// the same namespace, name and exactly the same dimension set, with `start <= at < end`.
/// Method names for [`calls`](Self::calls) and [`fail_next`](Self::fail_next): `fetch`,
/// `alarm_states`.
#[derive(Debug, Default)]
pub struct InMemoryMetrics {
    inner: Mutex<Inner>,
}

fn sorted(dimensions: &[(String, String)]) -> Vec<(String, String)> {
    let mut dimensions = dimensions.to_vec();
    dimensions.sort();
    dimensions
}

fn aggregate(values: &mut [f64], statistic: &Statistic) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let count = values.len() as f64;
    Some(match statistic {
        Statistic::Sum => values.iter().sum(),
        Statistic::Average => values.iter().sum::<f64>() / count,
        Statistic::Maximum => values[values.len() - 1],
        Statistic::Minimum => values[0],
        Statistic::SampleCount => count,
        Statistic::Percentile(percent) => {
            // Nearest rank.
            let rank = ((percent / 100.0) * count).ceil().max(1.0) as usize;
            values[rank.min(values.len()) - 1]
        }
    })
}

impl InMemoryMetrics {
    /// No data and no alarms yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one period of Lambda's own metrics for `version` of `function` behind `alias`:
    /// `Invocations`, `Errors`, `Throttles` and `Duration` in `AWS/Lambda`, with the dimensions
    /// `FunctionName`, `Resource` (`function:alias`) and `ExecutedVersion`.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        function: &str,
        alias: &str,
        version: &str,
        at: SystemTime,
        invocations: u64,
        errors: u64,
        throttles: u64,
        duration_ms: f64,
    ) {
        let dimensions = vec![
            ("FunctionName".to_owned(), function.to_owned()),
            ("Resource".to_owned(), format!("{function}:{alias}")),
            ("ExecutedVersion".to_owned(), version.to_owned()),
        ];
        for (name, value) in [
            ("Invocations", invocations as f64),
            ("Errors", errors as f64),
            ("Throttles", throttles as f64),
            ("Duration", duration_ms),
        ] {
            self.put("AWS/Lambda", name, &dimensions, at, value);
        }
    }

    /// Records one datapoint of any metric.
    pub fn put(
        &self,
        namespace: &str,
        name: &str,
        dimensions: &[(String, String)],
        at: SystemTime,
        value: f64,
    ) {
        lock(&self.inner).datapoints.push(Datapoint {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            dimensions: sorted(dimensions),
            at,
            value,
        });
    }

    /// How many datapoints are stored.
    pub fn datapoints(&self) -> usize {
        lock(&self.inner).datapoints.len()
    }

    /// Sets (or creates) the alarm `name`.
    pub fn set_alarm(&self, name: &str, state: AlarmState) {
        lock(&self.inner).alarms.insert(name.to_owned(), state);
    }

    /// How many times `method` was called (failed calls included).
    pub fn calls(&self, method: &str) -> u64 {
        lock(&self.inner).faults.calls(method)
    }

    /// Makes the next `times` calls of `method` fail with `error`.
    pub fn fail_next(&self, method: &str, times: u32, error: PortError) {
        lock(&self.inner).faults.fail_next(method, times, error);
    }
}

impl MetricSource for InMemoryMetrics {
    fn fetch<'a>(
        &'a self,
        queries: &'a [MetricQuery],
        window: MetricWindow,
    ) -> BoxFuture<'a, Result<Vec<MetricValue>, PortError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            let mut inner = lock(&self.inner);
            inner.faults.enter("fetch")?;
            Ok(queries
                .iter()
                .map(|query| {
                    let dimensions = sorted(&query.dimensions);
                    let mut values: Vec<f64> = inner
                        .datapoints
                        .iter()
                        .filter(|point| {
                            point.namespace == query.namespace
                                && point.name == query.metric_name
                                && point.dimensions == dimensions
                                && point.at >= window.start
                                && point.at < window.end
                        })
                        .map(|point| point.value)
                        .collect();
                    MetricValue {
                        id: query.id.clone(),
                        value: aggregate(&mut values, &query.statistic),
                    }
                })
                .collect())
        })
    }

    fn alarm_states<'a>(
        &'a self,
        names: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<(String, AlarmState)>, PortError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            let mut inner = lock(&self.inner);
            inner.faults.enter("alarm_states")?;
            names
                .iter()
                .map(|name| {
                    inner
                        .alarms
                        .get(name)
                        .map(|state| (name.clone(), *state))
                        .ok_or_else(|| PortError::NotFound(format!("alarm {name}")))
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[tokio::test]
    async fn aggregates_over_the_window_with_exact_dimensions() {
        let metrics = InMemoryMetrics::new();
        let t = |s| UNIX_EPOCH + Duration::from_secs(s);
        for (at, value) in [(10, 1.0), (20, 5.0), (30, 3.0), (40, 100.0)] {
            metrics.put("N", "M", &[("A".into(), "1".into())], t(at), value);
        }
        metrics.put(
            "N",
            "M",
            &[("A".into(), "1".into()), ("B".into(), "2".into())],
            t(20),
            50.0,
        );
        let query = |id: &str, statistic| MetricQuery {
            id: id.to_owned(),
            namespace: "N".into(),
            metric_name: "M".into(),
            dimensions: vec![("A".into(), "1".into())],
            statistic,
        };
        let queries = [
            query("sum", Statistic::Sum),
            query("avg", Statistic::Average),
            query("max", Statistic::Maximum),
            query("min", Statistic::Minimum),
            query("n", Statistic::SampleCount),
            query("p50", Statistic::Percentile(50.0)),
        ];
        let window = MetricWindow {
            start: t(10),
            end: t(40),
        };
        let values: Vec<Option<f64>> = metrics
            .fetch(&queries, window)
            .await
            .unwrap()
            .into_iter()
            .map(|value| value.value)
            .collect();
        assert_eq!(
            values,
            [
                Some(9.0),
                Some(3.0),
                Some(5.0),
                Some(1.0),
                Some(3.0),
                Some(3.0)
            ]
        );
        let empty = MetricWindow {
            start: t(41),
            end: t(50),
        };
        assert_eq!(
            metrics.fetch(&queries[..1], empty).await.unwrap()[0].value,
            None
        );
        assert_eq!(metrics.calls("fetch"), 2);
    }

    #[tokio::test]
    async fn alarms_and_failures() {
        let metrics = InMemoryMetrics::new();
        metrics.set_alarm("high", AlarmState::Alarm);
        let states = metrics.alarm_states(&["high".to_owned()]).await.unwrap();
        assert_eq!(states, [("high".to_owned(), AlarmState::Alarm)]);
        assert!(matches!(
            metrics.alarm_states(&["nope".to_owned()]).await,
            Err(PortError::NotFound(_))
        ));
        metrics.fail_next("fetch", 1, PortError::Unavailable("x".into()));
        let window = MetricWindow {
            start: UNIX_EPOCH,
            end: UNIX_EPOCH,
        };
        assert!(metrics.fetch(&[], window).await.is_err());
        assert!(metrics.fetch(&[], window).await.is_ok());
    }
}
