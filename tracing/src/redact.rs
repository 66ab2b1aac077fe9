//! Field redaction, shared by the logs and the X-Ray layer: one list of names and one rule, so a
//! field kept out of the logs is kept out of the trace too.

use std::collections::BTreeSet;

use serde_json::Value;

/// The field names redacted unless the list is replaced.
pub(crate) const DEFAULT_NAMES: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
];

/// The text every redacted value is replaced with.
pub(crate) const REDACTED_TEXT: &str = "[REDACTED]";

/// A set of field names to redact, matched without regard to case, against the whole name and
/// against its last dot-separated segment (`user.password` matches `password`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Redaction(BTreeSet<String>);

impl Default for Redaction {
    fn default() -> Self {
        Self::from_names(DEFAULT_NAMES.iter().copied())
    }
}

impl Redaction {
    /// Exactly these names.
    pub(crate) fn from_names<I, N>(names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: Into<String>,
    {
        Self(
            names
                .into_iter()
                .map(|name| name.into().to_ascii_lowercase())
                .collect(),
        )
    }

    /// Adds one name.
    #[cfg_attr(not(feature = "logs"), allow(dead_code))]
    pub(crate) fn insert(&mut self, name: impl Into<String>) {
        self.0.insert(name.into().to_ascii_lowercase());
    }

    /// Whether a field of this name is redacted.
    pub(crate) fn matches(&self, name: &str) -> bool {
        if self.0.is_empty() {
            return false;
        }
        let last = name.rsplit('.').next().unwrap_or(name);
        self.0.iter().any(|redacted| {
            redacted.eq_ignore_ascii_case(name) || redacted.eq_ignore_ascii_case(last)
        })
    }

    /// Replaces the values of redacted keys in a JSON value, at any depth; reports whether
    /// anything changed.
    pub(crate) fn redact_json(&self, value: &mut Value) -> bool {
        let mut changed = false;
        match value {
            Value::Object(map) => {
                for (key, inner) in map.iter_mut() {
                    if self.matches(key) {
                        *inner = Value::String(REDACTED_TEXT.to_owned());
                        changed = true;
                    } else {
                        changed |= self.redact_json(inner);
                    }
                }
            }
            Value::Array(items) => {
                for inner in items {
                    changed |= self.redact_json(inner);
                }
            }
            _ => {}
        }
        changed
    }

    /// A string holding a JSON object or array, with the values of redacted keys replaced at any
    /// depth; any other string unchanged.
    pub(crate) fn redact_embedded_json(&self, value: &str) -> String {
        let trimmed = value.trim_start();
        if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
            return value.to_owned();
        }
        let Ok(mut parsed) = serde_json::from_str::<Value>(value) else {
            return value.to_owned();
        };
        if self.redact_json(&mut parsed) {
            serde_json::to_string(&parsed).unwrap_or_else(|_| REDACTED_TEXT.to_owned())
        } else {
            value.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_whole_or_by_last_segment_without_case() {
        let redaction = Redaction::from_names(["Password", "x-api-key"]);
        for name in ["password", "PASSWORD", "user.password", "X-Api-Key"] {
            assert!(redaction.matches(name), "{name}");
        }
        for name in ["token", "password.hint", "passwords"] {
            assert!(!redaction.matches(name), "{name}");
        }
        assert!(!Redaction::from_names(Vec::<String>::new()).matches("password"));
        assert!(Redaction::default().matches("authorization"));
    }

    #[test]
    fn embedded_json_is_redacted_at_any_depth() {
        let redaction = Redaction::default();
        let redacted = redaction
            .redact_embedded_json(r#"{"Password":"hunter2","nested":[{"token":"t0k","ok":1}]}"#);
        let parsed: Value = serde_json::from_str(&redacted).unwrap_or(Value::Null);
        assert_eq!(parsed["Password"], REDACTED_TEXT);
        assert_eq!(parsed["nested"][0]["token"], REDACTED_TEXT);
        assert_eq!(parsed["nested"][0]["ok"], 1);
        assert_eq!(redaction.redact_embedded_json(r#"{"a": 1}"#), r#"{"a": 1}"#);
        assert_eq!(redaction.redact_embedded_json("{not json"), "{not json");
    }
}
