//! Span fields for downstream-call subsegments: `xray.namespace`, `aws.<key>` and
//! `http.response.status`, and the trace context other modules read from a span.

use serde_json::{Map, Value};
use tracing_subscriber::registry::{LookupSpan, Registry, SpanData};

use super::{SegmentId, TraceId, document::Subsegment};

/// The fields that fill a subsegment's `namespace`, `aws` and `http.response` sections.
#[derive(Debug, Default)]
pub(super) struct AwsFields {
    namespace: Option<String>,
    aws: Map<String, Value>,
    http_status: Option<u64>,
}

impl AwsFields {
    /// Takes the field if it is one of these conventions; gives the value back otherwise.
    ///
    /// - `xray.namespace`: the subsegment's `namespace` (e.g. `aws`, `remote`);
    /// - `aws.json`: a JSON object whose members are merged into `aws` (so several recordings
    ///   add up; a value that is not an object is ignored);
    /// - `aws.json.<key>`: `aws.<key>` parsed as JSON (e.g. an array of table names);
    /// - `aws.<key>`: `aws.<key>` as given;
    /// - `http.response.status`: `http.response.status`, and the flags as any status field.
    pub(super) fn take(&mut self, name: &str, value: Value) -> Option<Value> {
        if name == "xray.namespace" {
            if let Value::String(namespace) = value {
                self.namespace = Some(namespace);
            }
        } else if name == "aws.json" {
            if let Some(Value::Object(members)) = value
                .as_str()
                .and_then(|text| serde_json::from_str(text).ok())
            {
                self.aws.extend(members);
            }
        } else if let Some(key) = name.strip_prefix("aws.json.") {
            let parsed = value
                .as_str()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or(value);
            self.aws.insert(key.to_owned(), parsed);
        } else if let Some(key) = name.strip_prefix("aws.") {
            self.aws.insert(key.to_owned(), value);
        } else if name == "http.response.status" {
            self.http_status = value.as_u64();
        } else {
            return Some(value);
        }
        None
    }

    /// The status recorded by `http.response.status`, if any.
    pub(super) fn status(&self) -> Option<u64> {
        self.http_status
    }

    /// Writes the taken fields into `subsegment`.
    pub(super) fn apply(self, subsegment: &mut Subsegment) {
        if let Some(namespace) = self.namespace {
            subsegment.namespace = Some(namespace);
        }
        subsegment.aws.extend(self.aws);
        if let Some(status) = self.http_status {
            let mut response = Map::new();
            response.insert("status".into(), status.into());
            subsegment.http.insert("response".into(), response.into());
        }
    }
}

/// The X-Ray context of a span: its trace, its subsegment's id, and the extra keys of the incoming
/// trace header (e.g. `Lineage=a87bd80c:1`) to pass on downstream. In a trace that is not sampled,
/// `sampled` is false and `segment_id` is a fresh id for one downstream request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "aws-sdk"), allow(dead_code))]
pub(crate) struct SpanTraceContext {
    /// The trace.
    pub(crate) trace_id: TraceId,
    /// The span's subsegment id.
    pub(crate) segment_id: SegmentId,
    /// `key=value` pairs joined by `;`, empty when there are none.
    pub(crate) extra: String,
    /// Whether the trace is sampled (spans are sent) or only passed on with `Sampled=0`.
    pub(crate) sampled: bool,
}

impl SpanTraceContext {
    /// The `X-Amzn-Trace-Id` value for a downstream request made in this context:
    /// `Root=…;Parent=…;Sampled=1|0`, then the extra keys that are valid header text (the others
    /// are left out rather than the whole header).
    #[cfg_attr(not(any(feature = "aws-sdk", feature = "http")), allow(dead_code))]
    pub(crate) fn downstream_header(&self) -> String {
        let sampled = if self.sampled { 1 } else { 0 };
        let mut header = format!(
            "Root={};Parent={};Sampled={sampled}",
            self.trace_id, self.segment_id
        );
        for pair in self.extra.split(';').map(str::trim) {
            if !pair.is_empty() && pair.contains('=') && pair.bytes().all(is_header_byte) {
                header.push(';');
                header.push_str(pair);
            }
        }
        header
    }
}

