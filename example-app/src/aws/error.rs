//! Turning AWS SDK errors into [`PortError`]s: the operation, the service's error code and
//! message are kept; nothing else (no request, no credentials) is.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::{display::DisplayErrorContext, metadata::ProvideErrorMetadata};

use crate::ports::PortError;

/// The service's error code of an SDK error, when the service answered with one.
pub(crate) fn error_code<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<&str> {
    match error {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// [`PortError::Unavailable`] naming `operation`, the service's code and message, or for an
/// error before any answer (timeout, connection refused, no credentials) the SDK's own chain
/// of causes, which names what failed and never a secret.
pub(crate) fn unavailable<E, R>(operation: &str, error: &SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            PortError::Unavailable(format!(
                "{operation}: {}: {}",
                err.code().unwrap_or("unknown error"),
                err.message().unwrap_or("no message")
            ))
        }
        other => PortError::Unavailable(format!("{operation}: {}", DisplayErrorContext(other))),
    }
}

/// [`PortError::Unavailable`] for an item that does not have the shape this module writes.
pub(crate) fn corrupt(what: &str) -> PortError {
    PortError::Unavailable(format!("corrupt item: {what}"))
}
