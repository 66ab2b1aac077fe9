//! The Lambda Runtime API emulator: runs a function's bootstrap the way Lambda does.
//!
//! [`Emulator::invoke`] spawns the bootstrap on the first call (a cold start) with the environment
//! Lambda gives a custom runtime, serves it the Runtime API on a loopback port, hands it the event and
//! waits for its answer. Every invocation returns an [`InvocationReport`] with Lambda's `REPORT`
//! figures, the execution environment that served it, and a typed [`Outcome`]: a response, a handler
//! error, an init failure, a crash or a timeout. A crash or a timeout kills the process, and the next
//! invocation that needs that environment starts a new one.
//!
//! Like Lambda, the emulator scales out: concurrent invocations each get an execution environment (a
//! warm idle one, or a new one, a cold start) up to [`FunctionConfig::concurrency`]; beyond that a
//! synchronous invocation is throttled with [`EmulatorError::TooManyRequests`], while
//! [`Emulator::invoke_queued`] (an event source) waits for one. Environments idle for
//! [`FunctionConfig::idle_timeout`] are shut down: SIGTERM, then SIGKILL after
//! [`FunctionConfig::shutdown_grace`]. With [`FunctionConfig::per_environment_concurrency`] above 1,
//! one environment serves several invocations at once, as on Lambda Managed Instances.
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

mod asynchronous;
mod config;
mod environment;
mod error;
mod facade;
mod invocation;
mod invoke_endpoint;
mod pool;
mod report;
mod request;
mod runtime_api;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::task::{JoinHandle, JoinSet};

pub use asynchronous::{AsyncConfig, FailedEvent, MAX_RETRY_ATTEMPTS, OnFailure};
pub use config::{
    DEFAULT_CONCURRENCY, DEFAULT_IDLE_TIMEOUT, DEFAULT_SHUTDOWN_GRACE, FunctionConfig, LogFormat,
    MAX_PAYLOAD_BYTES, MAX_STREAMED_RESPONSE_BYTES,
};
pub use error::EmulatorError;
pub use invoke_endpoint::InvokeEndpoint;
pub use report::{InvocationReport, LogLine, Outcome};
pub use request::InvocationRequest;

use environment::ExecutionEnvironment;
use pool::{Checkout, Pool};

/// A function under emulation: its configuration and its execution environments.
///
/// Clones share the environments. Each environment serves one invocation at a time, as a Lambda
/// execution environment does (or up to [several](FunctionConfig::per_environment_concurrency), as
/// on Lambda Managed Instances); concurrent invocations beyond that get environments of their own,
/// up to the function's [concurrency](FunctionConfig::concurrency).
#[derive(Debug, Clone)]
pub struct Emulator {
    inner: Arc<EmulatorInner>,
}

#[derive(Debug)]
struct EmulatorInner {
    config: FunctionConfig,
    pool: Pool,
    reaper: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// Asynchronous events queued or being tried.
    pending_events: AtomicUsize,
}

impl Drop for EmulatorInner {
    fn drop(&mut self) {
        if let Some(reaper) = self
            .reaper
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            reaper.abort();
        }
        // The environments' processes are killed as they drop (no grace: use `shutdown` for that).
    }
}

