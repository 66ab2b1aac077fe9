//! [`Metrics`]: the handle a handler records metrics through.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use super::config::MetricsConfig;
use super::emf;
use super::error::MetricsError;
use super::set::MetricSet;
use super::sink::{MetricsSink, StdoutSink};
use super::unit::{Resolution, Unit};

tokio::task_local! {
    /// The invocation's metrics, set by [`MetricsLayer`](super::MetricsLayer) around the handler.
    static CURRENT: Metrics;
}

/// A set of metrics, dimensions and metadata flushed together as EMF documents.
///
/// Clones share the same set. Under [`MetricsLayer`](super::MetricsLayer) each invocation gets its
/// own set, reached with [`Metrics::current`] and flushed by the layer; outside the layer, build one
/// with [`Metrics::new`] and call [`Metrics::flush`] yourself.
#[derive(Debug, Clone)]
pub struct Metrics {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: Arc<MetricsConfig>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    set: MetricSet,
    /// Set once the layer has flushed the invocation; later additions would be lost.
    closed: bool,
}

impl Metrics {
    /// A new, empty set using `config`'s namespace, service and default dimensions.
    ///
    /// # Errors
    /// [`MetricsError::MissingNamespace`] if the configuration has no namespace.
    pub fn new(config: impl Into<Arc<MetricsConfig>>) -> Result<Self, MetricsError> {
        let config = config.into();
        if config.namespace_name().is_none() {
            return Err(MetricsError::MissingNamespace);
        }
        Ok(Self::with_checked_config(config))
    }

    /// For a configuration whose namespace is known to be set.
    pub(crate) fn with_checked_config(config: Arc<MetricsConfig>) -> Self {
        let set = MetricSet::new(&config);
        Self {
            shared: Arc::new(Shared {
                config,
                state: Mutex::new(State { set, closed: false }),
            }),
        }
    }

    /// The current invocation's metrics when called inside a handler wrapped by
    /// [`MetricsLayer`](super::MetricsLayer), `None` elsewhere.
    ///
    /// The handle lives in a tokio task-local, so tasks the handler spawns must be given a clone.
    #[must_use]
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    pub(crate) fn scope<F: Future>(
        self,
        future: F,
    ) -> tokio::task::futures::TaskLocalFuture<Self, F> {
        CURRENT.scope(self, future)
    }

