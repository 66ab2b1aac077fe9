//! A prepared benchmark: executables built and checked, the event parsed, fixtures running. It takes
//! samples, one fresh execution environment each, and rounds of them, round-robin over the functions.

use std::path::PathBuf;
use std::time::Instant;

use super::function::{AnswerCheck, Source};
use super::results::{BenchResults, FunctionResults, Sample};
use super::{BenchError, ColdStartBench, fixtures::RunningFixtures};
use crate::cargo_build::{BinaryBuild, Profile};
use crate::emulator::{Emulator, FunctionConfig, InvocationReport, LogFormat, Outcome};

/// How many of a failing function's last output lines an error shows.
const LOG_LINES_SHOWN: usize = 20;

/// One function, ready to be started.
pub(crate) struct ReadyFunction {
    pub(crate) label: String,
    pub(crate) executable: PathBuf,
    pub(crate) executable_bytes: u64,
    pub(crate) script: bool,
    pub(crate) config: FunctionConfig,
    pub(crate) event: Vec<u8>,
    check: Option<AnswerCheck>,
}

/// A benchmark ready to take samples: see [`ColdStartBench::prepare`].
#[derive(Debug)]
pub struct PreparedBench {
    pub(crate) name: String,
    pub(crate) functions: Vec<ReadyFunction>,
    pub(crate) baseline: Option<usize>,
    pub(crate) samples: usize,
    fixtures: RunningFixtures,
}

impl std::fmt::Debug for ReadyFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadyFunction")
            .field("label", &self.label)
            .field("executable", &self.executable)
            .field("executable_bytes", &self.executable_bytes)
            .field("script", &self.script)
            .field("checked", &self.check.is_some())
            .finish_non_exhaustive()
    }
}

fn parse_event(json: &[u8], what: impl FnOnce() -> String) -> Result<(), BenchError> {
    serde_json::from_slice::<serde_json::Value>(json)
        .map(drop)
        .map_err(|e| BenchError::MalformedEvent {
            what: what(),
            detail: e.to_string(),
        })
}

