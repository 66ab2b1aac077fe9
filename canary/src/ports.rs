//! What the controller needs from AWS, as traits: the alias and its versions, the rollout's
//! record, metrics and alarms, and hook functions.
//!
//! The AWS implementations live in [`crate::aws`]; [`crate::memory`] has in-memory ones that
//! enforce what AWS enforces (and what moto does not), for tests and virtual-clock runs.

use std::{fmt, future::Future, pin::Pin, time::SystemTime};

/// A boxed, sendable future: what the port traits' methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a call to AWS (or to a stand-in) did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// The function, alias, version, parameter or alarm does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A conditional write lost: the alias changed since it was read (its `RevisionId` moved).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request was refused as invalid (by Lamina's own checks or by AWS).
    #[error("rejected: {0}")]
    Rejected(String),
    /// The service could not answer: network failure, throttling, a 5xx, a malformed answer.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// The additional version of an alias and the share of traffic it gets.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionWeight {
    /// The additional version, a published version number such as `"7"`.
    pub version: String,
    /// Its share of the alias's traffic, from 0.0 to 1.0.
    pub weight: f64,
}

/// An alias as read from AWS.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasState {
    /// The primary version.
    pub function_version: String,
    /// The additional version and its weight, when the alias splits traffic.
    pub routing: Option<VersionWeight>,
    /// The alias's description (at most 256 characters); the rollout's live state is kept here.
    pub description: String,
    /// The alias's revision: the condition for the next write.
    pub revision_id: String,
}

/// What one conditional write sets on an alias: all three together.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasUpdate {
    /// The primary version.
    pub function_version: String,
    /// The additional version and its weight, or `None` to clear the routing configuration.
    pub routing: Option<VersionWeight>,
    /// The new description.
    pub description: String,
}

/// The longest description Lambda accepts on an alias.
pub const MAX_ALIAS_DESCRIPTION: usize = 256;

/// Lambda's rules for an alias write, checked before anything is sent: the primary is a
/// published version or `$LATEST`; the additional version is a published version (digits), is
/// not the primary, and its weight is a finite number from 0.0 to 1.0; the description fits.
/// Whether the versions exist is checked separately with [`AliasStore::version_exists`].
pub fn validate_alias_update(update: &AliasUpdate) -> Result<(), PortError> {
    let is_published = |version: &str| {
        !version.is_empty() && version.len() <= 10 && version.bytes().all(|b| b.is_ascii_digit())
    };
    if !(is_published(&update.function_version) || update.function_version == "$LATEST") {
        return Err(PortError::Rejected(format!(
            "the primary version {:?} is neither a published version nor $LATEST",
            update.function_version
        )));
    }
    if let Some(routing) = &update.routing {
        if !is_published(&routing.version) {
            return Err(PortError::Rejected(format!(
                "the additional version {:?} is not a published version",
                routing.version
            )));
        }
        if routing.version == update.function_version {
            return Err(PortError::Rejected(format!(
                "the additional version {} is also the primary version",
                routing.version
            )));
        }
        if !(routing.weight.is_finite() && (0.0..=1.0).contains(&routing.weight)) {
            return Err(PortError::Rejected(format!(
                "the weight {} of version {} is outside 0.0 to 1.0",
                routing.weight, routing.version
            )));
        }
    }
    if update.description.chars().count() > MAX_ALIAS_DESCRIPTION {
        return Err(PortError::Rejected(format!(
            "the alias description has {} characters; Lambda accepts at most {MAX_ALIAS_DESCRIPTION}",
            update.description.chars().count()
        )));
    }
    Ok(())
}

/// A function's alias and versions: `GetAlias`, `UpdateAlias` (guarded by `RevisionId`),
/// `GetFunction` on a version, `PublishVersion`.
pub trait AliasStore: Send + Sync + fmt::Debug {
    /// Reads the alias. [`PortError::NotFound`] names what is missing (function or alias).
    fn get_alias<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
    ) -> BoxFuture<'a, Result<AliasState, PortError>>;

    /// Writes `update` if the alias is still at `expected_revision`, returning the alias as
    /// written. A moved revision is [`PortError::Conflict`]; implementations run
    /// [`validate_alias_update`] first and send nothing when it fails.
    fn update_alias<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        update: &'a AliasUpdate,
        expected_revision: &'a str,
    ) -> BoxFuture<'a, Result<AliasState, PortError>>;

    /// Whether `version` of `function` exists.
    fn version_exists<'a>(
        &'a self,
        function: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<bool, PortError>>;

    /// Publishes `$LATEST` as a new version and returns its number.
    fn publish_version<'a>(&'a self, function: &'a str)
    -> BoxFuture<'a, Result<String, PortError>>;
}

