//! A small `lambda_runtime` function whose behaviour each event chooses, so that the emulator's tests
//! and guide can exercise every outcome Lambda knows with one real runtime.
//!
//! Events (JSON objects; keys combine where it makes sense):
//! - `{"echo": VALUE}`: answers `{"echo": VALUE, "request_id", "trace_id", "env_trace_id",
//!   "function_arn", "deadline_ms", "client_context", "identity", "function_name", "memory_mb"}`.
//! - `{"sleep_ms": N}`: sleeps before answering (for timeouts).
//! - `{"allocate_mb": N}`: touches N MB before answering (for the memory report).
//! - `{"error": "MESSAGE"}`: returns an error of type `EchoError`.
//! - `{"panic": "MESSAGE"}`: panics (the runtime reports it as a handler error).
//! - `{"exit": CODE}`: exits the process (a crash, as Lambda sees it).
//! - `{"exit_after_ms": N}`: answers, then exits N ms later, between invocations.
//!
//! Every answer also says which process served it (`pid`), when the handler started and ended
//! (`started_ms`, `ended_ms`, epoch milliseconds), and the most invocations this process has had in
//! its handler at once so far (`in_flight_peak`), so tests can see environments and overlap.
//!
//! The runtime loop is `lambda_runtime::run_concurrent`: with `AWS_LAMBDA_MAX_CONCURRENCY` above 1
//! (Lambda Managed Instances) it keeps that many `/next` long polls open and serves that many
//! events at once; without it, one at a time, as on classic Lambda.
//!
//! Init is steered by environment variables: `ECHO_INIT_SLEEP_MS` sleeps, `ECHO_FAIL_INIT=MESSAGE`
//! exits with an error before the runtime starts, and `ECHO_REPORT_INIT_ERROR=MESSAGE` first reports
//! the failure to the Runtime API's `/init/error`, as runtimes that do so (Python's, Node's) behave.
//!
//! Shutdown: on SIGTERM the function appends `sigterm {pid}` to the file named by
//! `ECHO_SIGTERM_MARKER` (if set), prints `echo: SIGTERM`, and exits 0, unless
//! `ECHO_IGNORE_SIGTERM` is set, in which case it carries on until it is killed.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    if let Some(ms) = std::env::var("ECHO_INIT_SLEEP_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Ok(message) = std::env::var("ECHO_REPORT_INIT_ERROR") {
        report_init_error(&message)?;
        return Err(message.into());
    }
    if let Ok(message) = std::env::var("ECHO_FAIL_INIT") {
        eprintln!("init failed: {message}");
        return Err(message.into());
    }
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = lambda_runtime::run_concurrent(service_fn(handle)) => result,
        _ = sigterm.recv() => {
            on_sigterm()?;
            if std::env::var_os("ECHO_IGNORE_SIGTERM").is_some() {
                std::future::pending::<()>().await;
            }
            Ok(())
        }
    }
}

/// What a function that flushes on shutdown does: leaves a trace that it was told to stop.
fn on_sigterm() -> Result<(), Error> {
    if let Some(path) = std::env::var_os("ECHO_SIGTERM_MARKER") {
        let mut marker = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(marker, "sigterm {}", std::process::id())?;
    }
    println!("echo: SIGTERM");
    Ok(())
}

fn epoch_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Invocations in the handler now, and the most there have been at once.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static IN_FLIGHT_PEAK: AtomicUsize = AtomicUsize::new(0);

/// Counts one invocation in the handler for as long as it lives.
struct InFlight;

impl InFlight {
    fn enter() -> Self {
        let now = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
        IN_FLIGHT_PEAK.fetch_max(now, Ordering::SeqCst);
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let _in_flight = InFlight::enter();
    let (payload, context) = event.into_parts();
    let started_ms = epoch_ms();
    if let Some(ms) = payload.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let mut ballast = Vec::new();
    if let Some(mb) = payload.get("allocate_mb").and_then(Value::as_u64) {
        // Touch every page so the memory is resident, not just reserved.
        ballast = vec![1u8; usize::try_from(mb).unwrap_or(0) * 1024 * 1024];
    }
    if let Some(message) = payload.get("error").and_then(Value::as_str) {
        return Err(Diagnostic {
            error_type: "EchoError".to_owned(),
            error_message: message.to_owned(),
        });
    }
    if let Some(message) = payload.get("panic").and_then(Value::as_str) {
        panic!("{message}");
    }
    if let Some(ms) = payload.get("exit_after_ms").and_then(Value::as_u64) {
        // Dies between invocations, after this answer has gone out.
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(ms));
            std::process::exit(0);
        });
    }
    if let Some(code) = payload.get("exit").and_then(Value::as_i64) {
        std::process::exit(i32::try_from(code).unwrap_or(1));
    }
    println!("echo request {}", context.request_id);
    Ok(json!({
        "echo": payload.get("echo").cloned().unwrap_or(Value::Null),
        "request_id": context.request_id,
        "trace_id": context.xray_trace_id,
        "env_trace_id": std::env::var("_X_AMZN_TRACE_ID").ok(),
        "function_arn": context.invoked_function_arn,
        "deadline_ms": context.deadline,
        "client_context": context.client_context.map(|c| json!({"custom": c.custom, "app_title": c.client.app_title})),
        "identity": context.identity.map(|i| json!({"identity_id": i.identity_id, "identity_pool_id": i.identity_pool_id})),
        "function_name": context.env_config.function_name,
        "memory_mb": context.env_config.memory,
        "ballast_bytes": ballast.len(),
        "pid": std::process::id(),
        "started_ms": started_ms,
        "ended_ms": epoch_ms(),
        "in_flight_peak": IN_FLIGHT_PEAK.load(Ordering::SeqCst),
    }))
}

/// Posts `message` to `/2018-06-01/runtime/init/error` over plain HTTP/1.1.
fn report_init_error(message: &str) -> Result<(), Error> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API")?;
    let body = json!({"errorType": "EchoInitError", "errorMessage": message}).to_string();
    let mut stream = TcpStream::connect(&api)?;
    write!(
        stream,
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\nContent-Type: application/json\r\n\
         Lambda-Runtime-Function-Error-Type: EchoInitError\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    if !response.starts_with("HTTP/1.1 202") {
        return Err(format!("the Runtime API refused the init error: {response}").into());
    }
    Ok(())
}
