//! The subsegment document model and its JSON form.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Number, Value};

use super::{SegmentId, TraceId};

/// The longest `name`, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest other string value (annotation values, exception messages), in characters.
pub const MAX_STRING_CHARS: usize = 250;
/// The most annotations X-Ray indexes per trace.
pub const MAX_ANNOTATIONS_PER_TRACE: usize = 50;

/// An annotation value: X-Ray indexes only strings, numbers and booleans.
#[derive(Debug, Clone, PartialEq)]
pub enum AnnotationValue {
    /// A string, cut to 250 characters.
    String(String),
    /// A finite number.
    Number(Number),
    /// A boolean.
    Bool(bool),
}

impl AnnotationValue {
    /// A number annotation; `None` for NaN and infinities, which JSON cannot carry.
    #[must_use]
    pub fn float(value: f64) -> Option<Self> {
        Number::from_f64(value).map(Self::Number)
    }

    fn to_json(&self) -> Value {
        match self {
            Self::String(text) => Value::String(truncate(text, MAX_STRING_CHARS)),
            Self::Number(number) => Value::Number(number.clone()),
            Self::Bool(flag) => Value::Bool(*flag),
        }
    }
}

impl From<&str> for AnnotationValue {
    fn from(value: &str) -> Self {
        Self::String(value.to_owned())
    }
}

impl From<i64> for AnnotationValue {
    fn from(value: i64) -> Self {
        Self::Number(value.into())
    }
}

impl From<u64> for AnnotationValue {
    fn from(value: u64) -> Self {
        Self::Number(value.into())
    }
}

impl From<bool> for AnnotationValue {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

/// One exception of a `cause`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exception {
    /// A random id.
    pub id: SegmentId,
    /// The error message.
    pub message: String,
    /// The error's type.
    pub kind: String,
    /// Stack frames `(path, line, label)`; dropped first from an oversized document.
    pub stack: Vec<StackFrame>,
}

/// One frame of an exception's stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackFrame {
    /// The source file.
    pub path: String,
    /// The line number.
    pub line: u32,
    /// The function.
    pub label: String,
}

/// A subsegment, sent as its own document (`type: "subsegment"`). The document form can nest
/// subsegments in [`subsegments`](Self::subsegments), but [`XrayLayer`](super::XrayLayer) never
/// does: every span is sent on its own when it closes.
#[derive(Debug, Clone, PartialEq)]
pub struct Subsegment {
    /// Its id.
    pub id: SegmentId,
    /// The name as given; [`to_json`](Self::to_json) sanitises it.
    pub name: String,
    /// The trace it belongs to.
    pub trace_id: TraceId,
    /// The id of the enclosing segment or subsegment.
    pub parent_id: SegmentId,
    /// Start, in seconds since the epoch.
    pub start_time: f64,
    /// End, in seconds since the epoch.
    pub end_time: f64,
    /// `local` for custom code (as other SDKs write), `remote` or `aws` for downstream calls.
    pub namespace: Option<String>,
    /// The `aws` section of a downstream AWS call (`operation`, `region`, `request_id`, ...).
    pub aws: Map<String, Value>,
    /// The `http` section (`request`, `response`), written as given.
    pub http: Map<String, Value>,
    /// Indexed annotations; keys are sanitised to `[A-Za-z0-9_]` when serialised.
    pub annotations: Vec<(String, AnnotationValue)>,
    /// Metadata in the `default` namespace.
    pub metadata: Map<String, Value>,
    /// A client error (4xx).
    pub error: bool,
    /// A server error (5xx, or an error in this code).
    pub fault: bool,
    /// Throttled (429).
    pub throttle: bool,
    /// The errors that happened.
    pub exceptions: Vec<Exception>,
    /// Nested subsegments (sent in the same document).
    pub subsegments: Vec<Subsegment>,
    /// Sent as a segment rather than a subsegment: no `type` or `namespace`, and `parent_id`
    /// only when it is not zero (zero meaning no upstream caller).
    pub segment: bool,
    /// Still open: written with `in_progress: true` and no `end_time`, to be replaced by the
    /// complete document with the same id.
    pub in_progress: bool,
}

