//! [`TrafficSimulator`]: minutes of traffic through an alias, split by its current weights.

use std::{collections::BTreeMap, sync::Arc, sync::Mutex, time::Duration};

use super::{InMemoryLambda, InMemoryMetrics, lock};
use crate::clock::{Clock as _, ManualClock};

/// Writes Lambda's metrics for a minute of traffic through an alias, split between its primary
/// and additional version by the alias's current weights, then moves the clock on a minute.
/// Counts are exact (rounded), so runs are deterministic.
#[derive(Debug)]
pub struct TrafficSimulator {
    lambda: Arc<InMemoryLambda>,
    metrics: Arc<InMemoryMetrics>,
    clock: ManualClock,
    function: String,
    alias: String,
    settings: Mutex<Settings>,
}

#[derive(Debug)]
struct Settings {
    per_minute: u64,
    error_rates: BTreeMap<String, f64>,
    duration_ms: f64,
}

impl TrafficSimulator {
    /// `per_minute` invocations a minute through `function:alias`, without errors.
    pub fn new(
        lambda: Arc<InMemoryLambda>,
        metrics: Arc<InMemoryMetrics>,
        clock: ManualClock,
        function: &str,
        alias: &str,
        per_minute: u64,
    ) -> Self {
        Self {
            lambda,
            metrics,
            clock,
            function: function.to_owned(),
            alias: alias.to_owned(),
            settings: Mutex::new(Settings {
                per_minute,
                error_rates: BTreeMap::new(),
                duration_ms: 20.0,
            }),
        }
    }

    /// Sets the share of `version`'s invocations that fail (0.0 to 1.0).
    pub fn set_error_rate(&self, version: &str, rate: f64) {
        lock(&self.settings)
            .error_rates
            .insert(version.to_owned(), rate);
    }

    /// Sets the invocations a minute.
    pub fn set_per_minute(&self, per_minute: u64) {
        lock(&self.settings).per_minute = per_minute;
    }

    /// Writes one minute of traffic at the clock's time, then advances the clock a minute.
    /// Returns the invocations each version got.
    ///
    /// # Panics
    /// When the alias does not exist (a test mistake).
    pub fn minute(&self) -> Vec<(String, u64)> {
        let Some(alias) = self.lambda.alias(&self.function, &self.alias) else {
            panic!("no alias {}:{}", self.function, self.alias);
        };
        let settings = lock(&self.settings);
        let routed = alias.routing.as_ref().map_or(0, |routing| {
            (settings.per_minute as f64 * routing.weight).round() as u64
        });
        let mut split = vec![(alias.function_version.clone(), settings.per_minute - routed)];
        if let Some(routing) = &alias.routing {
            split.push((routing.version.clone(), routed));
        }
        let now = self.clock.now();
        for (version, invocations) in &split {
            if *invocations == 0 {
                continue;
            }
            let rate = settings.error_rates.get(version).copied().unwrap_or(0.0);
            let errors = (*invocations as f64 * rate).round() as u64;
            self.metrics.record(
                &self.function,
                &self.alias,
                version,
                now,
                *invocations,
                errors,
                0,
                settings.duration_ms,
            );
        }
        drop(settings);
        self.clock.advance(Duration::from_secs(60));
        split
    }

    /// [`minute`](Self::minute) `n` times.
    pub fn minutes(&self, n: u32) {
        for _ in 0..n {
            self.minute();
        }
    }
}
