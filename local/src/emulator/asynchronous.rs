//! Asynchronous invocations (`Event`) as Lambda runs them: queued, retried on error with a growing
//! delay, and handed to an on-failure destination when the retries or the event's age run out.
//!
//! ```
//! use std::time::Duration;
//! use lamina_local::emulator::{AsyncConfig, FunctionConfig, OnFailure};
//!
//! let config = FunctionConfig::new("target/debug/bootstrap").asynchronous(
//!     AsyncConfig::new()
//!         .retry_delay(Duration::from_millis(100))
//!         .on_failure(OnFailure::file("failed-events.jsonl")),
//! );
//! # let _ = config;
//! ```

use std::fmt;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::report::InvocationReport;

/// Lambda's largest number of retries for an asynchronous invocation (and its default).
pub const MAX_RETRY_ATTEMPTS: u32 = 2;

/// Where an event goes after its last failed attempt (Lambda's on-failure destination).
#[derive(Clone)]
#[non_exhaustive]
pub enum OnFailure {
    /// Appends each [destination record](FailedEvent::record) to this file as one JSON line.
    File(PathBuf),
    /// Calls this with each failed event.
    Callback(Arc<dyn Fn(FailedEvent) + Send + Sync>),
    /// Sends each [destination record](FailedEvent::record) as the body of one message to an SQS
    /// queue, as Lambda does with an SQS on-failure destination.
    #[cfg(feature = "sqs")]
    Sqs {
        /// The client the messages are sent with (its endpoint may be a `moto_server`).
        client: aws_sdk_sqs::Client,
        /// The queue's URL.
        queue_url: String,
    },
}

impl OnFailure {
    /// Appends each record to `path`, one JSON document per line.
    #[must_use]
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::File(path.into())
    }

    /// Calls `callback` with each failed event.
    #[must_use]
    pub fn callback(callback: impl Fn(FailedEvent) + Send + Sync + 'static) -> Self {
        Self::Callback(Arc::new(callback))
    }

    /// Sends each record to the SQS queue at `queue_url`, through `client`.
    #[cfg(feature = "sqs")]
    #[must_use]
    pub fn sqs(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self::Sqs {
            client,
            queue_url: queue_url.into(),
        }
    }

    async fn deliver(&self, failed: FailedEvent) {
        match self {
            Self::File(path) => {
                let written = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|mut file| writeln!(file, "{}", failed.record));
                if let Err(error) = written {
                    tracing::error!(
                        %error,
                        path = %path.display(),
                        request_id = %failed.request_id,
                        "the on-failure destination could not be written; the event is lost"
                    );
                }
            }
            Self::Callback(callback) => callback(failed),
            #[cfg(feature = "sqs")]
            Self::Sqs { client, queue_url } => {
                let sent = client
                    .send_message()
                    .queue_url(queue_url)
                    .message_body(failed.record.to_string())
                    .send()
                    .await;
                if let Err(error) = sent {
                    tracing::error!(
                        error = %aws_sdk_sqs::error::DisplayErrorContext(&error),
                        %queue_url,
                        request_id = %failed.request_id,
                        "the SQS on-failure destination refused the record; the event is lost"
                    );
                }
            }
        }
    }
}

impl fmt::Debug for OnFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Callback(_) => f.write_str("Callback(..)"),
            #[cfg(feature = "sqs")]
            Self::Sqs { queue_url, .. } => {
                f.debug_struct("Sqs").field("queue_url", queue_url).finish()
            }
        }
    }
}

/// How a function's asynchronous invocations are retried and where failures go (Lambda's
/// `PutFunctionEventInvokeConfig`).
#[derive(Debug, Clone)]
pub struct AsyncConfig {
    pub(crate) max_retry_attempts: u32,
    pub(crate) retry_delay: Duration,
    pub(crate) max_event_age: Duration,
    pub(crate) on_failure: Option<OnFailure>,
}

impl Default for AsyncConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl AsyncConfig {
    /// Lambda's defaults: 2 retries, an event kept up to 6 hours, no destination. The first retry
    /// waits 1 minute and the second 2 minutes, as Lambda's do; tests want
    /// [`retry_delay`](Self::retry_delay) much shorter.
    #[must_use]
    pub fn new() -> Self {
        Self {
            max_retry_attempts: MAX_RETRY_ATTEMPTS,
            retry_delay: Duration::from_secs(60),
            max_event_age: Duration::from_secs(6 * 60 * 60),
            on_failure: None,
        }
    }

