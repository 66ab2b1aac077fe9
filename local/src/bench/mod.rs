//! Cold-start benchmarks of your own functions: each sample is a fresh process started by the
//! [emulator](crate::emulator), invoked once cold and once warm, with its peak memory and its
//! executable's size beside the timings.
//!
//! Name the functions (a file, or a package of your workspace built in release), the event, the
//! environment and the [fixtures](Fixture) they talk to at init. [`PreparedBench::run_rounds`] takes
//! samples round-robin over the functions and returns [`BenchResults`]: a table with medians,
//! quartiles and ratios to a baseline, and JSON for CI. With the `criterion` feature,
//! `ColdStartBench::criterion_main` also makes criterion benchmarks of init, first response and
//! warm invocation in which every criterion sample is a fresh process (see the `criterion` module).
//!
//! ```no_run
//! use lamina_local::bench::{BenchFunction, ColdStartBench, Fixture};
//!
//! # async fn demo() -> Result<(), lamina_local::bench::BenchError> {
//! let bench = ColdStartBench::new("orders-api")
//!     .function(BenchFunction::package("orders-api").baseline())
//!     .function(BenchFunction::path("python/bootstrap").label("python").handler("handler.handler"))
//!     .event_file("events/get-order.json")
//!     .env("TABLE_NAME", "orders")
//!     .fixture(Fixture::moto())
//!     .samples(30)
//!     .prepare()
//!     .await?;
//! let results = bench.run_rounds(bench.samples(), true).await?;
//! println!("{results}");
//! results.save("target/cold-start.json".as_ref())?;
//! bench.shutdown().await;
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "criterion")]
mod criterion;
mod error;
mod fixtures;
mod function;
mod results;
mod run;
mod stats;

use std::path::PathBuf;
use std::time::Duration;

#[cfg(feature = "criterion")]
pub use self::criterion::RESULTS_ENV;
pub use error::BenchError;
pub use fixtures::{Fixture, JWKS_PATH};
pub use function::BenchFunction;
pub use results::{BenchResults, FigureSummary, FunctionResults, Metric, Sample};
pub use run::PreparedBench;
pub use stats::{Ratio, Spread};

/// The fewest samples per function a benchmark takes: criterion's own minimum sample size.
pub const MIN_SAMPLES: usize = 10;
/// Samples per function unless [`ColdStartBench::samples`] says otherwise.
pub const DEFAULT_SAMPLES: usize = 20;

#[derive(Debug, Clone)]
enum Event {
    Json(Vec<u8>),
    File(PathBuf),
}

/// A cold-start benchmark: the functions, the event they are sent, their environment and fixtures.
///
/// Every function runs with 1024 MB configured, a 30 s timeout (init and invocation), JSON logs,
/// the fixtures' variables, then the benchmark's, then its own.
#[derive(Debug, Clone)]
pub struct ColdStartBench {
    name: String,
    functions: Vec<BenchFunction>,
    event: Event,
    env: Vec<(String, String)>,
    fixtures: Vec<Fixture>,
    baseline: Option<String>,
    samples: usize,
    memory_mb: u32,
    timeout: Duration,
}

impl ColdStartBench {
    /// A benchmark called `name` (in the table and the JSON), with no function yet and the event `{}`.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            functions: Vec::new(),
            event: Event::Json(b"{}".to_vec()),
            env: Vec::new(),
            fixtures: Vec::new(),
            baseline: None,
            samples: DEFAULT_SAMPLES,
            memory_mb: 1024,
            timeout: Duration::from_secs(30),
        }
    }

    /// Adds a function.
    #[must_use]
    pub fn function(mut self, function: BenchFunction) -> Self {
        self.functions.push(function);
        self
    }

    /// The event every function is sent (JSON), unless it has its own.
    #[must_use]
    pub fn event(mut self, json: impl Into<Vec<u8>>) -> Self {
        self.event = Event::Json(json.into());
        self
    }

    /// The event, read from this file when the benchmark is prepared.
    #[must_use]
    pub fn event_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.event = Event::File(path.into());
        self
    }

    /// An environment variable for every function.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Environment variables for every function.
    #[must_use]
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// A server the functions need at init, started once before the first sample.
    #[must_use]
    pub fn fixture(mut self, fixture: Fixture) -> Self {
        self.fixtures.push(fixture);
        self
    }

    /// Marks the function with this label as the baseline (as [`BenchFunction::baseline`] does).
    #[must_use]
    pub fn baseline(mut self, label: impl Into<String>) -> Self {
        self.baseline = Some(label.into());
        self
    }

    /// Samples (fresh processes) per function and per criterion benchmark; at least [`MIN_SAMPLES`].
    #[must_use]
    pub fn samples(mut self, samples: usize) -> Self {
        self.samples = samples;
        self
    }

    /// The memory configured for every function (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`), 1024 MB by default.
    #[must_use]
    pub fn memory_mb(mut self, memory_mb: u32) -> Self {
        self.memory_mb = memory_mb;
        self
    }

    /// The init and invocation timeout of every function, 30 s by default.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}
