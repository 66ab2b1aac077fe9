// EMF metrics: documents checked against the Embedded Metric Format specification's rules, the
// limits CloudWatch enforces, and the layer's once-per-invocation flush.

#![allow(clippy::unwrap_used)]

mod emf_spec;
mod layer;

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use lamina_tracing::metrics::{
    MemberKind, MemorySink, Metrics, MetricsConfig, MetricsError, NameRule, Resolution, Unit,
};
use proptest::prelude::*;
use serde_json::Value;

use emf_spec::{dimension_names, metric_names, validate_emf};

fn metrics() -> Metrics {
    Metrics::new(
        MetricsConfig::new()
            .namespace("Shop")
            .unwrap()
            .service("orders")
            .unwrap(),
    )
    .unwrap()
}

fn flush(m: &Metrics) -> Vec<Value> {
    let sink = MemorySink::new();
    m.flush_to(&sink).unwrap();
    sink.documents()
        .iter()
        .map(|d| validate_emf(d).unwrap())
        .collect()
}

#[test]
fn a_full_document_is_valid_emf() {
    let m = metrics();
    m.add_dimension("tenant", "acme").unwrap();
    m.add_metric("Orders", Unit::Count, 1.0).unwrap();
    m.add_metric("Orders", Unit::Count, 2.0).unwrap();
    m.add_metric_with_resolution("Latency", Unit::Milliseconds, 12.5, Resolution::High)
        .unwrap();
    m.add_metadata("request_id", "r-1").unwrap();
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let docs = flush(&m);
    assert_eq!(docs.len(), 1);
    let doc = &docs[0];
    let ts = doc["_aws"]["Timestamp"].as_u64().unwrap();
    assert!(ts >= before && ts < before + 60_000, "{ts} vs {before}");
    assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Shop");
    assert_eq!(dimension_names(doc), ["service", "tenant"]);
    assert_eq!(doc["service"], "orders");
    assert_eq!(doc["tenant"], "acme");
    assert_eq!(doc["Orders"], serde_json::json!([1.0, 2.0]));
    assert_eq!(doc["Latency"], serde_json::json!(12.5));
    assert_eq!(doc["request_id"], "r-1");
    let latency = &doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][1];
    assert_eq!(latency["StorageResolution"], 1);
    assert_eq!(
        doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0].get("StorageResolution"),
        None
    );
}

#[test]
fn dimension_sets_publish_every_metric_per_set_as_valid_emf() {
    let m = metrics();
    m.add_dimension("tenant", "acme").unwrap();
    m.add_metric_with_resolution("Latency", Unit::Milliseconds, 8.0, Resolution::High)
        .unwrap();
    m.add_dimension_set(&[("country", "PT"), ("payment", "card")])
        .unwrap();
    m.add_dimension_set(&[("tenant", "acme"), ("country", "PT")])
        .unwrap();
    let docs = flush(&m);
    assert_eq!(docs.len(), 1);
    let doc = &docs[0];
    assert_eq!(
        doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([
            ["service", "tenant"],
            ["service", "country", "payment"],
            ["service", "tenant", "country"]
        ])
    );
    // One value per name, shared by every set.
    assert_eq!(doc["country"], "PT");
    assert_eq!(doc["payment"], "card");
    assert_eq!(doc["tenant"], "acme");
    assert_eq!(
        doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["StorageResolution"],
        1
    );
    // Refused: another value for a name a set already has; nothing of it is kept.
    let m = metrics();
    m.add_metric("Orders", Unit::Count, 1.0).unwrap();
    m.add_dimension_set(&[("country", "PT")]).unwrap();
    assert!(
        m.add_dimension_set(&[("country", "ES"), ("x", "y")])
            .is_err()
    );
    let docs = flush(&m);
    assert_eq!(dimension_sets(&docs[0]), 2);
    assert!(docs[0].get("x").is_none());
    // A flush starts the next invocation with the first set only.
    m.add_metric("Orders", Unit::Count, 1.0).unwrap();
    assert_eq!(dimension_sets(&flush(&m)[0]), 1);
}

