//! One invocation's metrics, dimensions and metadata, validated as they are added.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use super::config::{MetricsConfig, check_dimension};
use super::error::{MemberKind, MetricsError};
use super::unit::{Resolution, Unit};
use super::validate;

/// The most dimension sets in one flush, the first included.
pub const MAX_DIMENSION_SETS: usize = 10;

/// How far in the past CloudWatch accepts an EMF timestamp.
const MAX_PAST: Duration = Duration::from_secs(14 * 24 * 60 * 60);
/// How far in the future CloudWatch accepts an EMF timestamp.
const MAX_FUTURE: Duration = Duration::from_secs(2 * 60 * 60);

/// A metric and every value it was given.
#[derive(Debug, Clone)]
pub(crate) struct MetricEntry {
    pub(crate) name: String,
    pub(crate) unit: Unit,
    pub(crate) resolution: Resolution,
    pub(crate) values: Vec<f64>,
}

/// The members of the documents of one flush. Names are unique across metrics, dimensions and
/// metadata, because all of them are members of the same JSON object.
#[derive(Debug, Clone, Default)]
pub(crate) struct MetricSet {
    /// The first dimension set: the default dimensions and those of `add_dimension`.
    pub(crate) dimensions: Vec<(String, String)>,
    /// The further dimension sets (names), each with the default dimensions first.
    pub(crate) extra_sets: Vec<Vec<String>>,
    /// The values of dimensions named only by further sets.
    pub(crate) extra_values: Vec<(String, String)>,
    pub(crate) metrics: Vec<MetricEntry>,
    index: HashMap<String, usize>,
    pub(crate) metadata: Vec<(String, serde_json::Value)>,
    pub(crate) timestamp: Option<SystemTime>,
}

impl MetricSet {
    /// A set holding the configuration's default dimensions.
    pub(crate) fn new(config: &MetricsConfig) -> Self {
        let dimensions = config
            .dimensions()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        Self {
            dimensions,
            ..Self::default()
        }
    }

    /// Back to the state of [`MetricSet::new`], as after a flush.
    pub(crate) fn reset(&mut self, config: &MetricsConfig) {
        *self = Self::new(config);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    fn kind_of(&self, name: &str) -> Option<MemberKind> {
        if self.index.contains_key(name) {
            Some(MemberKind::Metric)
        } else if self.dimension_value(name).is_some() {
            Some(MemberKind::Dimension)
        } else if self.metadata.iter().any(|(k, _)| k == name) {
            Some(MemberKind::Metadata)
        } else {
            None
        }
    }

    fn claim(&self, name: &str, kind: MemberKind) -> Result<(), MetricsError> {
        match self.kind_of(name) {
            Some(existing) if existing != kind => Err(MetricsError::NameCollision {
                name: name.to_owned(),
                existing,
            }),
            _ => Ok(()),
        }
    }

    pub(crate) fn add_metric(
        &mut self,
        name: &str,
        unit: Unit,
        resolution: Resolution,
        value: f64,
    ) -> Result<(), MetricsError> {
        validate::metric_name(name).map_err(|rule| MetricsError::InvalidMetricName {
            name: name.to_owned(),
            rule,
        })?;
        if !value.is_finite() {
            return Err(MetricsError::NonFiniteValue {
                name: name.to_owned(),
                value,
            });
        }
        if !validate::value_in_range(value) {
            return Err(MetricsError::ValueOutOfRange {
                name: name.to_owned(),
                value,
            });
        }
        if let Some(&i) = self.index.get(name) {
            let entry = &mut self.metrics[i];
            if entry.unit != unit {
                return Err(MetricsError::ConflictingUnit {
                    name: name.to_owned(),
                    existing: entry.unit,
                    requested: unit,
                });
            }
            if entry.resolution != resolution {
                return Err(MetricsError::ConflictingResolution {
                    name: name.to_owned(),
                    existing: entry.resolution,
                    requested: resolution,
                });
            }
            entry.values.push(value);
            return Ok(());
        }
        self.claim(name, MemberKind::Metric)?;
        self.index.insert(name.to_owned(), self.metrics.len());
        self.metrics.push(MetricEntry {
            name: name.to_owned(),
            unit,
            resolution,
            values: vec![value],
        });
        Ok(())
    }

    /// The value of the dimension `name`, in any set.
    fn dimension_value(&self, name: &str) -> Option<&str> {
        self.dimensions
            .iter()
            .chain(&self.extra_values)
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Adds a further dimension set: `config`'s default dimensions and `pairs`. Metrics are
    /// published once per set. A name may be in several sets only with one value.
    pub(crate) fn add_dimension_set(
        &mut self,
        config: &MetricsConfig,
        pairs: &[(&str, &str)],
    ) -> Result<(), MetricsError> {
        if self.extra_sets.len() + 1 >= MAX_DIMENSION_SETS {
            return Err(MetricsError::TooManyDimensionSets {
                limit: MAX_DIMENSION_SETS,
            });
        }
        let mut names: Vec<String> = config.dimensions().map(|(n, _)| n.to_owned()).collect();
        let mut values = Vec::new();
        for &(name, value) in pairs {
            check_dimension(name, value)?;
            self.claim(name, MemberKind::Dimension)?;
            let existing = self
                .dimension_value(name)
                .or_else(|| values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v));
            if let Some(existing) = existing.filter(|existing| *existing != value) {
                return Err(MetricsError::ConflictingDimensionValue {
                    name: name.to_owned(),
                    existing: existing.to_owned(),
                    requested: value.to_owned(),
                });
            }
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
                values.push((name, value));
            }
            if names.len() > validate::MAX_DIMENSIONS {
                return Err(MetricsError::TooManyDimensions {
                    name: name.to_owned(),
                    limit: validate::MAX_DIMENSIONS,
                });
            }
        }
        for (name, value) in values {
            if self.dimension_value(name).is_none() {
                self.extra_values.push((name.to_owned(), value.to_owned()));
            }
        }
        self.extra_sets.push(names);
        Ok(())
    }

