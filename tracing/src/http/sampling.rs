//! Local sampling rules (the X-Ray SDKs' sampling rule file) and the sampler applying them, and
//! the [`SamplingStrategy`] trait both it and the centralized sampler implement.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{SystemTime, UNIX_EPOCH},
};

use rand::Rng as _;
use serde_json::{Map, Value};

/// Why a sampling rule file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SamplingRulesError {
    /// The file could not be read.
    #[error("cannot read the sampling rules file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not a JSON object.
    #[error("the sampling rules are not a JSON object: {0}")]
    Json(String),
    /// `version` is missing or is neither 1 nor 2.
    #[error("unsupported sampling rules version {0} (expected 1 or 2)")]
    UnsupportedVersion(String),
    /// The `default` rule is missing.
    #[error("the sampling rules have no `default` rule")]
    MissingDefault,
    /// The `default` rule sets `host`, `service_name`, `http_method` or `url_path`.
    #[error("the `default` sampling rule must not set `{0}`")]
    DefaultWithMatcher(String),
    /// A rule lacks a required field, or a field has the wrong type or a negative value.
    #[error("sampling rule {rule}: `{field}` is missing or invalid ({expected})")]
    InvalidField {
        /// `default`, or the index of the rule in `rules`.
        rule: String,
        /// The field.
        field: String,
        /// What was expected.
        expected: &'static str,
    },
}

/// One custom rule: requests whose host, method and path match get their own reservoir of
/// `fixed_target` per second, then `rate`.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingRule {
    /// A description, if any.
    pub description: Option<String>,
    /// The host pattern (`service_name` in version 1 files).
    pub host: String,
    /// The HTTP method pattern.
    pub http_method: String,
    /// The URL path pattern.
    pub url_path: String,
    /// Requests sampled per second before `rate` applies.
    pub fixed_target: u64,
    /// The share of further requests sampled, from 0 to 1.
    pub rate: f64,
}

/// A parsed sampling rule file: the custom rules, first match wins, then the default.
///
/// ```
/// use lamina_tracing::http::SamplingRules;
///
/// let rules = SamplingRules::parse(r#"{"version": 2,
///     "rules": [{"description": "health", "host": "*", "http_method": "GET",
///                "url_path": "/health", "fixed_target": 0, "rate": 0}],
///     "default": {"fixed_target": 1, "rate": 0.05}}"#)?;
/// assert_eq!(rules.rules().len(), 1);
/// assert_eq!(rules.default_target(), (1, 0.05));
/// # Ok::<(), lamina_tracing::http::SamplingRulesError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingRules {
    rules: Vec<SamplingRule>,
    default_fixed_target: u64,
    default_rate: f64,
}

impl Default for SamplingRules {
    /// No custom rules; 1 request per second, then 5%.
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            default_fixed_target: 1,
            default_rate: 0.05,
        }
    }
}

impl SamplingRules {
    /// Reads and parses a rule file.
    ///
    /// # Errors
    /// [`SamplingRulesError::Read`] when it cannot be read, else as [`parse`](Self::parse).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, SamplingRulesError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SamplingRulesError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses a rule file of version 1 or 2.
    ///
    /// # Errors
    /// A [`SamplingRulesError`] naming the first problem found.
    pub fn parse(text: &str) -> Result<Self, SamplingRulesError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|error| SamplingRulesError::Json(error.to_string()))?;
        let Value::Object(object) = value else {
            return Err(SamplingRulesError::Json("not an object".to_owned()));
        };
        let version = object.get("version");
        let host_key = match version.and_then(Value::as_u64) {
            Some(1) => "service_name",
            Some(2) => "host",
            _ => {
                let shown = version.map_or_else(|| "none".to_owned(), ToString::to_string);
                return Err(SamplingRulesError::UnsupportedVersion(shown));
            }
        };
        let default = match object.get("default") {
            Some(Value::Object(default)) => default,
            Some(_) => {
                return Err(invalid("default", "default", "an object"));
            }
            None => return Err(SamplingRulesError::MissingDefault),
        };
        for key in ["host", "service_name", "http_method", "url_path"] {
            if default.contains_key(key) {
                return Err(SamplingRulesError::DefaultWithMatcher(key.to_owned()));
            }
        }
        let (default_fixed_target, default_rate) = target(default, "default")?;
        let rules = match object.get("rules") {
            None => Vec::new(),
            Some(Value::Array(rules)) => rules
                .iter()
                .enumerate()
                .map(|(index, rule)| custom_rule(rule, &index.to_string(), host_key))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid("rules", "rules", "an array")),
        };
        Ok(Self {
            rules,
            default_fixed_target,
            default_rate,
        })
    }

    /// The custom rules, in order.
    #[must_use]
    pub fn rules(&self) -> &[SamplingRule] {
        &self.rules
    }

    /// The default rule's `(fixed_target, rate)`.
    #[must_use]
    pub fn default_target(&self) -> (u64, f64) {
        (self.default_fixed_target, self.default_rate)
    }

    /// The index of the first custom rule matching the request, `None` for the default.
    #[must_use]
    pub fn matching_rule(&self, request: &SamplingRequest<'_>) -> Option<usize> {
        self.rules.iter().position(|rule| {
            matches(&rule.host, request.host)
                && matches(&rule.http_method, request.method)
                && matches(&rule.url_path, request.url_path)
        })
    }
}

