//! Reading a gate from its text.

use std::str::FromStr;

use super::{DEFAULT_ALPHA, GateSpec, MAX_DIMENSIONS, MetricGate, Threshold};
use crate::{ports::Statistic, strategy::parse_duration};

const GATE_LIST: &str = "error-rate<=1%, error-rate<=stable[@0.05], errors<=N, throttles<=N, \
                         duration-p99<=800ms, alarm:NAME, metric:NAMESPACE/NAME{Dim=Value,...}:STAT<=N, \
                         manual or manual@PERCENT";

const METRIC_FORM: &str = "write metric:NAMESPACE/NAME{Dim=Value,...}:STAT<=N with STAT one of \
                           sum, avg, max, min, count, pNN";

/// What is wrong with a gate's text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    /// Not a gate this tool knows.
    #[error("unknown gate {0:?}: use {GATE_LIST}")]
    Unknown(String),
    /// A gate's limit is not `<=N` or `<N` with N a plain decimal number.
    #[error("{gate}: {text:?} is not a limit: write <=N or <N with N a number such as 5 or 0.5")]
    BadLimit {
        /// The gate's kind, such as `errors`.
        gate: &'static str,
        /// The text after the gate's name.
        text: String,
    },
    /// An error-rate limit without its `%`.
    #[error("error-rate threshold {0:?} needs a % sign, as in error-rate<=1%")]
    MissingPercentSign(String),
    /// An error-rate limit above 100%.
    #[error("error-rate threshold {0}% is over 100%")]
    PercentOver100(f64),
    /// A count limit below zero.
    #[error("{gate} limit {limit} is below 0")]
    Negative {
        /// The gate's kind.
        gate: &'static str,
        /// The limit.
        limit: f64,
    },
    /// The duration of `duration-p99` does not parse.
    #[error("duration-p99: {0}")]
    BadDuration(String),
    /// The significance level of `error-rate<=stable@alpha` is not a number above 0 and below 1.
    #[error(
        "error-rate<=stable: significance level {0:?} must be a number above 0 and below 1, as in error-rate<=stable@0.01"
    )]
    BadAlpha(String),
    /// An alarm name that CloudWatch would not accept.
    #[error("alarm name {name:?} {why}")]
    BadAlarmName {
        /// The name.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A malformed `metric:` gate.
    #[error("metric gate {text:?}: {why}; {METRIC_FORM}")]
    BadMetric {
        /// The gate's text.
        text: String,
        /// What is wrong with it.
        why: String,
    },
    /// The percent of `manual@PERCENT` is not above 0 and at most 100.
    #[error(
        "manual gate {0:?}: the percent must be a number above 0 and at most 100, as in manual@50"
    )]
    BadManualPercent(String),
}

impl FromStr for GateSpec {
    type Err = GateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text == "manual" {
            return Ok(Self::Manual { at_percent: None });
        }
        if let Some(percent) = text.strip_prefix("manual@") {
            return match parse_decimal(percent) {
                Some(p) if p > 0.0 && p <= 100.0 => Ok(Self::Manual {
                    at_percent: Some(p),
                }),
                _ => Err(GateError::BadManualPercent(text.to_owned())),
            };
        }
        if let Some(name) = text.strip_prefix("alarm:") {
            return parse_alarm(name);
        }
        if let Some(rest) = text.strip_prefix("metric:") {
            return parse_metric(text, rest).map(Self::Metric);
        }
        let Some(split) = text.find('<') else {
            return Err(GateError::Unknown(text.to_owned()));
        };
        let (kind, limit) = text.split_at(split);
        match kind {
            "error-rate" => parse_error_rate(limit),
            "errors" => count_threshold("errors", limit).map(Self::Errors),
            "throttles" => count_threshold("throttles", limit).map(Self::Throttles),
            "duration-p99" => {
                let (inclusive, value) = split_operator(limit);
                let limit = parse_duration(value).map_err(GateError::BadDuration)?;
                Ok(Self::DurationP99 { limit, inclusive })
            }
            _ => Err(GateError::Unknown(text.to_owned())),
        }
    }
}

/// `<=rest` or `<rest`: whether the limit is inclusive, and the rest.
fn split_operator(text: &str) -> (bool, &str) {
    match text.strip_prefix("<=") {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('<').unwrap_or(text)),
    }
}

/// A plain decimal with an optional minus sign: no exponent, no `inf`, no `NaN`.
fn parse_decimal(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(whole) && digits(fraction)) {
        return None;
    }
    text.parse().ok().filter(|n: &f64| n.is_finite())
}

fn threshold(gate: &'static str, text: &str) -> Result<Threshold, GateError> {
    let (inclusive, value) = split_operator(text);
    let limit = parse_decimal(value).ok_or_else(|| GateError::BadLimit {
        gate,
        text: text.to_owned(),
    })?;
    // -0 would print as "-0" and is the same limit as 0.
    let limit = if limit == 0.0 { 0.0 } else { limit };
    Ok(Threshold { limit, inclusive })
}

