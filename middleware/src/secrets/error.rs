//! [`SecretError`], what the cache answers when it cannot give a value.

use std::time::Duration;

use super::{SecretKey, SourceError};

/// Why [`SecretCache`](super::SecretCache) could not give a value.
///
/// Messages name the secret (and its version stage) but never contain its value: decode errors
/// report where decoding failed, not the text that failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The source says the secret, parameter or version does not exist. A cached value is not
    /// served in this case: the answer is authoritative, not an outage.
    #[error("secret `{key}` was not found")]
    NotFound {
        /// The secret asked for.
        key: SecretKey,
    },
    /// The fetch failed and there was no earlier value to fall back on.
    #[error("could not fetch secret `{key}`")]
    Fetch {
        /// The secret asked for.
        key: SecretKey,
        /// Why the source failed.
        #[source]
        source: SourceError,
    },
    /// The fetch failed and the last good value is older than `max_stale`, so it is not served.
    #[error("could not refresh secret `{key}`, and its last value ({age:?} old) is past max_stale")]
    Stale {
        /// The secret asked for.
        key: SecretKey,
        /// How old the last good value is.
        age: Duration,
        /// Why the source failed.
        #[source]
        source: SourceError,
    },
    /// The value could not be turned into the requested type (not UTF-8, not JSON of that shape).
    #[error("secret `{key}` is not valid {expected}: {reason}")]
    Decode {
        /// The secret asked for.
        key: SecretKey,
        /// What the value should have been (`UTF-8 text`, or `JSON for <type>`).
        expected: String,
        /// Where decoding failed; never the value itself.
        reason: String,
    },
}

impl SecretError {
    /// The secret (or path) the error is about.
    #[must_use]
    pub fn key(&self) -> &SecretKey {
        match self {
            Self::NotFound { key }
            | Self::Fetch { key, .. }
            | Self::Stale { key, .. }
            | Self::Decode { key, .. } => key,
        }
    }

    /// A JSON decoding failure. serde_json's own messages quote the offending input (`invalid type:
    /// string "hunter2"`), so only its category and position are kept.
    pub(crate) fn json(key: &SecretKey, type_name: &str, error: &serde_json::Error) -> Self {
        let category = match error.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "wrong shape or type",
            serde_json::error::Category::Eof => "unexpected end of input",
        };
        Self::Decode {
            key: key.clone(),
            expected: format!("JSON for {type_name}"),
            reason: format!(
                "{category} at line {} column {}",
                error.line(),
                error.column()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_stay_small() {
        // Result<SecretValue, SecretError> is returned on every cache hit.
        assert!(
            std::mem::size_of::<SecretError>() <= 128,
            "{}",
            std::mem::size_of::<SecretError>()
        );
    }

    #[test]
    fn json_errors_do_not_quote_the_input() {
        let key = SecretKey::new("db");
        let failure = serde_json::from_str::<u32>(r#""hunter2""#).expect_err("not a number");
        assert!(
            failure.to_string().contains("hunter2"),
            "serde_json quotes it"
        );
        let error = SecretError::json(&key, "u32", &failure);
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(
            error.to_string(),
            "secret `db` is not valid JSON for u32: wrong shape or type at line 1 column 9"
        );
    }
}
