//! What one invocation produced, and the figures Lambda's `REPORT` line gives for it.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The runtime posted a response.
    Success {
        /// The response body, as posted to `/response`.
        #[serde(serialize_with = "serialize_body")]
        body: Bytes,
    },
    /// The runtime posted to `/error`: the handler returned an error or panicked.
    HandlerError {
        /// `errorType` from the runtime's report.
        error_type: String,
        /// `errorMessage` from the runtime's report.
        error_message: String,
    },
    /// The execution environment failed to initialise: the runtime posted to `/init/error`, exited
    /// before asking for its first event, or did not ask within the init timeout.
    InitFailed {
        /// `errorType` from `/init/error`, `Runtime.ExitError` for an exit, `Sandbox.Timedout` for a timeout.
        error_type: String,
        /// What went wrong.
        error_message: String,
    },
    /// The process exited (crashed, was killed, aborted) while handling the event.
    Crashed {
        /// How the process ended, for example `exit status: 101` or `signal: 6 (SIGABRT)`.
        exit: String,
    },
    /// The invocation ran past the function timeout; the process was killed.
    TimedOut {
        /// The configured timeout.
        #[serde(serialize_with = "serialize_duration_ms")]
        timeout: Duration,
    },
}

impl Outcome {
    /// Whether the runtime posted a response.
    #[must_use]
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success { .. })
    }

    /// The response body of a successful invocation.
    #[must_use]
    pub fn body(&self) -> Option<&Bytes> {
        match self {
            Self::Success { body } => Some(body),
            _ => None,
        }
    }

    /// The `errorType` Lambda's Invoke API would return for a failed invocation.
    #[must_use]
    pub fn error_type(&self) -> Option<&str> {
        match self {
            Self::Success { .. } => None,
            Self::HandlerError { error_type, .. } | Self::InitFailed { error_type, .. } => {
                Some(error_type)
            }
            Self::Crashed { .. } => Some("Runtime.ExitError"),
            Self::TimedOut { .. } => Some("Sandbox.Timedout"),
        }
    }

    /// The body Lambda's Invoke API returns for a failed invocation:
    /// `{"errorType": ..., "errorMessage": ...}`.
    #[must_use]
    pub fn error_body(&self, request_id: &str) -> Option<serde_json::Value> {
        let message = match self {
            Self::Success { .. } => return None,
            Self::HandlerError { error_message, .. } | Self::InitFailed { error_message, .. } => {
                error_message.clone()
            }
            Self::Crashed { exit } => {
                format!("RequestId: {request_id} Error: Runtime exited with error: {exit}")
            }
            Self::TimedOut { timeout } => {
                format!(
                    "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                    timeout.as_secs_f64()
                )
            }
        };
        Some(serde_json::json!({ "errorType": self.error_type(), "errorMessage": message }))
    }

    /// The word for this outcome in the `REPORT` line's `Status` field.
    fn status_word(&self) -> &'static str {
        match self {
            Self::Success { .. } => "success",
            Self::HandlerError { .. } => "error",
            Self::InitFailed { .. } => "init_error",
            Self::Crashed { .. } => "crashed",
            Self::TimedOut { .. } => "timeout",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Success { body } => write!(f, "{}", String::from_utf8_lossy(body)),
            Self::HandlerError {
                error_type,
                error_message,
            } => write!(f, "handler error {error_type}: {error_message}"),
            Self::InitFailed {
                error_type,
                error_message,
            } => write!(f, "init failed {error_type}: {error_message}"),
            Self::Crashed { exit } => write!(f, "runtime crashed ({exit})"),
            Self::TimedOut { timeout } => {
                write!(f, "timed out after {:.2} seconds", timeout.as_secs_f64())
            }
        }
    }
}

/// One line the function wrote to stdout or stderr.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// `stdout` or `stderr`.
    pub stream: &'static str,
    /// The line, without its newline.
    pub text: String,
}

