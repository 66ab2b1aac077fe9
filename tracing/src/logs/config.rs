//! Log configuration: output format, level, debug sampling, redaction, read from Lambda's and
//! Powertools' environment variables or set in code.

use tracing::Level;

use crate::redact::Redaction;

/// Field names redacted by [`LogConfig::new`] unless replaced with [`LogConfig::redacted_fields`];
/// [`XrayLayer`](crate::xray::XrayLayer) redacts the same names in span fields by default.
pub const DEFAULT_REDACTED_FIELDS: &[&str] = crate::redact::DEFAULT_NAMES;

/// The text every redacted value is replaced with.
pub const REDACTED: &str = crate::redact::REDACTED_TEXT;

/// How a line is laid out, from `AWS_LAMBDA_LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LogFormat {
    /// One JSON object per line (`AWS_LAMBDA_LOG_FORMAT=JSON`, and the default when it is unset).
    #[default]
    Json,
    /// Lambda's plain text layout: `timestamp<TAB>request id<TAB>LEVEL<TAB>target: message key=value…`
    /// (`AWS_LAMBDA_LOG_FORMAT=Text`).
    Text,
}

/// A configuration value that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogConfigError {
    /// A log level variable held something other than TRACE, DEBUG, INFO, WARN, ERROR or FATAL.
    #[error("{variable} must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL; got {value:?}")]
    InvalidLevel {
        /// The variable that held the value.
        variable: &'static str,
        /// The value it held.
        value: String,
    },
    /// `AWS_LAMBDA_LOG_FORMAT` held something other than JSON or Text.
    #[error("AWS_LAMBDA_LOG_FORMAT must be JSON or Text; got {value:?}")]
    InvalidFormat {
        /// The value it held.
        value: String,
    },
    /// `POWERTOOLS_LOGGER_SAMPLE_RATE` was not a number between 0 and 1.
    #[error("POWERTOOLS_LOGGER_SAMPLE_RATE must be a number from 0 to 1; got {value:?}")]
    InvalidSampleRate {
        /// The value it held.
        value: String,
    },
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` was not a whole number of megabytes.
    #[error("AWS_LAMBDA_FUNCTION_MEMORY_SIZE must be a whole number; got {value:?}")]
    InvalidMemorySize {
        /// The value it held.
        value: String,
    },
}

/// What the [`LogLayer`](super::LogLayer) writes and how.
///
/// Build it from the environment with [`LogConfig::from_env`] (or [`LogConfig::from_lookup`] to feed
/// the variables yourself), then adjust it in code with the builder methods.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    pub(crate) format: LogFormat,
    pub(crate) level: Level,
    pub(crate) sample_rate: f64,
    pub(crate) redacted: Redaction,
    pub(crate) service: Option<String>,
    pub(crate) function_name: Option<String>,
    pub(crate) function_version: Option<String>,
    pub(crate) function_memory_size: Option<i32>,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl LogConfig {
    /// JSON lines at INFO, no debug sampling, [`DEFAULT_REDACTED_FIELDS`] redacted, no function
    /// details outside invocations.
    #[must_use]
    pub fn new() -> Self {
        Self {
            format: LogFormat::Json,
            level: Level::INFO,
            sample_rate: 0.0,
            redacted: Redaction::default(),
            service: None,
            function_name: None,
            function_version: None,
            function_memory_size: None,
        }
    }

    /// Reads the configuration from the process environment; see [`LogConfig::from_lookup`].
    ///
    /// # Errors
    ///
    /// As [`LogConfig::from_lookup`].
    pub fn from_env() -> Result<Self, LogConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, which returns a variable's value or `None`.
    ///
    /// | variable | effect |
    /// |---|---|
    /// | `AWS_LAMBDA_LOG_FORMAT` | `JSON` (default) or `Text`, any case |
    /// | `AWS_LAMBDA_LOG_LEVEL` | `TRACE`, `DEBUG`, `INFO` (default), `WARN`, `ERROR`, `FATAL` (logged as ERROR) |
    /// | `POWERTOOLS_LOG_LEVEL` | the same, used when `AWS_LAMBDA_LOG_LEVEL` is unset |
    /// | `POWERTOOLS_LOGGER_SAMPLE_RATE` | chance from 0 to 1 that an invocation logs at DEBUG |
    /// | `POWERTOOLS_SERVICE_NAME` | the `service` key |
    /// | `AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_VERSION`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` | function details for lines logged outside an invocation |
    ///
    /// Empty values count as unset.
    ///
    /// # Errors
    ///
    /// A [`LogConfigError`] naming the first variable whose value is not understood.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, LogConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let mut config = Self::new();
        if let Some(value) = get("AWS_LAMBDA_LOG_FORMAT") {
            config.format = parse_format(&value)?;
        }
        if let Some(value) = get("AWS_LAMBDA_LOG_LEVEL") {
            config.level = parse_level("AWS_LAMBDA_LOG_LEVEL", &value)?;
        } else if let Some(value) = get("POWERTOOLS_LOG_LEVEL") {
            config.level = parse_level("POWERTOOLS_LOG_LEVEL", &value)?;
        }
        if let Some(value) = get("POWERTOOLS_LOGGER_SAMPLE_RATE") {
            config.sample_rate = match value.trim().parse::<f64>() {
                Ok(rate) if (0.0..=1.0).contains(&rate) => rate,
                _ => return Err(LogConfigError::InvalidSampleRate { value }),
            };
        }
        config.service = get("POWERTOOLS_SERVICE_NAME");
        config.function_name = get("AWS_LAMBDA_FUNCTION_NAME");
        config.function_version = get("AWS_LAMBDA_FUNCTION_VERSION");
        if let Some(value) = get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") {
            config.function_memory_size = match value.trim().parse::<i32>() {
                Ok(memory) => Some(memory),
                Err(_) => return Err(LogConfigError::InvalidMemorySize { value }),
            };
        }
        Ok(config)
    }

    /// Sets the line format.
    #[must_use]
    pub fn format(mut self, format: LogFormat) -> Self {
        self.format = format;
        self
    }

    /// Sets the most verbose level logged outside sampled invocations.
    #[must_use]
    pub fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// Sets the chance that an invocation logs at DEBUG; values are clamped to 0..=1 and NaN
    /// counts as 0.
    #[must_use]
    pub fn sample_rate(mut self, rate: f64) -> Self {
        self.sample_rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self
    }

    /// Adds a field name to redact (matched without regard to case).
    #[must_use]
    pub fn redact_field(mut self, name: impl Into<String>) -> Self {
        self.redacted.insert(name);
        self
    }

    /// Replaces the whole set of redacted field names, defaults included.
    #[must_use]
    pub fn redacted_fields<I, N>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: Into<String>,
    {
        self.redacted = Redaction::from_names(names);
        self
    }

    /// Sets the `service` key written on every line.
    #[must_use]
    pub fn service(mut self, name: impl Into<String>) -> Self {
        self.service = Some(name.into());
        self
    }

    /// Sets the function name written on lines logged outside an invocation.
    #[must_use]
    pub fn function_name(mut self, name: impl Into<String>) -> Self {
        self.function_name = Some(name.into());
        self
    }

    /// Sets the function version written on lines logged outside an invocation.
    #[must_use]
    pub fn function_version(mut self, version: impl Into<String>) -> Self {
        self.function_version = Some(version.into());
        self
    }

    /// Sets the memory size in MB written on lines logged outside an invocation.
    #[must_use]
    pub fn function_memory_size(mut self, megabytes: i32) -> Self {
        self.function_memory_size = Some(megabytes);
        self
    }

    /// The line format.
    pub fn log_format(&self) -> LogFormat {
        self.format
    }

    /// The most verbose level logged outside sampled invocations.
    pub fn log_level(&self) -> Level {
        self.level
    }

    /// The chance that an invocation logs at DEBUG.
    pub fn debug_sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// Whether a field of this name is redacted.
    pub fn is_redacted(&self, name: &str) -> bool {
        self.redacted.matches(name)
    }
}

