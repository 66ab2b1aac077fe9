//! The [`SecretSource`] port and the values that cross it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use super::Secret;

/// A boxed, `Send` future, as returned by [`SecretSource`]'s methods (the trait stays object safe, so
/// a [`SecretCache`](super::SecretCache) can hold any source behind one `Arc<dyn SecretSource>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a secret or parameter comes from: Secrets Manager, Parameter Store, memory, or your own.
///
/// Implementations fetch exactly one value per call; caching, single flight and stale fallback are
/// the [`SecretCache`](super::SecretCache)'s job. Errors must not carry the value.
pub trait SecretSource: Send + Sync + fmt::Debug {
    /// Fetches one value, at `key`'s version stage.
    fn fetch<'a>(&'a self, key: &'a SecretKey) -> BoxFuture<'a, Result<SecretValue, SourceError>>;

    /// Fetches every value under a path (SSM `GetParametersByPath`, recursively, every page), as
    /// `(full name, value)` pairs. Sources without paths answer [`SourceError::Unsupported`].
    fn fetch_path<'a>(
        &'a self,
        path: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, SecretValue)>, SourceError>> {
        let _ = path;
        Box::pin(async {
            Err(SourceError::Unsupported {
                operation: "fetch by path",
            })
        })
    }
}

impl<S: SecretSource + ?Sized> SecretSource for Arc<S> {
    fn fetch<'a>(&'a self, key: &'a SecretKey) -> BoxFuture<'a, Result<SecretValue, SourceError>> {
        (**self).fetch(key)
    }

    fn fetch_path<'a>(
        &'a self,
        path: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, SecretValue)>, SourceError>> {
        (**self).fetch_path(path)
    }
}

/// Which version of a secret to read.
///
/// Secrets Manager maps these to `VersionStage` (`AWSCURRENT`, `AWSPREVIOUS`, `AWSPENDING`, or a
/// custom staging label). Parameter Store maps [`Current`](Self::Current) to the latest version,
/// [`Label`](Self::Label) to the `name:label` selector (a parameter label or a version number), and
/// [`Previous`](Self::Previous) to the version before the latest; it has no pending version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum VersionStage {
    /// The current version (`AWSCURRENT`).
    #[default]
    Current,
    /// The version before the last rotation (`AWSPREVIOUS`).
    Previous,
    /// The version a rotation is putting in place (`AWSPENDING`).
    Pending,
    /// A custom staging label (Secrets Manager) or a label or version number (Parameter Store).
    Label(String),
}

impl VersionStage {
    /// The Secrets Manager staging label for this stage.
    #[must_use]
    pub fn as_label(&self) -> &str {
        match self {
            Self::Current => "AWSCURRENT",
            Self::Previous => "AWSPREVIOUS",
            Self::Pending => "AWSPENDING",
            Self::Label(label) => label,
        }
    }
}

impl fmt::Display for VersionStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_label())
    }
}

/// The name of a secret or parameter and the version stage to read; the cache's key.
///
/// ```
/// use lamina_middleware::secrets::{SecretKey, VersionStage};
///
/// let current = SecretKey::from("prod/db");
/// let previous = SecretKey::new("prod/db").with_stage(VersionStage::Previous);
/// assert_ne!(current, previous);
/// assert_eq!(previous.to_string(), "prod/db@AWSPREVIOUS");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretKey {
    // Shared, so cloning a key (every cache entry and error holds one) does not allocate.
    name: Arc<str>,
    stage: VersionStage,
}

impl SecretKey {
    /// The current version of `name` (a secret name or ARN, or a parameter name).
    #[must_use]
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Self {
            name: name.into(),
            stage: VersionStage::Current,
        }
    }

    /// The same name at another version stage.
    #[must_use]
    pub fn with_stage(mut self, stage: VersionStage) -> Self {
        self.stage = stage;
        self
    }

    /// The secret's or parameter's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version stage.
    #[must_use]
    pub fn stage(&self) -> &VersionStage {
        &self.stage
    }
}

impl From<&str> for SecretKey {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

impl From<String> for SecretKey {
    fn from(name: String) -> Self {
        Self::new(name)
    }
}

impl From<&SecretKey> for SecretKey {
    fn from(key: &SecretKey) -> Self {
        key.clone()
    }
}

/// Names only, never values: safe to log.
impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stage {
            VersionStage::Current => f.write_str(&self.name),
            _ => write!(f, "{}@{}", self.name, self.stage),
        }
    }
}

