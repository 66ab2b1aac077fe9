//! Each function's configuration, read from the environment the SAM template sets.
//!
//! Every function reads only the variables it needs (`ws-connect` needs nothing but
//! `CONNECTIONS_TABLE`), and a missing, empty or malformed one fails the function's init with a
//! [`ConfigError`] naming it, instead of a confusing failure on the first event. The readers take a
//! lookup function, so tests pass a map instead of touching the process environment.
//!
//! | function | required | optional |
//! |---|---|---|
//! | `api` | `GROUPS_TABLE`, `IMAGES_TABLE`, `IMAGES_BUCKET`, `IMAGES_PUBLIC_URL`, `SEARCH_ENDPOINT`, `JWKS_URL`, `JWT_ISSUER`, `JWT_AUDIENCE` | `S3_FORCE_PATH_STYLE`, `SEARCH_INDEX` |
//! | `process-upload` | `IMAGES_TABLE`, `CONNECTIONS_TABLE`, `IMAGES_BUCKET`, `IMAGES_PUBLIC_URL`, `WEBSOCKET_ENDPOINT` | `S3_FORCE_PATH_STYLE` |
//! | `index-stream` | `SEARCH_ENDPOINT` | `SEARCH_INDEX` |
//! | `ws-connect`, `ws-disconnect` | `CONNECTIONS_TABLE` | |
//! | `authorizer` | `JWKS_URL`, `JWT_ISSUER`, `JWT_AUDIENCE` | |
//!
//! Every function also takes the standard AWS variables (`AWS_REGION`, credentials,
//! `AWS_ENDPOINT_URL` for moto in tests) and lamina-tracing's (`AWS_LAMBDA_LOG_LEVEL`,
//! `POWERTOOLS_METRICS_NAMESPACE`, `POWERTOOLS_SERVICE_NAME`, `AWS_XRAY_DAEMON_ADDRESS`).
//! `UPLOADS_TOPIC_ARN` is read by none: the bucket publishes to the topic, not a function.
//!
//! ```
//! use std::collections::HashMap;
//! use udagram::lambda::config::{ConfigError, ConnectionsConfig};
//!
//! let env = HashMap::from([("CONNECTIONS_TABLE", "udagram-connections")]);
//! let config = ConnectionsConfig::from_lookup(|name| env.get(name).map(|v| v.to_string())).unwrap();
//! assert_eq!(config.connections_table, "udagram-connections");
//!
//! let missing = ConnectionsConfig::from_lookup(|_| None).unwrap_err();
//! assert_eq!(missing, ConfigError::Missing("CONNECTIONS_TABLE"));
//! ```

/// The Groups table's name.
pub const GROUPS_TABLE: &str = "GROUPS_TABLE";
/// The Images table's name.
pub const IMAGES_TABLE: &str = "IMAGES_TABLE";
/// The Connections table's name.
pub const CONNECTIONS_TABLE: &str = "CONNECTIONS_TABLE";
/// The images bucket's name.
pub const IMAGES_BUCKET: &str = "IMAGES_BUCKET";
/// The base URL images are read from (`<IMAGES_PUBLIC_URL>/<key>`).
pub const IMAGES_PUBLIC_URL: &str = "IMAGES_PUBLIC_URL";
/// `true` to address the bucket path-style (moto, S3-compatible stores); optional.
pub const S3_FORCE_PATH_STYLE: &str = "S3_FORCE_PATH_STYLE";
/// The OpenSearch domain's endpoint.
pub const SEARCH_ENDPOINT: &str = "SEARCH_ENDPOINT";
/// The OpenSearch index; optional, [`DEFAULT_SEARCH_INDEX`] when unset.
pub const SEARCH_INDEX: &str = "SEARCH_INDEX";
/// The API Gateway Management API endpoint of the WebSocket stage.
pub const WEBSOCKET_ENDPOINT: &str = "WEBSOCKET_ENDPOINT";
/// Where the token issuer publishes its keys.
pub const JWKS_URL: &str = "JWKS_URL";
/// The `iss` every token must carry.
pub const JWT_ISSUER: &str = "JWT_ISSUER";
/// The `aud` every token must carry.
pub const JWT_AUDIENCE: &str = "JWT_AUDIENCE";