/// How many execution environments a function has at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnvironmentCounts {
    /// Environments that exist: starting, busy or idle.
    pub running: usize,
    /// Of those, the idle ones whose process is alive (warm).
    pub idle: usize,
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
        let inner = Arc::new(EmulatorInner {
            pool: Pool::new(config.concurrency, config.per_environment_concurrency),
            config,
            reaper: std::sync::Mutex::new(None),
            pending_events: AtomicUsize::new(0),
        });
        let reaper = tokio::spawn(reap_idle(Arc::downgrade(&inner)));
        *inner
            .reaper
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reaper);
        Ok(Self { inner })
    }

    /// The function's configuration.
    #[must_use]
    pub fn config(&self) -> &FunctionConfig {
        &self.inner.config
    }

    /// Runs one synchronous invocation (`RequestResponse`) and reports how it went.
    ///
    /// A function that fails (error, panic, crash, timeout, init failure) is reported in
    /// [`InvocationReport::outcome`], not as an `Err`.
    ///
    /// # Errors
    /// Bad input (a payload that is not JSON or is over 6 MB, a malformed trace header or context),
    /// [`EmulatorError::TooManyRequests`] when every environment the function may have is busy, or a
    /// machine that cannot spawn the process or open a loopback port.
    pub async fn invoke(
        &self,
        request: impl Into<InvocationRequest>,
    ) -> Result<InvocationReport, EmulatorError> {
        self.run(request.into(), false).await
    }

    /// Runs one invocation as an event source (a queue poller, Lambda's asynchronous queue) does:
    /// when every environment is busy, it waits for one instead of being throttled.
    ///
    /// # Errors
    /// As [`Emulator::invoke`], except [`EmulatorError::TooManyRequests`].
    pub async fn invoke_queued(
        &self,
        request: impl Into<InvocationRequest>,
    ) -> Result<InvocationReport, EmulatorError> {
        self.run(request.into(), true).await
    }

    async fn run(
        &self,
        request: InvocationRequest,
        wait_for_capacity: bool,
    ) -> Result<InvocationReport, EmulatorError> {
        let incoming_header = request.validate()?;
        let inner = Arc::clone(&self.inner);
        let (checkout, ticket) = if wait_for_capacity {
            inner.pool.checkout_waiting().await
        } else {
            inner.pool.checkout()
        };
        let cold = matches!(checkout, Checkout::Cold(_));
        let assigned = match checkout {
            Checkout::Warm(environment) => invocation::Assigned::Warm(environment),
            Checkout::Cold(id) => invocation::Assigned::Cold(id),
            Checkout::Throttled => {
                return Err(EmulatorError::TooManyRequests {
                    concurrency: inner.pool.concurrency(),
                });
            }
        };
        // The invocation runs to its end in its own task even if the caller gives up on it (an HTTP
        // client that disconnects, a timeout around this call), so the execution environment is
        // never left with an event half delivered.
        let task = tokio::spawn(async move {
            let (result, used) =
                invocation::run(&inner.config, assigned, request, incoming_header, |ready| {
                    inner.pool.register(ready, ticket)
                })
                .await;
            match used {
                Some(environment) => {
                    if let Some(retired) = inner.pool.release(&environment) {
                        drop(environment);
                        retired.stop(inner.config.shutdown_grace).await;
                        inner.pool.gone();
                    }
                }
                None if cold => inner.pool.start_failed(),
                None => {}
            }
            result
        });
        match task.await {
            Ok(result) => result,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => Err(EmulatorError::Cancelled),
        }
    }

    /// Queues an asynchronous invocation (`Event`) and returns its request id at once, as Lambda's
    /// Invoke API answers `202`. The event waits for a free environment (it is never throttled), is
    /// tried again on failure up to [`AsyncConfig::max_retry_attempts`] times with a doubling delay,
    /// and then goes to the [on-failure destination](AsyncConfig::on_failure). Every attempt keeps
    /// the request id; each is logged with its attempt number and the event's age.
    ///
    /// # Errors
    /// Bad input, checked before anything is queued: a payload that is not JSON or is too large, a
    /// malformed trace header or context.
    pub fn invoke_async(
        &self,
        request: impl Into<InvocationRequest>,
    ) -> Result<String, EmulatorError> {
        let mut request = request.into();
        request.validate()?;
        let request_id = invocation::new_request_id();
        request.request_id = Some(request_id.clone());
        self.inner.pending_events.fetch_add(1, Ordering::SeqCst);
        let emulator = self.clone();
        tokio::spawn(async move {
            emulator.run_event(request, Instant::now()).await;
            emulator.inner.pending_events.fetch_sub(1, Ordering::SeqCst);
        });
        Ok(request_id)
    }

    /// How many asynchronous events are queued or being tried (waiting for a retry included).
    #[must_use]
    pub fn pending_events(&self) -> usize {
        self.inner.pending_events.load(Ordering::SeqCst)
    }

    async fn run_event(&self, request: InvocationRequest, queued_at: Instant) {
        let config = &self.inner.config;
        let settings = &config.asynchronous;
        let request_id = request.request_id.clone().unwrap_or_default();
        let mut attempts: Vec<InvocationReport> = Vec::new();
        let condition = loop {
            if queued_at.elapsed() > settings.max_event_age {
                break asynchronous::Condition::EventAgeExceeded;
            }
            let report = match self.invoke_queued(request.clone()).await {
                Ok(report) => report,
                Err(error) => {
                    tracing::error!(%request_id, %error, "the asynchronous event could not be run");
                    return;
                }
            };
            tracing::info!(
                %request_id,
                attempt = attempts.len() + 1,
                age_ms = queued_at.elapsed().as_millis(),
                outcome = %report.outcome,
                "asynchronous invocation attempt: {report}"
            );
            let succeeded = report.outcome.is_success();
            attempts.push(report);
            if succeeded {
                return;
            }
            let retries = u32::try_from(attempts.len() - 1).unwrap_or(u32::MAX);
            if retries >= settings.max_retry_attempts {
                break asynchronous::Condition::RetriesExhausted;
            }
            tokio::time::sleep(asynchronous::backoff(settings.retry_delay, retries + 1)).await;
        };
        let failed = asynchronous::failed_event(
            &config.function_arn(),
            &config.version,
            &request.payload,
            queued_at,
            condition,
            attempts,
            request_id,
        );
        asynchronous::give_up(settings.on_failure.as_ref(), failed).await;
    }

    /// Whether a warm execution environment, its process still alive, is waiting for the next invocation.
    pub async fn is_warm(&self) -> bool {
        self.inner.pool.counts().1 > 0
    }

    /// How many execution environments exist now, and how many of them are idle.
    #[must_use]
    pub fn environments(&self) -> EnvironmentCounts {
        let (running, idle) = self.inner.pool.counts();
        EnvironmentCounts { running, idle }
    }

    /// Shuts every execution environment down (SIGTERM, then SIGKILL after the grace period): the
    /// idle ones now, the busy ones when their invocation ends, which this waits for. The next
    /// invocation is a cold start.
    pub async fn shutdown(&self) {
        let idle = self.inner.pool.retire_all();
        stop_all(&self.inner, idle).await;
        self.inner.pool.wait_until_empty().await;
    }
}

/// Shuts `environments` down side by side, each with the function's grace period.
async fn stop_all(inner: &Arc<EmulatorInner>, environments: Vec<Arc<ExecutionEnvironment>>) {
    let mut stopping = JoinSet::new();
    for environment in environments {
        let inner = Arc::clone(inner);
        stopping.spawn(async move {
            environment.stop(inner.config.shutdown_grace).await;
            inner.pool.gone();
        });
    }
    while stopping.join_next().await.is_some() {}
}

/// Shuts down environments idle for longer than the idle timeout, until the emulator is dropped.
async fn reap_idle(inner: Weak<EmulatorInner>) {
    let Some(idle_timeout) = inner.upgrade().map(|inner| inner.config.idle_timeout) else {
        return;
    };
    let every = (idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    loop {
        tokio::time::sleep(every).await;
        // Hold the emulator only while reaping, so that dropping its last handle ends this task.
        let Some(inner) = inner.upgrade() else { return };
        let expired = inner.pool.take_expired(idle_timeout);
        if !expired.is_empty() {
            tracing::debug!(
                count = expired.len(),
                function = %inner.config.function_name,
                "shutting down idle execution environments"
            );
            stop_all(&inner, expired).await;
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
