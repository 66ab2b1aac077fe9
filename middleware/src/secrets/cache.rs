//! [`SecretCache`]: a shared, single-flight cache in front of a [`SecretSource`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::decode::{decode_base64, decode_json, decode_string, join_all};
use super::slot::{Policy, Slot};
use super::{Clock, Secret, SecretError, SecretKey, SecretSource, SecretValue, SystemClock};

/// How long a value is served without asking the source again, unless configured otherwise.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(5 * 60);
/// How old a value may be and still be served while the source is failing, unless configured.
pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(60 * 60);
/// How long after a failed fetch the cache answers from memory before trying the source again.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

type PathValues = Arc<[(String, SecretValue)]>;

/// A cache of secrets and parameters, shared by every invocation of a Lambda execution environment.
///
/// Cloning is cheap (one `Arc`); build it once at init and hand clones to handlers and layers.
///
/// - Each value is served from memory for `max_age` (default [`DEFAULT_MAX_AGE`], or per name).
/// - Concurrent misses for one key cause exactly one fetch; the other callers wait for its result.
/// - When a fetch fails, the last good value is served (with a warning in the log) while it is no
///   older than `max_stale`; past that the caller gets [`SecretError::Stale`]. A not-found answer is
///   never masked by an old value. After a failure, the cache waits `retry_after` before asking the
///   source again, so an outage does not add a failing call to every request.
/// - [`invalidate`](Self::invalidate) after an authentication failure makes the next read fetch the
///   rotated value; [`refresh`](Self::refresh) fetches now.
///
/// ```
/// use std::time::Duration;
/// use lamina_middleware::secrets::{InMemorySource, SecretCache};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let source = InMemorySource::new();
/// source.insert_text("prod/db", r#"{"user":"app","password":"pw"}"#);
/// let cache = SecretCache::builder(source.clone())
///     .max_age(Duration::from_secs(300))
///     .max_age_for("prod/db", Duration::from_secs(60))
///     .build();
///
/// #[derive(serde::Deserialize)]
/// struct Db { user: String, password: String }
/// let db = cache.get_json::<Db>("prod/db").await?;
/// assert_eq!(db.expose().user, "app");
/// let _ = cache.get_string("prod/db").await?; // served from memory
/// assert_eq!(source.calls(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SecretCache {
    inner: Arc<Inner>,
}

struct Inner {
    source: Arc<dyn SecretSource>,
    clock: Arc<dyn Clock>,
    policy: Policy,
    max_age_for: HashMap<String, Duration>,
    entries: RwLock<HashMap<SecretKey, Arc<Slot<SecretValue>>>>,
    paths: RwLock<HashMap<String, Arc<Slot<PathValues>>>>,
}

impl fmt::Debug for SecretCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self
            .inner
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("SecretCache")
            .field("source", &self.inner.source)
            .field("max_age", &self.inner.policy.max_age)
            .field("max_stale", &self.inner.policy.max_stale)
            .field("entries", &entries)
            .finish_non_exhaustive()
    }
}

/// Configures a [`SecretCache`]; made by [`SecretCache::builder`].
#[derive(Debug)]
#[must_use]
pub struct SecretCacheBuilder {
    source: Arc<dyn SecretSource>,
    clock: Arc<dyn Clock>,
    policy: Policy,
    max_age_for: HashMap<String, Duration>,
}

impl SecretCacheBuilder {
    /// How long every value is served from memory (default [`DEFAULT_MAX_AGE`]).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.policy.max_age = max_age;
        self
    }

    /// How long the values named `name` (every version stage, and a path of that name) are served.
    pub fn max_age_for(mut self, name: impl Into<String>, max_age: Duration) -> Self {
        self.max_age_for.insert(name.into(), max_age);
        self
    }

    /// How old a value may be and still be served when a refresh fails (default
    /// [`DEFAULT_MAX_STALE`]). Zero turns the fallback off.
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.policy.max_stale = max_stale;
        self
    }

    /// How long after a failed fetch the cache answers from memory (the stale value or the error)
    /// before asking the source again (default [`DEFAULT_RETRY_AFTER`]). Zero retries every time.
    pub fn retry_after(mut self, retry_after: Duration) -> Self {
        self.policy.retry_after = retry_after;
        self
    }

    /// The clock ages are measured with (tests use [`ManualClock`](super::ManualClock)).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Builds the cache.
    #[must_use]
    pub fn build(self) -> SecretCache {
        SecretCache {
            inner: Arc::new(Inner {
                source: self.source,
                clock: self.clock,
                policy: self.policy,
                max_age_for: self.max_age_for,
                entries: RwLock::default(),
                paths: RwLock::default(),
            }),
        }
    }
}