/// The search index when `SEARCH_INDEX` is unset.
pub const DEFAULT_SEARCH_INDEX: &str = "images";

/// Why a function's configuration was refused. Never carries a variable's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("the environment variable {0} is not set")]
    Missing(&'static str),
    /// A variable is set to something unusable.
    #[error("the environment variable {name} is malformed: {reason}")]
    Malformed {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Where the image bytes live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketConfig {
    /// `IMAGES_BUCKET`.
    pub name: String,
    /// `IMAGES_PUBLIC_URL`, without a trailing `/`.
    pub public_url: String,
    /// `S3_FORCE_PATH_STYLE` (default false).
    pub force_path_style: bool,
}

/// The OpenSearch domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchConfig {
    /// `SEARCH_ENDPOINT`, without a trailing `/`.
    pub endpoint: String,
    /// `SEARCH_INDEX`, or [`DEFAULT_SEARCH_INDEX`].
    pub index: String,
}

/// The token issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// `JWKS_URL`.
    pub jwks_url: String,
    /// `JWT_ISSUER`.
    pub issuer: String,
    /// `JWT_AUDIENCE`.
    pub audience: String,
}

/// The `api` function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// `GROUPS_TABLE`.
    pub groups_table: String,
    /// `IMAGES_TABLE`.
    pub images_table: String,
    /// The bucket.
    pub bucket: BucketConfig,
    /// The search domain (queried by `GET /images?q=`).
    pub search: SearchConfig,
    /// The token issuer.
    pub auth: AuthConfig,
}

/// The `process-upload` function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadConfig {
    /// `IMAGES_TABLE`.
    pub images_table: String,
    /// `CONNECTIONS_TABLE` (whom to notify).
    pub connections_table: String,
    /// The bucket.
    pub bucket: BucketConfig,
    /// `WEBSOCKET_ENDPOINT`.
    pub websocket_endpoint: String,
}

/// The `index-stream` function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// The search domain documents are written to.
    pub search: SearchConfig,
}

/// The `ws-connect` and `ws-disconnect` functions' configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionsConfig {
    /// `CONNECTIONS_TABLE`.
    pub connections_table: String,
}

/// The `authorizer` function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerConfig {
    /// The token issuer.
    pub auth: AuthConfig,
}

/// Reads variables through a lookup function; an empty value counts as unset.
struct Env<F>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    fn optional(&self, name: &'static str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    fn table(&self, name: &'static str) -> Result<String, ConfigError> {
        let value = self.required(name)?;
        let valid = (3..=255).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if valid {
            Ok(value)
        } else {
            Err(malformed(
                name,
                "a DynamoDB table name is 3 to 255 of A-Z a-z 0-9 _ - .",
            ))
        }
    }

    fn url(&self, name: &'static str) -> Result<String, ConfigError> {
        let value = self.required(name)?;
        let rest = value
            .strip_prefix("https://")
            .or_else(|| value.strip_prefix("http://"));
        let host = rest.and_then(|r| r.split('/').next()).unwrap_or("");
        if host.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(malformed(name, "expected an http(s) URL with a host"));
        }
        Ok(value.trim_end_matches('/').to_owned())
    }

    fn bucket(&self) -> Result<BucketConfig, ConfigError> {
        let name = self.required(IMAGES_BUCKET)?;
        let valid = (3..=63).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'))
            && !name.starts_with(['.', '-'])
            && !name.ends_with(['.', '-']);
        if !valid {
            return Err(malformed(
                IMAGES_BUCKET,
                "a bucket name is 3 to 63 of a-z 0-9 . -",
            ));
        }
        let force_path_style = match self.optional(S3_FORCE_PATH_STYLE).as_deref() {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(_) => return Err(malformed(S3_FORCE_PATH_STYLE, "expected true or false")),
        };
        Ok(BucketConfig {
            name,
            public_url: self.url(IMAGES_PUBLIC_URL)?,
            force_path_style,
        })
    }

    fn search(&self) -> Result<SearchConfig, ConfigError> {
        let endpoint = self.url(SEARCH_ENDPOINT)?;
        let index = self
            .optional(SEARCH_INDEX)
            .unwrap_or_else(|| DEFAULT_SEARCH_INDEX.to_owned());
        // OpenSearch's rules, minus the rarely used characters that would need escaping in a path.
        let valid = index.len() <= 255
            && !index.starts_with(['_', '-', '+', '.'])
            && index.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')
            });
        if !valid {
            return Err(malformed(
                SEARCH_INDEX,
                "an index name is lowercase a-z 0-9 _ - . and does not start with _ - .",
            ));
        }
        Ok(SearchConfig { endpoint, index })
    }

    fn auth(&self) -> Result<AuthConfig, ConfigError> {
        Ok(AuthConfig {
            jwks_url: self.url(JWKS_URL)?,
            issuer: self.required(JWT_ISSUER)?,
            audience: self.required(JWT_AUDIENCE)?,
        })
    }
}