    pub(crate) fn add_dimension(&mut self, name: &str, value: &str) -> Result<(), MetricsError> {
        check_dimension(name, value)?;
        self.claim(name, MemberKind::Dimension)?;
        if let Some((_, existing)) = self.extra_values.iter().find(|(n, _)| n == name)
            && existing != value
        {
            return Err(MetricsError::ConflictingDimensionValue {
                name: name.to_owned(),
                existing: existing.clone(),
                requested: value.to_owned(),
            });
        }
        if let Some(slot) = self.dimensions.iter_mut().find(|(n, _)| n == name) {
            value.clone_into(&mut slot.1);
            return Ok(());
        }
        if self.dimensions.len() >= validate::MAX_DIMENSIONS {
            return Err(MetricsError::TooManyDimensions {
                name: name.to_owned(),
                limit: validate::MAX_DIMENSIONS,
            });
        }
        self.extra_values.retain(|(n, _)| n != name);
        self.dimensions.push((name.to_owned(), value.to_owned()));
        Ok(())
    }

    pub(crate) fn add_metadata(
        &mut self,
        key: &str,
        value: serde_json::Value,
    ) -> Result<(), MetricsError> {
        validate::metadata_key(key).map_err(|rule| MetricsError::InvalidMetadataKey {
            key: key.to_owned(),
            rule,
        })?;
        self.claim(key, MemberKind::Metadata)?;
        if let Some(slot) = self.metadata.iter_mut().find(|(k, _)| k == key) {
            slot.1 = value;
        } else {
            self.metadata.push((key.to_owned(), value));
        }
        Ok(())
    }