fn invalid(rule: &str, field: &str, expected: &'static str) -> SamplingRulesError {
    SamplingRulesError::InvalidField {
        rule: rule.to_owned(),
        field: field.to_owned(),
        expected,
    }
}

fn target(rule: &Map<String, Value>, name: &str) -> Result<(u64, f64), SamplingRulesError> {
    let fixed_target = rule
        .get("fixed_target")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid(name, "fixed_target", "a non-negative integer"))?;
    let rate = rule
        .get("rate")
        .and_then(Value::as_f64)
        .filter(|rate| (0.0..=1.0).contains(rate))
        .ok_or_else(|| invalid(name, "rate", "a number from 0 to 1"))?;
    Ok((fixed_target, rate))
}

fn custom_rule(
    value: &Value,
    name: &str,
    host_key: &str,
) -> Result<SamplingRule, SamplingRulesError> {
    let Value::Object(rule) = value else {
        return Err(invalid(name, "rule", "an object"));
    };
    let text = |key: &str| {
        rule.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| invalid(name, key, "a string"))
    };
    let description = match rule.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => return Err(invalid(name, "description", "a string")),
    };
    let (fixed_target, rate) = target(rule, name)?;
    Ok(SamplingRule {
        description,
        host: text(host_key)?,
        http_method: text("http_method")?,
        url_path: text("url_path")?,
        fixed_target,
        rate,
    })
}

