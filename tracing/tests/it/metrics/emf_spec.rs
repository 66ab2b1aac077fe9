// A structural validator for Embedded Metric Format documents, written from the specification's
// rules and CloudWatch's limits rather than from the implementation under test.

use std::collections::HashSet;

use serde_json::Value;

#[rustfmt::skip]
const UNITS: [&str; 27] = [
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
];

/// Checks one document against the EMF specification and CloudWatch's limits; returns it parsed.
pub(super) fn validate_emf(line: &str) -> Result<Value, String> {
    if line.contains('\n') {
        return Err("a document must be a single line".into());
    }
    let root: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let root_map = root.as_object().ok_or("root is not an object")?;
    let aws = root_map
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no _aws object")?;
    for key in aws.keys() {
        if key != "Timestamp" && key != "CloudWatchMetrics" {
            return Err(format!("unexpected _aws member {key}"));
        }
    }
    let ts = aws.get("Timestamp").ok_or("no Timestamp")?;
    if !ts.is_u64() {
        return Err(format!("Timestamp {ts} is not an integer number of ms"));
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("CloudWatchMetrics is not an array")?;
    if directives.is_empty() {
        return Err("no metric directive".into());
    }
    for directive in directives {
        let directive = directive.as_object().ok_or("directive is not an object")?;
        let namespace = directive
            .get("Namespace")
            .and_then(Value::as_str)
            .ok_or("no Namespace")?;
        if namespace.is_empty() || namespace.len() > 255 {
            return Err(format!("Namespace length {}", namespace.len()));
        }
        let sets = directive
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or("Dimensions is not an array")?;
        for set in sets {
            let set = set.as_array().ok_or("a dimension set is not an array")?;
            if set.len() > 30 {
                return Err(format!("{} dimensions in a set", set.len()));
            }
            let unique: HashSet<&str> = set.iter().filter_map(Value::as_str).collect();
            if unique.len() != set.len() {
                return Err(format!("a dimension set repeats a name: {set:?}"));
            }
            for key in set {
                let key = key.as_str().ok_or("dimension key is not a string")?;
                match root_map.get(key) {
                    Some(Value::String(v)) if !v.is_empty() && v.len() <= 1024 && v.is_ascii() => {}
                    other => {
                        return Err(format!("dimension {key} is {other:?}, not a valid string"));
                    }
                }
                if key.is_empty() || key.len() > 255 || key.starts_with(':') || !key.is_ascii() {
                    return Err(format!("invalid dimension name {key:?}"));
                }
            }
        }
        let metrics = directive
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or("Metrics is not an array")?;
        if metrics.len() > 100 {
            return Err(format!("{} metrics in a directive", metrics.len()));
        }
        let mut names = HashSet::new();
        for metric in metrics {
            let metric = metric
                .as_object()
                .ok_or("metric definition is not an object")?;
            for key in metric.keys() {
                if !["Name", "Unit", "StorageResolution"].contains(&key.as_str()) {
                    return Err(format!("unexpected MetricDefinition member {key}"));
                }
            }
            let name = metric
                .get("Name")
                .and_then(Value::as_str)
                .ok_or("no Name")?;
            if name.is_empty() || name.len() > 255 || !names.insert(name) {
                return Err(format!("bad or repeated metric name {name:?}"));
            }
            if let Some(unit) = metric.get("Unit")
                && !unit.as_str().is_some_and(|u| UNITS.contains(&u))
            {
                return Err(format!("invalid Unit {unit}"));
            }
            if let Some(res) = metric.get("StorageResolution")
                && res.as_u64() != Some(1)
                && res.as_u64() != Some(60)
            {
                return Err(format!("invalid StorageResolution {res}"));
            }
            let finite = |v: &Value| v.as_f64().is_some_and(f64::is_finite);
            match root_map.get(name) {
                Some(v) if v.is_number() && finite(v) => {}
                Some(Value::Array(values))
                    if !values.is_empty() && values.len() <= 100 && values.iter().all(finite) => {}
                other => return Err(format!("metric {name} is {other:?}")),
            }
        }
    }
    Ok(root)
}

pub(super) fn metric_names(doc: &Value) -> Vec<String> {
    doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter_map(|m| m["Name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn dimension_names(doc: &Value) -> Vec<String> {
    doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
        .as_array()
        .map(|ds| {
            ds.iter()
                .filter_map(|d| d.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_validator_rejects_broken_documents() {
    let directive = |metrics: &str| {
        format!(r#"{{"Namespace":"N","Dimensions":[["d"]],"Metrics":[{metrics}]}}"#)
    };
    let cases = [
        ("{\"A\":1}".to_owned(), "no _aws"),
        (
            format!(
                r#"{{"_aws":{{"Timestamp":1.5,"CloudWatchMetrics":[{}]}},"d":"x"}}"#,
                directive("")
            ),
            "Timestamp",
        ),
        (
            format!(
                r#"{{"_aws":{{"Timestamp":1,"CloudWatchMetrics":[{}]}}}}"#,
                directive("")
            ),
            "dimension d",
        ),
        (
            format!(
                r#"{{"_aws":{{"Timestamp":1,"CloudWatchMetrics":[{}]}},"d":"x"}}"#,
                directive(r#"{"Name":"A"}"#)
            ),
            "metric A",
        ),
        (
            format!(
                r#"{{"_aws":{{"Timestamp":1,"CloudWatchMetrics":[{}]}},"d":"x","A":"1"}}"#,
                directive(r#"{"Name":"A"}"#)
            ),
            "metric A",
        ),
        (
            format!(
                r#"{{"_aws":{{"Timestamp":1,"CloudWatchMetrics":[{}]}},"d":"x","A":1}}"#,
                directive(r#"{"Name":"A","Unit":"Parsecs"}"#)
            ),
            "invalid Unit",
        ),
        (
            format!(
                r#"{{"_aws":{{"Timestamp":1,"CloudWatchMetrics":[{}]}},"d":"x","A":[{}]}}"#,
                directive(r#"{"Name":"A"}"#),
                vec!["1"; 101].join(",")
            ),
            "metric A",
        ),
    ];
    for (doc, reason) in &cases {
        let error = validate_emf(doc).expect_err(doc);
        assert!(error.contains(reason), "{doc}: {error}");
    }
    let good = format!(
        r#"{{"_aws":{{"Timestamp":1,"CloudWatchMetrics":[{}]}},"d":"x","A":[1,2]}}"#,
        directive(r#"{"Name":"A","Unit":"Count","StorageResolution":60}"#)
    );
    validate_emf(&good).unwrap();
}
