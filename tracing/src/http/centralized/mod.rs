//! Centralized sampling: the X-Ray service's sampling rules and reservoir quotas, fetched
//! through the X-Ray daemon's TCP proxy (`POST /GetSamplingRules`, `POST /SamplingTargets`),
//! as the X-Ray SDKs do ("Configuring sampling rules" in the AWS X-Ray Developer Guide; the
//! `GetSamplingRules` and `GetSamplingTargets` actions of the X-Ray API Reference).

use std::{
    fmt,
    net::SocketAddr,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use rand::Rng as _;
use tokio::task::AbortHandle;
use tracing::Instrument as _;

use self::{poller::Poller, rules::RuleCache};
use super::{Sampler, SamplingOutcome, SamplingRequest, SamplingStrategy};
use crate::xray::{DEFAULT_DAEMON_ADDRESS, XrayError, parse_daemon_address};

mod poller;
mod rules;

/// How long fetched rules are used after the last successful fetch.
const CACHE_TTL: Duration = Duration::from_secs(3600);
/// Rule polling: every 300 s plus up to 5 s of jitter.
const RULE_INTERVAL: Duration = Duration::from_secs(300);
const RULE_JITTER: Duration = Duration::from_secs(5);
/// Target polling: every 10 s (or the returned `Interval`) plus up to 0.1 s of jitter.
const TARGET_INTERVAL: Duration = Duration::from_secs(10);
const TARGET_JITTER: Duration = Duration::from_millis(100);
/// The service's limit of statistics documents per `SamplingTargets` call.
const MAX_STATISTICS_PER_CALL: usize = 25;
/// Bounds on what the proxy may make the sampler do.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_BODY_BYTES: usize = 1 << 20;
const MAX_RULE_PAGES: usize = 100;
const MAX_INTERVAL_SECONDS: u64 = 3600;

/// Why a [`CentralizedSampler`] could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CentralizedSamplingError {
    /// `AWS_XRAY_DAEMON_ADDRESS` is not a daemon address.
    #[error(transparent)]
    DaemonAddress(#[from] XrayError),
    /// `start` was called outside a tokio runtime, which the polling task needs.
    #[error("the centralized sampler must be started inside a tokio runtime")]
    NoRuntime,
}

/// The daemon's TCP address in `AWS_XRAY_DAEMON_ADDRESS`: the `tcp:` part of
/// `tcp:host:port udp:host:port`, or the single `host:port` (the daemon serves both on it).
fn daemon_tcp_address(value: &str) -> Result<SocketAddr, XrayError> {
    // Validates the whole value the way the emitter does.
    let udp = parse_daemon_address(value)?;
    match value
        .split_whitespace()
        .find_map(|part| part.strip_prefix("tcp:"))
    {
        Some(tcp) => parse_daemon_address(tcp),
        None => Ok(udp),
    }
}

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;
type Random = Arc<dyn Fn() -> f64 + Send + Sync>;

/// Counters of the sampler's calls to the daemon, shared by its polling task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CentralizedSamplingStats {
    /// Successful rule fetches (all pages).
    pub rule_fetches: u64,
    /// Rule fetches that failed (unreachable daemon, error status, garbage answer).
    pub rule_fetch_failures: u64,
    /// Successful `SamplingTargets` calls.
    pub target_reports: u64,
    /// `SamplingTargets` calls that failed.
    pub target_report_failures: u64,
}

#[derive(Debug, Default)]
struct Counters {
    rule_fetches: AtomicU64,
    rule_fetch_failures: AtomicU64,
    target_reports: AtomicU64,
    target_report_failures: AtomicU64,
}

/// What the sampler and its polling task share.
struct Shared {
    cache: Mutex<RuleCache>,
    fallback: Sampler,
    origin: Option<String>,
    clock: Clock,
    random: Random,
    counters: Counters,
}