fn dimension_sets(doc: &Value) -> usize {
    doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn splits_at_101_metrics() {
    for (count, expected_docs) in [(100, 1), (101, 2), (250, 3)] {
        let m = metrics();
        for i in 0..count {
            m.add_metric(&format!("M{i}"), Unit::Count, f64::from(i))
                .unwrap();
        }
        let docs = flush(&m);
        assert_eq!(docs.len(), expected_docs, "{count} metrics");
        let mut seen = Vec::new();
        for doc in &docs {
            assert!(metric_names(doc).len() <= 100);
            assert_eq!(
                doc["service"], "orders",
                "every document keeps the dimensions"
            );
            seen.extend(metric_names(doc));
        }
        let expected: Vec<String> = (0..count).map(|i| format!("M{i}")).collect();
        assert_eq!(seen, expected);
    }
}

#[test]
fn splits_a_metric_beyond_100_values() {
    let m = metrics();
    for v in 0..205 {
        m.add_metric("Hits", Unit::Count, f64::from(v)).unwrap();
    }
    let docs = flush(&m);
    let lens: Vec<usize> = docs
        .iter()
        .map(|d| d["Hits"].as_array().map_or(1, Vec::len))
        .collect();
    assert_eq!(lens, [100, 100, 5]);
    assert_eq!(
        docs[2]["Hits"],
        serde_json::json!([200.0, 201.0, 202.0, 203.0, 204.0])
    );
}

#[test]
fn invalid_inputs_are_rejected_with_typed_errors() {
    type Check = fn(&MetricsError) -> bool;
    type Action = Box<dyn Fn(&Metrics) -> Result<(), MetricsError>>;
    let long = "x".repeat(256);
    let cases: Vec<(&str, Action, Check)> = vec![
        (
            "empty metric name",
            Box::new(|m| m.add_metric("", Unit::Count, 1.0)),
            |e| {
                matches!(
                    e,
                    MetricsError::InvalidMetricName {
                        rule: NameRule::Empty,
                        ..
                    }
                )
            },
        ),
        (
            "256-char metric name",
            Box::new(move |m| m.add_metric(&long, Unit::Count, 1.0)),
            |e| {
                matches!(
                    e,
                    MetricsError::InvalidMetricName {
                        rule: NameRule::TooLong { max: 255 },
                        ..
                    }
                )
            },
        ),
        (
            "non-ASCII metric name",
            Box::new(|m| m.add_metric("Latência", Unit::Count, 1.0)),
            |e| {
                matches!(
                    e,
                    MetricsError::InvalidMetricName {
                        rule: NameRule::NonAscii,
                        ..
                    }
                )
            },
        ),
        (
            "NaN",
            Box::new(|m| m.add_metric("A", Unit::Count, f64::NAN)),
            |e| matches!(e, MetricsError::NonFiniteValue { .. }),
        ),
        (
            "infinity",
            Box::new(|m| m.add_metric("A", Unit::Count, f64::NEG_INFINITY)),
            |e| matches!(e, MetricsError::NonFiniteValue { .. }),
        ),
        (
            "1e200",
            Box::new(|m| m.add_metric("A", Unit::Count, 1e200)),
            |e| matches!(e, MetricsError::ValueOutOfRange { .. }),
        ),
        (
            "leading colon dimension",
            Box::new(|m| m.add_dimension(":d", "v")),
            |e| {
                matches!(
                    e,
                    MetricsError::InvalidDimensionName {
                        rule: NameRule::LeadingColon,
                        ..
                    }
                )
            },
        ),
        (
            "blank dimension value",
            Box::new(|m| m.add_dimension("d", "  ")),
            |e| {
                matches!(
                    e,
                    MetricsError::InvalidDimensionValue {
                        rule: NameRule::OnlyWhitespace,
                        ..
                    }
                )
            },
        ),
        (
            "control char in value",
            Box::new(|m| m.add_dimension("d", "a\u{7}")),
            |e| {
                matches!(
                    e,
                    MetricsError::InvalidDimensionValue {
                        rule: NameRule::ControlCharacter,
                        ..
                    }
                )
            },
        ),
        (
            "_aws as metric",
            Box::new(|m| m.add_metric("_aws", Unit::Count, 1.0)),
            |e| {
                matches!(
                    e,
                    MetricsError::InvalidMetricName {
                        rule: NameRule::Reserved,
                        ..
                    }
                )
            },
        ),
        (
            "_aws as metadata",
            Box::new(|m| m.add_metadata("_aws", 1)),
            |e| {
                matches!(
                    e,
                    MetricsError::InvalidMetadataKey {
                        rule: NameRule::Reserved,
                        ..
                    }
                )
            },
        ),
        (
            "metric named like a dimension",
            Box::new(|m| m.add_metric("service", Unit::Count, 1.0)),
            |e| {
                matches!(
                    e,
                    MetricsError::NameCollision {
                        existing: MemberKind::Dimension,
                        ..
                    }
                )
            },
        ),
        (
            "31st dimension",
            Box::new(|m| (0..30).try_for_each(|i| m.add_dimension(&format!("d{i}"), "v"))),
            |e| matches!(e, MetricsError::TooManyDimensions { limit: 30, .. }),
        ),
        (
            "unit change",
            Box::new(|m| {
                m.add_metric("A", Unit::Count, 1.0)?;
                m.add_metric("A", Unit::Percent, 1.0)
            }),
            |e| {
                matches!(
                    e,
                    MetricsError::ConflictingUnit {
                        existing: Unit::Count,
                        requested: Unit::Percent,
                        ..
                    }
                )
            },
        ),
        (
            "timestamp a month ago",
            Box::new(|m| {
                m.set_timestamp(SystemTime::now() - std::time::Duration::from_secs(30 * 86_400))
            }),
            |e| matches!(e, MetricsError::TimestampOutOfRange { .. }),
        ),
    ];
    for (name, op, check) in cases {
        let m = metrics();
        let error = op(&m).expect_err(name);
        assert!(check(&error), "{name}: {error:?}");
        assert!(!error.to_string().is_empty());
        // Whatever was accepted before the error still makes valid documents.
        flush(&m);
    }
}

#[test]
fn namespace_and_service_come_from_powertools_variables() {
    let vars = HashMap::from([
        ("POWERTOOLS_METRICS_NAMESPACE", "Payments"),
        ("POWERTOOLS_SERVICE_NAME", "billing"),
    ]);
    let config =
        MetricsConfig::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned())).unwrap();
    let m = Metrics::new(config).unwrap();
    m.add_metric("Charged", Unit::Count, 1.0).unwrap();
    let docs = flush(&m);
    assert_eq!(
        docs[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "Payments"
    );
    assert_eq!(docs[0]["service"], "billing");
    assert!(matches!(
        Metrics::new(MetricsConfig::from_lookup(|_| None).unwrap()),
        Err(MetricsError::MissingNamespace)
    ));
    let disabled = MetricsConfig::from_lookup(|name| {
        (name == "POWERTOOLS_METRICS_DISABLED").then(|| "true".to_owned())
    })
    .unwrap();
    assert!(disabled.is_disabled());
}