impl Subsegment {
    /// An empty subsegment named `name`, starting and ending now.
    #[must_use]
    pub fn new(name: impl Into<String>, trace_id: TraceId, parent_id: SegmentId) -> Self {
        let now = epoch_seconds(SystemTime::now());
        Self {
            id: SegmentId::generate(),
            name: name.into(),
            trace_id,
            parent_id,
            start_time: now,
            end_time: now,
            namespace: Some("local".to_owned()),
            aws: Map::new(),
            http: Map::new(),
            annotations: Vec::new(),
            metadata: Map::new(),
            error: false,
            fault: false,
            throttle: false,
            exceptions: Vec::new(),
            subsegments: Vec::new(),
            segment: false,
            in_progress: false,
        }
    }

    /// Sets `error`, `throttle` and `fault` from an HTTP status: 5xx is a fault, 429 a throttle
    /// and an error, any other 4xx an error. Other statuses change nothing.
    pub fn apply_status(&mut self, status: u16) {
        match status {
            429 => {
                self.throttle = true;
                self.error = true;
            }
            400..=499 => self.error = true,
            500..=599 => self.fault = true,
            _ => {}
        }
    }

    /// The document for this subsegment sent on its own: `type`, `trace_id` and `parent_id`
    /// included, flags only when true, empty sections left out.
    #[must_use]
    pub fn to_json(&self) -> Value {
        self.json(true)
    }

    fn json(&self, top_level: bool) -> Value {
        let mut object = Map::new();
        object.insert("name".into(), sanitize_name(&self.name).into());
        object.insert("id".into(), self.id.to_string().into());
        let mut insert_time = |key: &str, seconds: f64| {
            // Microsecond resolution; a non-finite time (a broken clock) falls back to 0.
            let rounded = (seconds * 1e6).round() / 1e6;
            object.insert(
                key.into(),
                Number::from_f64(rounded).map_or(Value::from(0), Value::Number),
            );
        };
        insert_time("start_time", self.start_time);
        if self.in_progress {
            object.insert("in_progress".into(), true.into());
        } else {
            insert_time("end_time", self.end_time.max(self.start_time));
        }
        if top_level {
            if !self.segment {
                object.insert("type".into(), "subsegment".into());
            }
            object.insert("trace_id".into(), self.trace_id.to_string().into());
            if !self.segment || self.parent_id.as_u64() != 0 {
                object.insert("parent_id".into(), self.parent_id.to_string().into());
            }
        }
        if let Some(namespace) = self.namespace.as_ref().filter(|_| !self.segment) {
            object.insert("namespace".into(), namespace.clone().into());
        }
        for (flag, key) in [
            (self.error, "error"),
            (self.fault, "fault"),
            (self.throttle, "throttle"),
        ] {
            if flag {
                object.insert(key.into(), true.into());
            }
        }
        if !self.http.is_empty() {
            object.insert("http".into(), Value::Object(self.http.clone()));
        }
        if !self.aws.is_empty() {
            object.insert("aws".into(), Value::Object(self.aws.clone()));
        }
        if !self.annotations.is_empty() {
            let annotations: Map<String, Value> = self
                .annotations
                .iter()
                .filter_map(|(key, value)| Some((sanitize_annotation_key(key)?, value.to_json())))
                .collect();
            object.insert("annotations".into(), annotations.into());
        }
        if !self.metadata.is_empty() {
            let mut metadata = Map::new();
            metadata.insert("default".into(), Value::Object(self.metadata.clone()));
            object.insert("metadata".into(), metadata.into());
        }
        if !self.exceptions.is_empty() {
            let exceptions: Vec<Value> = self.exceptions.iter().map(exception_json).collect();
            let mut cause = Map::new();
            cause.insert("exceptions".into(), exceptions.into());
            object.insert("cause".into(), cause.into());
        }
        if !self.subsegments.is_empty() {
            let children: Vec<Value> = self
                .subsegments
                .iter()
                .map(|child| child.json(false))
                .collect();
            object.insert("subsegments".into(), children.into());
        }
        Value::Object(object)
    }

