//! The Lambda Runtime API emulator: runs a function's bootstrap the way Lambda does.
//!
//! [`Emulator::invoke`] spawns the bootstrap on the first call (a cold start) with the environment
//! Lambda gives a custom runtime, serves it the Runtime API on a loopback port, hands it the event and
//! waits for its answer. Every invocation returns an [`InvocationReport`] with Lambda's `REPORT`
//! figures and a typed [`Outcome`]: a response, a handler error, an init failure, a crash or a
//! timeout. A crash or a timeout kills the process, and the next invocation is a cold start again.
//!
//! ```no_run
//! use std::time::Duration;
//! use lamina_local::emulator::{Emulator, FunctionConfig, InvocationRequest, Outcome};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = FunctionConfig::new("target/debug/bootstrap").timeout(Duration::from_secs(5));
//! let emulator = Emulator::start(config).await?;
//!
//! let first = emulator.invoke(r#"{"n": 1}"#).await?;
//! assert!(first.cold_start && first.init_duration.is_some());
//!
//! let second = emulator
//!     .invoke(InvocationRequest::new(r#"{"n": 2}"#).trace_header("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"))
//!     .await?;
//! match &second.outcome {
//!     Outcome::Success { body } => println!("{}", String::from_utf8_lossy(body)),
//!     other => eprintln!("{other}"),
//! }
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! The emulator can also be invoked over HTTP at the Runtime Interface Emulator's path, see
//! [`InvokeEndpoint`].

mod config;
mod environment;
mod error;
mod facade;
mod invocation;
mod invoke_endpoint;
mod report;
mod request;
mod runtime_api;

use std::sync::Arc;

use tokio::sync::Mutex;

pub use config::{FunctionConfig, LogFormat, MAX_PAYLOAD_BYTES, MAX_STREAMED_RESPONSE_BYTES};
pub use error::EmulatorError;
pub use invoke_endpoint::InvokeEndpoint;
pub use report::{InvocationReport, LogLine, Outcome};
pub use request::InvocationRequest;

use environment::ExecutionEnvironment;

/// A function under emulation: its configuration and, between invocations, its warm execution environment.
///
/// Invocations are served one at a time, as one Lambda execution environment serves them; concurrent
/// callers wait their turn.
#[derive(Debug, Clone)]
pub struct Emulator {
    inner: Arc<EmulatorInner>,
}

#[derive(Debug)]
struct EmulatorInner {
    config: FunctionConfig,
    environment: Mutex<Option<ExecutionEnvironment>>,
}

impl Emulator {
    /// Checks that the bootstrap exists and is executable. Nothing is spawned until the first invocation.
    ///
    /// # Errors
    /// [`EmulatorError::MissingExecutable`] or [`EmulatorError::NotExecutable`].
    pub async fn start(mut config: FunctionConfig) -> Result<Self, EmulatorError> {
        check_executable(&config.executable)?;
        // The process runs in the executable's folder (LAMBDA_TASK_ROOT); a relative path would be
        // looked up from there, so resolve it now.
        config.executable = std::fs::canonicalize(&config.executable)
            .map_err(|_| EmulatorError::MissingExecutable(config.executable.clone()))?;
        Ok(Self {
            inner: Arc::new(EmulatorInner {
                config,
                environment: Mutex::new(None),
            }),
        })
    }

    /// The function's configuration.
    #[must_use]
    pub fn config(&self) -> &FunctionConfig {
        &self.inner.config
    }

    /// Runs one invocation and reports how it went.
    ///
    /// A function that fails (error, panic, crash, timeout, init failure) is reported in
    /// [`InvocationReport::outcome`], not as an `Err`.
    ///
    /// # Errors
    /// Bad input (a payload that is not JSON or is over 6 MB, a malformed trace header or context),
    /// or a machine that cannot spawn the process or open a loopback port.
    pub async fn invoke(
        &self,
        request: impl Into<InvocationRequest>,
    ) -> Result<InvocationReport, EmulatorError> {
        let request = request.into();
        let incoming_header = request.validate()?;
        // The invocation runs to its end in its own task even if the caller gives up on it (an HTTP
        // client that disconnects, a timeout around this call), so the execution environment is
        // never left with an event half delivered.
        let inner = Arc::clone(&self.inner);
        let task = tokio::spawn(async move {
            let mut slot = inner.environment.lock().await;
            invocation::run(&inner.config, &mut slot, request, incoming_header).await
        });
        match task.await {
            Ok(result) => result,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => Err(EmulatorError::Cancelled),
        }
    }

    /// Whether a warm execution environment, its process still alive, is waiting for the next invocation.
    pub async fn is_warm(&self) -> bool {
        let mut slot = self.inner.environment.lock().await;
        slot.as_mut()
            .is_some_and(|environment| matches!(environment.child.try_wait(), Ok(None)))
    }

    /// Kills the execution environment, if any. The next invocation is a cold start.
    pub async fn shutdown(&self) {
        if let Some(mut environment) = self.inner.environment.lock().await.take() {
            environment.kill().await;
        }
    }
}

fn check_executable(path: &std::path::Path) -> Result<(), EmulatorError> {
    use std::os::unix::fs::PermissionsExt as _;
    let metadata = std::fs::metadata(path)
        .map_err(|_| EmulatorError::MissingExecutable(path.to_path_buf()))?;
    if !metadata.is_file() || metadata.permissions().mode() & 0o111 == 0 {
        return Err(EmulatorError::NotExecutable(path.to_path_buf()));
    }
    Ok(())
}