/// Whether a value came as text (`SecretString`, a `String`/`SecureString` parameter) or as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadKind {
    /// UTF-8 text.
    Text,
    /// Arbitrary bytes (`SecretBinary`).
    Binary,
}

/// One fetched value and its version id. Cloning is cheap (reference-counted bytes); `Debug` redacts.
#[derive(Debug, Clone)]
pub struct SecretValue {
    bytes: Secret<Bytes>,
    kind: PayloadKind,
    version_id: Option<Arc<str>>,
}

impl SecretValue {
    /// A text value.
    #[must_use]
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            bytes: Secret::new(Bytes::from(text.into())),
            kind: PayloadKind::Text,
            version_id: None,
        }
    }

    /// A binary value.
    #[must_use]
    pub fn binary(bytes: impl Into<Bytes>) -> Self {
        Self {
            bytes: Secret::new(bytes.into()),
            kind: PayloadKind::Binary,
            version_id: None,
        }
    }

    /// The same value tagged with the version id the source reported.
    #[must_use]
    pub fn with_version_id(mut self, version_id: impl Into<String>) -> Self {
        self.version_id = Some(Arc::from(version_id.into()));
        self
    }

    /// The source's version id (Secrets Manager's `VersionId`, Parameter Store's version number).
    #[must_use]
    pub fn version_id(&self) -> Option<&str> {
        self.version_id.as_deref()
    }

    /// Text or binary.
    #[must_use]
    pub fn kind(&self) -> PayloadKind {
        self.kind
    }

    /// The raw bytes, still wrapped.
    #[must_use]
    pub fn bytes(&self) -> &Secret<Bytes> {
        &self.bytes
    }

    /// The raw bytes, exposed.
    #[must_use]
    pub fn expose_bytes(&self) -> &[u8] {
        self.bytes.expose()
    }

    /// The value as text, exposed; `None` when the bytes are not UTF-8.
    #[must_use]
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(self.bytes.expose()).ok()
    }
}

/// Why a [`SecretSource`] could not fetch a value. Never contains the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The secret, parameter or version does not exist.
    #[error("not found")]
    NotFound,
    /// The source cannot do this (a path fetch on Secrets Manager, a pending version in SSM).
    #[error("{operation} is not supported by this source")]
    Unsupported {
        /// What was asked for.
        operation: &'static str,
    },
    /// The service or the network failed: throttling, access denied, a KMS failure, a timeout, no
    /// connection. `code` is the AWS error code when the service answered.
    #[error("{service} request failed{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Backend {
        /// The service that was called (`secretsmanager`, `ssm`, or a custom source's name).
        service: &'static str,
        /// The AWS error code, such as `AccessDeniedException`.
        code: Option<String>,
        /// The SDK's description of the failure, including its causes.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_display_name_and_stage_only() {
        let cases = [
            (SecretKey::new("a"), "a"),
            (
                SecretKey::new("a").with_stage(VersionStage::Previous),
                "a@AWSPREVIOUS",
            ),
            (
                SecretKey::new("a").with_stage(VersionStage::Pending),
                "a@AWSPENDING",
            ),
            (
                SecretKey::new("a").with_stage(VersionStage::Label("blue".into())),
                "a@blue",
            ),
        ];
        for (key, expected) in cases {
            assert_eq!(key.to_string(), expected);
        }
    }

    #[test]
    fn values_redact_in_debug_and_report_their_kind() {
        let value = SecretValue::text("pa55").with_version_id("v1");
        assert!(!format!("{value:?}").contains("pa55"));
        assert_eq!(value.expose_str(), Some("pa55"));
        assert_eq!(value.version_id(), Some("v1"));
        assert_eq!(value.kind(), PayloadKind::Text);
        let binary = SecretValue::binary(vec![0xff, 0x00]);
        assert_eq!(binary.expose_str(), None);
        assert_eq!(binary.expose_bytes(), &[0xff, 0x00]);
        assert_eq!(binary.kind(), PayloadKind::Binary);
    }

    #[test]
    fn backend_errors_name_the_code() {
        let error = SourceError::Backend {
            service: "ssm",
            code: Some("ThrottlingException".into()),
            message: "slow down".into(),
        };
        assert_eq!(
            error.to_string(),
            "ssm request failed (ThrottlingException): slow down"
        );
    }
}
