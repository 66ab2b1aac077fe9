//! What a benchmark measured: every sample of every function, their medians and quartiles, the
//! ratios to the baseline, as a table for people and JSON for CI.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::BenchError;
use super::stats::{Ratio, Spread};

/// What one fresh execution environment measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// Spawn to the runtime's first request for an event (`/next`): Lambda's Init Duration.
    #[serde(with = "duration_ns")]
    pub init: Duration,
    /// The cold invocation, spawn included, to its answer: what the first caller waits for.
    #[serde(with = "duration_ns")]
    pub first_response: Duration,
    /// A second invocation of the same process, to its answer.
    #[serde(with = "duration_ns")]
    pub warm: Duration,
    /// The process's peak resident set size in MB, rounded up: Lambda's Max Memory Used.
    pub max_memory_mb: u64,
}

/// Which figure of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Metric {
    /// [`Sample::init`].
    Init,
    /// [`Sample::first_response`].
    FirstResponse,
    /// [`Sample::warm`].
    Warm,
}

impl Metric {
    /// The three timed figures, in table order.
    pub const ALL: [Self; 3] = [Self::Init, Self::FirstResponse, Self::Warm];

    /// The criterion benchmark group of this figure.
    #[must_use]
    pub fn group(self) -> &'static str {
        match self {
            Self::Init => "cold start init",
            Self::FirstResponse => "cold start first response",
            Self::Warm => "cold start warm invocation",
        }
    }

    /// This figure of a sample.
    #[must_use]
    pub fn of(self, sample: &Sample) -> Duration {
        match self {
            Self::Init => sample.init,
            Self::FirstResponse => sample.first_response,
            Self::Warm => sample.warm,
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::Init => "init",
            Self::FirstResponse => "first_response",
            Self::Warm => "warm",
        }
    }
}

/// One function's samples and what the benchmark knows of its executable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionResults {
    /// The function's label.
    pub label: String,
    /// The executable that ran.
    pub executable: PathBuf,
    /// Its size in bytes (for a script, the script alone).
    pub executable_bytes: u64,
    /// Whether it is a script (`#!`) rather than a binary.
    pub script: bool,
    /// Every sample, in the order taken.
    pub samples: Vec<Sample>,
}

impl FunctionResults {
    /// `metric` of every sample, in milliseconds.
    #[must_use]
    pub fn millis(&self, metric: Metric) -> Vec<f64> {
        self.samples
            .iter()
            .map(|s| metric.of(s).as_secs_f64() * 1e3)
            .collect()
    }

    /// The peak memory of every sample, in MB.
    #[must_use]
    pub fn memory_mb(&self) -> Vec<f64> {
        self.samples
            .iter()
            .map(|s| s.max_memory_mb as f64)
            .collect()
    }
}

/// The summary of one figure of one function: median, quartiles, and ratio to the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FigureSummary {
    /// Median and quartiles (milliseconds, or MB for memory).
    pub spread: Spread,
    /// The ratio of medians to the baseline's, with a 95 % bootstrap interval (none for the
    /// baseline itself, or without one).
    pub ratio: Option<Ratio>,
}

/// Every function's results, with the baseline's label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResults {
    /// The benchmark's name.
    pub name: String,
    /// The baseline function's label, if one is marked.
    pub baseline: Option<String>,
    /// Every function, in the order given.
    pub functions: Vec<FunctionResults>,
}

impl BenchResults {
    /// Results of these functions.
    #[must_use]
    pub fn new(name: String, functions: Vec<FunctionResults>, baseline: Option<String>) -> Self {
        Self {
            name,
            baseline,
            functions,
        }
    }

    fn baseline_results(&self) -> Option<&FunctionResults> {
        let label = self.baseline.as_ref()?;
        self.functions.iter().find(|f| &f.label == label)
    }

    /// The summary of `metric` for `function` (`None` without samples).
    #[must_use]
    pub fn summary(&self, function: &FunctionResults, metric: Metric) -> Option<FigureSummary> {
        let values = function.millis(metric);
        let baseline = self
            .baseline_results()
            .filter(|b| b.label != function.label)
            .map(|b| b.millis(metric));
        Some(FigureSummary {
            spread: Spread::of(&values)?,
            ratio: baseline.and_then(|b| Ratio::between(&values, &b)),
        })
    }

    /// The summary of peak memory for `function` (`None` without samples).
    #[must_use]
    pub fn memory_summary(&self, function: &FunctionResults) -> Option<FigureSummary> {
        let values = function.memory_mb();
        let baseline = self
            .baseline_results()
            .filter(|b| b.label != function.label)
            .map(FunctionResults::memory_mb);
        Some(FigureSummary {
            spread: Spread::of(&values)?,
            ratio: baseline.and_then(|b| Ratio::between(&values, &b)),
        })
    }

    /// The results and their summaries as one JSON document, for CI to compare runs.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let functions: Vec<serde_json::Value> = self
            .functions
            .iter()
            .map(|function| {
                let mut summary = serde_json::Map::new();
                for metric in Metric::ALL {
                    summary.insert(
                        format!("{}_ms", metric.key()),
                        serde_json::json!(self.summary(function, metric)),
                    );
                }
                summary.insert(
                    "max_memory_mb".to_owned(),
                    serde_json::json!(self.memory_summary(function)),
                );
                serde_json::json!({
                    "label": function.label,
                    "executable": function.executable,
                    "executable_bytes": function.executable_bytes,
                    "script": function.script,
                    "summary": summary,
                    "samples": function.samples,
                })
            })
            .collect();
        serde_json::json!({
            "name": self.name,
            "baseline": self.baseline,
            "functions": functions,
        })
    }

    /// Writes [`BenchResults::to_json`] to `path`, creating its folder.
    ///
    /// # Errors
    /// [`BenchError::Save`] when the folder or the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), BenchError> {
        let fail = |source| BenchError::Save {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let text = serde_json::to_string_pretty(&self.to_json())
            .map_err(|e| fail(std::io::Error::other(e)))?;
        std::fs::write(path, text + "\n").map_err(fail)
    }
}