fn count_threshold(gate: &'static str, text: &str) -> Result<Threshold, GateError> {
    let threshold = threshold(gate, text)?;
    if threshold.limit < 0.0 {
        return Err(GateError::Negative {
            gate,
            limit: threshold.limit,
        });
    }
    Ok(threshold)
}

fn parse_error_rate(limit: &str) -> Result<GateSpec, GateError> {
    let (_, value) = split_operator(limit);
    if let Some(alpha) = value.strip_prefix("stable") {
        let alpha = match alpha.strip_prefix('@') {
            None if alpha.is_empty() => DEFAULT_ALPHA,
            None => return Err(GateError::Unknown(format!("error-rate{limit}"))),
            Some(text) => parse_decimal(text)
                .filter(|a| *a > 0.0 && *a < 1.0)
                .ok_or_else(|| GateError::BadAlpha(text.to_owned()))?,
        };
        return Ok(GateSpec::ErrorRateVsStable { alpha });
    }
    let Some(number) = limit.strip_suffix('%') else {
        return Err(GateError::MissingPercentSign(value.to_owned()));
    };
    let threshold = count_threshold("error-rate", number)?;
    if threshold.limit > 100.0 {
        return Err(GateError::PercentOver100(threshold.limit));
    }
    Ok(GateSpec::ErrorRate(threshold))
}

fn parse_alarm(name: &str) -> Result<GateSpec, GateError> {
    let bad = |why| {
        Err(GateError::BadAlarmName {
            name: name.to_owned(),
            why,
        })
    };
    if name.is_empty() {
        return bad("is empty");
    }
    if name.chars().count() > 255 {
        return bad("is longer than 255 characters");
    }
    if name.chars().any(char::is_control) {
        return bad("contains a control character");
    }
    if name.trim() != name {
        return bad("starts or ends with a space");
    }
    Ok(GateSpec::Alarm(name.to_owned()))
}

fn parse_statistic(text: &str) -> Option<Statistic> {
    Some(match text {
        "sum" => Statistic::Sum,
        "avg" => Statistic::Average,
        "max" => Statistic::Maximum,
        "min" => Statistic::Minimum,
        "count" => Statistic::SampleCount,
        _ => {
            let percentile = text.strip_prefix('p').and_then(parse_decimal)?;
            if !(0.0..=100.0).contains(&percentile) || text.starts_with("p-") {
                return None;
            }
            Statistic::Percentile(percentile)
        }
    })
}

fn parse_metric(text: &str, rest: &str) -> Result<MetricGate, GateError> {
    let bad = |why: String| GateError::BadMetric {
        text: text.to_owned(),
        why,
    };
    // Dimension values may contain ':' (as in Resource=fn:alias), the statistic part cannot.
    let Some((metric, condition)) = rest.rsplit_once(':') else {
        return Err(bad("it has no :STAT<=N part".to_owned()));
    };
    let Some(split) = condition.find('<') else {
        return Err(bad(format!("{condition:?} has no <= or < limit")));
    };
    let (statistic_text, limit_text) = condition.split_at(split);
    let statistic = parse_statistic(statistic_text)
        .ok_or_else(|| bad(format!("{statistic_text:?} is not a statistic")))?;
    let threshold = threshold("metric", limit_text).map_err(|error| bad(error.to_string()))?;

    let (full_name, dimensions_text) = match metric.split_once('{') {
        None => (metric, None),
        Some((name, dims)) => match dims.strip_suffix('}') {
            Some(dims) => (name, Some(dims)),
            None => return Err(bad("the dimensions do not end with }".to_owned())),
        },
    };
    if full_name.contains('}') {
        return Err(bad("the name contains }".to_owned()));
    }
    let Some((namespace, name)) = full_name.rsplit_once('/') else {
        return Err(bad(format!(
            "{full_name:?} is not NAMESPACE/NAME (the namespace is missing)"
        )));
    };
    if namespace.is_empty() || name.is_empty() {
        return Err(bad(format!("{full_name:?} has an empty namespace or name")));
    }
    if namespace.len() > 255 || name.len() > 255 {
        return Err(bad(
            "a namespace or name is longer than 255 characters".to_owned()
        ));
    }
    let mut dimensions = Vec::new();
    if let Some(dimensions_text) = dimensions_text.filter(|text| !text.is_empty()) {
        for pair in dimensions_text.split(',') {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(bad(format!("dimension {pair:?} is not Name=Value")));
            };
            if key.is_empty() || value.is_empty() {
                return Err(bad(format!(
                    "dimension {pair:?} has an empty name or value"
                )));
            }
            dimensions.push((key.to_owned(), value.to_owned()));
        }
    }
    if dimensions.len() > MAX_DIMENSIONS {
        return Err(bad(format!(
            "it has {} dimensions; CloudWatch allows {MAX_DIMENSIONS}",
            dimensions.len()
        )));
    }
    Ok(MetricGate {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        dimensions,
        statistic,
        threshold,
    })
}
