//! The summary `invoke --repeat` prints: cold and warm starts, environments, latency percentiles.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use lamina_local::emulator::InvocationReport;

/// What a run of invocations added up to.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    concurrency: usize,
    cold: usize,
    warm: usize,
    failed: usize,
    environments: BTreeSet<u64>,
    /// What each caller waited, call to answer (init included on a cold start).
    latencies: Vec<Duration>,
    /// Each REPORT's Duration.
    durations: Vec<Duration>,
    /// Each cold start's Init Duration.
    inits: Vec<Duration>,
}

impl Summary {
    pub(crate) fn new(concurrency: usize) -> Self {
        Self {
            concurrency,
            ..Self::default()
        }
    }

    pub(crate) fn add(&mut self, report: &InvocationReport, latency: Duration) {
        if report.cold_start {
            self.cold += 1;
        } else {
            self.warm += 1;
        }
        if !report.outcome.is_success() {
            self.failed += 1;
        }
        self.environments.insert(report.environment);
        self.latencies.push(latency);
        self.durations.push(report.duration);
        self.inits.extend(report.init_duration);
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} invocations, {} at a time: {} cold starts, {} warm, {} environments, {} failed",
            self.latencies.len(),
            self.concurrency,
            self.cold,
            self.warm,
            self.environments.len(),
            self.failed,
        )?;
        for (name, values) in [
            ("latency", &self.latencies),
            ("duration", &self.durations),
            ("init duration", &self.inits),
        ] {
            if values.is_empty() {
                continue;
            }
            let mut sorted = values.clone();
            sorted.sort_unstable();
            write!(f, "{name:<14}")?;
            for (label, p) in [("p50", 50), ("p90", 90), ("p99", 99), ("max", 100)] {
                let value = percentile(&sorted, p).unwrap_or_default();
                write!(f, " {label} {:>9.2} ms", value.as_secs_f64() * 1000.0)?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// The nearest-rank percentile of `sorted` (ascending): the smallest value with at least `p`% of the
/// values at or below it.
pub(crate) fn percentile(sorted: &[Duration], p: usize) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        let hundred = ms(&(1..=100).collect::<Vec<_>>());
        let cases: [(&[Duration], usize, Option<u64>); 6] = [
            (&hundred, 50, Some(50)),
            (&hundred, 99, Some(99)),
            (&hundred, 100, Some(100)),
            (&ms(&[7]), 99, Some(7)),
            (&ms(&[1, 2, 3, 4]), 50, Some(2)),
            (&[], 50, None),
        ];
        for (values, p, expected) in cases {
            assert_eq!(
                percentile(values, p),
                expected.map(Duration::from_millis),
                "p{p} of {values:?}"
            );
        }
    }
}