/// Where rollouts' immutable records (plan, gates and hooks, as JSON documents) are kept beside
/// the alias: one document per rollout, keyed by the rollout's id, written once and never
/// replaced. The records of an alias's past rollouts are its history.
pub trait RecordStore: Send + Sync + fmt::Debug {
    /// Stores `document` as the record of rollout `id` on `function`'s `alias`, only if there
    /// is none yet: a record with that id already stored is [`PortError::Conflict`] and is left
    /// as it is.
    fn create_record<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        id: &'a str,
        document: &'a str,
    ) -> BoxFuture<'a, Result<(), PortError>>;

    /// The record of rollout `id` on `function`'s `alias`, if it is stored.
    fn get_record<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, PortError>>;

    /// Stores `document` as how rollout `id` on `function`'s `alias` ended, only if no outcome
    /// is stored for it yet (otherwise [`PortError::Conflict`], the stored one left as it is).
    /// Outcomes are not records: [`history`](Self::history) does not list them.
    fn create_outcome<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        id: &'a str,
        document: &'a str,
    ) -> BoxFuture<'a, Result<(), PortError>>;

    /// How rollout `id` on `function`'s `alias` ended, if its outcome is stored.
    fn get_outcome<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, PortError>>;

    /// Every record stored for `function`'s `alias`, as `(id, document)`, in no particular
    /// order: the alias's rollouts, past and present.
    fn history<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, String)>, PortError>>;

    /// Every function and alias with at least one record, each once: how `canary run` finds
    /// the rollouts to advance.
    fn list_records(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, PortError>>;

    /// Deletes every record and outcome of `function`'s `alias` (when the function or alias is
    /// gone).
    fn delete_records<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
    ) -> BoxFuture<'a, Result<(), PortError>>;
}

/// A CloudWatch statistic.
#[derive(Debug, Clone, PartialEq)]
pub enum Statistic {
    /// The sum of the values.
    Sum,
    /// The average value.
    Average,
    /// The largest value.
    Maximum,
    /// The smallest value.
    Minimum,
    /// The number of values.
    SampleCount,
    /// A percentile from 0.0 to 100.0, such as 99.0 for `p99`.
    Percentile(f64),
}

/// One metric to read over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricQuery {
    /// The caller's name for this query, echoed in its [`MetricValue`].
    pub id: String,
    /// The metric's namespace, such as `AWS/Lambda`.
    pub namespace: String,
    /// The metric's name, such as `Errors`.
    pub metric_name: String,
    /// The dimensions, as name and value pairs, all of which must match.
    pub dimensions: Vec<(String, String)>,
    /// The statistic over the whole window.
    pub statistic: Statistic,
}

/// The time range a gate looks at: from `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricWindow {
    /// The start of the window.
    pub start: SystemTime,
    /// The end of the window.
    pub end: SystemTime,
}

/// The answer to one [`MetricQuery`].
#[derive(Debug, Clone, PartialEq)]
pub struct MetricValue {
    /// The query's id.
    pub id: String,
    /// The statistic over the window, or `None` when the metric had no data in it.
    pub value: Option<f64>,
}

/// The state of a CloudWatch alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmState {
    /// `OK`.
    Ok,
    /// `ALARM`.
    Alarm,
    /// `INSUFFICIENT_DATA`.
    InsufficientData,
}

/// Metrics and alarms: CloudWatch `GetMetricData` and `DescribeAlarms`.
pub trait MetricSource: Send + Sync + fmt::Debug {
    /// Every query's statistic over `window`, in one call where the service allows it.
    fn fetch<'a>(
        &'a self,
        queries: &'a [MetricQuery],
        window: MetricWindow,
    ) -> BoxFuture<'a, Result<Vec<MetricValue>, PortError>>;

    /// The state of each named alarm; an alarm that does not exist is [`PortError::NotFound`].
    fn alarm_states<'a>(
        &'a self,
        names: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<(String, AlarmState)>, PortError>>;
}

/// What a hook function answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookResponse {
    /// The Invoke API's status code.
    pub status_code: u16,
    /// Lambda's `X-Amz-Function-Error` (`Unhandled` or `Handled`), when the function failed.
    pub function_error: Option<String>,
    /// The function's response payload.
    pub payload: Vec<u8>,
}

/// Invokes hook functions synchronously (`RequestResponse`).
pub trait HookInvoker: Send + Sync + fmt::Debug {
    /// Invokes `function` (a name, an ARN, or `name:qualifier`) with `payload`.
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<HookResponse, PortError>>;
}