#[derive(Debug, Clone)]
enum Op {
    Metric(String, usize, f64, bool),
    Dimension(String, String),
    Metadata(String, i64),
}

fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z][A-Za-z0-9_]{0,6}",
        ".{0,12}",
        Just("service".to_owned()),
        Just("_aws".to_owned()),
        Just(":x".to_owned()),
        "[a-z]{256}",
    ]
}

fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        -1e6..1e6f64,
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(0.0),
    ]
}

fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any_name(), 0..27usize, any_value(), any::<bool>())
            .prop_map(|(n, u, v, h)| Op::Metric(n, u, v, h)),
        2 => (any_name(), any_name()).prop_map(|(n, v)| Op::Dimension(n, v)),
        1 => (any_name(), any::<i64>()).prop_map(|(k, v)| Op::Metadata(k, v)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn accepted_input_always_makes_valid_documents(ops in prop::collection::vec(any_op(), 0..300)) {
        let m = metrics();
        let mut accepted: HashMap<String, usize> = HashMap::new();
        for op in ops {
            match op {
                Op::Metric(name, unit, value, high) => {
                    let resolution = if high { Resolution::High } else { Resolution::Standard };
                    if m.add_metric_with_resolution(&name, Unit::ALL[unit], value, resolution).is_ok() {
                        *accepted.entry(name).or_default() += 1;
                    }
                }
                Op::Dimension(name, value) => { let _ = m.add_dimension(&name, &value); }
                Op::Metadata(key, value) => { let _ = m.add_metadata(&key, value); }
            }
        }
        let sink = MemorySink::new();
        m.flush_to(&sink).unwrap();
        let mut flushed: HashMap<String, usize> = HashMap::new();
        for line in sink.documents() {
            let doc = validate_emf(&line).map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
            for name in metric_names(&doc) {
                *flushed.entry(name.clone()).or_default() += doc[&name].as_array().map_or(1, Vec::len);
            }
        }
        prop_assert_eq!(flushed, accepted);
    }
}
