//! Whether a request is the function's cold start: one answer per process, honouring how Lambda
//! started the execution environment.
//!
//! This is the rule lamina-tracing applies to its `ColdStart` annotation, metric and log key;
//! the two crates do not depend on each other, so each keeps this small source, and since both
//! key it on the first request id the process sees, they agree on which invocation was cold.
//!
//! Lambda sets `AWS_LAMBDA_INITIALIZATION_TYPE` to `on-demand`, `provisioned-concurrency` or
//! `snap-start` ("Defined runtime environment variables", AWS Lambda Developer Guide). Only an
//! on-demand start makes a caller wait for the init phase, so, as Powertools for AWS Lambda does,
//! the first invocation is cold only when the variable is `on-demand` or unset (outside Lambda);
//! an environment initialized ahead of time (provisioned concurrency, a SnapStart restore)
//! reports no cold start at all.
//!
//! The first invocation is the first request id the source is asked about; asking again about
//! that same request id gives `true`, any other request id `false`.

use std::sync::{Arc, LazyLock, Mutex, PoisonError};

/// The environment variable Lambda sets to say how the execution environment was initialized.
pub const INITIALIZATION_TYPE_VARIABLE: &str = "AWS_LAMBDA_INITIALIZATION_TYPE";

/// The process-wide source, read from the environment on first use.
static PROCESS: LazyLock<ColdStart> = LazyLock::new(|| {
    ColdStart::for_initialization_type(std::env::var(INITIALIZATION_TYPE_VARIABLE).ok().as_deref())
});

/// A source of cold-start answers. [`InvocationContextLayer`](super::InvocationContextLayer) uses
/// [`ColdStart::process`] unless given another one with its `cold_start` builder method, which
/// tests and processes serving several functions side by side may want.
#[derive(Debug, Clone)]
pub struct ColdStart {
    /// `None` when no invocation of this source can be cold.
    first: Option<Arc<Mutex<First>>>,
}

#[derive(Debug, Default)]
enum First {
    /// No invocation seen yet.
    #[default]
    Pending,
    /// The first invocation's request id.
    Seen(String),
}

impl ColdStart {
    /// The one source of this process, configured by `AWS_LAMBDA_INITIALIZATION_TYPE`.
    #[must_use]
    pub fn process() -> Self {
        PROCESS.clone()
    }

    /// A new, independent source for an environment initialized as `initialization_type` says
    /// (the value of `AWS_LAMBDA_INITIALIZATION_TYPE`; `None` when unset). Only `on-demand`, an
    /// unset variable, or a value Lambda does not document can make a cold start.
    #[must_use]
    pub fn for_initialization_type(initialization_type: Option<&str>) -> Self {
        let warm = matches!(
            initialization_type.map(str::trim),
            Some("provisioned-concurrency" | "snap-start")
        );
        Self {
            first: (!warm).then(|| Arc::new(Mutex::new(First::Pending))),
        }
    }

    /// Whether the invocation with this request id is the cold start: the first request id this
    /// source is asked about, asked again by any layer, is; any other is not. An empty request
    /// id is cold only if it is the very first one asked about, and only for that call.
    #[must_use]
    pub fn is_cold(&self, request_id: &str) -> bool {
        let Some(first) = &self.first else {
            return false;
        };
        let mut first = first.lock().unwrap_or_else(PoisonError::into_inner);
        match &*first {
            First::Pending => {
                *first = First::Seen(request_id.to_owned());
                true
            }
            First::Seen(seen) => !request_id.is_empty() && seen == request_id,
        }
    }

    /// Whether no invocation has been seen yet in an environment that can have a cold start:
    /// work done now (the init phase) is part of the cold start.
    #[must_use]
    pub fn is_pending(&self) -> bool {
        self.first.as_ref().is_some_and(|first| {
            matches!(
                *first.lock().unwrap_or_else(PoisonError::into_inner),
                First::Pending
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_demand_the_first_request_id_is_cold_for_every_asker() {
        for initialization_type in [Some("on-demand"), None, Some("something-new")] {
            let source = ColdStart::for_initialization_type(initialization_type);
            assert!(source.is_pending());
            assert!(source.is_cold("req-1"), "{initialization_type:?}");
            assert!(!source.is_pending());
            // A second layer asking about the same invocation hears the same answer.
            assert!(source.clone().is_cold("req-1"));
            assert!(!source.is_cold("req-2"));
            assert!(!source.is_cold(""));
            assert!(source.is_cold("req-1"));
        }
    }

    #[test]
    fn provisioned_concurrency_and_snap_start_are_never_cold() {
        for initialization_type in ["provisioned-concurrency", "snap-start"] {
            let source = ColdStart::for_initialization_type(Some(initialization_type));
            assert!(!source.is_pending());
            assert!(!source.is_cold("req-1"), "{initialization_type}");
            assert!(!source.is_cold("req-1"));
        }
    }

    #[test]
    fn an_empty_first_request_id_is_cold_once() {
        let source = ColdStart::for_initialization_type(None);
        assert!(source.is_cold(""));
        assert!(!source.is_cold(""));
    }
}