fn malformed(name: &'static str, reason: &'static str) -> ConfigError {
    ConfigError::Malformed { name, reason }
}

macro_rules! from_env {
    () => {
        /// Reads the process environment; see `from_lookup`.
        ///
        /// # Errors
        /// A [`ConfigError`] naming the first missing or malformed variable.
        pub fn from_env() -> Result<Self, ConfigError> {
            Self::from_lookup(|name| std::env::var(name).ok())
        }
    };
}

impl ApiConfig {
    from_env!();

    /// Reads `GROUPS_TABLE`, `IMAGES_TABLE`, the bucket, search and issuer variables through `lookup`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        Ok(Self {
            groups_table: env.table(GROUPS_TABLE)?,
            images_table: env.table(IMAGES_TABLE)?,
            bucket: env.bucket()?,
            search: env.search()?,
            auth: env.auth()?,
        })
    }
}

impl UploadConfig {
    from_env!();

    /// Reads `IMAGES_TABLE`, `CONNECTIONS_TABLE`, the bucket variables and
    /// `WEBSOCKET_ENDPOINT` through `lookup` (not the search domain's: the Images table's stream
    /// indexes a ready image, not this function).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        Ok(Self {
            images_table: env.table(IMAGES_TABLE)?,
            connections_table: env.table(CONNECTIONS_TABLE)?,
            bucket: env.bucket()?,
            websocket_endpoint: env.url(WEBSOCKET_ENDPOINT)?,
        })
    }
}

impl StreamConfig {
    from_env!();

    /// Reads `SEARCH_ENDPOINT` and `SEARCH_INDEX` through `lookup`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            search: Env(lookup).search()?,
        })
    }
}

impl ConnectionsConfig {
    from_env!();

    /// Reads `CONNECTIONS_TABLE` through `lookup`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            connections_table: Env(lookup).table(CONNECTIONS_TABLE)?,
        })
    }
}

impl AuthorizerConfig {
    from_env!();