    /// Removes, in this order, the metadata, the exceptions' stacks and the nested subsegments
    /// (of this subsegment and all nested ones), stopping as soon as `fits` says the document
    /// is small enough. Returns whether it then fits.
    pub fn trim_to_fit(&mut self, fits: impl Fn(&Self) -> bool) -> bool {
        if fits(self) {
            return true;
        }
        self.walk(&mut |entity| entity.metadata.clear());
        if fits(self) {
            return true;
        }
        self.walk(&mut |entity| {
            for exception in &mut entity.exceptions {
                exception.stack.clear();
            }
        });
        if fits(self) {
            return true;
        }
        self.subsegments.clear();
        fits(self)
    }

    fn walk(&mut self, action: &mut impl FnMut(&mut Self)) {
        action(self);
        for child in &mut self.subsegments {
            child.walk(action);
        }
    }
}

fn exception_json(exception: &Exception) -> Value {
    let mut object = Map::new();
    object.insert("id".into(), exception.id.to_string().into());
    object.insert(
        "message".into(),
        truncate(&exception.message, MAX_STRING_CHARS).into(),
    );
    object.insert(
        "type".into(),
        truncate(&exception.kind, MAX_STRING_CHARS).into(),
    );
    if !exception.stack.is_empty() {
        let frames: Vec<Value> = exception
            .stack
            .iter()
            .map(|frame| {
                serde_json::json!({
                    "path": truncate(&frame.path, MAX_STRING_CHARS),
                    "line": frame.line,
                    "label": truncate(&frame.label, MAX_STRING_CHARS),
                })
            })
            .collect();
        object.insert("stack".into(), frames.into());
    }
    Value::Object(object)
}

/// Seconds since the epoch as a float (0 for a clock before 1970).
#[must_use]
pub fn epoch_seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

/// Keeps the characters X-Ray allows in names (letters, digits, whitespace and
/// `_ . : / % & # = + \ - @`), cuts to 200 characters, and gives `span` if nothing is left.
#[must_use]
pub fn sanitize_name(name: &str) -> String {
    let allowed =
        |c: &char| c.is_alphanumeric() || c.is_whitespace() || "_.:/%&#=+\\-@".contains(*c);
    let name: String = name.chars().filter(allowed).take(MAX_NAME_CHARS).collect();
    if name.trim().is_empty() {
        "span".to_owned()
    } else {
        name
    }
}

