//! Picks the allow-listed members out of a JSON object body in one pass, without building the
//! rest of it: item data, message bodies and the like are skipped, never allocated.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::allow_list::{Param, Take};

/// Bodies larger than this are not read at all. A full 1 MB page of DynamoDB items is larger than
/// 1 MB on the wire (every value carries its type), so the limit is set above that; skipping
/// the members of a larger body keeps the work per call bounded.
pub(super) const MAX_PARSED_BODY: usize = 4 * 1024 * 1024;

/// Adds the `params` members of the JSON object in `body` to `into`, under their field names.
/// A body that is not a JSON object, is malformed anywhere, or is larger than
/// [`MAX_PARSED_BODY`] adds nothing; `null` members are left out.
pub(super) fn pick(body: &[u8], params: &[Param], into: &mut Map<String, Value>) {
    if params.is_empty() || body.len() > MAX_PARSED_BODY {
        return;
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let Ok(picked) = deserializer.deserialize_map(Members { params }) else {
        return;
    };
    if deserializer.end().is_ok() {
        into.extend(picked);
    }
}

/// Visits the top-level object, keeping the members in `params`.
struct Members<'a> {
    params: &'a [Param],
}

impl<'de> Visitor<'de> for Members<'_> {
    type Value = Vec<(String, Value)>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut picked = Vec::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match self.params.iter().find(|param| param.wire == key) {
                Some(param) => {
                    let value = match param.take {
                        Take::Value => map.next_value::<Value>()?,
                        Take::Keys | Take::Count => map.next_value_seed(Shape(param.take))?,
                    };
                    if !value.is_null() {
                        picked.retain(|(field, _): &(String, Value)| field != param.field);
                        picked.push((param.field.to_owned(), value));
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(picked)
    }
}

/// The keys or the size of an object or array, reading nothing else; `null` for a value that
/// has none (a string, a number).
struct Shape(Take);

impl<'de> DeserializeSeed<'de> for Shape {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Shape {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut keys = Vec::new();
        let mut size: u64 = 0;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            map.next_value::<IgnoredAny>()?;
            size = size.saturating_add(1);
            if self.0 == Take::Keys {
                keys.push(Value::String(key.into_owned()));
            }
        }
        Ok(match self.0 {
            Take::Keys => Value::Array(keys),
            _ => size.into(),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut size: u64 = 0;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            size = size.saturating_add(1);
        }
        Ok(match self.0 {
            Take::Count => size.into(),
            _ => Value::Null,
        })
    }

    fn visit_bool<E>(self, _value: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_i64<E>(self, _value: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_u64<E>(self, _value: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_f64<E>(self, _value: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_str<E>(self, _value: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::aws_sdk::allow_list::operation;

    fn picked(body: &[u8], params: &[Param]) -> Value {
        let mut into = Map::new();
        pick(body, params, &mut into);
        Value::Object(into)
    }

    #[test]
    fn values_keys_and_counts() {
        let send = operation("SQS", "SendMessage").request;
        let body = br#"{"QueueUrl":"q","MessageBody":"secret","DelaySeconds":5,
            "MessageAttributes":{"trace":{"DataType":"String","StringValue":"x"},"n":{}}}"#;
        assert_eq!(
            picked(body, send),
            json!({"delay_seconds": 5, "message_attribute_names": ["trace", "n"]})
        );
        let batch = operation("SQS", "SendMessageBatch");
        assert_eq!(
            picked(
                br#"{"Entries":[{"Id":"1"},{"Id":"2"},{"Id":"3"}]}"#,
                batch.request
            ),
            json!({"message_count": 3})
        );
        assert_eq!(
            picked(
                br#"{"Successful":[{"Id":"1"}],"Failed":[]}"#,
                batch.response
            ),
            json!({"successful_count": 1, "failed_count": 0})
        );
        let scan = operation("DynamoDB", "Scan").response;
        let body = br#"{"Items":[{"id":{"S":"1"}}],"Count":1,"ScannedCount":7,
            "ConsumedCapacity":{"TableName":"orders","CapacityUnits":0.5}}"#;
        assert_eq!(
            picked(body, scan),
            json!({"count": 1, "scanned_count": 7,
                   "consumed_capacity": {"TableName": "orders", "CapacityUnits": 0.5}})
        );
    }

    #[test]
    fn nulls_and_wrong_shapes_are_left_out() {
        let params = operation("SQS", "SendMessageBatch").response;
        assert_eq!(
            picked(br#"{"Successful":null,"Failed":"x"}"#, params),
            json!({})
        );
        let keys = operation("SQS", "SetQueueAttributes").request;
        assert_eq!(picked(br#"{"Attributes":[1,2]}"#, keys), json!({}));
        // A count of an object is its number of members.
        let count = operation("DynamoDB", "ListTables").response;
        assert_eq!(
            picked(br#"{"TableNames":{"a":1,"b":2}}"#, count),
            json!({"table_count": 2})
        );
    }

    #[test]
    fn malformed_bodies_give_nothing() {
        let params = operation("DynamoDB", "Scan").response;
        for body in [
            &b""[..],
            b"not json",
            b"[1,2]",
            b"\"Count\"",
            br#"{"Count":1"#,
            br#"{"Count":1} trailing"#,
            br#"{"Count":1,"Items":[{"a":}]}"#,
            &[0xff, 0xfe, 0x00],
        ] {
            assert_eq!(picked(body, params), json!({}), "{body:?}");
        }
    }

    #[test]
    fn deep_nesting_never_overflows_the_stack() {
        let params = operation("DynamoDB", "Scan").response;
        let nested = |member: &str| {
            let mut body = format!("{{\"Count\":1,\"{member}\":").into_bytes();
            body.extend(std::iter::repeat_n(b'[', 100_000));
            body.extend(std::iter::repeat_n(b']', 100_000));
            body.push(b'}');
            body
        };
        // A skipped member is skipped without recursion, however deep.
        assert_eq!(picked(&nested("Items"), params), json!({"count": 1}));
        // A recorded one hits serde_json's recursion limit: an error, so nothing is recorded.
        assert_eq!(picked(&nested("ConsumedCapacity"), params), json!({}));
    }

    #[test]
    fn huge_bodies_are_not_read() {
        let params = operation("DynamoDB", "Scan").response;
        let mut body = br#"{"Count":1,"Items":[""#.to_vec();
        body.resize(MAX_PARSED_BODY, b'x');
        body.extend(br#""]}"#);
        assert!(body.len() > MAX_PARSED_BODY);
        assert_eq!(picked(&body, params), json!({}));
        body.truncate(MAX_PARSED_BODY - 3);
        body.extend(br#""]}"#);
        assert_eq!(picked(&body, params), json!({"count": 1}));
    }

    proptest::proptest! {
        #[test]
        fn any_body_is_read_without_panicking(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
        ) {
            let mut into = Map::new();
            pick(&body, operation("DynamoDB", "Scan").response, &mut into);
            pick(&body, operation("SQS", "SendMessage").request, &mut into);
        }

        #[test]
        fn any_json_text_is_read_without_panicking(body in r#"[{}\[\]":,0-9a-zA-Z ]{0,128}"#) {
            let mut into = Map::new();
            pick(body.as_bytes(), operation("SQS", "SendMessageBatch").response, &mut into);
        }
    }
}
