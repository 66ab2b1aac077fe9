//! [`CorsConfig`]: CORS settings from code or the environment, checked once, built into tower-http's layer.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer, ExposeHeaders};

use super::origin::OriginPattern;

/// Comma-separated allowed origins, e.g. `https://app.example.com,https://*.preview.example.com`.
pub const ENV_ALLOWED_ORIGINS: &str = "LAMINA_CORS_ALLOWED_ORIGINS";
/// `true`/`false` (also `1`/`0`, `yes`/`no`): send `Access-Control-Allow-Credentials: true`.
pub const ENV_ALLOW_CREDENTIALS: &str = "LAMINA_CORS_ALLOW_CREDENTIALS";
/// Comma-separated methods allowed in preflights.
pub const ENV_ALLOWED_METHODS: &str = "LAMINA_CORS_ALLOWED_METHODS";
/// Comma-separated request headers allowed in preflights, or `*`.
pub const ENV_ALLOWED_HEADERS: &str = "LAMINA_CORS_ALLOWED_HEADERS";
/// Comma-separated response headers the browser may expose to scripts.
pub const ENV_EXPOSE_HEADERS: &str = "LAMINA_CORS_EXPOSE_HEADERS";
/// Seconds a browser may cache a preflight answer.
pub const ENV_MAX_AGE: &str = "LAMINA_CORS_MAX_AGE";

/// Methods allowed when none are configured.
pub const DEFAULT_METHODS: [Method; 6] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// Request headers allowed when none are configured: API Gateway's "Enable CORS" defaults.
pub const DEFAULT_HEADERS: [&str; 5] = [
    "authorization",
    "content-type",
    "x-amz-date",
    "x-api-key",
    "x-amz-security-token",
];

/// A CORS configuration that fails at init rather than in the browser.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorsConfigError {
    /// No allowed origin was configured (the variable is unset or empty).
    #[error("no allowed CORS origin configured (set {ENV_ALLOWED_ORIGINS} or call allow_origins)")]
    NoAllowedOrigins,
    /// An allowed origin is not an origin or pattern.
    #[error("invalid CORS origin {origin:?}: {reason}")]
    InvalidOrigin {
        /// The configured value.
        origin: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// Browsers reject `*` together with credentials; list the origins instead.
    #[error(
        "CORS credentials cannot be combined with a wildcard {what} (`*`); list them explicitly"
    )]
    CredentialsWithWildcard {
        /// `origin` or `headers`.
        what: &'static str,
    },
    /// A method name is not a valid HTTP method token.
    #[error("invalid CORS method {0:?}")]
    InvalidMethod(String),
    /// A header name is not a valid HTTP header name.
    #[error("invalid CORS header name {0:?}")]
    InvalidHeader(String),
    /// A boolean variable holds something other than true/false/1/0/yes/no.
    #[error("invalid boolean {value:?} in {variable}")]
    InvalidBool {
        /// The variable name.
        variable: &'static str,
        /// Its value.
        value: String,
    },
    /// The max age is not a whole number of seconds.
    #[error("invalid CORS max age {0:?}: expected whole seconds")]
    InvalidMaxAge(String),
}

/// CORS settings. Built with methods from code or read with [`CorsConfig::from_env`]; turned into
/// tower-http's [`CorsLayer`] by [`CorsConfig::into_layer`], which validates everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsConfig {
    origins: Vec<String>,
    credentials: bool,
    methods: Option<Vec<String>>,
    headers: Option<Vec<String>>,
    expose: Vec<String>,
    max_age: Option<Duration>,
}

