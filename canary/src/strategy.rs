//! Rollout strategies: the CodeDeploy presets and custom step lists.
//!
//! ```
//! use lamina_canary::strategy::{Strategy, format_duration};
//! use std::time::Duration;
//!
//! let preset: Strategy = "canary10-5m".parse().unwrap();
//! assert_eq!(preset.steps().len(), 1);
//! assert_eq!(preset.steps()[0].percent, 10.0);
//! assert_eq!(preset.total_duration(), Duration::from_secs(300));
//!
//! // A step's hold is the first `@duration` at or after it.
//! let custom: Strategy = "steps:5@1m,25,50@2m".parse().unwrap();
//! assert_eq!(custom.to_string(), "steps:5@1m,25@2m,50@2m");
//! assert_eq!(format_duration(custom.total_duration()), "5m");
//! ```

use std::{fmt, str::FromStr, time::Duration};

/// The CodeDeploy presets, by name.
pub const PRESETS: &[&str] = &[
    "canary10-5m",
    "canary10-10m",
    "canary10-15m",
    "canary10-30m",
    "linear10-1m",
    "linear10-2m",
    "linear10-3m",
    "linear10-10m",
    "all-at-once",
];

/// The most steps a custom strategy may have.
pub const MAX_STEPS: usize = 20;

/// The shortest hold a step may have.
pub const MIN_HOLD: Duration = Duration::from_secs(1);

const GRAMMAR: &str = "steps:PERCENT[@DURATION],... (for example steps:5,25,50@2m)";

/// One step of a rollout: the canary gets `percent` of the traffic for at least `hold`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The canary's share of the traffic, above 0 and below 100.
    pub percent: f64,
    /// How long the step lasts before the next one (when its gates pass).
    pub hold: Duration,
}

/// How a rollout shifts traffic: a list of steps, after which the canary gets 100%.
///
/// Its text form is a preset name from [`PRESETS`] or `steps:5@1m,25@2m,50@2m`; parsing the
/// [`Display`](fmt::Display) form gives back an equal strategy.
#[derive(Debug, Clone, PartialEq)]
pub struct Strategy {
    preset: Option<&'static str>,
    steps: Vec<Step>,
}

/// What is wrong with a strategy's text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(transparent)]
pub struct StrategyError {
    kind: StrategyErrorKind,
}

impl StrategyError {
    /// What exactly is wrong.
    pub fn kind(&self) -> &StrategyErrorKind {
        &self.kind
    }
}

impl From<StrategyErrorKind> for StrategyError {
    fn from(kind: StrategyErrorKind) -> Self {
        Self { kind }
    }
}

/// The ways a strategy can be wrong; steps are numbered from 1.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StrategyErrorKind {
    /// Neither a preset nor a `steps:` list.
    #[error("unknown strategy {0:?}: use one of {presets}, or {GRAMMAR}", presets = PRESETS.join(", "))]
    Unknown(String),
    /// `steps:` with nothing after it.
    #[error("the step list is empty: write {GRAMMAR}")]
    Empty,
    /// More than [`MAX_STEPS`] steps.
    #[error("{0} steps is too many: at most {MAX_STEPS}")]
    TooMany(usize),
    /// A step's percent is not a plain decimal number.
    #[error("step {step}: {text:?} is not a percent (a number such as 5 or 12.5): write {GRAMMAR}")]
    BadPercent {
        /// The step's number.
        step: usize,
        /// The text found.
        text: String,
    },
    /// A step's percent is 0 or less, or 100 or more.
    #[error("step {step} ({percent}%) must be above 0% and below 100%")]
    PercentOutOfRange {
        /// The step's number.
        step: usize,
        /// Its percent.
        percent: f64,
    },
    /// A step does not raise the canary's share.
    #[error("step {step} ({percent}%) is not above step {previous_step} ({previous}%)")]
    NotIncreasing {
        /// The step's number.
        step: usize,
        /// Its percent.
        percent: f64,
        /// The previous step's number.
        previous_step: usize,
        /// The previous step's percent.
        previous: f64,
    },
    /// A step's duration does not parse.
    #[error("step {step}: bad hold duration: {reason}")]
    BadDuration {
        /// The step's number.
        step: usize,
        /// Why.
        reason: String,
    },
    /// A step's hold is under [`MIN_HOLD`].
    #[error("step {step} holds {hold}, under the minimum of 1s")]
    HoldTooShort {
        /// The step's number.
        step: usize,
        /// The hold, as written by [`format_duration`].
        hold: String,
    },
    /// The last step carries no duration, so it and the steps before it have no hold.
    #[error("the last step ({percent}%) needs a hold duration, as in steps:5,25,50@2m")]
    MissingHold {
        /// The last step's percent.
        percent: f64,
    },
}