    /// How many times a failed event is tried again, 0 to 2 (more is capped at 2, as Lambda allows).
    #[must_use]
    pub fn max_retry_attempts(mut self, retries: u32) -> Self {
        self.max_retry_attempts = retries.min(MAX_RETRY_ATTEMPTS);
        self
    }

    /// The wait before the first retry; each later retry waits twice as long as the one before.
    #[must_use]
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// How old an event may get (from when it was queued) before it is no longer tried.
    #[must_use]
    pub fn max_event_age(mut self, age: Duration) -> Self {
        self.max_event_age = age;
        self
    }

    /// Where events go when their last attempt failed.
    #[must_use]
    pub fn on_failure(mut self, destination: OnFailure) -> Self {
        self.on_failure = Some(destination);
        self
    }
}

/// An asynchronous event that was given up on.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FailedEvent {
    /// The request id every attempt shared.
    pub request_id: String,
    /// How long after it was queued the event was given up on.
    pub age: Duration,
    /// Each attempt's report, first to last (its length is the invoke count).
    pub attempts: Vec<InvocationReport>,
    /// Lambda's destination record: `version`, `timestamp`, `requestContext` (`requestId`,
    /// `functionArn`, `condition`, `approximateInvokeCount`), `requestPayload`, `responseContext`
    /// and `responsePayload`.
    pub record: Value,
}

/// Why an event was given up on (`requestContext.condition`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Condition {
    RetriesExhausted,
    EventAgeExceeded,
}

impl Condition {
    fn as_str(self) -> &'static str {
        match self {
            Self::RetriesExhausted => "RetriesExhausted",
            Self::EventAgeExceeded => "EventAgeExceeded",
        }
    }
}

/// The wait before retry number `retry` (1-based): the delay, doubled for each retry after the first.
pub(crate) fn backoff(delay: Duration, retry: u32) -> Duration {
    delay.saturating_mul(1 << retry.saturating_sub(1).min(16))
}

/// Builds the failed event and its record in Lambda's on-failure destination format.
pub(crate) fn failed_event(
    function_arn: &str,
    version: &str,
    payload: &[u8],
    queued_at: Instant,
    condition: Condition,
    attempts: Vec<InvocationReport>,
    request_id: String,
) -> FailedEvent {
    let age = queued_at.elapsed();
    let request_payload: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    let last = attempts.last();
    let response_payload = last
        .and_then(|report| report.outcome.error_body(&report.request_id))
        .unwrap_or(Value::Null);
    let timestamp = OffsetDateTime::from(SystemTime::now())
        .format(&Rfc3339)
        .unwrap_or_default();
    let record = json!({
        "version": "1.0",
        "timestamp": timestamp,
        "requestContext": {
            "requestId": request_id,
            "functionArn": format!("{function_arn}:{version}"),
            "condition": condition.as_str(),
            "approximateInvokeCount": attempts.len(),
        },
        "requestPayload": request_payload,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": version,
            "functionError": "Unhandled",
        },
        "responsePayload": response_payload,
    });
    FailedEvent {
        request_id,
        age,
        attempts,
        record,
    }
}

/// Hands a failed event to the destination, or logs that it is dropped.
pub(crate) async fn give_up(destination: Option<&OnFailure>, failed: FailedEvent) {
    tracing::warn!(
        request_id = %failed.request_id,
        attempts = failed.attempts.len(),
        age_ms = failed.age.as_millis(),
        "asynchronous invocation failed for good"
    );
    match destination {
        Some(destination) => destination.deliver(failed).await,
        None => tracing::warn!(
            request_id = %failed.request_id,
            "no on-failure destination: the event is dropped"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time() {
        let delay = Duration::from_millis(100);
        let cases = [(1, 100), (2, 200), (3, 400)];
        for (retry, expected) in cases {
            assert_eq!(backoff(delay, retry), Duration::from_millis(expected));
        }
    }

    #[test]
    fn retries_are_capped_at_lambdas_two() {
        assert_eq!(
            AsyncConfig::new().max_retry_attempts(5).max_retry_attempts,
            2
        );
        assert_eq!(
            AsyncConfig::new().max_retry_attempts(0).max_retry_attempts,
            0
        );
    }
}
