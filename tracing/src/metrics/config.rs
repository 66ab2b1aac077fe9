//! Namespace, service and default dimensions, from code or Powertools' environment variables.

use super::error::MetricsError;
use super::validate;

/// The variable naming the service, added as the `service` dimension.
pub const SERVICE_NAME_ENV: &str = "POWERTOOLS_SERVICE_NAME";
/// The variable naming the metrics namespace.
pub const NAMESPACE_ENV: &str = "POWERTOOLS_METRICS_NAMESPACE";
/// The variable overriding the `function_name` dimension of the `ColdStart` metric.
pub const FUNCTION_NAME_ENV: &str = "POWERTOOLS_METRICS_FUNCTION_NAME";
/// The variable that turns metrics output off (`true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off`).
pub const DISABLED_ENV: &str = "POWERTOOLS_METRICS_DISABLED";

/// What every invocation's metrics share: namespace, service and default dimensions.
///
/// Values set in code after [`MetricsConfig::from_lookup`] replace those of the environment, as in
/// Powertools, where explicit arguments win over environment variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsConfig {
    namespace: Option<String>,
    service: Option<String>,
    default_dimensions: Vec<(String, String)>,
    function_name: Option<String>,
    disabled: bool,
}

impl MetricsConfig {
    /// An empty configuration: no namespace (it must be set before use), no service, enabled.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads Powertools' variables from the process environment; see [`MetricsConfig::from_lookup`].
    ///
    /// # Errors
    /// As [`MetricsConfig::from_lookup`].
    pub fn from_env() -> Result<Self, MetricsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads `POWERTOOLS_METRICS_NAMESPACE`, `POWERTOOLS_SERVICE_NAME`,
    /// `POWERTOOLS_METRICS_FUNCTION_NAME` and `POWERTOOLS_METRICS_DISABLED` through `lookup`;
    /// unset or empty variables are ignored. Tests pass a closure over a map instead of touching
    /// the process environment.
    ///
    /// # Errors
    /// [`MetricsError::InvalidNamespace`] or [`MetricsError::InvalidDimensionValue`] for a namespace
    /// or service (or function name) CloudWatch would refuse, [`MetricsError::InvalidEnvironment`] for a
    /// `POWERTOOLS_METRICS_DISABLED` that is not a boolean.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, MetricsError> {
        let set = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let mut config = Self::new();
        if let Some(namespace) = set(NAMESPACE_ENV) {
            config = config.namespace(namespace)?;
        }
        if let Some(service) = set(SERVICE_NAME_ENV) {
            config = config.service(service)?;
        }
        if let Some(function_name) = set(FUNCTION_NAME_ENV) {
            config = config.function_name(function_name)?;
        }
        if let Some(disabled) = set(DISABLED_ENV) {
            config.disabled = parse_bool(&disabled).ok_or(MetricsError::InvalidEnvironment {
                variable: DISABLED_ENV,
                value: disabled,
            })?;
        }
        Ok(config)
    }

    /// Sets the CloudWatch namespace of every metric.
    ///
    /// # Errors
    /// [`MetricsError::InvalidNamespace`] if CloudWatch would refuse it.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Result<Self, MetricsError> {
        let namespace = namespace.into();
        validate::namespace(&namespace).map_err(|rule| MetricsError::InvalidNamespace {
            namespace: namespace.clone(),
            rule,
        })?;
        self.namespace = Some(namespace);
        Ok(self)
    }

    /// Sets the service, added to every document as the `service` dimension.
    ///
    /// # Errors
    /// [`MetricsError::InvalidDimensionValue`] if it is not a valid dimension value.
    pub fn service(mut self, service: impl Into<String>) -> Result<Self, MetricsError> {
        let service = service.into();
        validate::dimension_value(&service).map_err(|rule| {
            MetricsError::InvalidDimensionValue {
                name: "service".to_owned(),
                value: service.clone(),
                rule,
            }
        })?;
        self.service = Some(service);
        Ok(self)
    }

    /// Adds a dimension to every document (replacing one of the same name).
    ///
    /// # Errors
    /// [`MetricsError::InvalidDimensionName`] or [`MetricsError::InvalidDimensionValue`] for names
    /// and values CloudWatch would refuse, [`MetricsError::TooManyDimensions`] past 30 dimensions
    /// (counting `service`).
    pub fn default_dimension(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, MetricsError> {
        let (name, value) = (name.into(), value.into());
        check_dimension(&name, &value)?;
        if let Some(slot) = self.default_dimensions.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = value;
            return Ok(self);
        }
        if self.dimensions().count() >= validate::MAX_DIMENSIONS {
            return Err(MetricsError::TooManyDimensions {
                name,
                limit: validate::MAX_DIMENSIONS,
            });
        }
        self.default_dimensions.push((name, value));
        Ok(self)
    }

    /// Sets the `function_name` dimension of the `ColdStart` metric, instead of the name in the
    /// invocation's context.
    ///
    /// # Errors
    /// [`MetricsError::InvalidDimensionValue`] if it is not a valid dimension value.
    pub fn function_name(mut self, function_name: impl Into<String>) -> Result<Self, MetricsError> {
        let function_name = function_name.into();
        check_dimension("function_name", &function_name)?;
        self.function_name = Some(function_name);
        Ok(self)
    }

    /// Turns output off (metrics are still validated); also set by `POWERTOOLS_METRICS_DISABLED`.
    #[must_use]
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = disabled;
        self
    }

    /// The namespace, if set.
    #[must_use]
    pub fn namespace_name(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The service, if set.
    #[must_use]
    pub fn service_name(&self) -> Option<&str> {
        self.service.as_deref()
    }

    /// The `function_name` override for the `ColdStart` metric, if set.
    #[must_use]
    pub fn function_name_override(&self) -> Option<&str> {
        self.function_name.as_deref()
    }

    /// Whether output is off.
    #[must_use]
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// Every default dimension in document order: `service` first (unless a default dimension of
    /// that name replaces it), then the others in the order they were added.
    pub fn dimensions(&self) -> impl Iterator<Item = (&str, &str)> {
        let service = self
            .service
            .as_deref()
            .filter(|_| !self.default_dimensions.iter().any(|(n, _)| n == "service"))
            .map(|service| ("service", service));
        service.into_iter().chain(
            self.default_dimensions
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str())),
        )
    }
}