impl Strategy {
    /// A custom strategy from its steps, checked as the `steps:` text is: 1 to [`MAX_STEPS`]
    /// steps, percents strictly increasing, above 0 and below 100, holds of at least 1 s.
    pub fn custom(steps: Vec<Step>) -> Result<Self, StrategyError> {
        validate_steps(&steps)?;
        Ok(Self {
            preset: None,
            steps,
        })
    }

    /// The steps before the final shift to 100%; empty for `all-at-once`.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The preset's name, for a strategy parsed from one.
    pub fn preset_name(&self) -> Option<&str> {
        self.preset
    }

    /// The sum of the steps' holds: the shortest time the rollout can take.
    pub fn total_duration(&self) -> Duration {
        self.steps
            .iter()
            .fold(Duration::ZERO, |sum, step| sum.saturating_add(step.hold))
    }

    fn preset(name: &str) -> Option<Self> {
        let &name = PRESETS.iter().find(|preset| **preset == name)?;
        let minutes = |m: u64| Duration::from_secs(60 * m);
        let steps = match name {
            "all-at-once" => Vec::new(),
            _ => {
                let (kind, interval) = name.split_once("10-")?;
                let hold = minutes(interval.strip_suffix('m')?.parse().ok()?);
                let count = if kind == "canary" { 1 } else { 9 };
                (1..=count)
                    .map(|i| Step {
                        percent: f64::from(10 * i),
                        hold,
                    })
                    .collect()
            }
        };
        Some(Self {
            preset: Some(name),
            steps,
        })
    }
}

fn validate_steps(steps: &[Step]) -> Result<(), StrategyErrorKind> {
    if steps.is_empty() {
        return Err(StrategyErrorKind::Empty);
    }
    if steps.len() > MAX_STEPS {
        return Err(StrategyErrorKind::TooMany(steps.len()));
    }
    for (index, step) in steps.iter().enumerate() {
        let number = index + 1;
        if !(step.percent > 0.0 && step.percent < 100.0) {
            return Err(StrategyErrorKind::PercentOutOfRange {
                step: number,
                percent: step.percent,
            });
        }
        if index > 0 && step.percent <= steps[index - 1].percent {
            return Err(StrategyErrorKind::NotIncreasing {
                step: number,
                percent: step.percent,
                previous_step: index,
                previous: steps[index - 1].percent,
            });
        }
        if step.hold < MIN_HOLD {
            return Err(StrategyErrorKind::HoldTooShort {
                step: number,
                hold: format_duration(step.hold),
            });
        }
    }
    Ok(())
}

/// A plain decimal: digits, optionally a point and more digits (no sign, no exponent).
fn parse_percent(text: &str) -> Option<f64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(whole) && digits(fraction)) {
        return None;
    }
    text.parse().ok().filter(|p: &f64| p.is_finite())
}

fn parse_steps(list: &str) -> Result<Vec<Step>, StrategyErrorKind> {
    if list.trim().is_empty() {
        return Err(StrategyErrorKind::Empty);
    }
    let items: Vec<&str> = list.split(',').map(str::trim).collect();
    if items.len() > MAX_STEPS {
        return Err(StrategyErrorKind::TooMany(items.len()));
    }
    // Holds are given to the steps that precede a duration, so collect pending steps until one.
    let mut steps = Vec::with_capacity(items.len());
    let mut pending = 0;
    for (index, item) in items.iter().enumerate() {
        let number = index + 1;
        let (percent_text, hold_text) = match item.split_once('@') {
            Some((p, d)) => (p.trim(), Some(d.trim())),
            None => (*item, None),
        };
        let percent = parse_percent(percent_text).ok_or_else(|| StrategyErrorKind::BadPercent {
            step: number,
            text: percent_text.to_owned(),
        })?;
        steps.push(Step {
            percent,
            hold: Duration::ZERO,
        });
        pending += 1;
        if let Some(hold_text) = hold_text {
            let hold =
                parse_duration(hold_text).map_err(|reason| StrategyErrorKind::BadDuration {
                    step: number,
                    reason,
                })?;
            if hold < MIN_HOLD {
                return Err(StrategyErrorKind::HoldTooShort {
                    step: number,
                    hold: format_duration(hold),
                });
            }
            let len = steps.len();
            for step in &mut steps[len - pending..] {
                step.hold = hold;
            }
            pending = 0;
        }
    }
    if pending > 0 {
        let percent = steps.last().map_or(0.0, |step| step.percent);
        return Err(StrategyErrorKind::MissingHold { percent });
    }
    validate_steps(&steps)?;
    Ok(steps)
}