/// Visible ASCII other than `;`, so an extra key cannot break the header.
fn is_header_byte(byte: u8) -> bool {
    byte.is_ascii_graphic() && byte != b';'
}

/// The X-Ray context of `span`, or of its nearest ancestor that an
/// [`XrayLayer`](super::XrayLayer) on a `Registry`-based subscriber sees (spans it filters out,
/// such as the SDK's own debug spans, are skipped as the layer skips them); `None` outside any
/// trace, in an unsampled one whose id is unknown, for a disabled span, or under another
/// subscriber.
#[cfg_attr(not(feature = "aws-sdk"), allow(dead_code))]
pub(crate) fn span_trace_context(span: &tracing::Span) -> Option<SpanTraceContext> {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let mut current = registry.span_data(id)?;
        loop {
            if let Some(context) = super::layer::trace_context(&current.extensions()) {
                return context;
            }
            let parent = current.parent()?.clone();
            current = registry.span_data(&parent)?;
        }
    })
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes() {
        assert!("Lineage=a87bd80c:1".bytes().all(is_header_byte));
        assert!(!"a=b c".bytes().all(is_header_byte));
        assert!(!"a=b;c".bytes().all(is_header_byte));
        assert!(!"a=é".bytes().all(is_header_byte));
    }

    #[test]
    fn downstream_headers_say_whether_the_trace_is_sampled() {
        let trace_id = TraceId::generate();
        let mut context = SpanTraceContext {
            trace_id: trace_id.clone(),
            segment_id: SegmentId::from(0xab),
            extra: "Lineage=a87bd80c:1;bad=a b;noequals".to_owned(),
            sampled: true,
        };
        assert_eq!(
            context.downstream_header(),
            format!("Root={trace_id};Parent=00000000000000ab;Sampled=1;Lineage=a87bd80c:1")
        );
        context.sampled = false;
        assert_eq!(
            context.downstream_header(),
            format!("Root={trace_id};Parent=00000000000000ab;Sampled=0;Lineage=a87bd80c:1")
        );
    }

    #[test]
    fn takes_only_its_fields() {
        let mut fields = AwsFields::default();
        assert!(fields.take("xray.namespace", "aws".into()).is_none());
        assert!(fields.take("aws.operation", "GetItem".into()).is_none());
        assert!(
            fields
                .take("aws.json.table_names", r#"["a","b"]"#.into())
                .is_none()
        );
        assert!(
            fields
                .take(
                    "aws.json",
                    r#"{"limit":10,"consumed_capacity":{"CapacityUnits":0.5}}"#.into()
                )
                .is_none()
        );
        assert!(fields.take("aws.json", r#"{"count":2}"#.into()).is_none());
        assert!(fields.take("aws.json", "[1]".into()).is_none());
        assert!(fields.take("aws.json", "not json".into()).is_none());
        assert!(fields.take("http.response.status", 404.into()).is_none());
        assert_eq!(fields.take("other", 1.into()), Some(1.into()));
        assert_eq!(fields.status(), Some(404));
        let mut sub = Subsegment::new("DynamoDB", TraceId::generate(), SegmentId::from(1));
        fields.apply(&mut sub);
        let json = sub.to_json();
        assert_eq!(json["namespace"], "aws");
        assert_eq!(
            json["aws"],
            serde_json::json!({
                "operation": "GetItem",
                "table_names": ["a", "b"],
                "limit": 10,
                "consumed_capacity": {"CapacityUnits": 0.5},
                "count": 2,
            })
        );
        assert_eq!(
            json["http"],
            serde_json::json!({"response": {"status": 404}})
        );
    }
}