/// Replaces every character outside `[A-Za-z0-9_]` by `_` (as the ADOT collector does, rather
/// than dropping the annotation as the Python SDK does); `None` for an empty key.
#[must_use]
pub fn sanitize_annotation_key(key: &str) -> Option<String> {
    if key.is_empty() {
        return None;
    }
    Some(
        key.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect(),
    )
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace() -> TraceId {
        TraceId::generate()
    }

    fn validate(document: &Value) {
        let text = document.to_string();
        if let Err(rejection) = lamina_local::xray::validate_document(&text, SystemTime::now()) {
            panic!("{rejection}: {text}");
        }
    }

    #[test]
    fn serialises_exactly() {
        let trace_id = TraceId::parse("1-5759e988-bd862e3fe1be46a994272793").expect("trace");
        let mut sub = Subsegment::new("get (user)!", trace_id, SegmentId::from(1));
        sub.id = SegmentId::from(2);
        sub.start_time = 1_465_510_280.123_456_7;
        sub.end_time = 1_465_510_280.5;
        sub.annotations.push(("user.id".into(), "42".into()));
        sub.metadata.insert("k".into(), serde_json::json!([1, 2]));
        sub.apply_status(429);
        sub.exceptions.push(Exception {
            id: SegmentId::from(3),
            message: "boom".into(),
            kind: "Io".into(),
            stack: Vec::new(),
        });
        let expected = serde_json::json!({
            "name": "get user", "id": "0000000000000002",
            "start_time": 1_465_510_280.123_457, "end_time": 1_465_510_280.5,
            "type": "subsegment", "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
            "parent_id": "0000000000000001", "namespace": "local",
            "error": true, "throttle": true,
            "annotations": {"user_id": "42"},
            "metadata": {"default": {"k": [1, 2]}},
            "cause": {"exceptions": [{"id": "0000000000000003", "message": "boom", "type": "Io"}]},
        });
        assert_eq!(sub.to_json(), expected);
    }

    #[test]
    fn statuses() {
        for (status, error, throttle, fault) in [
            (200, false, false, false),
            (404, true, false, false),
            (429, true, true, false),
            (500, false, false, true),
            (503, false, false, true),
        ] {
            let mut sub = Subsegment::new("s", trace(), SegmentId::from(1));
            sub.apply_status(status);
            assert_eq!(
                (sub.error, sub.throttle, sub.fault),
                (error, throttle, fault),
                "{status}"
            );
        }
    }

    #[test]
    fn names_and_keys_are_sanitised() {
        assert_eq!(sanitize_name("a?b;c*(d)!$~^<e>"), "abcde");
        assert_eq!(sanitize_name("GET /users/42 é"), "GET /users/42 é");
        assert_eq!(sanitize_name("()"), "span");
        assert_eq!(sanitize_name(&"x".repeat(300)).len(), 200);
        assert_eq!(sanitize_annotation_key("a.b-c"), Some("a_b_c".into()));
        assert_eq!(sanitize_annotation_key(""), None);
    }

    #[test]
    fn every_document_validates() {
        let mut sub = Subsegment::new("?!", trace(), SegmentId::generate());
        sub.end_time = sub.start_time + 0.25;
        sub.annotations
            .push(("é".into(), AnnotationValue::String("x".repeat(1000))));
        sub.annotations
            .push(("n".into(), AnnotationValue::float(1.5).expect("finite")));
        sub.annotations.push(("b".into(), true.into()));
        sub.fault = true;
        sub.exceptions.push(Exception {
            id: SegmentId::generate(),
            message: "m".repeat(1000),
            kind: String::new(),
            stack: vec![StackFrame {
                path: "src/main.rs".into(),
                line: 3,
                label: "main".into(),
            }],
        });
        let mut child = Subsegment::new("child", sub.trace_id.clone(), sub.id);
        child.start_time = sub.start_time;
        child.end_time = child.start_time - 1.0;
        sub.subsegments.push(child);
        validate(&sub.to_json());
        assert!(AnnotationValue::float(f64::NAN).is_none());
    }

    proptest::proptest! {
        #[test]
        fn any_name_and_key_is_sanitised_into_a_valid_document(name in ".*", key in ".*", text in ".*") {
            let mut sub = Subsegment::new(name, trace(), SegmentId::generate());
            sub.annotations.push((key, AnnotationValue::String(text.clone())));
            sub.metadata.insert(text.clone(), text.into());
            validate(&sub.to_json());
        }
    }

    #[test]
    fn trimming_order() {
        let mut sub = Subsegment::new("s", trace(), SegmentId::from(1));
        sub.metadata.insert("big".into(), "x".repeat(100).into());
        sub.exceptions.push(Exception {
            id: SegmentId::from(3),
            message: "m".into(),
            kind: "k".into(),
            stack: vec![StackFrame {
                path: "p".repeat(200),
                line: 1,
                label: "l".into(),
            }],
        });
        sub.subsegments
            .push(Subsegment::new("c", sub.trace_id.clone(), sub.id));
        let size = |s: &Subsegment| s.to_json().to_string().len();
        let full = size(&sub);
        let mut metadata_only = sub.clone();
        assert!(metadata_only.trim_to_fit(|s| size(s) < full - 50));
        assert!(metadata_only.metadata.is_empty());
        assert_eq!(metadata_only.exceptions[0].stack.len(), 1);
        let mut all = sub.clone();
        assert!(!all.trim_to_fit(|_| false));
        assert!(all.subsegments.is_empty() && all.exceptions[0].stack.is_empty());
    }
}