impl SecretCache {
    /// A cache over `source` with the default timings.
    #[must_use]
    pub fn new(source: impl SecretSource + 'static) -> Self {
        Self::builder(source).build()
    }

    /// A builder for a cache over `source`.
    pub fn builder(source: impl SecretSource + 'static) -> SecretCacheBuilder {
        SecretCacheBuilder {
            source: Arc::new(source),
            clock: Arc::new(SystemClock),
            policy: Policy {
                max_age: DEFAULT_MAX_AGE,
                max_stale: DEFAULT_MAX_STALE,
                retry_after: DEFAULT_RETRY_AFTER,
            },
            max_age_for: HashMap::new(),
        }
    }

    fn policy_for(&self, name: &str) -> Policy {
        let mut policy = self.inner.policy;
        if let Some(max_age) = self.inner.max_age_for.get(name) {
            policy.max_age = *max_age;
        }
        policy
    }

    fn slot(&self, key: &SecretKey) -> Arc<Slot<SecretValue>> {
        let entries = &self.inner.entries;
        if let Some(slot) = entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
        {
            return Arc::clone(slot);
        }
        let mut entries = entries.write().unwrap_or_else(PoisonError::into_inner);
        let slot = entries
            .entry(key.clone())
            .or_insert_with(|| Arc::new(Slot::new(self.policy_for(key.name()))));
        Arc::clone(slot)
    }

    async fn resolve(&self, key: &SecretKey, force: bool) -> Result<SecretValue, SecretError> {
        let slot = self.slot(key);
        let source = &self.inner.source;
        let clock = &self.inner.clock;
        slot.resolve(key, || clock.now(), force, || source.fetch(key))
            .await
    }

    /// The value of `key` (a name, or a [`SecretKey`] with a version stage), from memory while it is
    /// fresh.
    ///
    /// # Errors
    /// [`SecretError::NotFound`], [`SecretError::Fetch`] (no earlier value), or
    /// [`SecretError::Stale`] (the earlier value is past `max_stale`).
    pub async fn get(&self, key: impl Into<SecretKey>) -> Result<SecretValue, SecretError> {
        self.resolve(&key.into(), false).await
    }

    /// Fetches `key` from the source now, whatever its age; concurrent refreshes share one fetch.
    ///
    /// # Errors
    /// As for [`get`](Self::get); the stale fallback applies.
    pub async fn refresh(&self, key: impl Into<SecretKey>) -> Result<SecretValue, SecretError> {
        self.resolve(&key.into(), true).await
    }

    /// Marks `key` expired, so the next read fetches it. Call it when the secret was rejected (an
    /// authentication failure after a rotation). The old value remains the stale fallback.
    pub fn invalidate(&self, key: impl Into<SecretKey>) {
        let key = key.into();
        let slot = self
            .inner
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(slot) = slot {
            slot.invalidate();
        }
    }

    /// The value as UTF-8 text.
    ///
    /// # Errors
    /// As for [`get`](Self::get), and [`SecretError::Decode`] for bytes that are not UTF-8.
    pub async fn get_string(
        &self,
        key: impl Into<SecretKey>,
    ) -> Result<Secret<String>, SecretError> {
        let key = key.into();
        let value = self.resolve(&key, false).await?;
        decode_string(&key, &value)
    }