/// Matches `value` against `pattern` (`*` any sequence, `?` one character, case-insensitive).
/// An absent or empty value always matches.
#[must_use]
pub fn matches(pattern: &str, value: Option<&str>) -> bool {
    let Some(value) = value.filter(|value| !value.is_empty()) else {
        return true;
    };
    let pattern: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    let value: Vec<char> = value.chars().flat_map(char::to_lowercase).collect();
    let (mut p, mut v) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, v));
                p += 1;
            }
            Some(&c) if c == '?' || c == value[v] => {
                p += 1;
                v += 1;
            }
            _ => match star {
                Some((star_p, star_v)) => {
                    p = star_p + 1;
                    v = star_v + 1;
                    star = Some((star_p, star_v + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// The request attributes sampling rules match on; `None` or empty matches any pattern.
#[derive(Debug, Clone, Copy, Default)]
pub struct SamplingRequest<'a> {
    /// The `Host` (without the port).
    pub host: Option<&'a str>,
    /// The HTTP method.
    pub method: Option<&'a str>,
    /// The URL path.
    pub url_path: Option<&'a str>,
}

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;
type Random = Arc<dyn Fn() -> f64 + Send + Sync>;

/// Decides per request from [`SamplingRules`]: the matching rule's reservoir of
/// `fixed_target` requests per wall-clock second is used first, then a random number below
/// `rate` samples. Each rule (and the default) has its own reservoir. Cheap to share behind an
/// `Arc`; [`with_clock`](Self::with_clock) and [`with_random`](Self::with_random) make it
/// deterministic for tests.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use lamina_tracing::http::{Sampler, SamplingRequest, SamplingRules};
///
/// let sampler = Sampler::new(SamplingRules::default())
///     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000))
///     .with_random(|| 0.5);
/// let request = SamplingRequest { host: Some("a"), method: Some("GET"), url_path: Some("/") };
/// assert!(sampler.sample(&request)); // the reservoir: 1 in this second
/// assert!(!sampler.sample(&request)); // 0.5 is not below 5%
/// ```
#[derive(Clone)]
pub struct Sampler {
    rules: SamplingRules,
    /// `(second, used)` per custom rule, then the default's.
    reservoirs: Arc<Vec<Mutex<(u64, u64)>>>,
    clock: Clock,
    random: Random,
}

impl fmt::Debug for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sampler")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl Default for Sampler {
    fn default() -> Self {
        Self::new(SamplingRules::default())
    }
}

impl Sampler {
    /// A sampler on the system clock and the thread-local random generator.
    #[must_use]
    pub fn new(rules: SamplingRules) -> Self {
        let reservoirs = (0..=rules.rules.len())
            .map(|_| Mutex::new((0, 0)))
            .collect();
        Self {
            rules,
            reservoirs: Arc::new(reservoirs),
            clock: Arc::new(SystemTime::now),
            random: Arc::new(|| rand::rng().random::<f64>()),
        }
    }

    /// Reads the time from `clock` instead of the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Draws numbers in `[0, 1)` from `random` instead of the thread-local generator.
    #[must_use]
    pub fn with_random(mut self, random: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.random = Arc::new(random);
        self
    }

    /// The rules applied.
    #[must_use]
    pub fn rules(&self) -> &SamplingRules {
        &self.rules
    }

    /// Whether to sample this request.
    #[must_use]
    pub fn sample(&self, request: &SamplingRequest<'_>) -> bool {
        let index = self.rules.matching_rule(request);
        let (fixed_target, rate) = match index {
            Some(index) => {
                let rule = &self.rules.rules[index];
                (rule.fixed_target, rule.rate)
            }
            None => self.rules.default_target(),
        };
        let slot = index.unwrap_or(self.rules.rules.len());
        if fixed_target > 0 {
            let second = (self.clock)()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs());
            if let Some(reservoir) = self.reservoirs.get(slot) {
                let mut reservoir = reservoir
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if reservoir.0 != second {
                    *reservoir = (second, 0);
                }
                if reservoir.1 < fixed_target {
                    reservoir.1 += 1;
                    return true;
                }
            }
        }
        (self.random)() < rate
    }
}

/// What a [`SamplingStrategy`] decided for one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SamplingOutcome {
    /// Whether to trace the request.
    pub sampled: bool,
    /// The centralized rule that decided, recorded on sampled segments as
    /// `aws.xray.sampling_rule_name`; `None` for local rules.
    pub rule_name: Option<Arc<str>>,
}

/// How [`XrayHttpServerLayer`](super::XrayHttpServerLayer) decides requests that arrive
/// without an upstream decision: local rules ([`Sampler`]) or the rules of the X-Ray service
/// ([`CentralizedSampler`](super::CentralizedSampler)). Decisions are synchronous and must
/// be cheap: they run on the request path.
///
/// ```
/// use lamina_tracing::http::{SamplingOutcome, SamplingRequest, SamplingStrategy};
///
/// /// Traces every request to `/orders`, nothing else.
/// #[derive(Debug)]
/// struct OrdersOnly;
///
/// impl SamplingStrategy for OrdersOnly {
///     fn decide(&self, request: &SamplingRequest<'_>, _service_name: &str) -> SamplingOutcome {
///         SamplingOutcome { sampled: request.url_path == Some("/orders"), rule_name: None }
///     }
/// }
///
/// let layer = lamina_tracing::http::XrayHttpServerLayer::new("app").sampler(OrdersOnly);
/// # drop(layer);
/// ```
pub trait SamplingStrategy: fmt::Debug + Send + Sync + 'static {
    /// Decides for `request`, made to the service whose segments are named `service_name`.
    fn decide(&self, request: &SamplingRequest<'_>, service_name: &str) -> SamplingOutcome;
}

impl SamplingStrategy for Sampler {
    fn decide(&self, request: &SamplingRequest<'_>, _service_name: &str) -> SamplingOutcome {
        SamplingOutcome {
            sampled: self.sample(request),
            rule_name: None,
        }
    }
}

impl<T: SamplingStrategy> SamplingStrategy for Arc<T> {
    fn decide(&self, request: &SamplingRequest<'_>, service_name: &str) -> SamplingOutcome {
        T::decide(self, request, service_name)
    }
}

#[cfg(test)]
#[path = "sampling_tests.rs"]
mod tests;