impl ColdStartBench {
    /// Checks the benchmark, builds the packages in release, checks every executable, starts the
    /// fixtures. Nothing is measured yet.
    ///
    /// # Errors
    /// No function, duplicate labels, two baselines, too few samples, an unreadable or malformed
    /// event, a missing executable, a failed build, a fixture that did not start.
    pub async fn prepare(self) -> Result<PreparedBench, BenchError> {
        if self.functions.is_empty() {
            return Err(BenchError::NoFunction);
        }
        if self.samples < super::MIN_SAMPLES {
            return Err(BenchError::TooFewSamples {
                asked: self.samples,
                min: super::MIN_SAMPLES,
            });
        }
        let mut baseline: Option<usize> = None;
        for (i, function) in self.functions.iter().enumerate() {
            if self.functions[..i]
                .iter()
                .any(|f| f.label == function.label)
            {
                return Err(BenchError::DuplicateLabel(function.label.clone()));
            }
            if function.baseline {
                if let Some(first) = baseline {
                    return Err(BenchError::TwoBaselines(
                        self.functions[first].label.clone(),
                        function.label.clone(),
                    ));
                }
                baseline = Some(i);
            }
        }
        if let Some(wanted) = &self.baseline {
            let found = self.functions.iter().position(|f| &f.label == wanted);
            match (found, baseline) {
                (None, _) => return Err(BenchError::UnknownBaseline(wanted.clone())),
                (Some(i), Some(j)) if i != j => {
                    return Err(BenchError::TwoBaselines(
                        self.functions[j].label.clone(),
                        wanted.clone(),
                    ));
                }
                (Some(i), _) => baseline = Some(i),
            }
        }
        let event = match &self.event {
            super::Event::Json(json) => json.clone(),
            super::Event::File(path) => {
                std::fs::read(path).map_err(|source| BenchError::EventFile {
                    path: path.clone(),
                    source,
                })?
            }
        };
        parse_event(&event, || match &self.event {
            super::Event::File(path) => format!("the event file {}", path.display()),
            super::Event::Json(_) => "the event".to_owned(),
        })?;
        for function in &self.functions {
            if let Some(own) = &function.event {
                parse_event(own, || format!("the event of {}", function.label))?;
            }
        }

        let mut ready = Vec::with_capacity(self.functions.len());
        for function in &self.functions {
            let executable = match &function.source {
                Source::Path(path) => path.clone(),
                Source::Package { package, bin } => {
                    let mut build = BinaryBuild::new(package).profile(Profile::Release);
                    if let Some(bin) = bin {
                        build = build.bin(bin);
                    }
                    build.build().map_err(|source| BenchError::Build {
                        label: function.label.clone(),
                        source,
                    })?
                }
            };
            // The emulator's own check: exists, is a file, is executable.
            Emulator::start(FunctionConfig::new(&executable))
                .await
                .map_err(|source| BenchError::Executable {
                    label: function.label.clone(),
                    source,
                })?;
            let (executable_bytes, script) = inspect(&executable);
            ready.push(ReadyFunction {
                label: function.label.clone(),
                executable,
                executable_bytes,
                script,
                config: FunctionConfig::new(PathBuf::new()),
                event: function.event.clone().unwrap_or_else(|| event.clone()),
                check: function.check.clone(),
            });
        }

        let fixtures = RunningFixtures::start(&self.fixtures).await?;
        for (function, spec) in ready.iter_mut().zip(&self.functions) {
            let mut config = FunctionConfig::new(&function.executable)
                .function_name(&function.label)
                .handler(&spec.handler)
                .memory_mb(self.memory_mb)
                .timeout(self.timeout)
                .init_timeout(self.timeout)
                .log_format(LogFormat::Json)
                .envs(fixtures.env().iter().cloned())
                .envs(self.env.iter().cloned())
                .envs(spec.env.iter().cloned());
            if let Some(address) = fixtures.daemon_address() {
                config = config.xray_daemon(address);
            }
            function.config = config;
        }
        Ok(PreparedBench {
            name: self.name,
            functions: ready,
            baseline,
            samples: self.samples,
            fixtures,
        })
    }
}

/// The file's size, and whether it is a script (starts with `#!`) rather than a binary.
fn inspect(executable: &std::path::Path) -> (u64, bool) {
    let bytes = std::fs::metadata(executable).map(|m| m.len()).unwrap_or(0);
    let mut head = [0_u8; 2];
    let script = std::fs::File::open(executable)
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut head))
        .is_ok()
        && head == *b"#!";
    (bytes, script)
}

impl PreparedBench {
    /// The functions' labels, in the order they were given.
    #[must_use]
    pub fn labels(&self) -> Vec<&str> {
        self.functions.iter().map(|f| f.label.as_str()).collect()
    }

    /// How many samples per function the benchmark was configured with.
    #[must_use]
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Takes one sample of function `index` (in the order given): a fresh process, a cold
    /// invocation, a warm one, then the process is stopped.
    ///
    /// # Errors
    /// The emulator cannot invoke it, or the function fails (init failure, crash, handler error,
    /// timeout, an answer with `statusCode` 500 or more, or one its check refuses).
    ///
    /// # Panics
    /// If `index` is not below the number of functions.
    pub async fn sample(&self, index: usize) -> Result<Sample, BenchError> {
        let function = &self.functions[index];
        let emulator = Emulator::start(function.config.clone())
            .await
            .map_err(|source| BenchError::Emulator {
                label: function.label.clone(),
                source,
            })?;
        let started = Instant::now();
        let cold = emulator.invoke(function.event.clone()).await;
        let first_response = started.elapsed();
        let warm_result = match &cold {
            Ok(report) if report.outcome.is_success() => {
                let started = Instant::now();
                let warm = emulator.invoke(function.event.clone()).await;
                Some((warm, started.elapsed()))
            }
            _ => None,
        };
        emulator.shutdown().await;
        let cold = cold.map_err(|source| BenchError::Emulator {
            label: function.label.clone(),
            source,
        })?;
        check_answer(function, &cold, "cold")?;
        let Some((warm, warm_time)) = warm_result else {
            return Err(failure(function, &cold, "cold", "no answer".to_owned()));
        };
        let warm = warm.map_err(|source| BenchError::Emulator {
            label: function.label.clone(),
            source,
        })?;
        check_answer(function, &warm, "warm")?;
        let init = cold.init_duration.ok_or_else(|| {
            failure(
                function,
                &cold,
                "cold",
                "the first invocation did not start a process".to_owned(),
            )
        })?;
        Ok(Sample {
            init,
            first_response,
            warm: warm_time,
            max_memory_mb: cold.max_memory_used_mb.max(warm.max_memory_used_mb),
        })
    }