pub(crate) fn check_dimension(name: &str, value: &str) -> Result<(), MetricsError> {
    validate::dimension_name(name).map_err(|rule| MetricsError::InvalidDimensionName {
        name: name.to_owned(),
        rule,
    })?;
    validate::dimension_value(value).map_err(|rule| MetricsError::InvalidDimensionValue {
        name: name.to_owned(),
        value: value.to_owned(),
        rule,
    })
}

/// Powertools' truthy and falsy spellings (Python's `strtobool`).
fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "y" | "yes" | "t" | "true" | "on" => Some(true),
        "0" | "n" | "no" | "f" | "false" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn reads_powertools_variables() {
        let config = MetricsConfig::from_lookup(lookup(&[
            (NAMESPACE_ENV, "Shop"),
            (SERVICE_NAME_ENV, "orders"),
            (FUNCTION_NAME_ENV, "orders-fn"),
            (DISABLED_ENV, "TRUE"),
        ]))
        .unwrap();
        assert_eq!(config.function_name_override(), Some("orders-fn"));
        assert_eq!(config.namespace_name(), Some("Shop"));
        assert_eq!(config.service_name(), Some("orders"));
        assert!(config.is_disabled());
        assert_eq!(
            config.dimensions().collect::<Vec<_>>(),
            vec![("service", "orders")]
        );
    }

    #[test]
    fn empty_or_missing_variables_are_ignored_and_code_wins() {
        let config =
            MetricsConfig::from_lookup(lookup(&[(NAMESPACE_ENV, ""), (DISABLED_ENV, "off")]))
                .unwrap();
        assert_eq!(config, MetricsConfig::new());
        let config = MetricsConfig::from_lookup(lookup(&[(NAMESPACE_ENV, "Env")]))
            .unwrap()
            .namespace("Code")
            .unwrap();
        assert_eq!(config.namespace_name(), Some("Code"));
    }

    #[test]
    fn invalid_variables_are_errors() {
        assert!(matches!(
            MetricsConfig::from_lookup(lookup(&[(DISABLED_ENV, "maybe")])),
            Err(MetricsError::InvalidEnvironment {
                variable: DISABLED_ENV,
                ..
            })
        ));
        assert!(matches!(
            MetricsConfig::from_lookup(lookup(&[(NAMESPACE_ENV, "AWS/Lambda")])),
            Err(MetricsError::InvalidNamespace { .. })
        ));
        assert!(matches!(
            MetricsConfig::from_lookup(lookup(&[(SERVICE_NAME_ENV, "servicé")])),
            Err(MetricsError::InvalidDimensionValue { .. })
        ));
    }

    #[test]
    fn default_dimensions_replace_and_are_capped_at_30_with_service() {
        let mut config = MetricsConfig::new().service("svc").unwrap();
        for i in 0..29 {
            config = config.default_dimension(format!("d{i}"), "v").unwrap();
        }
        config = config.default_dimension("d0", "replaced").unwrap();
        assert_eq!(config.dimensions().count(), 30);
        assert_eq!(config.dimensions().nth(1), Some(("d0", "replaced")));
        assert!(matches!(
            config.default_dimension("d29", "v"),
            Err(MetricsError::TooManyDimensions { limit: 30, .. })
        ));
        let config = MetricsConfig::new()
            .service("svc")
            .unwrap()
            .default_dimension("service", "other")
            .unwrap();
        assert_eq!(
            config.dimensions().collect::<Vec<_>>(),
            vec![("service", "other")]
        );
    }
}
