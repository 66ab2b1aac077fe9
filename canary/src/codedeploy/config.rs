//! [`DeploymentConfig`]: a rollout plan as CodeDeploy expresses it.

use std::fmt;
use std::time::Duration;

use aws_sdk_codedeploy::types::{
    TimeBasedCanary, TimeBasedLinear, TrafficRoutingConfig, TrafficRoutingType,
};

/// The predefined configuration that shifts all traffic at once.
pub const ALL_AT_ONCE: &str = "CodeDeployDefault.LambdaAllAtOnce";

/// How CodeDeploy shifts a Lambda alias's traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentConfig {
    /// A configuration CodeDeploy defines, such as `CodeDeployDefault.LambdaCanary10Percent5Minutes`,
    /// `CodeDeployDefault.LambdaLinear10PercentEvery1Minute` or [`ALL_AT_ONCE`].
    Predefined(String),
    /// `percent` of the traffic for `interval_minutes`, then all of it.
    TimeBasedCanary {
        /// The share of traffic of the first step, from 1 to 99.
        percent: u8,
        /// How long the first step is held, in minutes.
        interval_minutes: u32,
    },
    /// `percent` more of the traffic every `interval_minutes` until all of it.
    TimeBasedLinear {
        /// The share of traffic added at each step, from 1 to 99.
        percent: u8,
        /// How long each step is held, in minutes.
        interval_minutes: u32,
    },
}

