//! Property tests: the validator never panics, whatever it is fed.

use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

const TRACE: &str = "1-6553f100-0123456789abcdef01234567";

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(0x6553_f100)
}

#[allow(clippy::unwrap_used)]
fn valid_segment_with(pointer: &str, value: Value) -> String {
    let mut segment = json!({
        "name": "api", "id": "000000000000000a", "trace_id": TRACE, "start_time": 1.0, "end_time": 2.0,
        "annotations": {}, "subsegments": [{"name": "db", "id": "000000000000000b", "start_time": 1.0, "end_time": 2.0}]
    });
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    segment
        .pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .insert(key.to_owned(), value);
    segment.to_string()
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-z0-9_-]{0,20}".prop_map(Value::from),
        Just(json!("000000000000000a")),
        Just(json!(TRACE)),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("name".to_owned()),
                    Just("id".to_owned()),
                    Just("trace_id".to_owned()),
                    Just("start_time".to_owned()),
                    Just("end_time".to_owned()),
                    Just("in_progress".to_owned()),
                    Just("subsegments".to_owned()),
                    Just("cause".to_owned()),
                    Just("annotations".to_owned()),
                    Just("type".to_owned()),
                    Just("parent_id".to_owned()),
                    "[a-z_]{1,8}"
                ],
                inner,
                0..8
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_text(text in "\\PC{0,300}") {
        let _ = validate_document(&text, now());
    }

    #[test]
    fn never_panics_on_json_shaped_input(value in json_value()) {
        let _ = validate_document(&value.to_string(), now());
    }

    #[test]
    fn never_panics_when_a_valid_field_is_replaced(
        pointer in prop_oneof![Just("/name"), Just("/start_time"), Just("/cause"), Just("/subsegments/0/id"), Just("/subsegments/0/subsegments"), Just("/annotations/k")],
        value in json_value(),
    ) {
        let _ = validate_document(&valid_segment_with(pointer, value), now());
    }
}