impl Shared {
    fn cache(&self) -> MutexGuard<'_, RuleCache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A number in `[0, 1]` whatever the injected source returns.
    fn random(&self) -> f64 {
        let value = (self.random)();
        if value.is_finite() {
            value.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    fn jitter(&self, max: Duration) -> Duration {
        max.mul_f64(self.random())
    }
}

/// A [`SamplingStrategy`] deciding with the X-Ray service's sampling rules, fetched through
/// the X-Ray daemon's TCP proxy, and the reservoir quotas the service hands out for them.
///
/// - Rules are fetched at start, then every 300 s (plus up to 5 s of jitter), and again when
///   a `SamplingTargets` answer says they changed. Usable rules (`Version` 1, `ResourceARN`
///   `*`, a `ServiceType`, no `Attributes`) are tried by `(Priority, RuleName)`; `Host`,
///   `HTTPMethod`, `URLPath`, `ServiceName` (the segment name) and `ServiceType` (the
///   [`origin`](CentralizedSamplerBuilder::origin)) match with `*` and `?`; `Default` catches
///   the rest.
/// - A matched rule samples from its quota (while its TTL lasts), else borrows one request
///   per second if its `ReservoirSize` is positive, else samples at its `FixedRate`.
/// - Every 10 s (or the `Interval` the service returns, plus up to 0.1 s) the counts of the
///   rules matched since the last report go to `SamplingTargets` (25 per call), and the
///   answer brings new quotas and rates.
/// - Until the first fetch, and from 1 h after the last successful one, the
///   [`fallback`](CentralizedSamplerBuilder::fallback) local rules decide.
///
/// Decisions never wait: they read the cache. The polling runs in a tokio task, untraced and
/// without trace headers, that ends when the sampler is dropped. An unreachable daemon or a
/// garbage answer keeps the cache as it is and is counted in [`stats`](Self::stats).
///
/// ```no_run
/// use lamina_tracing::http::{CentralizedSampler, XrayHttpServerLayer};
///
/// # async fn run() -> Result<(), lamina_tracing::http::CentralizedSamplingError> {
/// // AWS_XRAY_DAEMON_ADDRESS: `host:port` or `tcp:host:port udp:host:port`.
/// let layer = XrayHttpServerLayer::from_env("orders").sampler(CentralizedSampler::from_env()?);
/// # drop(layer);
/// # Ok(())
/// # }
/// ```
pub struct CentralizedSampler {
    shared: Arc<Shared>,
    poller: AbortHandle,
}

impl fmt::Debug for CentralizedSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CentralizedSampler")
            .field("rules", &self.rule_names())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Drop for CentralizedSampler {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

impl CentralizedSampler {
    /// Starts polling the daemon at `AWS_XRAY_DAEMON_ADDRESS` of the process environment
    /// (default `127.0.0.1:2000`); see [`from_lookup`](Self::from_lookup).
    ///
    /// # Errors
    /// As [`from_lookup`](Self::from_lookup).
    pub fn from_env() -> Result<Self, CentralizedSamplingError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Starts polling the daemon whose address `lookup` gives for `AWS_XRAY_DAEMON_ADDRESS`
    /// (`host:port`, or `tcp:host:port udp:host:port` whose TCP part is used; default
    /// `127.0.0.1:2000`), with the default local rules as fallback.
    ///
    /// # Errors
    /// [`CentralizedSamplingError::DaemonAddress`] for an invalid address,
    /// [`CentralizedSamplingError::NoRuntime`] outside a tokio runtime.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, CentralizedSamplingError> {
        Self::builder_from_lookup(lookup)?.start()
    }

    /// A builder for the daemon at `AWS_XRAY_DAEMON_ADDRESS` as given by `lookup` (see
    /// [`from_lookup`](Self::from_lookup)).
    ///
    /// # Errors
    /// [`CentralizedSamplingError::DaemonAddress`] for an invalid address.
    pub fn builder_from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<CentralizedSamplerBuilder, CentralizedSamplingError> {
        let address = match lookup("AWS_XRAY_DAEMON_ADDRESS") {
            Some(value) if !value.trim().is_empty() => daemon_tcp_address(&value)?,
            _ => daemon_tcp_address(DEFAULT_DAEMON_ADDRESS)?,
        };
        Ok(Self::builder(address))
    }

    /// A builder for the daemon's TCP proxy at `address`.
    pub fn builder(address: SocketAddr) -> CentralizedSamplerBuilder {
        CentralizedSamplerBuilder {
            address,
            fallback: Sampler::default(),
            origin: None,
            clock: Arc::new(SystemTime::now),
            random: Arc::new(|| rand::rng().random::<f64>()),
            rule_interval: RULE_INTERVAL,
            target_interval: TARGET_INTERVAL,
        }
    }

    /// Starts polling the daemon's TCP proxy at `address` with the default settings.
    ///
    /// # Errors
    /// [`CentralizedSamplingError::NoRuntime`] outside a tokio runtime.
    pub fn start(address: SocketAddr) -> Result<Self, CentralizedSamplingError> {
        Self::builder(address).start()
    }

    /// The calls made so far.
    #[must_use]
    pub fn stats(&self) -> CentralizedSamplingStats {
        let counters = &self.shared.counters;
        CentralizedSamplingStats {
            rule_fetches: counters.rule_fetches.load(Ordering::Relaxed),
            rule_fetch_failures: counters.rule_fetch_failures.load(Ordering::Relaxed),
            target_reports: counters.target_reports.load(Ordering::Relaxed),
            target_report_failures: counters.target_report_failures.load(Ordering::Relaxed),
        }
    }

    /// The names of the usable rules in the cache, in the order they are tried.
    #[must_use]
    pub fn rule_names(&self) -> Vec<String> {
        let cache = self.shared.cache();
        cache
            .rules
            .iter()
            .map(|s| s.rule.name.to_string())
            .collect()
    }
}

impl SamplingStrategy for CentralizedSampler {
    fn decide(&self, request: &SamplingRequest<'_>, service_name: &str) -> SamplingOutcome {
        let shared = &self.shared;
        let now = (shared.clock)();
        let random = || shared.random();
        let decided = shared.cache().decide(
            request,
            service_name,
            shared.origin.as_deref(),
            now,
            &random,
        );
        decided.unwrap_or_else(|| shared.fallback.decide(request, service_name))
    }
}

/// Settings of a [`CentralizedSampler`], made by [`CentralizedSampler::builder`].
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use lamina_tracing::http::{CentralizedSampler, Sampler, SamplingRules};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lamina_tracing::http::CentralizedSamplingError> {
/// let sampler = CentralizedSampler::builder("127.0.0.1:2000".parse().expect("address"))
///     .fallback(Sampler::new(SamplingRules::default()))
///     .origin("AWS::EC2::Instance")
///     .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000))
///     .with_random(|| 0.5)
///     .start()?;
/// assert!(sampler.rule_names().is_empty()); // nothing fetched yet: the fallback decides
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct CentralizedSamplerBuilder {
    address: SocketAddr,
    fallback: Sampler,
    origin: Option<String>,
    clock: Clock,
    random: Random,
    rule_interval: Duration,
    target_interval: Duration,
}

impl fmt::Debug for CentralizedSamplerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CentralizedSamplerBuilder")
            .field("address", &self.address)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl CentralizedSamplerBuilder {
    /// The local rules deciding before the first fetch and after the cache expired (default:
    /// 1 request per second, then 5%).
    pub fn fallback(mut self, sampler: Sampler) -> Self {
        self.fallback = sampler;
        self
    }

    /// The segment origin (e.g. `AWS::EC2::Instance`) matched against the rules'
    /// `ServiceType`; without one, every `ServiceType` matches.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Reads the time for decisions, quotas and the cache's age from `clock`.
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Draws numbers in `[0, 1)` from `random`, for decisions and polling jitter.
    pub fn with_random(mut self, random: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.random = Arc::new(random);
        self
    }

    /// Polls rules this often instead of every 300 s (plus the jitter).
    pub fn rule_interval(mut self, interval: Duration) -> Self {
        self.rule_interval = interval;
        self
    }

    /// Reports statistics this often until the service returns an `Interval` (default 10 s,
    /// plus the jitter).
    pub fn target_interval(mut self, interval: Duration) -> Self {
        self.target_interval = interval;
        self
    }

    /// Starts the polling task.
    ///
    /// # Errors
    /// [`CentralizedSamplingError::NoRuntime`] outside a tokio runtime.
    pub fn start(self) -> Result<CentralizedSampler, CentralizedSamplingError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| CentralizedSamplingError::NoRuntime)?;
        let shared = Arc::new(Shared {
            cache: Mutex::new(RuleCache::default()),
            fallback: self.fallback,
            origin: self.origin,
            clock: self.clock,
            random: self.random,
            counters: Counters::default(),
        });
        let poller = Poller::new(Arc::clone(&shared), self.address);
        // No span: the sampling calls must never be traced.
        let task = runtime.spawn(
            poller
                .run(self.rule_interval, self.target_interval)
                .instrument(tracing::Span::none()),
        );
        Ok(CentralizedSampler {
            shared,
            poller: task.abort_handle(),
        })
    }
}

#[cfg(test)]
mod tests;