    /// The raw bytes (a `SecretBinary`, or the UTF-8 bytes of a text value).
    ///
    /// # Errors
    /// As for [`get`](Self::get).
    pub async fn get_bytes(&self, key: impl Into<SecretKey>) -> Result<Secret<Bytes>, SecretError> {
        Ok(self.get(key).await?.bytes().clone())
    }

    /// A text value that holds base64 (how binary data is kept in Parameter Store), decoded.
    ///
    /// # Errors
    /// As for [`get`](Self::get), and [`SecretError::Decode`] for invalid base64.
    pub async fn get_base64(
        &self,
        key: impl Into<SecretKey>,
    ) -> Result<Secret<Bytes>, SecretError> {
        let key = key.into();
        let value = self.resolve(&key, false).await?;
        decode_base64(&key, &value)
    }

    /// The value decoded from JSON into `T`. Decoding runs on every call; keep the result if you
    /// read it on a hot path.
    ///
    /// # Errors
    /// As for [`get`](Self::get), and [`SecretError::Decode`] (naming the line and column, never
    /// the text) when the value is not JSON for `T`.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        key: impl Into<SecretKey>,
    ) -> Result<Secret<T>, SecretError> {
        let key = key.into();
        let value = self.resolve(&key, false).await?;
        decode_json(&key, &value)
    }

    /// Several values at once, fetched concurrently, in the order asked.
    ///
    /// # Errors
    /// The first error in key order, if any key fails.
    pub async fn get_many<I, K>(&self, keys: I) -> Result<Vec<SecretValue>, SecretError>
    where
        I: IntoIterator<Item = K>,
        K: Into<SecretKey>,
    {
        let keys: Vec<SecretKey> = keys.into_iter().map(Into::into).collect();
        let results = join_all(keys.iter().map(|key| self.resolve(key, false))).await;
        results.into_iter().collect()
    }

    /// Every value under `path` (Parameter Store's `GetParametersByPath`, recursive, all pages), as
    /// `(full name, value)` pairs, cached as one entry under the path. Each value also warms the
    /// cache for its own name, so a later [`get`](Self::get) of one of them is a hit.
    ///
    /// # Errors
    /// As for [`get`](Self::get); a source without paths (Secrets Manager) gives
    /// [`SecretError::Fetch`] with [`SourceError::Unsupported`](super::SourceError::Unsupported).
    pub async fn get_path(&self, path: &str) -> Result<Arc<[(String, SecretValue)]>, SecretError> {
        let slot = {
            let paths = &self.inner.paths;
            let existing = paths
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(path)
                .cloned();
            match existing {
                Some(slot) => slot,
                None => {
                    let mut paths = paths.write().unwrap_or_else(PoisonError::into_inner);
                    let slot = paths
                        .entry(path.to_owned())
                        .or_insert_with(|| Arc::new(Slot::new(self.policy_for(path))));
                    Arc::clone(slot)
                }
            }
        };
        let key = SecretKey::new(path);
        let clock = &self.inner.clock;
        slot.resolve(
            &key,
            || clock.now(),
            false,
            || async {
                let values = self.inner.source.fetch_path(path).await?;
                let fetched_at = clock.now();
                for (name, value) in &values {
                    self.slot(&SecretKey::new(name.as_str()))
                        .store(value.clone(), fetched_at);
                }
                Ok(PathValues::from(values))
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::secrets::{InMemorySource, SourceError};

    #[derive(Debug, serde::Deserialize)]
    struct Db {
        user: String,
        port: u16,
    }

    fn source() -> InMemorySource {
        let source = InMemorySource::new();
        source.insert_text("db", r#"{"user":"app","port":5432}"#);
        source.insert_text("bad-db", r#"{"user":"app","port":"leaky-secret-text"}"#);
        source.insert_binary("cert", vec![0xde, 0xad, 0xbe, 0xef]);
        source.insert_text("b64", "3q2+7w==\n");
        source
    }

    #[tokio::test]
    async fn typed_reads_decode_the_value() {
        let cache = SecretCache::new(source());
        let db = cache.get_json::<Db>("db").await.expect("json");
        assert_eq!((db.expose().user.as_str(), db.expose().port), ("app", 5432));
        let cert = cache.get_bytes("cert").await.expect("bytes");
        assert_eq!(cert.expose().as_ref(), &[0xde, 0xad, 0xbe, 0xef]);
        let decoded = cache.get_base64("b64").await.expect("base64");
        assert_eq!(decoded.expose().as_ref(), &[0xde, 0xad, 0xbe, 0xef]);
        let text = cache.get_string("db").await.expect("text");
        assert!(text.expose().starts_with('{'));
    }

    #[tokio::test]
    async fn decode_errors_name_the_secret_but_not_the_value() {
        let cache = SecretCache::new(source());
        let table: [(SecretError, &str); 3] = [
            (
                cache
                    .get_json::<Db>("bad-db")
                    .await
                    .expect_err("port is text"),
                "secret `bad-db` is not valid JSON for",
            ),
            (
                cache.get_string("cert").await.expect_err("not UTF-8"),
                "secret `cert` is not valid UTF-8 text: invalid byte at offset 2",
            ),
            (
                cache.get_base64("bad-db").await.expect_err("not base64"),
                "secret `bad-db` is not valid base64: invalid byte at offset",
            ),
        ];
        for (error, expected) in table {
            let shown = format!("{error} / {error:?}");
            assert!(shown.starts_with(expected), "{shown}");
            assert!(!shown.contains("leaky-secret-text"), "{shown}");
            assert!(matches!(error, SecretError::Decode { .. }));
        }
    }

    #[tokio::test]
    async fn get_many_keeps_order_and_runs_concurrently() {
        let source = source();
        source.set_delay(Duration::from_millis(100));
        let cache = SecretCache::new(source.clone());
        let started = std::time::Instant::now();
        let values = cache.get_many(["cert", "db", "b64"]).await.expect("all");
        // Three fetches of 100 ms each, overlapped: well under the 300 ms a serial loop takes.
        assert!(
            started.elapsed() < Duration::from_millis(290),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(values[0].kind(), crate::secrets::PayloadKind::Binary);
        assert_eq!(values[2].expose_str(), Some("3q2+7w==\n"));
        assert_eq!(source.calls(), 3);
        let error = cache
            .get_many(["db", "missing"])
            .await
            .expect_err("one missing");
        assert_eq!(error.key().name(), "missing");
    }

    #[tokio::test]
    async fn get_path_is_cached_and_warms_single_keys() {
        let source = InMemorySource::new();
        source.insert_text("/app/a", "1");
        source.insert_text("/app/nested/b", "2");
        source.insert_text("/other/c", "3");
        let cache = SecretCache::new(source.clone());
        let values = cache.get_path("/app").await.expect("path");
        let names: Vec<&str> = values.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["/app/a", "/app/nested/b"]);
        cache.get_path("/app").await.expect("cached");
        assert_eq!(
            cache
                .get_string("/app/nested/b")
                .await
                .expect("warm")
                .expose(),
            "2"
        );
        assert_eq!((source.path_calls(), source.calls()), (1, 0));
    }

    #[tokio::test]
    async fn unsupported_path_fetches_are_typed_errors() {
        #[derive(Debug)]
        struct NoPaths;
        impl SecretSource for NoPaths {
            fn fetch<'a>(
                &'a self,
                _key: &'a SecretKey,
            ) -> crate::secrets::BoxFuture<'a, Result<SecretValue, SourceError>> {
                Box::pin(async { Err(SourceError::NotFound) })
            }
        }
        let error = SecretCache::new(NoPaths)
            .get_path("/app")
            .await
            .expect_err("no paths");
        assert!(matches!(
            error,
            SecretError::Fetch {
                source: SourceError::Unsupported { .. },
                ..
            }
        ));
    }

    #[tokio::test]
    async fn debug_output_shows_no_values() {
        let cache = SecretCache::new(source());
        let value = cache.get("db").await.expect("db");
        let shown = format!("{cache:?} {value:?} {:?}", cache.get_string("db").await);
        assert!(!shown.contains("5432"), "{shown}");
        assert!(shown.contains("entries: 1"), "{shown}");
    }
}
