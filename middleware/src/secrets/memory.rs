//! [`InMemorySource`], a [`SecretSource`] for unit tests and local runs.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;

use super::{BoxFuture, SecretKey, SecretSource, SecretValue, SourceError};

/// Secrets held in memory, with a call counter, an optional delay and a switch that makes every
/// fetch fail. Clones share the same store, so a test keeps one clone to change values while the
/// cache owns another.
///
/// ```
/// use lamina_middleware::secrets::{InMemorySource, SecretCache, SecretError, SourceError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let source = InMemorySource::new();
/// source.insert_text("api-key", "k-1");
/// source.fail_with(Some(SourceError::NotFound));
/// let cache = SecretCache::new(source.clone());
/// assert!(matches!(cache.get("api-key").await, Err(SecretError::NotFound { .. })));
/// assert_eq!(source.calls(), 1);
/// # }
/// ```
#[derive(Clone, Default)]
pub struct InMemorySource {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    values: Mutex<HashMap<SecretKey, SecretValue>>,
    failure: Mutex<Option<SourceError>>,
    delay: Mutex<Duration>,
    calls: AtomicUsize,
    path_calls: AtomicUsize,
    versions: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for InMemorySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemorySource")
            .field("values", &lock(&self.inner.values).len())
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}

impl InMemorySource {
    /// An empty source.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value` under `key`; a value without a version id gets `v1`, `v2`, ... in insertion order.
    pub fn insert(&self, key: impl Into<SecretKey>, value: SecretValue) {
        let value = if value.version_id().is_none() {
            let n = self.inner.versions.fetch_add(1, Ordering::Relaxed) + 1;
            value.with_version_id(format!("v{n}"))
        } else {
            value
        };
        lock(&self.inner.values).insert(key.into(), value);
    }

    /// Stores a text value as the current version of `name`.
    pub fn insert_text(&self, name: &str, text: &str) {
        self.insert(name, SecretValue::text(text));
    }

    /// Stores a binary value as the current version of `name`.
    pub fn insert_binary(&self, name: &str, bytes: impl Into<Bytes>) {
        self.insert(name, SecretValue::binary(bytes));
    }

    /// Deletes the value under `key`.
    pub fn remove(&self, key: impl Into<SecretKey>) {
        lock(&self.inner.values).remove(&key.into());
    }

    /// Makes every fetch fail with `failure` (`None` heals the source). Calls are still counted.
    pub fn fail_with(&self, failure: Option<SourceError>) {
        *lock(&self.inner.failure) = failure;
    }

    /// Makes every fetch wait this long before answering (to make concurrent misses overlap).
    pub fn set_delay(&self, delay: Duration) {
        *lock(&self.inner.delay) = delay;
    }

    /// How many single-value fetches were made.
    #[must_use]
    pub fn calls(&self) -> usize {
        self.inner.calls.load(Ordering::SeqCst)
    }

    /// How many path fetches were made.
    #[must_use]
    pub fn path_calls(&self) -> usize {
        self.inner.path_calls.load(Ordering::SeqCst)
    }

    async fn before_answer(&self) -> Result<(), SourceError> {
        let delay = *lock(&self.inner.delay);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match lock(&self.inner.failure).clone() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }
}

impl SecretSource for InMemorySource {
    fn fetch<'a>(&'a self, key: &'a SecretKey) -> BoxFuture<'a, Result<SecretValue, SourceError>> {
        Box::pin(async move {
            self.inner.calls.fetch_add(1, Ordering::SeqCst);
            self.before_answer().await?;
            lock(&self.inner.values)
                .get(key)
                .cloned()
                .ok_or(SourceError::NotFound)
        })
    }

    fn fetch_path<'a>(
        &'a self,
        path: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, SecretValue)>, SourceError>> {
        Box::pin(async move {
            self.inner.path_calls.fetch_add(1, Ordering::SeqCst);
            self.before_answer().await?;
            let prefix = if path.ends_with('/') {
                path.to_owned()
            } else {
                format!("{path}/")
            };
            let mut found: Vec<(String, SecretValue)> = lock(&self.inner.values)
                .iter()
                .filter(|(key, _)| key.stage() == &Default::default())
                .filter(|(key, _)| key.name().starts_with(&prefix))
                .map(|(key, value)| (key.name().to_owned(), value.clone()))
                .collect();
            found.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(found)
        })
    }
}
