//! Why the emulator could not run an invocation at all. (A function that fails is not an emulator
//! error: it is an [`Outcome`](super::Outcome) of a successful invocation.)

use std::path::PathBuf;

/// Why the emulator could not start or could not run an invocation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The bootstrap executable does not exist.
    #[error("the function executable {} does not exist", .0.display())]
    MissingExecutable(PathBuf),
    /// The bootstrap path exists but is not an executable file.
    #[error("{} is not an executable file", .0.display())]
    NotExecutable(PathBuf),
    /// The bootstrap could not be spawned.
    #[error("could not start {}", executable.display())]
    Spawn {
        /// The executable that was run.
        executable: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The Runtime API server could not listen on loopback.
    #[error("could not start the Runtime API server on 127.0.0.1")]
    RuntimeApi(#[source] std::io::Error),
    /// The invoke endpoint could not listen on the requested address.
    #[error("could not listen for invocations on {address}")]
    Listen {
        /// The address asked for.
        address: String,
        /// The operating system's error (for example, the address is in use).
        #[source]
        source: std::io::Error,
    },
    /// The payload is not JSON. Lambda answers `InvalidRequestContentException`.
    #[error("the event payload is not valid JSON: {0}")]
    InvalidPayload(String),
    /// The payload is larger than Lambda's 6 MB limit. Lambda answers `RequestTooLargeException`.
    #[error("the event payload is {size} bytes; Lambda accepts at most {limit} bytes")]
    PayloadTooLarge {
        /// The payload's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The trace header the caller passed is malformed.
    #[error("invalid X-Amzn-Trace-Id header")]
    InvalidTraceHeader(#[from] crate::trace_header::TraceHeaderError),
    /// The invocation's task was cancelled because the async runtime is shutting down.
    #[error("the invocation was cancelled: the async runtime is shutting down")]
    Cancelled,
    /// Every execution environment the function may run is busy: Lambda throttles a synchronous
    /// invocation with `TooManyRequestsException` (429), reason
    /// `ReservedFunctionConcurrentInvocationLimitExceeded`.
    #[error("Rate Exceeded: all {concurrency} execution environments of the function are busy")]
    TooManyRequests {
        /// The function's concurrency.
        concurrency: usize,
    },
    /// The client context or Cognito identity the caller passed is not a JSON object.
    #[error("the {what} is not a JSON object: {detail}")]
    InvalidContext {
        /// `client context` or `Cognito identity`.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

impl EmulatorError {
    /// Whether the caller's input (payload, header, context, executable path) is at fault, as
    /// opposed to the machine (ports, spawning).
    #[must_use]
    pub fn is_caller_error(&self) -> bool {
        matches!(
            self,
            Self::MissingExecutable(_)
                | Self::NotExecutable(_)
                | Self::InvalidPayload(_)
                | Self::PayloadTooLarge { .. }
                | Self::InvalidTraceHeader(_)
                | Self::InvalidContext { .. }
        )
    }
}
