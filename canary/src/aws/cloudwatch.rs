//! [`MetricSource`] on CloudWatch: `GetMetricData` and `DescribeAlarms`.

use std::collections::HashMap;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsError;
use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataError;
use aws_sdk_cloudwatch::types::{
    AlarmType, Dimension, Metric, MetricDataQuery, MetricStat, StateValue, StatusCode,
};
use aws_smithy_types::DateTime;

use super::{ErrorClass, port_error};
use crate::ports::{
    AlarmState, BoxFuture, MetricQuery, MetricSource, MetricValue, MetricWindow, PortError,
    Statistic,
};

/// The most queries one `GetMetricData` request takes.
pub const MAX_METRIC_QUERIES: usize = 500;

/// The most alarm names one `DescribeAlarms` request takes.
const MAX_ALARM_NAMES: usize = 100;

/// The `Period` for a window: its length rounded up to a whole minute (at least one), so that
/// each query answers with one datapoint covering the window.
///
/// # Errors
/// [`PortError::Rejected`] when the window ends before it starts or is too long for CloudWatch.
pub fn window_period(window: MetricWindow) -> Result<i32, PortError> {
    let length = window
        .end
        .duration_since(window.start)
        .ok()
        .filter(|length| !length.is_zero())
        .ok_or_else(|| PortError::Rejected("the metric window ends before it starts".to_owned()))?;
    let seconds = length.as_secs() + u64::from(length.subsec_nanos() > 0);
    let minutes = seconds.div_ceil(60).max(1);
    i32::try_from(minutes * 60)
        .map_err(|_| PortError::Rejected(format!("the metric window of {length:?} is too long")))
}

/// CloudWatch's name of a statistic: `Sum`, `Average`, `Maximum`, `Minimum`, `SampleCount`, or
/// `pNN` for a percentile (`p99`, `p99.9`).
///
/// # Errors
/// [`PortError::Rejected`] for a percentile outside 0 to 100.
pub fn stat_name(statistic: &Statistic) -> Result<String, PortError> {
    Ok(match statistic {
        Statistic::Sum => "Sum".to_owned(),
        Statistic::Average => "Average".to_owned(),
        Statistic::Maximum => "Maximum".to_owned(),
        Statistic::Minimum => "Minimum".to_owned(),
        Statistic::SampleCount => "SampleCount".to_owned(),
        Statistic::Percentile(p) if p.is_finite() && (0.0..=100.0).contains(p) => {
            // `{}` prints 99.0 as "99" and 99.9 as "99.9": CloudWatch's spelling.
            format!("p{p}")
        }
        Statistic::Percentile(p) => {
            return Err(PortError::Rejected(format!(
                "the percentile {p} is outside 0 to 100"
            )));
        }
    })
}

/// Metrics through ONE `GetMetricData` request per [`MetricSource::fetch`] (following
/// `NextToken` if CloudWatch splits the answer), alarms through `DescribeAlarms`.
///
/// Each query is a `MetricStat` with `Period` = the window's length rounded up to a whole minute
/// ([`window_period`]), so it normally yields one datapoint. CloudWatch aligns the start time to
/// the period, so a window can straddle two periods and two datapoints come back; they are
/// combined as the statistic allows: summed for `Sum` and `SampleCount`, the largest for
/// `Maximum`, the smallest for `Minimum`, and for `Average` and percentiles (which cannot be
/// combined without the raw data) the datapoint with the latest timestamp. No datapoint gives
/// `value: None`.
///
/// Errors: more than [`MAX_METRIC_QUERIES`] queries, an empty window or a bad percentile is
/// [`PortError::Rejected`] before anything is sent; a query answered with `StatusCode`
/// `InternalError` is [`PortError::Unavailable`], `Forbidden` is [`PortError::Rejected`]; an alarm
/// that `DescribeAlarms` does not return is [`PortError::NotFound`]; SDK errors as the table in
/// [`crate::aws`] says.
#[derive(Debug, Clone)]
pub struct CloudWatchSource {
    client: Client,
}