fn parse_format(value: &str) -> Result<LogFormat, LogConfigError> {
    match value.trim().to_ascii_uppercase().as_str() {
        "JSON" => Ok(LogFormat::Json),
        "TEXT" => Ok(LogFormat::Text),
        _ => Err(LogConfigError::InvalidFormat {
            value: value.to_owned(),
        }),
    }
}

fn parse_level(variable: &'static str, value: &str) -> Result<Level, LogConfigError> {
    match value.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Ok(Level::TRACE),
        "DEBUG" => Ok(Level::DEBUG),
        "INFO" => Ok(Level::INFO),
        "WARN" | "WARNING" => Ok(Level::WARN),
        // tracing has no level above ERROR.
        "ERROR" | "FATAL" | "CRITICAL" => Ok(Level::ERROR),
        _ => Err(LogConfigError::InvalidLevel {
            variable,
            value: value.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn levels_map_to_tracing_levels() {
        let table = [
            ("TRACE", Level::TRACE),
            ("debug", Level::DEBUG),
            ("Info", Level::INFO),
            ("WARN", Level::WARN),
            ("ERROR", Level::ERROR),
            ("FATAL", Level::ERROR),
            (" warn ", Level::WARN),
        ];
        for (value, level) in table {
            let config = LogConfig::from_lookup(lookup(&[("AWS_LAMBDA_LOG_LEVEL", value)]));
            assert_eq!(config.map(|c| c.level), Ok(level), "{value}");
        }
    }

    #[test]
    fn bad_values_are_errors_not_panics() {
        let table: [(&str, &str, LogConfigError); 4] = [
            (
                "AWS_LAMBDA_LOG_LEVEL",
                "LOUD",
                LogConfigError::InvalidLevel {
                    variable: "AWS_LAMBDA_LOG_LEVEL",
                    value: "LOUD".into(),
                },
            ),
            (
                "AWS_LAMBDA_LOG_FORMAT",
                "xml",
                LogConfigError::InvalidFormat {
                    value: "xml".into(),
                },
            ),
            (
                "POWERTOOLS_LOGGER_SAMPLE_RATE",
                "1.5",
                LogConfigError::InvalidSampleRate {
                    value: "1.5".into(),
                },
            ),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                "lots",
                LogConfigError::InvalidMemorySize {
                    value: "lots".into(),
                },
            ),
        ];
        for (name, value, error) in table {
            assert_eq!(LogConfig::from_lookup(lookup(&[(name, value)])), Err(error));
        }
    }

    #[test]
    fn lambda_level_wins_over_powertools_level() {
        let config = LogConfig::from_lookup(lookup(&[
            ("POWERTOOLS_LOG_LEVEL", "ERROR"),
            ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
        ]));
        assert_eq!(config.map(|c| c.level), Ok(Level::DEBUG));
        let config = LogConfig::from_lookup(lookup(&[("POWERTOOLS_LOG_LEVEL", "ERROR")]));
        assert_eq!(config.map(|c| c.level), Ok(Level::ERROR));
    }

    #[test]
    fn environment_fills_every_setting() {
        let config = LogConfig::from_lookup(lookup(&[
            ("AWS_LAMBDA_LOG_FORMAT", "Text"),
            ("POWERTOOLS_LOGGER_SAMPLE_RATE", "0.25"),
            ("POWERTOOLS_SERVICE_NAME", "orders"),
            ("AWS_LAMBDA_FUNCTION_NAME", "orders-fn"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
            ("AWS_LAMBDA_LOG_LEVEL", ""),
        ]))
        .unwrap_or_default();
        assert_eq!(config.format, LogFormat::Text);
        assert_eq!(config.level, Level::INFO);
        assert_eq!(config.sample_rate, 0.25);
        assert_eq!(config.service.as_deref(), Some("orders"));
        assert_eq!(config.function_name.as_deref(), Some("orders-fn"));
        assert_eq!(config.function_version.as_deref(), Some("$LATEST"));
        assert_eq!(config.function_memory_size, Some(512));
    }

    #[test]
    fn redaction_matches_names_without_case_and_by_last_segment() {
        let config = LogConfig::new().redacted_fields(["Password", "x-api-key"]);
        assert!(config.is_redacted("password"));
        assert!(config.is_redacted("PASSWORD"));
        assert!(config.is_redacted("user.password"));
        assert!(config.is_redacted("X-Api-Key"));
        assert!(!config.is_redacted("token"));
        assert!(!config.is_redacted("password_hint"));
        assert!(LogConfig::new().is_redacted("Authorization"));
        assert!(
            !LogConfig::new()
                .redacted_fields(Vec::<String>::new())
                .is_redacted("password")
        );
    }

    #[test]
    fn sample_rate_is_clamped() {
        assert_eq!(LogConfig::new().sample_rate(2.0).sample_rate, 1.0);
        assert_eq!(LogConfig::new().sample_rate(-1.0).sample_rate, 0.0);
        assert_eq!(LogConfig::new().sample_rate(f64::NAN).sample_rate, 0.0);
    }
}