    /// Takes `rounds` samples of every function, round-robin (one of each function, then again), so
    /// that load from elsewhere on the machine falls on every function alike. With `warm_up`, one
    /// round is taken first and discarded (it fills the page cache).
    ///
    /// # Errors
    /// The first sample that fails, as [`PreparedBench::sample`].
    pub async fn run_rounds(
        &self,
        rounds: usize,
        warm_up: bool,
    ) -> Result<BenchResults, BenchError> {
        let mut taken: Vec<Vec<Sample>> = vec![Vec::with_capacity(rounds); self.functions.len()];
        for round in 0..rounds + usize::from(warm_up) {
            for (index, samples) in taken.iter_mut().enumerate() {
                let sample = self.sample(index).await?;
                if round > 0 || !warm_up {
                    samples.push(sample);
                }
            }
        }
        Ok(self.results(taken))
    }

    /// The results of these samples (one list per function, in the order given).
    #[must_use]
    pub fn results(&self, samples: Vec<Vec<Sample>>) -> BenchResults {
        let functions = self
            .functions
            .iter()
            .zip(samples)
            .map(|(function, samples)| FunctionResults {
                label: function.label.clone(),
                executable: function.executable.clone(),
                executable_bytes: function.executable_bytes,
                script: function.script,
                samples,
            })
            .collect();
        BenchResults::new(
            self.name.clone(),
            functions,
            self.baseline.map(|i| self.functions[i].label.clone()),
        )
    }

    /// How many segment documents reached the X-Ray daemon stand-in (`None` without that fixture).
    #[must_use]
    pub fn xray_documents(&self) -> Option<u64> {
        self.fixtures.xray_documents()
    }

    /// Stops the fixtures.
    pub async fn shutdown(self) {
        self.fixtures.shutdown().await;
    }
}

fn check_answer(
    function: &ReadyFunction,
    report: &InvocationReport,
    invocation: &'static str,
) -> Result<(), BenchError> {
    let Outcome::Success { body } = &report.outcome else {
        return Err(failure(
            function,
            report,
            invocation,
            report.outcome.to_string(),
        ));
    };
    // An API Gateway proxy answer with a 5xx status is an error path, not the function's work.
    if let Ok(answer) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(status) = answer["statusCode"].as_u64()
        && status >= 500
    {
        return Err(failure(
            function,
            report,
            invocation,
            format!("it answered statusCode {status}"),
        ));
    }
    if let Some(check) = &function.check {
        check(body).map_err(|reason| {
            failure(
                function,
                report,
                invocation,
                format!("its check refused the answer: {reason}"),
            )
        })?;
    }
    Ok(())
}

fn failure(
    function: &ReadyFunction,
    report: &InvocationReport,
    invocation: &'static str,
    reason: String,
) -> BenchError {
    let lines: Vec<&str> = report.logs.iter().map(|l| l.text.as_str()).collect();
    let logs = lines[lines.len().saturating_sub(LOG_LINES_SHOWN)..].join("\n");
    BenchError::FunctionFailed {
        label: function.label.clone(),
        invocation,
        reason,
        logs,
    }
}