/// The table: one row per function with each figure's median and quartiles, and under every function
/// but the baseline, a row of ratios to the baseline with their 95 % intervals.
impl fmt::Display for BenchResults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let samples = self
            .functions
            .iter()
            .map(|r| r.samples.len())
            .max()
            .unwrap_or(0);
        writeln!(
            f,
            "cold start of {}: {samples} fresh processes per function, started round-robin",
            self.name
        )?;
        writeln!(
            f,
            "median (first quartile - third quartile); ratio: median / baseline's [95% bootstrap interval]"
        )?;
        let width = self
            .functions
            .iter()
            .map(|r| r.label.len())
            .max()
            .unwrap_or(0)
            .max(8)
            + 2;
        let headers = ["init ms", "first response ms", "warm ms", "max memory MB"];
        let mut header = format!("{:<width$}", "function");
        for title in headers {
            let _ = write!(header, "{title:<24}");
        }
        header.push_str("executable");
        writeln!(f, "{}", header.trim_end())?;
        for function in &self.functions {
            let figures = Metric::ALL
                .iter()
                .map(|m| self.summary(function, *m))
                .chain([self.memory_summary(function)]);
            let mut row = format!("{:<width$}", function.label);
            let mut ratios = format!("{:<width$}", "  ratio");
            for figure in figures {
                match figure {
                    Some(s) => {
                        let _ = write!(row, "{:<24}", spread_text(&s.spread));
                        let ratio = s
                            .ratio
                            .map(|r| format!("{:.2}x [{:.2}-{:.2}]", r.ratio, r.low, r.high));
                        let _ = write!(ratios, "{:<24}", ratio.unwrap_or_default());
                    }
                    None => {
                        let _ = write!(row, "{:<24}", "no sample");
                        let _ = write!(ratios, "{:<24}", "");
                    }
                }
            }
            row.push_str(&executable_text(function));
            if self.baseline.as_ref() == Some(&function.label) {
                row.push_str("  (baseline)");
            }
            writeln!(f, "{}", row.trim_end())?;
            if self.baseline.is_some() && self.baseline.as_ref() != Some(&function.label) {
                writeln!(f, "{}", ratios.trim_end())?;
            }
        }
        Ok(())
    }
}

fn spread_text(spread: &Spread) -> String {
    let digits = if spread.median < 10.0 { 2 } else { 1 };
    format!(
        "{:.digits$} ({:.digits$}-{:.digits$})",
        spread.median, spread.q1, spread.q3
    )
}

fn executable_text(function: &FunctionResults) -> String {
    let kind = if function.script { "script" } else { "binary" };
    let bytes = function.executable_bytes as f64;
    if bytes >= 1e6 {
        format!("{:.2} MB {kind}", bytes / 1e6)
    } else {
        format!("{:.1} kB {kind}", bytes / 1e3)
    }
}

/// Durations as whole nanoseconds in the JSON, so any language reads them back exactly.
mod duration_ns {
    use std::time::Duration;

    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        duration: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_nanos)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn function(label: &str, init_ms: &[u64]) -> FunctionResults {
        FunctionResults {
            label: label.to_owned(),
            executable: PathBuf::from(format!("/x/{label}")),
            executable_bytes: 1_234_567,
            script: false,
            samples: init_ms
                .iter()
                .map(|&ms| Sample {
                    init: Duration::from_millis(ms),
                    first_response: Duration::from_millis(ms + 1),
                    warm: Duration::from_micros(200),
                    max_memory_mb: ms,
                })
                .collect(),
        }
    }

    #[test]
    fn the_table_shows_medians_and_ratios_to_the_baseline() {
        let results = BenchResults::new(
            "demo".to_owned(),
            vec![
                function("hello", &[4, 5, 6]),
                function("stack", &[10, 12, 14]),
            ],
            Some("hello".to_owned()),
        );
        let table = results.to_string();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 6, "{table}");
        assert!(
            lines[3].starts_with("hello ") && lines[3].contains("5.00 (4.50-5.50)"),
            "{table}"
        );
        assert!(lines[3].ends_with("1.23 MB binary  (baseline)"), "{table}");
        assert!(
            lines[4].starts_with("stack ") && lines[4].contains("12.0 (11.0-13.0)"),
            "{table}"
        );
        assert!(
            lines[5].starts_with("  ratio") && lines[5].contains("2.40x ["),
            "{table}"
        );
        let summary = results
            .summary(&results.functions[1], Metric::Init)
            .unwrap();
        assert!((summary.ratio.unwrap().ratio - 2.4).abs() < 1e-9);
        assert_eq!(
            results
                .summary(&results.functions[0], Metric::Init)
                .unwrap()
                .ratio,
            None
        );
    }

    #[test]
    fn the_json_round_trips_the_samples_and_carries_the_summary() {
        let results = BenchResults::new("demo".to_owned(), vec![function("a", &[3, 1, 2])], None);
        let json = results.to_json();
        assert_eq!(json["functions"][0]["samples"][0]["init"], 3_000_000);
        assert_eq!(
            json["functions"][0]["summary"]["init_ms"]["spread"]["median"],
            2.0
        );
        let samples: Vec<Sample> =
            serde_json::from_value(json["functions"][0]["samples"].clone()).unwrap();
        assert_eq!(samples, results.functions[0].samples);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/results.json");
        results.save(&path).unwrap();
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(saved, json);
    }
}
