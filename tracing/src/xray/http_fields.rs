//! Span fields for HTTP requests and segments.
//!
//! | field | becomes |
//! |---|---|
//! | `http.request.method`, `.url`, `.user_agent`, `.client_ip` (strings) | `http.request.*` |
//! | `http.request.x_forwarded_for` (bool) | `http.request.x_forwarded_for` (segments) |
//! | `xray.segment = true` with `xray.trace_id` | a segment rather than a subsegment; `xray.parent_id` (an upstream caller) is then optional |
//!
//! `xray.namespace`, `http.response.status` and `xray.trace_extra` are read by `aws_fields`.

use serde_json::{Map, Value};

use super::{SegmentId, document::Subsegment};

/// The `http.request` and segment fields of one span, as recorded.
#[derive(Debug, Default)]
pub(super) struct HttpFields {
    segment: bool,
    request: Map<String, Value>,
}

impl HttpFields {
    /// Takes the field if it is one of these conventions; returns whether it was.
    pub(super) fn record(&mut self, name: &str, value: &Value) -> bool {
        match name {
            "xray.segment" => self.segment = value.as_bool() == Some(true),
            "http.request.x_forwarded_for" => {
                if let Some(flag) = value.as_bool() {
                    self.request.insert("x_forwarded_for".into(), flag.into());
                }
            }
            "http.request.method"
            | "http.request.url"
            | "http.request.user_agent"
            | "http.request.client_ip" => {
                if let (Some(text), Some(key)) =
                    (value.as_str(), name.strip_prefix("http.request."))
                {
                    self.request.insert(key.to_owned(), text.into());
                }
            }
            _ => return false,
        }
        true
    }

    /// The parent of a segment without an upstream caller (zero means none); `None` when the
    /// span is not a segment.
    pub(super) fn root_parent(&self) -> Option<SegmentId> {
        self.segment.then_some(SegmentId::from(0))
    }

    /// Writes what was recorded into the subsegment.
    pub(super) fn apply(self, subsegment: &mut Subsegment) {
        if self.segment {
            subsegment.segment = true;
        }
        if self.request.is_empty() {
            return;
        }
        let request = subsegment
            .http
            .entry("request")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(request) = request {
            request.extend(self.request);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xray::TraceId;
    use serde_json::json;

    #[test]
    fn fields_fill_the_http_request_section() {
        let mut fields = HttpFields::default();
        for (name, value) in [
            ("http.request.method", json!("GET")),
            ("http.request.url", json!("http://a/b")),
            ("http.request.x_forwarded_for", json!(true)),
        ] {
            assert!(fields.record(name, &value), "{name}");
        }
        assert!(!fields.record("http.request.body", &json!("x")));
        assert!(!fields.record("other", &json!(1)));
        let mut sub = Subsegment::new("a", TraceId::generate(), SegmentId::from(1));
        sub.http.insert("response".into(), json!({"status": 200}));
        fields.apply(&mut sub);
        assert_eq!(
            sub.to_json()["http"],
            json!({"request": {"method": "GET", "url": "http://a/b", "x_forwarded_for": true}, "response": {"status": 200}})
        );
        assert_eq!(sub.to_json()["type"], "subsegment");
    }

    #[test]
    fn segments_leave_out_type_namespace_and_a_zero_parent() {
        let mut fields = HttpFields::default();
        assert!(fields.root_parent().is_none());
        fields.record("xray.segment", &json!(true));
        let parent = fields.root_parent().expect("segment");
        let mut sub = Subsegment::new("svc", TraceId::generate(), parent);
        fields.apply(&mut sub);
        let document = sub.to_json();
        assert!(document.get("type").is_none() && document.get("namespace").is_none());
        assert!(document.get("parent_id").is_none());
        lamina_local::xray::validate_document(&document.to_string(), std::time::SystemTime::now())
            .expect("valid segment");
        sub.parent_id = SegmentId::from(7);
        assert_eq!(sub.to_json()["parent_id"], "0000000000000007");
    }
}
