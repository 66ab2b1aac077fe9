//! The redacting wrapper [`Secret<T>`].

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What [`Secret`]'s `Debug`, `Display` and `Serialize` write instead of the value.
pub const REDACTED: &str = "[REDACTED]";

/// A value that must never reach logs, traces, error messages or response bodies.
///
/// `Debug` and `Display` print `Secret([REDACTED])`, and `Serialize` writes the string `"[REDACTED]"`,
/// so a configuration struct that holds a `Secret` can be logged or serialized without leaking it.
/// Serialization is implemented (rather than left out) on purpose: a struct that derives `Serialize`
/// for an audit log should keep compiling and stay safe; the price is that a `Secret` does not
/// round-trip through serde. `Deserialize` reads the plain value, so typed JSON secrets can be decoded
/// straight into fields of type `Secret<T>`.
///
/// Reading the value takes a deliberate [`Secret::expose`]. There is no `PartialEq`: comparing secrets
/// with `==` invites timing side channels; compare `expose()`d values where you must.
///
/// ```
/// use lamina_middleware::secrets::Secret;
///
/// let password = Secret::new("hunter2".to_owned());
/// assert_eq!(format!("{password:?}"), "Secret([REDACTED])");
/// assert_eq!(password.to_string(), "Secret([REDACTED])");
/// assert_eq!(serde_json::to_string(&password).unwrap(), r#""[REDACTED]""#);
/// assert_eq!(password.expose(), "hunter2");
/// ```
#[derive(Clone, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    #[must_use]
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// Borrows the value. Keep the borrow short and out of any log line.
    #[must_use]
    pub const fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    #[must_use]
    pub fn into_exposed(self) -> T {
        self.0
    }

    /// Transforms the value without exposing it to anything but `f`.
    #[must_use]
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Secret<U> {
        Secret(f(self.0))
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl<T> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    struct DbConfig {
        user: String,
        password: Secret<String>,
    }

    #[test]
    fn debug_display_and_serialize_hide_the_value() {
        let config = DbConfig {
            user: "app".to_owned(),
            password: Secret::new("s3cr3t-value".to_owned()),
        };
        let debug = format!("{config:?}");
        let pretty = format!("{config:#?}");
        let json = serde_json::to_string(&config).expect("serializes");
        for text in [&debug, &pretty, &json, &config.password.to_string()] {
            assert!(!text.contains("s3cr3t-value"), "{text}");
            assert!(text.contains(REDACTED), "{text}");
        }
        assert_eq!(json, r#"{"user":"app","password":"[REDACTED]"}"#);
        assert_eq!(config.password.expose(), "s3cr3t-value");
    }

    #[test]
    fn deserialize_reads_the_plain_value() {
        let config: DbConfig =
            serde_json::from_str(r#"{"user":"app","password":"pw"}"#).expect("parses");
        assert_eq!(config.password.expose(), "pw");
        assert_eq!(config.password.map(|p| p.len()).into_exposed(), 2);
    }

    #[test]
    fn formatting_flags_do_not_change_the_output() {
        let secret = Secret::new(42_u64);
        assert_eq!(format!("{secret:>30}"), "Secret([REDACTED])");
        assert_eq!(format!("{secret:#?}"), "Secret([REDACTED])");
    }
}