    /// Reads `JWKS_URL`, `JWT_ISSUER` and `JWT_AUDIENCE` through `lookup`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first missing or malformed variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            auth: Env(lookup).auth()?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn full() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            (GROUPS_TABLE, "udagram-groups"),
            (IMAGES_TABLE, "udagram-images"),
            (CONNECTIONS_TABLE, "udagram-connections"),
            (IMAGES_BUCKET, "udagram-images-123"),
            (
                IMAGES_PUBLIC_URL,
                "https://udagram-images-123.s3.amazonaws.com/",
            ),
            (
                SEARCH_ENDPOINT,
                "https://search-x.us-east-1.es.amazonaws.com",
            ),
            (
                WEBSOCKET_ENDPOINT,
                "https://abc.execute-api.us-east-1.amazonaws.com/dev",
            ),
            (
                JWKS_URL,
                "https://tenant.eu.auth0.com/.well-known/jwks.json",
            ),
            (JWT_ISSUER, "https://tenant.eu.auth0.com/"),
            (JWT_AUDIENCE, "https://udagram.example.com"),
        ])
    }

    fn with<'a>(
        env: &'a HashMap<&'static str, &'static str>,
    ) -> impl Fn(&str) -> Option<String> + 'a {
        |name| env.get(name).map(|v| (*v).to_owned())
    }

    #[test]
    fn every_function_reads_its_variables() {
        let env = full();
        let api = ApiConfig::from_lookup(with(&env)).unwrap();
        assert_eq!(api.groups_table, "udagram-groups");
        assert_eq!(
            api.bucket.public_url,
            "https://udagram-images-123.s3.amazonaws.com"
        );
        assert!(!api.bucket.force_path_style);
        assert_eq!(api.search.index, DEFAULT_SEARCH_INDEX);
        assert_eq!(api.auth.issuer, "https://tenant.eu.auth0.com/");
        let upload = UploadConfig::from_lookup(with(&env)).unwrap();
        assert_eq!(
            upload.websocket_endpoint,
            "https://abc.execute-api.us-east-1.amazonaws.com/dev"
        );
        assert_eq!(
            StreamConfig::from_lookup(with(&env))
                .unwrap()
                .search
                .endpoint,
            "https://search-x.us-east-1.es.amazonaws.com"
        );
        AuthorizerConfig::from_lookup(with(&env)).unwrap();
    }

    #[test]
    fn a_function_needs_only_its_own_variables() {
        let env = HashMap::from([(CONNECTIONS_TABLE, "c-table")]);
        assert_eq!(
            ConnectionsConfig::from_lookup(with(&env)).unwrap(),
            ConnectionsConfig {
                connections_table: "c-table".into()
            }
        );
        let env = HashMap::from([(SEARCH_ENDPOINT, "http://127.0.0.1:9200")]);
        assert_eq!(
            StreamConfig::from_lookup(with(&env)).unwrap().search.index,
            "images"
        );
    }

    /// Reads one function's configuration, keeping only the error.
    type Reader = fn(&dyn Fn(&str) -> Option<String>) -> Option<ConfigError>;

    #[test]
    fn missing_or_empty_variables_are_named() {
        let cases: [(&str, Reader); 5] = [
            (GROUPS_TABLE, |l| ApiConfig::from_lookup(l).err()),
            (IMAGES_PUBLIC_URL, |l| ApiConfig::from_lookup(l).err()),
            (JWT_AUDIENCE, |l| AuthorizerConfig::from_lookup(l).err()),
            (WEBSOCKET_ENDPOINT, |l| UploadConfig::from_lookup(l).err()),
            (CONNECTIONS_TABLE, |l| UploadConfig::from_lookup(l).err()),
        ];
        for (name, read) in cases {
            for replacement in [None, Some("  ")] {
                let mut env = full();
                match replacement {
                    None => env.remove(name),
                    Some(blank) => env.insert(name, blank),
                };
                let lookup = with(&env);
                let error = read(&lookup).unwrap();
                assert_eq!(error, ConfigError::Missing(name));
                assert!(error.to_string().contains(name), "{error}");
            }
        }
    }

    #[test]
    fn malformed_variables_are_named_without_their_value() {
        let cases = [
            (IMAGES_TABLE, "no spaces allowed"),
            (IMAGES_TABLE, "xy"),
            (IMAGES_BUCKET, "Upper_Case"),
            (IMAGES_BUCKET, "-dash-first"),
            (IMAGES_PUBLIC_URL, "s3://bucket"),
            (IMAGES_PUBLIC_URL, "https://"),
            (S3_FORCE_PATH_STYLE, "yes"),
            (SEARCH_ENDPOINT, "search-x.es.amazonaws.com"),
            (SEARCH_INDEX, "Images"),
            (SEARCH_INDEX, "_all"),
            (SEARCH_INDEX, "a/b"),
            (JWKS_URL, "https://host/with space"),
        ];
        for (name, value) in cases {
            let mut env = full();
            env.insert(name, value);
            let error = ApiConfig::from_lookup(with(&env)).unwrap_err();
            assert!(
                matches!(error, ConfigError::Malformed { name: n, .. } if n == name),
                "{name}={value}: {error:?}"
            );
            assert!(!error.to_string().contains(value), "{error}");
        }
    }

    #[test]
    fn path_style_is_switched_on_by_true() {
        for (value, expected) in [("true", true), ("TRUE", true), ("false", false)] {
            let mut env = full();
            env.insert(S3_FORCE_PATH_STYLE, value);
            let config = UploadConfig::from_lookup(with(&env)).unwrap();
            assert_eq!(config.bucket.force_path_style, expected, "{value}");
        }
        let mut env = full();
        env.insert(SEARCH_INDEX, "udagram-images");
        assert_eq!(
            ApiConfig::from_lookup(with(&env)).unwrap().search.index,
            "udagram-images"
        );
    }
}