    pub(crate) fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(self, f)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn open_state(&self) -> Result<MutexGuard<'_, State>, MetricsError> {
        let state = self.state();
        if state.closed {
            Err(MetricsError::Flushed)
        } else {
            Ok(state)
        }
    }

    /// The configuration the set was built from.
    #[must_use]
    pub fn config(&self) -> &MetricsConfig {
        &self.shared.config
    }

    /// Adds a value to a standard-resolution metric; adding to a metric again records another
    /// value of it (EMF carries them as an array).
    ///
    /// # Errors
    /// [`MetricsError::InvalidMetricName`], [`MetricsError::NonFiniteValue`],
    /// [`MetricsError::ValueOutOfRange`], [`MetricsError::ConflictingUnit`],
    /// [`MetricsError::ConflictingResolution`], [`MetricsError::NameCollision`] or
    /// [`MetricsError::Flushed`]; the set is unchanged.
    pub fn add_metric(&self, name: &str, unit: Unit, value: f64) -> Result<(), MetricsError> {
        self.add_metric_with_resolution(name, unit, value, Resolution::Standard)
    }

    /// Adds a value to a metric with the given storage resolution.
    ///
    /// # Errors
    /// As [`Metrics::add_metric`].
    pub fn add_metric_with_resolution(
        &self,
        name: &str,
        unit: Unit,
        value: f64,
        resolution: Resolution,
    ) -> Result<(), MetricsError> {
        self.open_state()?
            .set
            .add_metric(name, unit, resolution, value)
    }

    /// Adds a dimension to every metric of the set, or replaces the value of one (a default
    /// dimension included) until the next flush.
    ///
    /// # Errors
    /// [`MetricsError::InvalidDimensionName`], [`MetricsError::InvalidDimensionValue`],
    /// [`MetricsError::TooManyDimensions`], [`MetricsError::NameCollision`] or
    /// [`MetricsError::Flushed`].
    pub fn add_dimension(&self, name: &str, value: &str) -> Result<(), MetricsError> {
        self.open_state()?.set.add_dimension(name, value)
    }

    /// Adds a further dimension set for this flush: every metric is then also published under the
    /// default dimensions plus `dimensions` (EMF's `Dimensions` array, Powertools'
    /// `add_dimensions`). A name may appear in several sets only with one value.
    ///
    /// ```
    /// use lamina_tracing::metrics::{Metrics, MetricsConfig, Unit};
    ///
    /// let metrics = Metrics::new(MetricsConfig::new().namespace("Shop")?.service("orders")?)?;
    /// metrics.add_metric("Orders", Unit::Count, 1.0)?;
    /// // Orders per service, and per service, country and payment method.
    /// metrics.add_dimension_set(&[("country", "PT"), ("payment", "card")])?;
    /// # Ok::<(), lamina_tracing::metrics::MetricsError>(())
    /// ```
    ///
    /// # Errors
    /// The checks of [`add_dimension`](Self::add_dimension),
    /// [`MetricsError::ConflictingDimensionValue`], [`MetricsError::TooManyDimensionSets`] or
    /// [`MetricsError::Flushed`].
    pub fn add_dimension_set(&self, dimensions: &[(&str, &str)]) -> Result<(), MetricsError> {
        let config = Arc::clone(&self.shared.config);
        self.open_state()?
            .set
            .add_dimension_set(&config, dimensions)
    }

    /// Adds a property that is logged with the metrics but is not a metric or a dimension (a
    /// request id, say), searchable with CloudWatch Logs Insights.
    ///
    /// # Errors
    /// [`MetricsError::InvalidMetadataKey`], [`MetricsError::NameCollision`] or
    /// [`MetricsError::Flushed`].
    pub fn add_metadata(
        &self,
        key: &str,
        value: impl Into<serde_json::Value>,
    ) -> Result<(), MetricsError> {
        self.open_state()?.set.add_metadata(key, value.into())
    }

    /// Stamps the documents of the next flush with `timestamp` instead of the flush time.
    ///
    /// # Errors
    /// [`MetricsError::TimestampOutOfRange`] more than 14 days back or 2 hours ahead;
    /// [`MetricsError::Flushed`].
    pub fn set_timestamp(&self, timestamp: SystemTime) -> Result<(), MetricsError> {
        self.open_state()?.set.set_timestamp(timestamp)
    }

    /// Whether no metric was added since the last flush.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.state().set.is_empty()
    }

    /// Flushes to stdout; see [`Metrics::flush_to`].
    ///
    /// # Errors
    /// As [`Metrics::flush_to`].
    pub fn flush(&self) -> Result<usize, MetricsError> {
        self.flush_to(&StdoutSink)
    }

    /// Writes the set as EMF documents (none when it holds no metric or the configuration is
    /// disabled), then clears metrics, added dimensions, metadata and timestamp, keeping the
    /// default dimensions. Returns how many documents were written.
    ///
    /// # Errors
    /// [`MetricsError::Write`] if the sink fails; the set is cleared anyway, so a broken sink
    /// cannot make metrics pile up.
    pub fn flush_to(&self, sink: &dyn MetricsSink) -> Result<usize, MetricsError> {
        let documents = {
            let mut state = self.state();
            let documents = self.render(&state.set);
            state.set.reset(&self.shared.config);
            documents
        };
        for document in &documents {
            sink.write_document(document).map_err(MetricsError::Write)?;
        }
        Ok(documents.len())
    }

    /// Flushes and refuses further additions: the end of a layer-managed invocation.
    pub(crate) fn close_and_flush(&self, sink: &dyn MetricsSink) -> Result<usize, MetricsError> {
        self.state().closed = true;
        self.flush_to(sink)
    }

    fn render(&self, set: &MetricSet) -> Vec<String> {
        match self.shared.config.namespace_name() {
            Some(namespace) if !self.shared.config.is_disabled() => {
                let timestamp = set.timestamp.unwrap_or_else(SystemTime::now);
                emf::render(namespace, set, emf::epoch_millis(timestamp))
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::metrics::MemorySink;

    fn metrics(config: MetricsConfig) -> Metrics {
        Metrics::new(config.namespace("Ns").unwrap()).unwrap()
    }

    #[test]
    fn needs_a_namespace() {
        assert!(matches!(
            Metrics::new(MetricsConfig::new()),
            Err(MetricsError::MissingNamespace)
        ));
    }

    #[test]
    fn flush_clears_all_but_default_dimensions() {
        let m = metrics(MetricsConfig::new().service("svc").unwrap());
        let sink = MemorySink::new();
        m.add_metric("A", Unit::Count, 1.0).unwrap();
        m.add_dimension("tenant", "t1").unwrap();
        m.add_metadata("id", "r1").unwrap();
        assert_eq!(m.flush_to(&sink).unwrap(), 1);
        assert!(m.is_empty());
        assert_eq!(m.flush_to(&sink).unwrap(), 0);
        m.add_metric("B", Unit::Count, 1.0).unwrap();
        m.flush_to(&sink).unwrap();
        let docs = sink.documents();
        assert_eq!(docs.len(), 2);
        let second: serde_json::Value = serde_json::from_str(&docs[1]).unwrap();
        assert_eq!(
            second["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["service"]])
        );
        assert!(second.get("tenant").is_none() && second.get("id").is_none());
    }

    #[test]
    fn disabled_writes_nothing_but_still_validates() {
        let m = metrics(MetricsConfig::new().disabled(true));
        let sink = MemorySink::new();
        assert!(m.add_metric("A", Unit::Count, f64::NAN).is_err());
        m.add_metric("A", Unit::Count, 1.0).unwrap();
        assert_eq!(m.flush_to(&sink).unwrap(), 0);
        assert!(sink.documents().is_empty() && m.is_empty());
    }

    #[test]
    fn closed_handles_refuse_additions() {
        let m = metrics(MetricsConfig::new());
        m.close_and_flush(&MemorySink::new()).unwrap();
        assert!(matches!(
            m.add_metric("A", Unit::Count, 1.0),
            Err(MetricsError::Flushed)
        ));
        assert!(matches!(
            m.add_dimension("d", "v"),
            Err(MetricsError::Flushed)
        ));
        assert!(matches!(m.add_metadata("k", 1), Err(MetricsError::Flushed)));
    }

    #[test]
    fn current_is_scoped() {
        assert!(Metrics::current().is_none());
        let m = metrics(MetricsConfig::new());
        m.clone().sync_scope(|| {
            Metrics::current()
                .unwrap()
                .add_metric("A", Unit::Count, 1.0)
                .unwrap();
        });
        assert!(!m.is_empty());
    }
}