/// Everything the emulator knows about one invocation: Lambda's `REPORT` figures and the outcome.
///
/// Its `Display` is Lambda's `REPORT` line, with the environment that served the invocation at the
/// end (`Environment: 3`), which Lambda shows as the log stream the line is in.
#[derive(Debug, Clone, Serialize)]
pub struct InvocationReport {
    /// The request id (`Lambda-Runtime-Aws-Request-Id`).
    pub request_id: String,
    /// How the invocation ended.
    pub outcome: Outcome,
    /// Whether this invocation started a new execution environment.
    pub cold_start: bool,
    /// Which execution environment served it: 1 for the first the emulator started, then 2, 3...
    pub environment: u64,
    /// That environment's log stream (`AWS_LAMBDA_LOG_STREAM_NAME`), as CloudWatch Logs names it.
    pub log_stream: String,
    /// Spawn to the runtime's first `/next`, on a cold start only.
    #[serde(serialize_with = "serialize_optional_duration_ms")]
    pub init_duration: Option<Duration>,
    /// Hand-over of the event (the answer to `/next`) to the runtime's response or error.
    #[serde(serialize_with = "serialize_duration_ms")]
    pub duration: Duration,
    /// What Lambda would bill: duration plus, on a cold start, init duration, rounded up to the millisecond.
    #[serde(serialize_with = "serialize_duration_ms")]
    pub billed_duration: Duration,
    /// The configured memory in MB.
    pub memory_size_mb: u32,
    /// The process's peak resident set size in MB (`VmHWM` from `/proc`), rounded up.
    pub max_memory_used_mb: u64,
    /// The `X-Amzn-Trace-Id` header handed to the function (`Lambda-Runtime-Trace-Id`).
    pub trace_header: String,
    /// The lines the function wrote while this invocation (and, on a cold start, its init) ran.
    pub logs: Vec<LogLine>,
}

impl fmt::Display for InvocationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
            self.request_id,
            self.duration.as_secs_f64() * 1000.0,
            self.billed_duration.as_millis(),
            self.memory_size_mb,
            self.max_memory_used_mb,
        )?;
        if let Some(init) = self.init_duration {
            write!(f, "\tInit Duration: {:.2} ms", init.as_secs_f64() * 1000.0)?;
        }
        if !self.outcome.is_success() {
            write!(f, "\tStatus: {}", self.outcome.status_word())?;
        }
        write!(f, "\tEnvironment: {}", self.environment)
    }
}

/// Rounds up to a whole millisecond, as Lambda bills.
pub(crate) fn billed(duration: Duration) -> Duration {
    let millis = duration.as_nanos().div_ceil(1_000_000).max(1);
    Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
}

fn serialize_body<S: serde::Serializer>(body: &Bytes, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&String::from_utf8_lossy(body))
}

fn serialize_duration_ms<S: serde::Serializer>(
    d: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(d.as_secs_f64() * 1000.0)
}

fn serialize_optional_duration_ms<S: serde::Serializer>(
    d: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => serializer.serialize_f64(d.as_secs_f64() * 1000.0),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billing_rounds_up_to_the_millisecond() {
        let cases = [
            (Duration::from_micros(1), 1),
            (Duration::from_micros(999), 1),
            (Duration::from_micros(1000), 1),
            (Duration::from_micros(1001), 2),
            (Duration::from_nanos(1_000_001), 2),
            (Duration::from_millis(250), 250),
            (Duration::ZERO, 1),
        ];
        for (input, expected) in cases {
            assert_eq!(billed(input), Duration::from_millis(expected), "{input:?}");
        }
    }

    #[test]
    fn the_report_line_reads_like_lambdas() {
        let report = InvocationReport {
            request_id: "8f5e2b1c-0000-4000-8000-000000000001".to_owned(),
            outcome: Outcome::TimedOut {
                timeout: Duration::from_secs(3),
            },
            cold_start: true,
            environment: 3,
            log_stream: "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef".to_owned(),
            init_duration: Some(Duration::from_micros(12_346)),
            duration: Duration::from_micros(3_000_120),
            billed_duration: Duration::from_millis(3013),
            memory_size_mb: 128,
            max_memory_used_mb: 9,
            trace_header: String::new(),
            logs: Vec::new(),
        };
        assert_eq!(
            report.to_string(),
            "REPORT RequestId: 8f5e2b1c-0000-4000-8000-000000000001\tDuration: 3000.12 ms\tBilled Duration: 3013 ms\t\
             Memory Size: 128 MB\tMax Memory Used: 9 MB\tInit Duration: 12.35 ms\tStatus: timeout\tEnvironment: 3"
        );
        let body = report.outcome.error_body(&report.request_id);
        assert_eq!(
            body,
            Some(serde_json::json!({
                "errorType": "Sandbox.Timedout",
                "errorMessage": "RequestId: 8f5e2b1c-0000-4000-8000-000000000001 Error: Task timed out after 3.00 seconds"
            }))
        );
    }
}