impl CloudWatchSource {
    /// A metric source on `client`.
    #[must_use]
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    async fn fetch_inner(
        &self,
        queries: &[MetricQuery],
        window: MetricWindow,
    ) -> Result<Vec<MetricValue>, PortError> {
        if queries.is_empty() {
            return Ok(Vec::new());
        }
        if queries.len() > MAX_METRIC_QUERIES {
            return Err(PortError::Rejected(format!(
                "{} metric queries; GetMetricData takes at most {MAX_METRIC_QUERIES}",
                queries.len()
            )));
        }
        let period = window_period(window)?;
        // The caller's ids are free text; CloudWatch wants `^[a-z][a-zA-Z0-9_]*$`: send `q0`, `q1`, ...
        let data_queries = queries
            .iter()
            .enumerate()
            .map(|(index, query)| data_query(index, query, period))
            .collect::<Result<Vec<_>, _>>()?;
        let mut points: HashMap<String, Vec<(DateTime, f64)>> = HashMap::new();
        let mut next_token: Option<String> = None;
        loop {
            let output = self
                .client
                .get_metric_data()
                .set_metric_data_queries(Some(data_queries.clone()))
                .start_time(DateTime::from(window.start))
                .end_time(DateTime::from(window.end))
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|error| {
                    let typed = error.as_service_error().and_then(|e| match e {
                        GetMetricDataError::InvalidNextToken(_) => Some(ErrorClass::Unavailable),
                        _ => None,
                    });
                    port_error("GetMetricData", &error, typed)
                })?;
            for result in output.metric_data_results() {
                let Some(id) = result.id() else { continue };
                match result.status_code() {
                    Some(StatusCode::InternalError) => {
                        return Err(PortError::Unavailable(format!(
                            "GetMetricData: CloudWatch could not compute {}",
                            original_id(queries, id)
                        )));
                    }
                    Some(StatusCode::Forbidden) => {
                        return Err(PortError::Rejected(format!(
                            "GetMetricData: reading {} is forbidden",
                            original_id(queries, id)
                        )));
                    }
                    _ => {}
                }
                let entry = points.entry(id.to_owned()).or_default();
                entry.extend(
                    result
                        .timestamps()
                        .iter()
                        .copied()
                        .zip(result.values().iter().copied()),
                );
            }
            match output.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => break,
            }
        }
        Ok(queries
            .iter()
            .enumerate()
            .map(|(index, query)| MetricValue {
                id: query.id.clone(),
                value: points
                    .get(&format!("q{index}"))
                    .and_then(|points| combine(&query.statistic, points)),
            })
            .collect())
    }

    async fn alarm_states_inner(
        &self,
        names: &[String],
    ) -> Result<Vec<(String, AlarmState)>, PortError> {
        let mut states: HashMap<String, AlarmState> = HashMap::new();
        for chunk in names.chunks(MAX_ALARM_NAMES) {
            let mut next_token: Option<String> = None;
            loop {
                let output = self
                    .client
                    .describe_alarms()
                    .set_alarm_names(Some(chunk.to_vec()))
                    .alarm_types(AlarmType::MetricAlarm)
                    .alarm_types(AlarmType::CompositeAlarm)
                    .set_next_token(next_token.take())
                    .send()
                    .await
                    .map_err(|error| {
                        let typed = error.as_service_error().and_then(|e| match e {
                            DescribeAlarmsError::InvalidNextToken(_) => {
                                Some(ErrorClass::Unavailable)
                            }
                            _ => None,
                        });
                        port_error("DescribeAlarms", &error, typed)
                    })?;
                let metric = output
                    .metric_alarms()
                    .iter()
                    .map(|alarm| (alarm.alarm_name(), alarm.state_value()));
                let composite = output
                    .composite_alarms()
                    .iter()
                    .map(|alarm| (alarm.alarm_name(), alarm.state_value()));
                for (name, state) in metric.chain(composite) {
                    let Some(name) = name else { continue };
                    let state = match state {
                        Some(StateValue::Ok) => AlarmState::Ok,
                        Some(StateValue::Alarm) => AlarmState::Alarm,
                        Some(StateValue::InsufficientData) => AlarmState::InsufficientData,
                        other => {
                            return Err(PortError::Unavailable(format!(
                                "DescribeAlarms: alarm {name} has the unknown state {other:?}"
                            )));
                        }
                    };
                    states.insert(name.to_owned(), state);
                }
                match output.next_token() {
                    Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                    _ => break,
                }
            }
        }
        names
            .iter()
            .map(|name| match states.get(name) {
                Some(state) => Ok((name.clone(), *state)),
                None => Err(PortError::NotFound(format!("alarm {name} does not exist"))),
            })
            .collect()
    }
}

