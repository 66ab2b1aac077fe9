//! The metrics module's error type.

use std::time::SystemTime;

use super::unit::{Resolution, Unit};

/// Why a namespace, metric name, dimension name or value, or metadata key was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameRule {
    /// The string is empty.
    #[error("must not be empty")]
    Empty,
    /// The string is longer than CloudWatch allows.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The limit for this kind of string.
        max: usize,
    },
    /// The string has a character outside ASCII.
    #[error("must contain only ASCII characters")]
    NonAscii,
    /// The string has an ASCII control character.
    #[error("must not contain ASCII control characters")]
    ControlCharacter,
    /// The string has only whitespace.
    #[error("must contain at least one non-whitespace character")]
    OnlyWhitespace,
    /// The string starts with a colon, which CloudWatch forbids for namespaces and dimension names.
    #[error("must not start with a colon")]
    LeadingColon,
    /// A namespace character outside `0-9A-Za-z . - _ / # :` and space.
    #[error("must not contain {0:?} (allowed: 0-9 A-Z a-z . - _ / # : and space)")]
    InvalidCharacter(char),
    /// A namespace starting with `AWS/`, which CloudWatch reserves for AWS services.
    #[error("must not start with \"AWS/\" (reserved for AWS services)")]
    ReservedPrefix,
    /// The name `_aws`, the member that holds the EMF directive.
    #[error("\"_aws\" is reserved for the EMF metadata")]
    Reserved,
}

/// What a document member is, to explain a name collision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemberKind {
    /// A metric.
    Metric,
    /// A dimension (including default dimensions and `service`).
    Dimension,
    /// A metadata property.
    Metadata,
}

impl std::fmt::Display for MemberKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Metric => "metric",
            Self::Dimension => "dimension",
            Self::Metadata => "metadata property",
        })
    }
}

/// Errors from the metrics API: every invalid input is rejected at the call that made it, so a
/// flushed document is always valid EMF.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// No namespace was configured (`POWERTOOLS_METRICS_NAMESPACE` or [`MetricsConfig::namespace`]).
    ///
    /// [`MetricsConfig::namespace`]: super::MetricsConfig::namespace
    #[error("no metrics namespace: set POWERTOOLS_METRICS_NAMESPACE or MetricsConfig::namespace")]
    MissingNamespace,
    /// The namespace breaks a CloudWatch rule.
    #[error("invalid metrics namespace {namespace:?}: {rule}")]
    InvalidNamespace {
        /// The rejected namespace.
        namespace: String,
        /// The rule it breaks.
        rule: NameRule,
    },
    /// A metric name breaks a CloudWatch rule.
    #[error("invalid metric name {name:?}: {rule}")]
    InvalidMetricName {
        /// The rejected name.
        name: String,
        /// The rule it breaks.
        rule: NameRule,
    },
    /// A dimension name breaks a CloudWatch rule.
    #[error("invalid dimension name {name:?}: {rule}")]
    InvalidDimensionName {
        /// The rejected name.
        name: String,
        /// The rule it breaks.
        rule: NameRule,
    },
    /// A dimension value breaks a CloudWatch rule.
    #[error("invalid value {value:?} for dimension {name:?}: {rule}")]
    InvalidDimensionValue {
        /// The dimension's name.
        name: String,
        /// The rejected value.
        value: String,
        /// The rule it breaks.
        rule: NameRule,
    },
    /// A metadata key is empty or reserved.
    #[error("invalid metadata key {key:?}: {rule}")]
    InvalidMetadataKey {
        /// The rejected key.
        key: String,
        /// The rule it breaks.
        rule: NameRule,
    },
    /// A metric value is NaN or infinite.
    #[error("metric {name:?}: value {value} is not a finite number")]
    NonFiniteValue {
        /// The metric's name.
        name: String,
        /// The rejected value.
        value: f64,
    },
    /// A metric value is outside the magnitudes CloudWatch accepts (8.515920e-109 to 1.174271e+108).
    #[error("metric {name:?}: value {value} is outside the range CloudWatch accepts")]
    ValueOutOfRange {
        /// The metric's name.
        name: String,
        /// The rejected value.
        value: f64,
    },
    /// Adding the dimension would make the dimension set larger than CloudWatch's limit of 30.
    #[error("dimension {name:?} would exceed the limit of {limit} dimensions")]
    TooManyDimensions {
        /// The dimension that did not fit.
        name: String,
        /// The limit (30).
        limit: usize,
    },
    /// A dimension set names a dimension that already has another value in this flush: a
    /// document has one value per name, shared by every dimension set.
    #[error("dimension {name:?} already has the value {existing:?}, not {requested:?}")]
    ConflictingDimensionValue {
        /// The dimension's name.
        name: String,
        /// The value it has.
        existing: String,
        /// The value of the rejected set.
        requested: String,
    },
    /// More dimension sets than [`MAX_DIMENSION_SETS`](super::MAX_DIMENSION_SETS) in one flush:
    /// each set multiplies the metrics CloudWatch creates and bills.
    #[error("more than {limit} dimension sets in one flush")]
    TooManyDimensionSets {
        /// The limit.
        limit: usize,
    },
    /// The metric was already added with another unit.
    #[error("metric {name:?} was added with unit {existing}, not {requested}")]
    ConflictingUnit {
        /// The metric's name.
        name: String,
        /// The unit it has.
        existing: Unit,
        /// The unit of the rejected value.
        requested: Unit,
    },
    /// The metric was already added with another storage resolution.
    #[error("metric {name:?} was added with {existing:?} resolution, not {requested:?}")]
    ConflictingResolution {
        /// The metric's name.
        name: String,
        /// The resolution it has.
        existing: Resolution,
        /// The resolution of the rejected value.
        requested: Resolution,
    },
    /// The name is already used by another kind of member of the document; EMF documents are flat,
    /// so a metric, a dimension and a metadata property cannot share a name.
    #[error("{name:?} is already a {existing}")]
    NameCollision {
        /// The contested name.
        name: String,
        /// What already uses it.
        existing: MemberKind,
    },
    /// The timestamp is more than 14 days in the past or 2 hours in the future, which CloudWatch
    /// refuses.
    #[error(
        "timestamp {timestamp:?} is outside the 14 days before to 2 hours after now that CloudWatch accepts"
    )]
    TimestampOutOfRange {
        /// The rejected timestamp.
        timestamp: SystemTime,
    },
    /// A Powertools environment variable has a value that is not understood.
    #[error("environment variable {variable} has an invalid value {value:?}")]
    InvalidEnvironment {
        /// The variable's name.
        variable: &'static str,
        /// Its value.
        value: String,
    },
    /// The handle belongs to an invocation whose metrics were already flushed by the layer.
    #[error("these metrics belong to an invocation that has already been flushed")]
    Flushed,
    /// Writing a document to the sink failed.
    #[error("writing an EMF document failed")]
    Write(#[source] std::io::Error),
}
