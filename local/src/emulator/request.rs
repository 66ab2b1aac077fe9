//! One invocation as a caller asks for it: the event and the optional context Lambda passes along.

use bytes::Bytes;

use super::config::MAX_PAYLOAD_BYTES;
use super::error::EmulatorError;
use crate::trace_header::TraceHeader;

/// An invocation: the event payload plus what a caller of Lambda's Invoke API can pass with it.
///
/// ```
/// use lamina_local::emulator::InvocationRequest;
///
/// let request = InvocationRequest::new(r#"{"id": 7}"#)
///     .trace_header("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
///     .client_context(r#"{"client":{"app_title":"demo"},"custom":{},"env":{}}"#);
/// # let _ = request;
/// ```
#[derive(Debug, Clone)]
pub struct InvocationRequest {
    pub(crate) payload: Bytes,
    pub(crate) trace_header: Option<String>,
    pub(crate) client_context: Option<String>,
    pub(crate) cognito_identity: Option<String>,
    /// Set by the asynchronous queue: every attempt at one event keeps its request id, as on Lambda.
    pub(crate) request_id: Option<String>,
}

impl InvocationRequest {
    /// An invocation of `payload` (a JSON document) with no trace header and no context.
    #[must_use]
    pub fn new(payload: impl Into<Bytes>) -> Self {
        Self {
            payload: payload.into(),
            trace_header: None,
            client_context: None,
            cognito_identity: None,
            request_id: None,
        }
    }

    /// The `X-Amzn-Trace-Id` the invocation carries; without one the emulator makes a fresh, sampled one.
    #[must_use]
    pub fn trace_header(mut self, header: impl Into<String>) -> Self {
        self.trace_header = Some(header.into());
        self
    }

    /// The mobile client context (JSON), passed as `Lambda-Runtime-Client-Context`.
    #[must_use]
    pub fn client_context(mut self, json: impl Into<String>) -> Self {
        self.client_context = Some(json.into());
        self
    }

    /// The Cognito identity (JSON), passed as `Lambda-Runtime-Cognito-Identity`.
    #[must_use]
    pub fn cognito_identity(mut self, json: impl Into<String>) -> Self {
        self.cognito_identity = Some(json.into());
        self
    }

    /// Checks everything the caller gave before any process is touched, as Lambda's Invoke API does.
    pub(crate) fn validate(&self) -> Result<Option<TraceHeader>, EmulatorError> {
        if self.payload.len() > MAX_PAYLOAD_BYTES {
            return Err(EmulatorError::PayloadTooLarge {
                size: self.payload.len(),
                limit: MAX_PAYLOAD_BYTES,
            });
        }
        serde_json::from_slice::<serde::de::IgnoredAny>(&self.payload)
            .map_err(|e| EmulatorError::InvalidPayload(e.to_string()))?;
        for (what, value) in [
            ("client context", &self.client_context),
            ("Cognito identity", &self.cognito_identity),
        ] {
            if let Some(value) = value {
                match serde_json::from_str::<serde_json::Value>(value) {
                    Ok(serde_json::Value::Object(_)) => {}
                    Ok(_) => {
                        return Err(EmulatorError::InvalidContext {
                            what,
                            detail: "expected a JSON object".to_owned(),
                        });
                    }
                    Err(e) => {
                        return Err(EmulatorError::InvalidContext {
                            what,
                            detail: e.to_string(),
                        });
                    }
                }
            }
        }
        self.trace_header
            .as_deref()
            .map(TraceHeader::parse)
            .transpose()
            .map_err(EmulatorError::from)
    }
}

impl From<Vec<u8>> for InvocationRequest {
    fn from(payload: Vec<u8>) -> Self {
        Self::new(payload)
    }
}

impl From<String> for InvocationRequest {
    fn from(payload: String) -> Self {
        Self::new(payload)
    }
}

impl From<&'static str> for InvocationRequest {
    fn from(payload: &'static str) -> Self {
        Self::new(payload)
    }
}

impl From<Bytes> for InvocationRequest {
    fn from(payload: Bytes) -> Self {
        Self::new(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_refused_before_anything_runs() {
        let big = vec![b' '; MAX_PAYLOAD_BYTES + 1];
        let cases: Vec<(InvocationRequest, &str)> = vec![
            (InvocationRequest::new("{not json"), "not valid JSON"),
            (InvocationRequest::new(""), "not valid JSON"),
            (InvocationRequest::new(big), "at most 6291456 bytes"),
            (
                InvocationRequest::new("{}").trace_header("Root=nope"),
                "invalid X-Amzn-Trace-Id",
            ),
            (
                InvocationRequest::new("{}").client_context("[1]"),
                "client context is not a JSON object",
            ),
            (
                InvocationRequest::new("{}").cognito_identity("{"),
                "Cognito identity is not a JSON object",
            ),
        ];
        for (request, expected) in cases {
            let error = request
                .validate()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                error.contains(expected),
                "{error:?} should mention {expected:?}"
            );
        }
    }

    #[test]
    fn good_input_passes() {
        let request = InvocationRequest::new("[1, 2]")
            .trace_header("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0")
            .client_context("{}")
            .cognito_identity(r#"{"cognitoIdentityId":"a","cognitoIdentityPoolId":"b"}"#);
        let header = request.validate().ok().flatten();
        assert_eq!(header.map(|h| h.is_sampled()), Some(false));
    }
}