fn data_query(
    index: usize,
    query: &MetricQuery,
    period: i32,
) -> Result<MetricDataQuery, PortError> {
    let metric = Metric::builder()
        .namespace(&query.namespace)
        .metric_name(&query.metric_name)
        .set_dimensions(Some(
            query
                .dimensions
                .iter()
                .map(|(name, value)| Dimension::builder().name(name).value(value).build())
                .collect(),
        ))
        .build();
    let stat = MetricStat::builder()
        .metric(metric)
        .period(period)
        .stat(stat_name(&query.statistic)?)
        .build();
    Ok(MetricDataQuery::builder()
        .id(format!("q{index}"))
        .metric_stat(stat)
        .return_data(true)
        .build())
}

fn original_id<'a>(queries: &'a [MetricQuery], sent: &'a str) -> &'a str {
    sent.strip_prefix('q')
        .and_then(|index| index.parse::<usize>().ok())
        .and_then(|index| queries.get(index))
        .map_or(sent, |query| query.id.as_str())
}

/// One value from a query's datapoints, as [`CloudWatchSource`] documents.
fn combine(statistic: &Statistic, points: &[(DateTime, f64)]) -> Option<f64> {
    let values = points.iter().map(|(_, value)| *value);
    match statistic {
        Statistic::Sum | Statistic::SampleCount => {
            (!points.is_empty()).then(|| values.sum::<f64>())
        }
        Statistic::Maximum => values.reduce(f64::max),
        Statistic::Minimum => values.reduce(f64::min),
        Statistic::Average | Statistic::Percentile(_) => points
            .iter()
            .max_by_key(|(timestamp, _)| (timestamp.secs(), timestamp.subsec_nanos()))
            .map(|(_, value)| *value),
    }
}

impl MetricSource for CloudWatchSource {
    fn fetch<'a>(
        &'a self,
        queries: &'a [MetricQuery],
        window: MetricWindow,
    ) -> BoxFuture<'a, Result<Vec<MetricValue>, PortError>> {
        Box::pin(self.fetch_inner(queries, window))
    }

    fn alarm_states<'a>(
        &'a self,
        names: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<(String, AlarmState)>, PortError>> {
        Box::pin(self.alarm_states_inner(names))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn window(seconds: u64) -> MetricWindow {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        MetricWindow {
            start,
            end: start + Duration::from_secs(seconds),
        }
    }

    #[test]
    fn periods() {
        for (seconds, period) in [
            (1, 60),
            (59, 60),
            (60, 60),
            (61, 120),
            (300, 300),
            (301, 360),
        ] {
            assert_eq!(window_period(window(seconds)), Ok(period), "{seconds}");
        }
        assert!(matches!(
            window_period(window(0)),
            Err(PortError::Rejected(_))
        ));
    }

    #[test]
    fn stat_names() {
        let table = [
            (Statistic::Sum, "Sum"),
            (Statistic::Average, "Average"),
            (Statistic::Maximum, "Maximum"),
            (Statistic::Minimum, "Minimum"),
            (Statistic::SampleCount, "SampleCount"),
            (Statistic::Percentile(99.0), "p99"),
            (Statistic::Percentile(99.9), "p99.9"),
            (Statistic::Percentile(50.0), "p50"),
        ];
        for (statistic, name) in table {
            assert_eq!(stat_name(&statistic).as_deref(), Ok(name));
        }
        assert!(stat_name(&Statistic::Percentile(101.0)).is_err());
        assert!(stat_name(&Statistic::Percentile(f64::NAN)).is_err());
    }

    #[test]
    fn combining() {
        let points = [
            (DateTime::from_secs(120), 3.0),
            (DateTime::from_secs(60), 5.0),
        ];
        assert_eq!(combine(&Statistic::Sum, &points), Some(8.0));
        assert_eq!(combine(&Statistic::SampleCount, &points), Some(8.0));
        assert_eq!(combine(&Statistic::Maximum, &points), Some(5.0));
        assert_eq!(combine(&Statistic::Minimum, &points), Some(3.0));
        assert_eq!(combine(&Statistic::Average, &points), Some(3.0));
        assert_eq!(combine(&Statistic::Percentile(99.0), &points), Some(3.0));
        assert_eq!(combine(&Statistic::Sum, &[]), None);
        assert_eq!(combine(&Statistic::Average, &[]), None);
    }
}
