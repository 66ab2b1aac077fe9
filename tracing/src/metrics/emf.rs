//! Rendering a metric set as Embedded Metric Format documents, split to CloudWatch's limits.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::set::{MetricEntry, MetricSet};
use super::unit::Resolution;
use super::validate::{MAX_METRICS_PER_DOCUMENT, MAX_VALUES_PER_METRIC};

/// Milliseconds since the epoch, as EMF's `Timestamp` wants them.
pub(crate) fn epoch_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}

/// The set's documents, one JSON line each: every document carries all dimensions and metadata,
/// at most 100 metrics, and at most 100 values per metric. A metric with more values continues in
/// later documents, so nothing is dropped. An empty set renders no document.
pub(crate) fn render(namespace: &str, set: &MetricSet, timestamp_ms: u64) -> Vec<String> {
    let rounds = set
        .metrics
        .iter()
        .map(|m| m.values.len().div_ceil(MAX_VALUES_PER_METRIC))
        .max()
        .unwrap_or(0);
    let mut documents = Vec::new();
    for round in 0..rounds {
        let start = round * MAX_VALUES_PER_METRIC;
        let slices: Vec<(&MetricEntry, &[f64])> = set
            .metrics
            .iter()
            .filter_map(|m| {
                let values = m.values.get(start..)?;
                let end = values.len().min(MAX_VALUES_PER_METRIC);
                Some((m, &values[..end])).filter(|(_, v)| !v.is_empty())
            })
            .collect();
        for chunk in slices.chunks(MAX_METRICS_PER_DOCUMENT) {
            let document = Document {
                namespace,
                timestamp_ms,
                set,
                metrics: chunk,
            };
            // Serializing plain strings, finite numbers and serde_json values cannot fail.
            if let Ok(line) = serde_json::to_string(&document) {
                documents.push(line);
            }
        }
    }
    documents
}

/// One document: `_aws`, then dimensions, metric values and metadata as root members.
struct Document<'a> {
    namespace: &'a str,
    timestamp_ms: u64,
    set: &'a MetricSet,
    metrics: &'a [(&'a MetricEntry, &'a [f64])],
}

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("_aws", &Aws(self))?;
        for (name, value) in self.set.dimensions.iter().chain(&self.set.extra_values) {
            map.serialize_entry(name, value)?;
        }
        for (metric, values) in self.metrics {
            match values {
                [single] => map.serialize_entry(&metric.name, single)?,
                many => map.serialize_entry(&metric.name, many)?,
            }
        }
        for (key, value) in &self.set.metadata {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

struct Aws<'a, 'b>(&'b Document<'a>);

impl Serialize for Aws<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("Timestamp", &self.0.timestamp_ms)?;
        map.serialize_entry("CloudWatchMetrics", &[Directive(self.0)])?;
        map.end()
    }
}

struct Directive<'a, 'b>(&'b Document<'a>);

impl Serialize for Directive<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("Namespace", self.0.namespace)?;
        map.serialize_entry("Dimensions", &DimensionSets(self.0.set))?;
        map.serialize_entry("Metrics", &Definitions(self.0.metrics))?;
        map.end()
    }
}

/// The first set (the default dimensions and `add_dimension`'s), then each further set.
struct DimensionSets<'a>(&'a MetricSet);

impl Serialize for DimensionSets<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let first: Vec<&str> = self.0.dimensions.iter().map(|(n, _)| n.as_str()).collect();
        let mut seq = serializer.serialize_seq(Some(1 + self.0.extra_sets.len()))?;
        seq.serialize_element(&first)?;
        for set in &self.0.extra_sets {
            seq.serialize_element(set)?;
        }
        seq.end()
    }
}

struct Definitions<'a>(&'a [(&'a MetricEntry, &'a [f64])]);

impl Serialize for Definitions<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for (metric, _) in self.0 {
            seq.serialize_element(&Definition(metric))?;
        }
        seq.end()
    }
}

struct Definition<'a>(&'a MetricEntry);

impl Serialize for Definition<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("Name", &self.0.name)?;
        map.serialize_entry("Unit", self.0.unit.as_str())?;
        if self.0.resolution == Resolution::High {
            map.serialize_entry("StorageResolution", &self.0.resolution.seconds())?;
        }
        map.end()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::metrics::MetricsConfig;
    use crate::metrics::unit::Unit;

    fn parse(line: &str) -> Value {
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn renders_the_emf_shape() {
        let config = MetricsConfig::new().service("svc").unwrap();
        let mut set = MetricSet::new(&config);
        set.add_metric("Orders", Unit::Count, Resolution::Standard, 2.0)
            .unwrap();
        set.add_metric("Latency", Unit::Milliseconds, Resolution::High, 1.5)
            .unwrap();
        set.add_metric("Latency", Unit::Milliseconds, Resolution::High, 3.0)
            .unwrap();
        set.add_metadata("request", json!({"id": "abc"})).unwrap();
        let docs = render("Shop", &set, 1_700_000_000_123);
        assert_eq!(docs.len(), 1);
        assert!(!docs[0].contains('\n'));
        assert_eq!(
            parse(&docs[0]),
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_123_u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "Shop",
                        "Dimensions": [["service"]],
                        "Metrics": [
                            {"Name": "Orders", "Unit": "Count"},
                            {"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 1}
                        ]
                    }]
                },
                "service": "svc",
                "Orders": 2.0,
                "Latency": [1.5, 3.0],
                "request": {"id": "abc"}
            })
        );
    }

    #[test]
    fn splits_metrics_and_values_to_limits() {
        let mut set = MetricSet::new(&MetricsConfig::new());
        for i in 0..150 {
            set.add_metric(&format!("m{i}"), Unit::Count, Resolution::Standard, 1.0)
                .unwrap();
        }
        for v in 0..250 {
            set.add_metric("m0", Unit::Count, Resolution::Standard, f64::from(v))
                .unwrap();
        }
        let docs: Vec<Value> = render("Ns", &set, 0).iter().map(|d| parse(d)).collect();
        // Round 0: 150 metrics in 100 + 50; rounds 1 and 2: m0's remaining 151 values.
        assert_eq!(docs.len(), 4);
        let counts: Vec<usize> = docs
            .iter()
            .map(|d| {
                d["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .collect();
        assert_eq!(counts, vec![100, 50, 1, 1]);
        let m0: usize = docs
            .iter()
            .filter_map(|d| d.get("m0"))
            .map(|v| v.as_array().map_or(1, Vec::len))
            .sum();
        assert_eq!(m0, 251);
        assert_eq!(docs[2]["m0"].as_array().unwrap().len(), 100);
        assert_eq!(docs[3]["m0"].as_array().unwrap().len(), 51);
    }

    #[test]
    fn empty_set_renders_nothing() {
        assert!(render("Ns", &MetricSet::new(&MetricsConfig::new()), 0).is_empty());
        assert_eq!(
            epoch_millis(UNIX_EPOCH + std::time::Duration::from_millis(42)),
            42
        );
    }
}
