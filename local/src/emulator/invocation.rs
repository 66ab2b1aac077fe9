//! One invocation from start to report: cold start if needed, hand-over, waiting, and clean-up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::config::FunctionConfig;
use super::environment::ExecutionEnvironment;
use super::error::EmulatorError;
use super::facade::{self, Timeline};
use super::report::{InvocationReport, Outcome, billed};
use super::request::InvocationRequest;
use super::runtime_api::{Delivery, InitSignals, RuntimeReply};
use crate::trace_header::TraceHeader;

/// How the wait for the runtime's answer ended.
enum Ending {
    Reply(RuntimeReply),
    Exited(String),
    TimedOut,
}

/// The environment an invocation was given by the pool.
#[derive(Debug)]
pub(super) enum Assigned {
    /// A warm environment with room for it.
    Warm(Arc<ExecutionEnvironment>),
    /// Room for a new environment with this id, which the invocation starts (a cold start).
    Cold(u64),
}

/// Runs one invocation in the `assigned` environment, starting it first on a cold start. `ready`
/// is told about a new environment once its init has succeeded, before the event is handed over.
///
/// Returns the result and the environment the invocation used, if it got as far as a ready one
/// (the caller gives it back to the pool); `None` means a cold start that never became ready.
pub(super) async fn run(
    config: &FunctionConfig,
    assigned: Assigned,
    request: InvocationRequest,
    incoming_header: Option<TraceHeader>,
    ready: impl FnOnce(Arc<ExecutionEnvironment>),
) -> (
    Result<InvocationReport, EmulatorError>,
    Option<Arc<ExecutionEnvironment>>,
) {
    let request_id = request.request_id.clone().unwrap_or_else(new_request_id);
    let trace = facade::plan(config, request.trace_header.as_deref(), incoming_header);
    let mut timeline = Timeline::starting_now();

    let (environment, init_duration) = match assigned {
        Assigned::Warm(environment) => (environment, None),
        Assigned::Cold(environment_id) => {
            let environment = match ExecutionEnvironment::spawn(config, environment_id).await {
                Ok(environment) => Arc::new(environment),
                Err(error) => return (Err(error), None),
            };
            let Some(signals) = environment.take_init_signals() else {
                // A fresh environment always has its signals; fail safe rather than hang.
                environment.kill().await;
                return (
                    Err(EmulatorError::RuntimeApi(std::io::Error::other(
                        "a new execution environment had no init signals",
                    ))),
                    None,
                );
            };
            let init = wait_for_init(&environment, signals, config.init_timeout).await;
            timeline.init = Some((environment.spawned_at, Instant::now()));
            match init {
                Ok(duration) => {
                    ready(Arc::clone(&environment));
                    (environment, Some(duration))
                }
                Err(outcome) => {
                    let init_elapsed = environment.spawned_at.elapsed();
                    environment.kill().await;
                    let report = InvocationReport {
                        request_id,
                        outcome,
                        cold_start: true,
                        environment: environment.id,
                        log_stream: environment.log_stream.clone(),
                        init_duration: Some(init_elapsed),
                        duration: Duration::ZERO,
                        billed_duration: billed(init_elapsed),
                        memory_size_mb: config.memory_mb,
                        max_memory_used_mb: environment.max_memory_used_mb(),
                        trace_header: trace.function_header.clone(),
                        logs: environment.logs.drain(),
                    };
                    facade::emit(config, &trace, &timeline, &report.outcome);
                    return (Ok(report), None);
                }
            }
        }
    };
    let cold_start = init_duration.is_some();

    let (handed_over_tx, handed_over_rx) = oneshot::channel();
    let (reply_tx, reply_rx) = oneshot::channel();
    let delivery = Delivery {
        request_id: request_id.clone(),
        payload: request.payload,
        function_arn: config.function_arn(),
        trace_header: trace.function_header.clone(),
        client_context: request.client_context,
        cognito_identity: request.cognito_identity,
        timeout: config.timeout,
        handed_over: handed_over_tx,
        reply: reply_tx,
    };
    if !environment.api.deliver(delivery) {
        let error =
            EmulatorError::RuntimeApi(std::io::Error::other("the Runtime API server stopped"));
        return (Err(error), Some(environment));
    }
    let queued_at = Instant::now();
    let (started, ending) = wait_for_answer(
        &environment,
        handed_over_rx,
        reply_rx,
        config.timeout,
        queued_at,
    )
    .await;
    let ended = Instant::now();
    timeline.invocation = Some((started, ended));
    let duration = ended.saturating_duration_since(started);

    let max_memory_used_mb = environment.max_memory_used_mb();
    let outcome = match ending {
        Ending::Reply(RuntimeReply::Response(body)) => Outcome::Success { body },
        Ending::Reply(RuntimeReply::Error {
            error_type,
            error_message,
        }) => Outcome::HandlerError {
            error_type,
            error_message,
        },
        Ending::Exited(exit) => {
            environment.drain_logs_after_exit().await;
            Outcome::Crashed { exit }
        }
        Ending::TimedOut => {
            // Lambda throws the environment away (with every invocation it was serving); the next
            // invocation starts a new one.
            environment.kill().await;
            Outcome::TimedOut {
                timeout: config.timeout,
            }
        }
    };
    let report = InvocationReport {
        request_id,
        outcome,
        cold_start,
        environment: environment.id,
        log_stream: environment.log_stream.clone(),
        init_duration,
        duration,
        billed_duration: billed(duration + init_duration.unwrap_or_default()),
        memory_size_mb: config.memory_mb,
        max_memory_used_mb,
        trace_header: trace.function_header.clone(),
        logs: environment.logs.drain(),
    };
    facade::emit(config, &trace, &timeline, &report.outcome);
    (Ok(report), Some(environment))
}