impl CorsConfig {
    /// An empty configuration (it needs at least one origin).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the `LAMINA_CORS_*` variables (see the constants in this module).
    pub fn from_env() -> Result<Self, CorsConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env) with a custom variable lookup (for tests and other sources).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, CorsConfigError> {
        let list = |name: &str| lookup(name).map(|value| split_list(&value));
        let mut config = Self::new().allow_origins(list(ENV_ALLOWED_ORIGINS).unwrap_or_default());
        if let Some(value) = lookup(ENV_ALLOW_CREDENTIALS) {
            config = config.allow_credentials(parse_bool(ENV_ALLOW_CREDENTIALS, &value)?);
        }
        if let Some(methods) = list(ENV_ALLOWED_METHODS).filter(|m| !m.is_empty()) {
            config = config.allow_methods(methods);
        }
        if let Some(headers) = list(ENV_ALLOWED_HEADERS).filter(|h| !h.is_empty()) {
            config = config.allow_headers(headers);
        }
        if let Some(headers) = list(ENV_EXPOSE_HEADERS) {
            config = config.expose_headers(headers);
        }
        if let Some(value) = lookup(ENV_MAX_AGE).filter(|value| !value.trim().is_empty()) {
            let seconds = value
                .trim()
                .parse::<u64>()
                .map_err(|_| CorsConfigError::InvalidMaxAge(value))?;
            config = config.max_age(Duration::from_secs(seconds));
        }
        config.validate()?;
        Ok(config)
    }

    /// Adds allowed origins: exact (`https://app.example.com`), patterns (`https://*.example.com`,
    /// `http://localhost:*`) or `*` for any origin (not with credentials).
    #[must_use]
    pub fn allow_origins<I, T>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.origins.extend(origins.into_iter().map(Into::into));
        self
    }

    /// Sends `Access-Control-Allow-Credentials: true` (cookies, `Authorization` from `fetch` with
    /// `credentials: "include"`).
    #[must_use]
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.credentials = allow;
        self
    }

    /// Sets the methods allowed in preflights (default [`DEFAULT_METHODS`]).
    #[must_use]
    pub fn allow_methods<I, T>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.methods = Some(methods.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the request headers allowed in preflights (default [`DEFAULT_HEADERS`]); `*` allows any
    /// (not with credentials).
    #[must_use]
    pub fn allow_headers<I, T>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.headers = Some(headers.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the response headers scripts may read (`Access-Control-Expose-Headers`).
    #[must_use]
    pub fn expose_headers<I, T>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.expose = headers.into_iter().map(Into::into).collect();
        self
    }

    /// Sets how long a browser may cache a preflight answer (`Access-Control-Max-Age`).
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Checks the configuration without building a layer.
    pub fn validate(&self) -> Result<(), CorsConfigError> {
        self.parts().map(|_| ())
    }

    /// Validates the configuration and builds tower-http's layer, which answers preflights itself and
    /// adds `Access-Control-Allow-Origin` (for allowed origins) and `Vary: origin, ...` to every
    /// response the inner service returns.
    pub fn into_layer(self) -> Result<CorsLayer, CorsConfigError> {
        let parts = self.parts()?;
        let allow_origin = if parts.origins.iter().any(OriginPattern::is_any) {
            AllowOrigin::any()
        } else if parts
            .origins
            .iter()
            .all(|p| matches!(p, OriginPattern::Exact(_)))
        {
            let exact = parts.origins.iter().filter_map(|pattern| match pattern {
                OriginPattern::Exact(origin) => HeaderValue::from_str(origin).ok(),
                _ => None,
            });
            AllowOrigin::list(exact.collect::<Vec<_>>())
        } else {
            let patterns = parts.origins;
            AllowOrigin::predicate(move |origin, _| {
                origin
                    .to_str()
                    .is_ok_and(|origin| patterns.iter().any(|pattern| pattern.matches(origin)))
            })
        };
        let allow_headers = if parts.any_header {
            AllowHeaders::any()
        } else {
            AllowHeaders::list(parts.headers)
        };
        let mut layer = CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_credentials(self.credentials)
            .allow_methods(parts.methods)
            .allow_headers(allow_headers)
            .expose_headers(ExposeHeaders::list(parts.expose));
        if let Some(max_age) = self.max_age {
            layer = layer.max_age(max_age);
        }
        Ok(layer)
    }

    fn parts(&self) -> Result<Parts, CorsConfigError> {
        let origins = self
            .origins
            .iter()
            .filter(|origin| !origin.trim().is_empty())
            .map(|origin| OriginPattern::parse(origin))
            .collect::<Result<Vec<_>, _>>()?;
        if origins.is_empty() {
            return Err(CorsConfigError::NoAllowedOrigins);
        }
        if self.credentials && origins.iter().any(OriginPattern::is_any) {
            return Err(CorsConfigError::CredentialsWithWildcard { what: "origin" });
        }
        let methods = match &self.methods {
            None => DEFAULT_METHODS.to_vec(),
            Some(methods) => methods
                .iter()
                .map(|m| {
                    let name = m.trim().to_ascii_uppercase();
                    if name == "*" || name.is_empty() {
                        return Err(CorsConfigError::InvalidMethod(m.clone()));
                    }
                    Method::from_bytes(name.as_bytes())
                        .map_err(|_| CorsConfigError::InvalidMethod(m.clone()))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let header_names: Vec<&str> = match &self.headers {
            None => DEFAULT_HEADERS.to_vec(),
            Some(headers) => headers.iter().map(|h| h.trim()).collect(),
        };
        let any_header = header_names.contains(&"*");
        if any_header && self.credentials {
            return Err(CorsConfigError::CredentialsWithWildcard { what: "headers" });
        }
        let headers = parse_headers(header_names.into_iter().filter(|h| *h != "*"))?;
        let expose = parse_headers(self.expose.iter().map(|h| h.trim()))?;
        Ok(Parts {
            origins,
            methods,
            headers,
            any_header,
            expose,
        })
    }
}

struct Parts {
    origins: Vec<OriginPattern>,
    methods: Vec<Method>,
    headers: Vec<HeaderName>,
    any_header: bool,
    expose: Vec<HeaderName>,
}

fn parse_headers<'a>(
    names: impl Iterator<Item = &'a str>,
) -> Result<Vec<HeaderName>, CorsConfigError> {
    names
        .filter(|name| !name.is_empty())
        .map(|name| {
            HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| CorsConfigError::InvalidHeader(name.to_owned()))
        })
        .collect()
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_bool(variable: &'static str, value: &str) -> Result<bool, CorsConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        _ => Err(CorsConfigError::InvalidBool {
            variable,
            value: value.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<CorsConfig, CorsConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        CorsConfig::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn env_is_parsed() {
        let config = from(&[
            (
                ENV_ALLOWED_ORIGINS,
                " https://a.example.com , https://*.b.example.com,",
            ),
            (ENV_ALLOW_CREDENTIALS, "TRUE"),
            (ENV_ALLOWED_METHODS, "get,post"),
            (ENV_ALLOWED_HEADERS, "authorization, x-trace"),
            (ENV_EXPOSE_HEADERS, "etag"),
            (ENV_MAX_AGE, "600"),
        ]);
        let expected = CorsConfig::new()
            .allow_origins(["https://a.example.com", "https://*.b.example.com"])
            .allow_credentials(true)
            .allow_methods(["get", "post"])
            .allow_headers(["authorization", "x-trace"])
            .expose_headers(["etag"])
            .max_age(Duration::from_secs(600));
        assert_eq!(config, Ok(expected));
    }

    #[test]
    fn invalid_configurations_table() {
        let origins = ENV_ALLOWED_ORIGINS;
        let cases: [(&[(&str, &str)], CorsConfigError); 10] = [
            (&[], CorsConfigError::NoAllowedOrigins),
            (&[(origins, " , ")], CorsConfigError::NoAllowedOrigins),
            (
                &[(origins, "*"), (ENV_ALLOW_CREDENTIALS, "true")],
                CorsConfigError::CredentialsWithWildcard { what: "origin" },
            ),
            (
                &[
                    (origins, "https://a.com"),
                    (ENV_ALLOW_CREDENTIALS, "1"),
                    (ENV_ALLOWED_HEADERS, "*"),
                ],
                CorsConfigError::CredentialsWithWildcard { what: "headers" },
            ),
            (
                &[(origins, "https://a.com/")],
                CorsConfigError::InvalidOrigin {
                    origin: "https://a.com/".into(),
                    reason: "an origin has no path, not even a trailing /",
                },
            ),
            (
                &[(origins, "https://a.com"), (ENV_ALLOW_CREDENTIALS, "maybe")],
                CorsConfigError::InvalidBool {
                    variable: ENV_ALLOW_CREDENTIALS,
                    value: "maybe".into(),
                },
            ),
            (
                &[
                    (origins, "https://a.com"),
                    (ENV_ALLOWED_METHODS, "GET,PO ST"),
                ],
                CorsConfigError::InvalidMethod("PO ST".into()),
            ),
            (
                &[(origins, "https://a.com"), (ENV_ALLOWED_METHODS, "*")],
                CorsConfigError::InvalidMethod("*".into()),
            ),
            (
                &[
                    (origins, "https://a.com"),
                    (ENV_ALLOWED_HEADERS, "x-ok,bad header"),
                ],
                CorsConfigError::InvalidHeader("bad header".into()),
            ),
            (
                &[(origins, "https://a.com"), (ENV_MAX_AGE, "10m")],
                CorsConfigError::InvalidMaxAge("10m".into()),
            ),
        ];
        for (vars, expected) in cases {
            assert_eq!(from(vars), Err(expected), "{vars:?}");
        }
    }

    #[test]
    fn code_configuration_errors_surface_at_into_layer() {
        let result = CorsConfig::new()
            .allow_origins(["*"])
            .allow_credentials(true)
            .into_layer();
        assert!(matches!(
            result,
            Err(CorsConfigError::CredentialsWithWildcard { what: "origin" })
        ));
        assert!(CorsConfig::new().allow_origins(["*"]).into_layer().is_ok());
        assert!(
            CorsConfig::new()
                .allow_origins(["https://a.com"])
                .allow_headers(["*"])
                .into_layer()
                .is_ok()
        );
    }
}
