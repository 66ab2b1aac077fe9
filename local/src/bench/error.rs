//! Why a cold-start benchmark could not run.

use std::path::PathBuf;

/// Why a cold-start benchmark could not be prepared or a sample could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The benchmark names no function.
    #[error(
        "the benchmark names no function: add one with `.function(...)` (or `--bin` / `--package`)"
    )]
    NoFunction,
    /// Two functions have the same label.
    #[error("two functions are labelled {0:?}: give one a `.label(...)`")]
    DuplicateLabel(String),
    /// The baseline names no function of the benchmark.
    #[error("the baseline {0:?} is not one of the benchmark's functions")]
    UnknownBaseline(String),
    /// More than one function is marked as the baseline.
    #[error("more than one function is marked as the baseline ({0} and {1})")]
    TwoBaselines(String, String),
    /// Fewer samples than criterion's minimum were asked for.
    #[error("at least {min} samples per function are needed, {asked} were asked for")]
    TooFewSamples {
        /// What was asked for.
        asked: usize,
        /// The minimum (criterion's).
        min: usize,
    },
    /// The event file could not be read.
    #[error("could not read the event file {}", path.display())]
    EventFile {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The event is not JSON.
    #[error("{what} is not valid JSON: {detail}")]
    MalformedEvent {
        /// Which event: `the event`, `the event file events/get.json`, `the event of orders-api`.
        what: String,
        /// serde_json's description of the fault.
        detail: String,
    },
    /// A function's executable does not exist or cannot be run.
    #[error("{label}")]
    Executable {
        /// The function.
        label: String,
        /// The emulator's refusal.
        #[source]
        source: crate::emulator::EmulatorError,
    },
    /// A package could not be built.
    #[error("{label}: the release build failed")]
    Build {
        /// The function.
        label: String,
        /// cargo's failure.
        #[source]
        source: crate::cargo_build::BuildError,
    },
    /// A fixture (moto, the JWKS server, the X-Ray daemon stand-in) did not start or its set-up failed.
    #[error("the {fixture} fixture did not start: {detail}")]
    Fixture {
        /// Which fixture.
        fixture: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// The emulator could not run an invocation (not the function's fault).
    #[error("{label}: the emulator could not invoke it")]
    Emulator {
        /// The function.
        label: String,
        /// The emulator's error.
        #[source]
        source: crate::emulator::EmulatorError,
    },
    /// The function failed: an init failure, a crash, a handler error, a timeout, or an answer its
    /// check refused. `logs` holds what it printed.
    #[error("{label} failed on its {invocation} invocation: {reason}{}", if .logs.is_empty() { String::new() } else { format!("\nits output:\n{}", .logs) })]
    FunctionFailed {
        /// The function.
        label: String,
        /// `cold` or `warm`.
        invocation: &'static str,
        /// What went wrong.
        reason: String,
        /// The last lines the function printed.
        logs: String,
    },
    /// The results could not be written.
    #[error("could not write the results to {}", path.display())]
    Save {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl BenchError {
    /// Whether the user's input is at fault (no function, a missing executable, a malformed event),
    /// as opposed to the function failing or the machine refusing.
    #[must_use]
    pub fn is_input_error(&self) -> bool {
        match self {
            Self::NoFunction
            | Self::DuplicateLabel(_)
            | Self::UnknownBaseline(_)
            | Self::TwoBaselines(..)
            | Self::TooFewSamples { .. }
            | Self::EventFile { .. }
            | Self::MalformedEvent { .. } => true,
            Self::Executable { source, .. } => source.is_caller_error(),
            _ => false,
        }
    }

    /// Whether the function itself failed (init failure, crash, handler error, wrong answer).
    #[must_use]
    pub fn is_function_failure(&self) -> bool {
        matches!(self, Self::FunctionFailed { .. })
    }
}