    pub(crate) fn set_timestamp(&mut self, timestamp: SystemTime) -> Result<(), MetricsError> {
        let now = SystemTime::now();
        let too_old = now
            .duration_since(timestamp)
            .is_ok_and(|age| age > MAX_PAST);
        let too_new = timestamp
            .duration_since(now)
            .is_ok_and(|ahead| ahead > MAX_FUTURE);
        if too_old || too_new {
            return Err(MetricsError::TimestampOutOfRange { timestamp });
        }
        self.timestamp = Some(timestamp);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn set() -> MetricSet {
        MetricSet::new(&MetricsConfig::new().service("svc").unwrap())
    }

    #[test]
    fn values_accumulate_under_one_unit_and_resolution() {
        let mut set = set();
        set.add_metric("Latency", Unit::Milliseconds, Resolution::High, 1.0)
            .unwrap();
        set.add_metric("Latency", Unit::Milliseconds, Resolution::High, 2.5)
            .unwrap();
        assert_eq!(set.metrics[0].values, vec![1.0, 2.5]);
        assert!(matches!(
            set.add_metric("Latency", Unit::Seconds, Resolution::High, 1.0),
            Err(MetricsError::ConflictingUnit {
                existing: Unit::Milliseconds,
                ..
            })
        ));
        assert!(matches!(
            set.add_metric("Latency", Unit::Milliseconds, Resolution::Standard, 1.0),
            Err(MetricsError::ConflictingResolution {
                existing: Resolution::High,
                ..
            })
        ));
        assert_eq!(set.metrics[0].values.len(), 2);
    }

    #[test]
    fn names_collide_across_kinds_in_either_order() {
        let mut set = set();
        set.add_metric("Orders", Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        assert!(matches!(
            set.add_dimension("Orders", "x"),
            Err(MetricsError::NameCollision {
                existing: MemberKind::Metric,
                ..
            })
        ));
        assert!(matches!(
            set.add_metric("service", Unit::Count, Resolution::Standard, 1.0),
            Err(MetricsError::NameCollision {
                existing: MemberKind::Dimension,
                ..
            })
        ));
        set.add_metadata("note", "x".into()).unwrap();
        set.add_metadata("note", 2.into()).unwrap();
        assert_eq!(
            set.metadata,
            vec![("note".to_owned(), serde_json::json!(2))]
        );
        assert!(matches!(
            set.add_metric("note", Unit::Count, Resolution::Standard, 1.0),
            Err(MetricsError::NameCollision {
                existing: MemberKind::Metadata,
                ..
            })
        ));
    }

    #[test]
    fn dimensions_replace_and_cap_at_30() {
        let mut set = set();
        set.add_dimension("service", "other").unwrap();
        assert_eq!(
            set.dimensions,
            vec![("service".to_owned(), "other".to_owned())]
        );
        for i in 1..30 {
            set.add_dimension(&format!("d{i}"), "v").unwrap();
        }
        assert!(matches!(
            set.add_dimension("d30", "v"),
            Err(MetricsError::TooManyDimensions { limit: 30, .. })
        ));
        set.add_dimension("d1", "replaced").unwrap();
        assert_eq!(set.dimensions.len(), 30);
    }

    #[test]
    fn timestamps_outside_cloudwatch_window_are_rejected() {
        let mut set = set();
        let now = SystemTime::now();
        set.set_timestamp(now - Duration::from_secs(13 * 24 * 3600))
            .unwrap();
        set.set_timestamp(now + Duration::from_secs(3600)).unwrap();
        for bad in [
            now - Duration::from_secs(15 * 24 * 3600),
            now + Duration::from_secs(3 * 3600),
        ] {
            assert!(matches!(
                set.set_timestamp(bad),
                Err(MetricsError::TimestampOutOfRange { .. })
            ));
        }
    }

    #[test]
    fn dimension_sets_share_values_and_refuse_conflicts() {
        let config = MetricsConfig::new()
            .namespace("Ns")
            .unwrap()
            .service("svc")
            .unwrap();
        let mut set = MetricSet::new(&config);
        set.add_dimension("region", "eu").unwrap();
        set.add_dimension_set(&config, &[("country", "PT"), ("region", "eu")])
            .unwrap();
        assert_eq!(set.extra_sets, [vec!["service", "country", "region"]]);
        assert_eq!(set.extra_values, [("country".to_owned(), "PT".to_owned())]);
        // One value per name across every set.
        assert!(matches!(
            set.add_dimension_set(&config, &[("country", "ES")]),
            Err(MetricsError::ConflictingDimensionValue { .. })
        ));
        assert!(matches!(
            set.add_dimension("country", "ES"),
            Err(MetricsError::ConflictingDimensionValue { .. })
        ));
        assert!(matches!(
            set.add_dimension_set(&config, &[("a", "1"), ("a", "2")]),
            Err(MetricsError::ConflictingDimensionValue { .. })
        ));
        // A set's name is a dimension: no metric may take it.
        assert!(matches!(
            set.add_metric("country", Unit::Count, Resolution::Standard, 1.0),
            Err(MetricsError::NameCollision { .. })
        ));
        let before = set.extra_sets.len();
        assert!(set.add_dimension_set(&config, &[("", "x")]).is_err());
        assert_eq!(set.extra_sets.len(), before, "a refused set adds nothing");
        while set.extra_sets.len() < MAX_DIMENSION_SETS - 1 {
            set.add_dimension_set(&config, &[("k", "v")]).unwrap();
        }
        assert!(matches!(
            set.add_dimension_set(&config, &[("k", "v")]),
            Err(MetricsError::TooManyDimensionSets { .. })
        ));
    }
}
