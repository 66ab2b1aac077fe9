//! The `criterion` feature: a benchmark's `main` that takes the round-robin samples for the table
//! and the JSON, then runs criterion benchmarks of init, first response and warm invocation in which
//! every criterion sample is a fresh process.

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use criterion::{Criterion, SamplingMode};

use super::{BenchError, ColdStartBench, Metric, PreparedBench};

/// The variable that names the JSON results file (default: `<criterion's folder>/lamina-cold-start/<name>.json`).
pub const RESULTS_ENV: &str = "LAMINA_BENCH_RESULTS";

impl ColdStartBench {
    /// The whole `main` of a `harness = false` bench: prepares the benchmark, takes its samples
    /// round-robin, runs criterion's benchmarks (`cold start init`, `cold start first response`,
    /// `cold start warm invocation`, one benchmark per function), prints the table and saves the
    /// JSON results.
    ///
    /// Under `cargo bench` (criterion measuring), each function gets [`ColdStartBench::samples`]
    /// round-robin samples after one discarded round, and each criterion benchmark as many fresh
    /// processes of its own. Under `cargo bench -- --test` or `cargo test --benches`, one round and one
    /// process per criterion benchmark check that every function answers, and nothing is saved.
    ///
    /// Exit codes: 0 success, 1 a function failed, 2 bad input (no function, a malformed event, a
    /// missing executable), 3 anything else (a failed build, a fixture that did not start).
    ///
    /// ```no_run
    /// use lamina_local::bench::{BenchFunction, ColdStartBench};
    ///
    /// fn main() -> std::process::ExitCode {
    ///     ColdStartBench::new("hello")
    ///         .function(BenchFunction::package("hello"))
    ///         .criterion_main()
    /// }
    /// ```
    #[must_use]
    pub fn criterion_main(self) -> ExitCode {
        let mut criterion = Criterion::default().configure_from_args();
        match self.run_with_criterion(&mut criterion) {
            Ok(()) => {
                criterion.final_summary();
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {}", chain(&error));
                ExitCode::from(exit_code(&error))
            }
        }
    }

    /// What [`ColdStartBench::criterion_main`] does, with a [`Criterion`] you configured yourself.
    ///
    /// # Errors
    /// As [`ColdStartBench::prepare`] and [`PreparedBench::sample`]; also [`BenchError::Save`].
    pub fn run_with_criterion(self, criterion: &mut Criterion) -> Result<(), BenchError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| BenchError::Fixture {
                fixture: "async runtime",
                detail: e.to_string(),
            })?;
        let prepared = runtime.block_on(self.prepare())?;
        let outcome = measure(&runtime, &prepared, criterion);
        runtime.block_on(prepared.shutdown());
        outcome
    }
}

fn measure(
    runtime: &tokio::runtime::Runtime,
    prepared: &PreparedBench,
    criterion: &mut Criterion,
) -> Result<(), BenchError> {
    let measuring = measuring();
    // The round-robin samples come first: they check every function before criterion prints a line.
    let rounds = if measuring { prepared.samples() } else { 1 };
    let results = runtime.block_on(prepared.run_rounds(rounds, measuring))?;

    let failure: RefCell<Option<BenchError>> = RefCell::new(None);
    for metric in Metric::ALL {
        let mut group = criterion.benchmark_group(metric.group());
        group
            .sample_size(prepared.samples())
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_millis(1))
            .measurement_time(Duration::from_millis(1));
        for (index, label) in prepared.labels().into_iter().enumerate() {
            group.bench_function(label, |bencher| {
                bencher.iter_custom(|iterations| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        if failure.borrow().is_some() {
                            break;
                        }
                        match runtime.block_on(prepared.sample(index)) {
                            Ok(sample) => total += metric.of(&sample),
                            Err(error) => *failure.borrow_mut() = Some(error),
                        }
                    }
                    total
                });
            });
            if let Some(error) = failure.borrow_mut().take() {
                return Err(error);
            }
        }
        group.finish();
    }

    println!("\n{results}");
    if let Some(documents) = prepared.xray_documents() {
        println!("X-Ray segment documents received by the daemon stand-in: {documents}");
    }
    if measuring {
        let path = results_path(&results.name);
        results.save(&path)?;
        println!("saved {}", path.display());
    }
    Ok(())
}

/// Whether criterion is measuring (`cargo bench`), rather than checking that each benchmark runs
/// (`cargo bench -- --test`, `cargo test --benches`).
fn measuring() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test")
}

/// [`RESULTS_ENV`], else `<criterion's folder>/lamina-cold-start/<name>.json`, criterion's folder
/// found as criterion finds it: `CRITERION_HOME`, `CARGO_TARGET_DIR/criterion`, or the target
/// directory `cargo metadata` names.
fn results_path(name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(RESULTS_ENV) {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR").map(|t| PathBuf::from(t).join("criterion"))
        })
        .or_else(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let output = Command::new(cargo)
                .args(["metadata", "--format-version", "1", "--no-deps"])
                .output()
                .ok()?;
            let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
            metadata["target_directory"]
                .as_str()
                .map(|t| PathBuf::from(t).join("criterion"))
        })
        .unwrap_or_else(|| PathBuf::from("target/criterion"));
    let file: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    home.join("lamina-cold-start").join(format!("{file}.json"))
}

/// The error and its causes, `: `-separated, as anyhow's `{:#}` prints them.
fn chain(error: &BenchError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn exit_code(error: &BenchError) -> u8 {
    if error.is_function_failure() {
        1
    } else if error.is_input_error() {
        2
    } else {
        3
    }
}
