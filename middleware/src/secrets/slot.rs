//! One cache entry: its value, its failure memory, and the lock that makes misses single flight.

use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::{SecretError, SecretKey, SourceError};

/// The timing rules a slot applies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub(crate) max_age: Duration,
    pub(crate) max_stale: Duration,
    pub(crate) retry_after: Duration,
}

#[derive(Debug)]
pub(crate) struct Slot<V> {
    pub(crate) policy: Policy,
    state: Mutex<State<V>>,
    // Held across the fetch: the first miss fetches, the others wait here and then read its result.
    fetch_lock: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct State<V> {
    value: Option<(V, Instant)>,
    expired: bool,
    attempts: u64,
    last_attempt_started: Option<Instant>,
    last_failure: Option<(Instant, SourceError)>,
}

impl<V: Clone> Slot<V> {
    pub(crate) fn new(policy: Policy) -> Self {
        Self {
            policy,
            state: Mutex::new(State {
                value: None,
                expired: false,
                attempts: 0,
                last_attempt_started: None,
                last_failure: None,
            }),
            fetch_lock: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State<V>> {
        // The state is consistent after every statement, so a panic elsewhere cannot corrupt it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fresh_in(&self, state: &State<V>, now: Instant) -> Option<V> {
        match &state.value {
            Some((value, fetched_at))
                if !state.expired
                    && now.saturating_duration_since(*fetched_at) < self.policy.max_age =>
            {
                Some(value.clone())
            }
            _ => None,
        }
    }

    /// Marks the value expired so the next read fetches; it stays available as a stale fallback.
    pub(crate) fn invalidate(&self) {
        let mut state = self.state();
        state.expired = true;
        state.last_failure = None;
    }

    /// Stores a value fetched elsewhere (a path fetch warming single keys).
    pub(crate) fn store(&self, value: V, fetched_at: Instant) {
        let mut state = self.state();
        state.value = Some((value, fetched_at));
        state.expired = false;
        state.last_failure = None;
    }

    /// Answers from the cache, or fetches once for every concurrent caller.
    ///
    /// `force` skips the fresh check (a forced refresh) but still shares a fetch that started after
    /// the call was made.
    pub(crate) async fn resolve<F, Fut>(
        &self,
        key: &SecretKey,
        now: impl Fn() -> Instant,
        force: bool,
        fetch: F,
    ) -> Result<V, SecretError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, SourceError>>,
    {
        let requested_at = now();
        let seen_attempts = {
            let state = self.state();
            if !force {
                if let Some(value) = self.fresh_in(&state, requested_at) {
                    return Ok(value);
                }
                // A fetch failed a moment ago: do not hammer a failing backend on every request.
                if let Some((failed_at, error)) = &state.last_failure
                    && requested_at.saturating_duration_since(*failed_at) < self.policy.retry_after
                {
                    return self.fallback(&state, key, error.clone(), requested_at, false);
                }
            }
            state.attempts
        };

        let _fetching = self.fetch_lock.lock().await;
        {
            let state = self.state();
            let now_after_wait = now();
            let shareable = state.attempts != seen_attempts
                && (!force
                    || state
                        .last_attempt_started
                        .is_some_and(|s| s >= requested_at));
            if shareable {
                if let Some(value) = self.fresh_in(&state, now_after_wait) {
                    return Ok(value);
                }
                if let Some((_, error)) = &state.last_failure {
                    return self.fallback(&state, key, error.clone(), now_after_wait, false);
                }
            }
        }

        let started = now();
        let result = fetch().await;
        let finished = now();
        let mut state = self.state();
        state.attempts += 1;
        state.last_attempt_started = Some(started);
        match result {
            Ok(value) => {
                state.value = Some((value.clone(), started));
                state.expired = false;
                state.last_failure = None;
                Ok(value)
            }
            Err(error) => {
                state.last_failure = Some((finished, error.clone()));
                self.fallback(&state, key, error, finished, true)
            }
        }
    }

    fn fallback(
        &self,
        state: &State<V>,
        key: &SecretKey,
        error: SourceError,
        now: Instant,
        first_report: bool,
    ) -> Result<V, SecretError> {
        if error == SourceError::NotFound {
            return Err(SecretError::NotFound { key: key.clone() });
        }
        let Some((value, fetched_at)) = &state.value else {
            if first_report {
                tracing::warn!(secret = %key, error = %error, "fetching a secret failed");
            }
            return Err(SecretError::Fetch {
                key: key.clone(),
                source: error,
            });
        };
        let age = now.saturating_duration_since(*fetched_at);
        if age <= self.policy.max_stale {
            if first_report {
                tracing::warn!(
                    secret = %key,
                    age_ms = age.as_millis() as u64,
                    max_stale_ms = self.policy.max_stale.as_millis() as u64,
                    error = %error,
                    "refreshing a secret failed; serving the last good value"
                );
            }
            return Ok(value.clone());
        }
        if first_report {
            tracing::warn!(
                secret = %key,
                age_ms = age.as_millis() as u64,
                error = %error,
                "refreshing a secret failed and its last value is past max_stale"
            );
        }
        Err(SecretError::Stale {
            key: key.clone(),
            age,
            source: error,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;
    use std::time::Duration;

    use super::super::{InMemorySource, ManualClock, SecretCache, SecretError, SecretKey};
    use super::super::{SecretValue, SourceError, VersionStage};

    fn outage() -> SourceError {
        SourceError::Backend {
            service: "test",
            code: Some("ServiceUnavailable".into()),
            message: "connection refused".into(),
        }
    }

    fn cache(source: &InMemorySource, clock: &ManualClock) -> SecretCache {
        SecretCache::builder(source.clone())
            .clock(clock.clone())
            .max_age(Duration::from_secs(60))
            .max_stale(Duration::from_secs(600))
            .retry_after(Duration::ZERO)
            .build()
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            let bytes = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }

    fn capture_logs() -> (Captured, tracing::subscriber::DefaultGuard) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    #[tokio::test]
    async fn serves_from_memory_until_max_age() {
        let (source, clock) = (InMemorySource::new(), ManualClock::new());
        source.insert_text("db", "one");
        let cache = cache(&source, &clock);
        assert_eq!(cache.get_string("db").await.expect("first").expose(), "one");
        source.insert_text("db", "two");
        clock.advance(Duration::from_secs(59));
        assert_eq!(cache.get_string("db").await.expect("hit").expose(), "one");
        assert_eq!(source.calls(), 1);
        clock.advance(Duration::from_secs(1));
        assert_eq!(cache.get_string("db").await.expect("miss").expose(), "two");
        assert_eq!(source.calls(), 2);
    }

    #[tokio::test]
    async fn max_age_can_be_set_per_name() {
        let (source, clock) = (InMemorySource::new(), ManualClock::new());
        source.insert_text("short", "s");
        source.insert_text("long", "l");
        let cache = SecretCache::builder(source.clone())
            .clock(clock.clone())
            .max_age(Duration::from_secs(600))
            .max_age_for("short", Duration::from_secs(5))
            .build();
        cache.get_many(["short", "long"]).await.expect("both");
        clock.advance(Duration::from_secs(6));
        cache.get_many(["short", "long"]).await.expect("both");
        assert_eq!(source.calls(), 3, "only `short` was fetched again");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_make_one_fetch() {
        let source = InMemorySource::new();
        source.insert_text("db", "pw");
        source.set_delay(Duration::from_millis(50));
        let cache = SecretCache::new(source.clone());
        let barrier = Arc::new(tokio::sync::Barrier::new(100));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..100 {
            let (cache, barrier) = (cache.clone(), Arc::clone(&barrier));
            tasks.spawn(async move {
                barrier.wait().await;
                cache.get_string("db").await.map(|s| s.into_exposed())
            });
        }
        let values = tasks.join_all().await;
        assert_eq!(values.len(), 100);
        assert!(values.iter().all(|v| matches!(v.as_deref(), Ok("pw"))));
        assert_eq!(source.calls(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_share_one_failure() {
        let source = InMemorySource::new();
        source.set_delay(Duration::from_millis(50));
        source.fail_with(Some(outage()));
        let cache = SecretCache::builder(source.clone())
            .retry_after(Duration::ZERO)
            .build();
        let barrier = Arc::new(tokio::sync::Barrier::new(50));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (cache, barrier) = (cache.clone(), Arc::clone(&barrier));
            tasks.spawn(async move {
                barrier.wait().await;
                cache.get("db").await
            });
        }
        let results = tasks.join_all().await;
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Err(SecretError::Fetch { .. })))
        );
        assert_eq!(source.calls(), 1);
    }

    #[tokio::test]
    async fn outage_serves_stale_within_max_stale_then_errors() {
        let (logs, _guard) = capture_logs();
        let (source, clock) = (InMemorySource::new(), ManualClock::new());
        source.insert_text("prod/db", "value-that-must-not-leak");
        let cache = cache(&source, &clock);
        cache.get("prod/db").await.expect("first fetch");
        source.fail_with(Some(outage()));

        clock.advance(Duration::from_secs(61));
        let stale = cache.get_string("prod/db").await.expect("stale served");
        assert_eq!(stale.expose(), "value-that-must-not-leak");
        assert_eq!(source.calls(), 2);

        clock.advance(Duration::from_secs(540));
        let error = cache.get("prod/db").await.expect_err("past max_stale");
        let SecretError::Stale { age, .. } = &error else {
            panic!("expected Stale, got {error:?}");
        };
        assert_eq!(*age, Duration::from_secs(601));
        assert_eq!(
            error.to_string(),
            "could not refresh secret `prod/db`, and its last value (601s old) is past max_stale"
        );

        let logs = logs.text();
        assert!(logs.contains("serving the last good value"), "{logs}");
        assert!(logs.contains("prod/db"), "{logs}");
        let shown = format!("{error} {error:?} {logs}");
        assert!(!shown.contains("value-that-must-not-leak"), "{shown}");

        source.fail_with(None);
        source.insert_text("prod/db", "healed");
        assert_eq!(
            cache.get_string("prod/db").await.expect("healed").expose(),
            "healed"
        );
    }

    #[tokio::test]
    async fn failures_back_off_for_retry_after() {
        let (source, clock) = (InMemorySource::new(), ManualClock::new());
        source.fail_with(Some(outage()));
        let cache = SecretCache::builder(source.clone())
            .clock(clock.clone())
            .retry_after(Duration::from_secs(2))
            .build();
        for _ in 0..5 {
            assert!(matches!(
                cache.get("db").await,
                Err(SecretError::Fetch { .. })
            ));
        }
        assert_eq!(source.calls(), 1);
        clock.advance(Duration::from_secs(2));
        source.fail_with(None);
        source.insert_text("db", "pw");
        assert_eq!(
            cache.get_string("db").await.expect("retried").expose(),
            "pw"
        );
        assert_eq!(source.calls(), 2);
    }

    #[tokio::test]
    async fn not_found_is_never_masked_by_a_stale_value() {
        let (source, clock) = (InMemorySource::new(), ManualClock::new());
        source.insert_text("db", "pw");
        let cache = cache(&source, &clock);
        cache.get("db").await.expect("first");
        source.remove("db");
        clock.advance(Duration::from_secs(61));
        let error = cache.get("db").await.expect_err("deleted");
        assert!(matches!(error, SecretError::NotFound { .. }), "{error:?}");
        assert_eq!(error.to_string(), "secret `db` was not found");
    }

    #[tokio::test]
    async fn invalidate_and_refresh_fetch_the_rotated_value() {
        let (source, clock) = (InMemorySource::new(), ManualClock::new());
        source.insert_text("db", "old");
        let cache = cache(&source, &clock);
        cache.get("db").await.expect("first");
        source.insert_text("db", "new");
        assert_eq!(cache.get_string("db").await.expect("hit").expose(), "old");
        cache.invalidate("db");
        assert_eq!(
            cache.get_string("db").await.expect("refetched").expose(),
            "new"
        );
        source.insert_text("db", "newer");
        let refreshed = cache.refresh("db").await.expect("forced");
        assert_eq!(refreshed.expose_str(), Some("newer"));
        assert_eq!(source.calls(), 3);
        cache.invalidate("never-read");
    }

    #[tokio::test]
    async fn stages_are_separate_entries() {
        let (source, clock) = (InMemorySource::new(), ManualClock::new());
        source.insert_text("db", "current");
        let previous = SecretKey::new("db").with_stage(VersionStage::Previous);
        source.insert(previous.clone(), SecretValue::text("previous"));
        let cache = cache(&source, &clock);
        assert_eq!(cache.get_string("db").await.expect("c").expose(), "current");
        assert_eq!(
            cache.get_string(&previous).await.expect("p").expose(),
            "previous"
        );
        let pending = SecretKey::new("db").with_stage(VersionStage::Pending);
        assert!(matches!(
            cache.get(pending).await,
            Err(SecretError::NotFound { .. })
        ));
    }
}