impl FromStr for Strategy {
    type Err = StrategyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if let Some(list) = text.strip_prefix("steps:") {
            return Ok(Self {
                preset: None,
                steps: parse_steps(list)?,
            });
        }
        Self::preset(text).ok_or_else(|| StrategyErrorKind::Unknown(text.to_owned()).into())
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.preset {
            return f.write_str(name);
        }
        f.write_str("steps:")?;
        for (index, step) in self.steps.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}@{}", step.percent, format_duration(step.hold))?;
        }
        Ok(())
    }
}

impl serde::Serialize for Strategy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Strategy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Units of a duration's text, largest first, with their length in nanoseconds.
const UNITS: &[(&str, u128)] = &[
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// Parses a duration such as `30s`, `2m`, `1h30m` or `500ms`: whole numbers, each followed by
/// a unit (`h`, `m`, `s`, `ms`, `us`, `ns`), units from largest to smallest, each at most once.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let original = text;
    let bad = |why: &str| {
        Err(format!(
            "{original:?} is not a duration ({why}): write it as 30s, 2m, 1h30m or 500ms"
        ))
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return bad("it is empty");
    }
    let mut total: u128 = 0;
    let mut last_unit: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return bad("a number must come before each unit");
        }
        let Ok(number) = rest[..digits].parse::<u128>() else {
            return bad("a number is too large");
        };
        rest = &rest[digits..];
        if rest.starts_with('.') {
            return bad("fractions are not accepted: write 1m30s rather than 1.5m");
        }
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit_text = &rest[..letters];
        rest = &rest[letters..];
        let Some(unit) = UNITS.iter().position(|(name, _)| *name == unit_text) else {
            return if unit_text.is_empty() {
                bad("every number needs a unit: h, m, s or ms")
            } else {
                bad("the units are h, m, s, ms, us and ns")
            };
        };
        if last_unit.is_some_and(|last| last >= unit) {
            return bad("units must go from largest to smallest, each once");
        }
        last_unit = Some(unit);
        total = match number
            .checked_mul(UNITS[unit].1)
            .and_then(|n| total.checked_add(n))
        {
            Some(total) => total,
            None => return bad("it is too long"),
        };
    }
    let secs = u64::try_from(total / 1_000_000_000);
    match secs {
        // The remainder is below 10^9, so it fits in u32.
        Ok(secs) => Ok(Duration::new(
            secs,
            u32::try_from(total % 1_000_000_000).unwrap_or(0),
        )),
        Err(_) => bad("it is too long"),
    }
}

/// Writes a duration in the shortest form [`parse_duration`] reads back: 90 s is `1m30s`,
/// 1.5 s is `1s500ms`, zero is `0s`.
pub fn format_duration(duration: Duration) -> String {
    let mut nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    let mut text = String::new();
    for (name, length) in UNITS {
        let count = nanos / length;
        nanos %= length;
        if count > 0 {
            text.push_str(&count.to_string());
            text.push_str(name);
        }
    }
    text
}

/// Serde helpers that write a [`Duration`] as [`format_duration`] text and read it back with
/// [`parse_duration`], for `#[serde(with = "lamina_canary::strategy::duration_text")]`.
pub mod duration_text {
    use std::time::Duration;

    /// Writes `duration` as text such as `10m`.
    pub fn serialize<S: serde::Serializer>(
        duration: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_duration(*duration))
    }

    /// Reads text such as `10m`.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "strategy_tests.rs"]
mod tests;