impl DeploymentConfig {
    /// The configuration for a list of steps (percent of traffic to the new version, and how long
    /// it is held) followed by 100%.
    ///
    /// No steps is [`ALL_AT_ONCE`]; 10% held 5, 10, 15 or 30 minutes and 10%, 20%, ... 90% each held
    /// 1, 2, 3 or 10 minutes are CodeDeploy's predefined configurations; any other single step is a
    /// [`DeploymentConfig::TimeBasedCanary`] and any other list of equal increments that reaches
    /// the last one below 100% (`p`, `2p`, ... with the next one at or above 100%) is a
    /// [`DeploymentConfig::TimeBasedLinear`].
    ///
    /// # Errors
    /// A message saying why CodeDeploy cannot express the list: percents that are not whole
    /// numbers from 1 to 99, holds that are not whole minutes, several steps that are not equal
    /// increments, steps held for different times, or a linear list that stops before its last
    /// increment below 100%.
    pub fn from_steps(steps: &[(f64, Duration)]) -> Result<Self, String> {
        let Some(&(first, hold)) = steps.first() else {
            return Ok(Self::Predefined(ALL_AT_ONCE.to_owned()));
        };
        let percents = steps
            .iter()
            .map(|&(percent, _)| whole_percent(percent))
            .collect::<Result<Vec<u8>, String>>()?;
        let minutes = steps
            .iter()
            .map(|&(_, hold)| whole_minutes(hold))
            .collect::<Result<Vec<u32>, String>>()?;
        let (percent, interval_minutes) = (percents[0], minutes[0]);
        if minutes.iter().any(|&m| m != interval_minutes) {
            return Err(format!(
                "CodeDeploy holds every step for the same time; these steps are held {}",
                minutes
                    .iter()
                    .map(|m| format!("{m}m"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if steps.len() == 1 {
            return Ok(match (percent, interval_minutes) {
                (10, 5 | 10 | 15 | 30) => Self::Predefined(format!(
                    "CodeDeployDefault.LambdaCanary10Percent{interval_minutes}Minutes"
                )),
                _ => Self::TimeBasedCanary {
                    percent,
                    interval_minutes,
                },
            });
        }
        let equal_increments = percents
            .iter()
            .enumerate()
            .all(|(index, &p)| u32::from(p) == u32::from(percent) * (index as u32 + 1));
        if !equal_increments {
            return Err(format!(
                "CodeDeploy shifts traffic in one canary step or in equal linear increments; \
                 {} is neither",
                percents
                    .iter()
                    .map(|p| format!("{p}%"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        // A linear configuration keeps adding `percent` until 100%: the list must not stop early.
        let expected_steps = (100u32).div_ceil(u32::from(percent)) - 1;
        if percents.len() as u32 != expected_steps {
            return Err(format!(
                "a linear CodeDeploy configuration adding {percent}% goes through {expected_steps} \
                 steps below 100%; this list has {} (first step {first}% held {hold:?})",
                percents.len()
            ));
        }
        Ok(match (percent, interval_minutes) {
            (10, 1) => {
                Self::Predefined("CodeDeployDefault.LambdaLinear10PercentEvery1Minute".to_owned())
            }
            (10, 2 | 3 | 10) => Self::Predefined(format!(
                "CodeDeployDefault.LambdaLinear10PercentEvery{interval_minutes}Minutes"
            )),
            _ => Self::TimeBasedLinear {
                percent,
                interval_minutes,
            },
        })
    }

    /// The name deployments refer to: the predefined name, or `Lamina.LambdaCanary25Percent4Minutes`
    /// / `Lamina.LambdaLinear20PercentEvery3Minutes` for a custom configuration.
    #[must_use]
    pub fn name(&self) -> String {
        match self {
            Self::Predefined(name) => name.clone(),
            Self::TimeBasedCanary {
                percent,
                interval_minutes,
            } => format!("Lamina.LambdaCanary{percent}Percent{interval_minutes}Minutes"),
            Self::TimeBasedLinear {
                percent,
                interval_minutes,
            } => format!("Lamina.LambdaLinear{percent}PercentEvery{interval_minutes}Minutes"),
        }
    }

    /// The `TrafficRoutingConfig` that creates a custom configuration; `None` for a predefined one.
    #[must_use]
    pub fn traffic_routing(&self) -> Option<TrafficRoutingConfig> {
        match *self {
            Self::Predefined(_) => None,
            Self::TimeBasedCanary {
                percent,
                interval_minutes,
            } => Some(
                TrafficRoutingConfig::builder()
                    .r#type(TrafficRoutingType::TimeBasedCanary)
                    .time_based_canary(
                        TimeBasedCanary::builder()
                            .canary_percentage(i32::from(percent))
                            .canary_interval(minutes_i32(interval_minutes))
                            .build(),
                    )
                    .build(),
            ),
            Self::TimeBasedLinear {
                percent,
                interval_minutes,
            } => Some(
                TrafficRoutingConfig::builder()
                    .r#type(TrafficRoutingType::TimeBasedLinear)
                    .time_based_linear(
                        TimeBasedLinear::builder()
                            .linear_percentage(i32::from(percent))
                            .linear_interval(minutes_i32(interval_minutes))
                            .build(),
                    )
                    .build(),
            ),
        }
    }
}

impl fmt::Display for DeploymentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

fn minutes_i32(minutes: u32) -> i32 {
    i32::try_from(minutes).unwrap_or(i32::MAX)
}

fn whole_percent(percent: f64) -> Result<u8, String> {
    if percent.is_finite() && percent.fract() == 0.0 && (1.0..=99.0).contains(&percent) {
        // In range and whole: the cast is exact.
        Ok(percent as u8)
    } else {
        Err(format!(
            "CodeDeploy shifts whole percents from 1 to 99; {percent}% is not one"
        ))
    }
}

fn whole_minutes(hold: Duration) -> Result<u32, String> {
    let seconds = hold.as_secs();
    if hold.subsec_nanos() == 0 && seconds >= 60 && seconds.is_multiple_of(60) {
        u32::try_from(seconds / 60).map_err(|_| format!("a hold of {hold:?} is too long"))
    } else {
        Err(format!(
            "CodeDeploy holds steps for whole minutes; {hold:?} is not a whole number of minutes"
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn minutes(m: u64) -> Duration {
        Duration::from_secs(m * 60)
    }

    fn linear(percent: u8, hold: Duration) -> Vec<(f64, Duration)> {
        (1..)
            .map(|i| f64::from(percent) * f64::from(i))
            .take_while(|p| *p < 100.0)
            .map(|p| (p, hold))
            .collect()
    }

    #[test]
    fn presets_are_predefined() {
        let predefined = |name: &str| Ok(DeploymentConfig::Predefined(name.to_owned()));
        assert_eq!(DeploymentConfig::from_steps(&[]), predefined(ALL_AT_ONCE));
        for m in [5, 10, 15, 30] {
            assert_eq!(
                DeploymentConfig::from_steps(&[(10.0, minutes(m))]),
                predefined(&format!(
                    "CodeDeployDefault.LambdaCanary10Percent{m}Minutes"
                ))
            );
        }
        assert_eq!(
            DeploymentConfig::from_steps(&linear(10, minutes(1))),
            predefined("CodeDeployDefault.LambdaLinear10PercentEvery1Minute")
        );
        for m in [2, 3, 10] {
            assert_eq!(
                DeploymentConfig::from_steps(&linear(10, minutes(m))),
                predefined(&format!(
                    "CodeDeployDefault.LambdaLinear10PercentEvery{m}Minutes"
                ))
            );
        }
    }

    #[test]
    fn custom_configurations() {
        let canary = DeploymentConfig::from_steps(&[(25.0, minutes(4))]).unwrap();
        assert_eq!(
            canary,
            DeploymentConfig::TimeBasedCanary {
                percent: 25,
                interval_minutes: 4
            }
        );
        assert_eq!(canary.name(), "Lamina.LambdaCanary25Percent4Minutes");
        let routing = canary.traffic_routing().unwrap();
        assert_eq!(routing.r#type(), Some(&TrafficRoutingType::TimeBasedCanary));
        assert_eq!(routing.time_based_canary().unwrap().canary_percentage(), 25);
        assert_eq!(routing.time_based_canary().unwrap().canary_interval(), 4);

        let linear20 = DeploymentConfig::from_steps(&linear(20, minutes(3))).unwrap();
        assert_eq!(
            linear20,
            DeploymentConfig::TimeBasedLinear {
                percent: 20,
                interval_minutes: 3
            }
        );
        assert_eq!(linear20.name(), "Lamina.LambdaLinear20PercentEvery3Minutes");
        assert_eq!(
            linear20
                .traffic_routing()
                .unwrap()
                .time_based_linear()
                .unwrap()
                .linear_percentage(),
            20
        );
        // 25, 50, 75 then 100; 30, 60, 90 then 100.
        assert!(DeploymentConfig::from_steps(&linear(25, minutes(1))).is_ok());
        assert!(DeploymentConfig::from_steps(&linear(30, minutes(1))).is_ok());
        assert!(
            DeploymentConfig::Predefined(ALL_AT_ONCE.to_owned())
                .traffic_routing()
                .is_none()
        );
    }

    #[test]
    fn inexpressible_lists_are_refused_with_a_reason() {
        let table: Vec<(Vec<(f64, Duration)>, &str)> = vec![
            (
                vec![(5.0, minutes(1)), (25.0, minutes(1)), (50.0, minutes(1))],
                "equal linear increments",
            ),
            (vec![(10.0, minutes(1)), (20.0, minutes(2))], "same time"),
            (
                vec![(10.0, minutes(1)), (20.0, minutes(1))],
                "goes through 9 steps",
            ),
            (vec![(12.5, minutes(5))], "whole percents"),
            (vec![(10.0, Duration::from_secs(90))], "whole minutes"),
            (vec![(10.0, Duration::from_secs(30))], "whole minutes"),
            (vec![(0.0, minutes(1))], "whole percents"),
            (vec![(100.0, minutes(1))], "whole percents"),
            (vec![(f64::NAN, minutes(1))], "whole percents"),
        ];
        for (steps, reason) in table {
            let error = DeploymentConfig::from_steps(&steps).unwrap_err();
            assert!(error.contains(reason), "{steps:?}: {error}");
        }
    }
}
