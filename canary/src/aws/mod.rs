//! The ports implemented on the AWS SDK for Rust: Lambda aliases and hooks, SSM records,
//! CloudWatch metrics and alarms.
//!
//! [`AwsBackends::new`] builds all four adapters from one [`SdkConfig`]; load it with the standard
//! chain (profiles, region, `AWS_ENDPOINT_URL`) through [`AwsBackends::from_env`].
//!
//! ```no_run
//! use lamina_canary::{aws::AwsBackends, ports::AliasStore as _};
//!
//! # async fn demo() -> Result<(), lamina_canary::ports::PortError> {
//! let backends = AwsBackends::from_env().await;
//! let alias = backends.aliases.get_alias("orders", "live").await?;
//! println!("live -> {} ({})", alias.function_version, alias.description);
//! # Ok(())
//! # }
//! ```
//!
//! Every SDK error becomes a [`PortError`]:
//!
//! | what AWS answered | [`PortError`] |
//! |---|---|
//! | `ResourceNotFoundException`, `ParameterNotFound`, `ResourceNotFound`, `*DoesNotExistException` | `NotFound` |
//! | `PreconditionFailedException` (a moved `RevisionId`) | `Conflict` |
//! | throttling codes, `ServiceException`, `ResourceConflictException` (an update in progress), any 5xx or 429, timeouts, dispatch failures, unreadable answers | `Unavailable` |
//! | any other 4xx (`InvalidParameterValueException`, `ValidationException`, `AccessDenied...`), and requests the SDK could not build | `Rejected` |

mod cloudwatch;
mod hooks;
mod lambda;
mod ssm;

pub use cloudwatch::{CloudWatchSource, MAX_METRIC_QUERIES, stat_name, window_period};
pub use hooks::LambdaHookInvoker;
pub use lambda::LambdaAliasStore;
pub use ssm::{
    PARAMETER_PREFIX, SsmRecordStore, outcome_parameter_name, parameter_name, record_parameter_name,
};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::ports::PortError;

/// The four AWS adapters, built from one SDK configuration.
#[derive(Debug, Clone)]
pub struct AwsBackends {
    /// Lambda aliases and versions.
    pub aliases: LambdaAliasStore,
    /// Lambda invocations of hook functions.
    pub hooks: LambdaHookInvoker,
    /// SSM parameters holding rollout records.
    pub records: SsmRecordStore,
    /// CloudWatch metrics and alarms.
    pub metrics: CloudWatchSource,
}

impl AwsBackends {
    /// Builds the adapters on clients made from `config`.
    #[must_use]
    pub fn new(config: &SdkConfig) -> Self {
        let lambda = aws_sdk_lambda::Client::new(config);
        Self {
            aliases: LambdaAliasStore::new(lambda.clone()),
            hooks: LambdaHookInvoker::new(lambda),
            records: SsmRecordStore::new(aws_sdk_ssm::Client::new(config)),
            metrics: CloudWatchSource::new(aws_sdk_cloudwatch::Client::new(config)),
        }
    }

    /// Loads the SDK configuration from the standard chain (environment, profiles, region,
    /// `AWS_ENDPOINT_URL`, instance and container credentials) and builds the adapters on it.
    pub async fn from_env() -> Self {
        let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self::new(&config)
    }
}

/// How an SDK error is classified, before it gets its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    NotFound,
    Conflict,
    Rejected,
    Unavailable,
}

impl ErrorClass {
    pub(crate) fn into_error(self, message: String) -> PortError {
        match self {
            Self::NotFound => PortError::NotFound(message),
            Self::Conflict => PortError::Conflict(message),
            Self::Rejected => PortError::Rejected(message),
            Self::Unavailable => PortError::Unavailable(message),
        }
    }
}

/// The SDK error of any operation: the same type in every service crate.
type SdkError<E> = aws_sdk_lambda::error::SdkError<E>;

const NOT_FOUND_CODES: &[&str] = &[
    "ResourceNotFoundException",
    "ResourceNotFound",
    "ParameterNotFound",
    "ParameterVersionNotFound",
    "ApplicationDoesNotExistException",
    "DeploymentGroupDoesNotExistException",
    "DeploymentDoesNotExistException",
    "DeploymentConfigDoesNotExistException",
];

const UNAVAILABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "PriorRequestNotComplete",
    "ServiceException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalError",
    "InternalServerError",
    "InternalServerException",
    "ResourceConflictException",
    "ResourceNotReadyException",
];

/// The class of an SDK error: `typed` (from the operation's modeled error variants) wins, then the
/// error code, then the HTTP status; transport failures are [`ErrorClass::Unavailable`].
pub(crate) fn classify<E>(error: &SdkError<E>, typed: Option<ErrorClass>) -> ErrorClass
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::ServiceError(context) => {
            if let Some(class) = typed {
                return class;
            }
            let status = context.raw().status().as_u16();
            match context.err().code() {
                Some(code) if NOT_FOUND_CODES.contains(&code) => ErrorClass::NotFound,
                Some("PreconditionFailedException") => ErrorClass::Conflict,
                Some(code) if UNAVAILABLE_CODES.contains(&code) => ErrorClass::Unavailable,
                _ if status >= 500 || status == 429 => ErrorClass::Unavailable,
                _ => ErrorClass::Rejected,
            }
        }
        SdkError::ConstructionFailure(_) => ErrorClass::Rejected,
        _ => ErrorClass::Unavailable,
    }
}

/// The message of an SDK error, prefixed with what was being done: the service's code and
/// message when it answered, the whole error chain otherwise.
pub(crate) fn describe<E>(what: &str, error: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(context) => {
            let err = context.err();
            let status = context.raw().status().as_u16();
            match (err.code(), err.message()) {
                (Some(code), Some(message)) => format!("{what}: {code}: {message}"),
                (Some(code), None) => format!("{what}: {code} (HTTP {status})"),
                _ => format!("{what}: HTTP {status}: {}", error_chain(err)),
            }
        }
        SdkError::DispatchFailure(_) => {
            format!("{what}: could not reach AWS: {}", error_chain(error))
        }
        SdkError::TimeoutError(_) => format!("{what}: AWS did not answer in time"),
        other => format!("{what}: {}", error_chain(other)),
    }
}

/// An error and its sources, each once, joined by `: `: readable, unlike the SDK's `Debug`
/// output, and without repeating the wrapper layers that add no words of their own.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(error) = current {
        let text = error.to_string();
        if !text.is_empty() && !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = error.source();
    }
    parts.join(": ")
}

/// [`classify`] and [`describe`] together.
pub(crate) fn port_error<E>(what: &str, error: &SdkError<E>, typed: Option<ErrorClass>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    classify(error, typed).into_error(describe(what, error))
}