/// Waits for the end of init: the first `/next` (success), an `/init/error`, an exit, or the init timeout.
async fn wait_for_init(
    environment: &ExecutionEnvironment,
    signals: InitSignals,
    init_timeout: Duration,
) -> Result<Duration, Outcome> {
    let spawned_at = environment.spawned_at;
    let deadline = tokio::time::Instant::from_std(spawned_at + init_timeout);
    let InitSignals {
        first_next,
        init_error,
    } = signals;
    tokio::select! {
        biased;
        Ok(at) = first_next => Ok(at.saturating_duration_since(spawned_at)),
        Ok(report) = init_error => Err(Outcome::InitFailed {
            error_type: report.error_type,
            error_message: report.error_message,
        }),
        exit = environment.exited() => Err(Outcome::InitFailed {
            error_type: "Runtime.ExitError".to_owned(),
            error_message: format!("Runtime exited during init: {exit}"),
        }),
        () = tokio::time::sleep_until(deadline) => Err(Outcome::InitFailed {
            error_type: "Sandbox.Timedout".to_owned(),
            error_message: format!("Init phase timed out after {:.2} seconds", init_timeout.as_secs_f64()),
        }),
    }
}

/// Waits for the runtime to take the event and answer it. Returns when the event was handed over
/// (or `queued_at` if it never was) and how the wait ended.
async fn wait_for_answer(
    environment: &ExecutionEnvironment,
    handed_over: oneshot::Receiver<Instant>,
    reply: oneshot::Receiver<RuntimeReply>,
    timeout: Duration,
    queued_at: Instant,
) -> (Instant, Ending) {
    // A runtime that never asks for the event is as stuck as one that never answers: the timeout
    // covers both.
    let pickup_deadline = tokio::time::Instant::from_std(queued_at + timeout);
    let started = tokio::select! {
        biased;
        Ok(at) = handed_over => at,
        exit = environment.exited() => return (queued_at, Ending::Exited(exit)),
        () = tokio::time::sleep_until(pickup_deadline) => return (queued_at, Ending::TimedOut),
    };
    let deadline = tokio::time::Instant::from_std(started + timeout);
    let ending = tokio::select! {
        biased;
        Ok(answer) = reply => Ending::Reply(answer),
        exit = environment.exited() => Ending::Exited(exit),
        () = tokio::time::sleep_until(deadline) => Ending::TimedOut,
    };
    (started, ending)
}

/// A request id in the UUID v4 shape Lambda uses.
pub(super) fn new_request_id() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_uuid_v4() {
        let id = new_request_id();
        let groups: Vec<&str> = id.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12],
            "{id}"
        );
        assert!(groups[2].starts_with('4'), "{id}");
        assert!(
            matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
            "{id}"
        );
        assert_ne!(new_request_id(), id);
    }
}
