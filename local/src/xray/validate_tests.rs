#![allow(clippy::unwrap_used, clippy::result_large_err)]

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::*;
use crate::xray::{AnnotationValue, Cause};

const TRACE: &str = "1-6553f100-0123456789abcdef01234567";

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(0x6553_f100)
}

fn segment() -> Value {
    json!({
        "name": "api", "id": "000000000000000a", "trace_id": TRACE,
        "start_time": 1_700_000_000.25, "end_time": 1_700_000_000.5,
        "annotations": {"user_id": "u-1", "retries": 3, "cached": true},
        "metadata": {"default": {"anything": [1, {"x": null}]}},
        "subsegments": [{
            "name": "dynamodb", "id": "000000000000000b", "start_time": 1_700_000_000.3,
            "end_time": 1_700_000_000.4, "namespace": "aws", "error": true,
            "cause": {"working_directory": "/var/task", "paths": [], "exceptions": [
                {"id": "00000000000000e1", "message": "boom", "type": "ValidationException", "remote": true,
                 "stack": [{"path": "main.rs", "line": 3, "label": "handler"}]}
            ]},
            "subsegments": [{"name": "retry", "id": "000000000000000c", "start_time": 1_700_000_000.3, "in_progress": true}]
        }]
    })
}

fn subsegment() -> Value {
    json!({
        "type": "subsegment", "name": "s3", "id": "000000000000000d", "trace_id": TRACE,
        "parent_id": "000000000000000a", "start_time": 1.0, "end_time": 2.0, "namespace": "aws"
    })
}

fn validate(value: &Value) -> Result<ValidatedDocument, Rejection> {
    validate_document(&value.to_string(), now())
}

/// `base` with the field at `pointer` set to `value`, or removed when `value` is `None`.
fn with(mut base: Value, pointer: &str, value: Option<Value>) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let object = base.pointer_mut(parent).unwrap().as_object_mut().unwrap();
    match value {
        Some(value) => object.insert(key.to_owned(), value),
        None => object.remove(key),
    };
    base
}

#[test]
fn accepts_a_full_segment_and_builds_the_typed_view() {
    let document = validate(&segment()).unwrap();
    let entity = document.entity();
    assert_eq!(
        (entity.id.as_str(), entity.name.as_str(), entity.kind),
        ("000000000000000a", "api", EntityKind::Segment)
    );
    assert_eq!(entity.end_time, Some(1_700_000_000.5));
    assert_eq!(
        entity.annotations["retries"],
        AnnotationValue::Number(3.into())
    );
    assert_eq!(entity.annotations["cached"], AnnotationValue::Bool(true));
    let child = &entity.subsegments[0];
    assert_eq!(
        (child.parent_id.as_deref(), child.trace_id.as_str()),
        (Some("000000000000000a"), TRACE)
    );
    assert!(child.error && !child.fault && !child.throttle);
    let Some(Cause::Exceptions { exceptions, .. }) = &child.cause else {
        panic!("{:?}", child.cause)
    };
    assert_eq!(
        (exceptions[0].message.as_deref(), exceptions[0].remote),
        (Some("boom"), true)
    );
    assert!(child.subsegments[0].is_in_progress());
    assert_eq!(document.raw(), segment().to_string());
}

#[test]
fn accepts_a_streamed_subsegment_and_segment_variants() {
    let document = validate(&subsegment()).unwrap();
    assert_eq!(document.entity().kind, EntityKind::Subsegment);
    assert_eq!(
        document.entity().parent_id.as_deref(),
        Some("000000000000000a")
    );
    let accepted = [
        with(segment(), "/parent_id", Some(json!("00000000000000ff"))),
        with(
            with(segment(), "/end_time", None),
            "/in_progress",
            Some(json!(true)),
        ),
        with(segment(), "/in_progress", Some(json!(false))),
        with(segment(), "/cause", Some(json!("00000000000000e1"))),
        with(segment(), "/subsegments/0/type", Some(json!("subsegment"))),
        with(segment(), "/subsegments/0/trace_id", Some(json!(TRACE))),
        with(
            segment(),
            "/subsegments/0/parent_id",
            Some(json!("000000000000000a")),
        ),
        with(segment(), "/end_time", Some(json!(1_700_000_000.25))),
    ];
    for document in accepted {
        assert!(validate(&document).is_ok(), "{document}");
    }
}

#[test]
fn rejects_each_schema_violation() {
    use RejectReason as R;
    let field = |name: &str| name.to_owned();
    let cases: Vec<(Value, RejectReason)> = vec![
        (
            json!([1]),
            R::NotAnObject {
                field: field("document"),
            },
        ),
        (
            with(segment(), "/name", None),
            R::MissingField {
                field: field("name"),
            },
        ),
        (
            with(segment(), "/id", None),
            R::MissingField { field: field("id") },
        ),
        (
            with(segment(), "/trace_id", None),
            R::MissingField {
                field: field("trace_id"),
            },
        ),
        (
            with(segment(), "/start_time", None),
            R::MissingField {
                field: field("start_time"),
            },
        ),
        (
            with(segment(), "/end_time", None),
            R::MissingEndTime {
                field: field("document"),
            },
        ),
        (
            with(
                with(segment(), "/end_time", None),
                "/in_progress",
                Some(json!(false)),
            ),
            R::MissingEndTime {
                field: field("document"),
            },
        ),
        (
            with(segment(), "/in_progress", Some(json!(true))),
            R::InProgressWithEndTime {
                field: field("document"),
            },
        ),
        (
            with(segment(), "/end_time", Some(json!(1.0))),
            R::EndBeforeStart {
                field: field("document"),
            },
        ),
        (
            with(segment(), "/start_time", Some(json!("1.0"))),
            R::WrongType {
                field: field("start_time"),
                expected: "a number",
            },
        ),
        (
            with(segment(), "/end_time", Some(json!(null))),
            R::WrongType {
                field: field("end_time"),
                expected: "a number",
            },
        ),
        (
            with(segment(), "/in_progress", Some(json!("false"))),
            R::WrongType {
                field: field("in_progress"),
                expected: "a boolean",
            },
        ),
        (
            with(segment(), "/name", Some(json!(7))),
            R::WrongType {
                field: field("name"),
                expected: "a string",
            },
        ),
        (
            with(segment(), "/id", Some(json!("000000000000000A"))),
            R::InvalidId {
                field: field("id"),
                value: field("000000000000000A"),
            },
        ),
        (
            with(segment(), "/id", Some(json!(10))),
            R::WrongType {
                field: field("id"),
                expected: "a string",
            },
        ),
        (
            with(segment(), "/parent_id", Some(json!("xyz"))),
            R::InvalidId {
                field: field("parent_id"),
                value: field("xyz"),
            },
        ),
        (
            with(segment(), "/trace_id", Some(json!("garbage"))),
            R::InvalidTraceId {
                field: field("trace_id"),
                value: field("garbage"),
            },
        ),
        (
            with(
                segment(),
                "/trace_id",
                Some(json!("1-5b1c2000-0123456789abcdef01234567")),
            ),
            R::TraceIdTooOld {
                value: field("1-5b1c2000-0123456789abcdef01234567"),
            },
        ),
        (
            with(
                segment(),
                "/trace_id",
                Some(json!("1-6553f300-0123456789abcdef01234567")),
            ),
            R::TraceIdInFuture {
                value: field("1-6553f300-0123456789abcdef01234567"),
            },
        ),
        (
            with(segment(), "/name", Some(json!("a;b"))),
            R::InvalidName {
                field: field("name"),
                detail: field("character ';' is not allowed"),
            },
        ),
        (
            with(segment(), "/name", Some(json!("n".repeat(201)))),
            R::InvalidName {
                field: field("name"),
                detail: field("201 characters, more than 200"),
            },
        ),
        (
            with(segment(), "/type", Some(json!("segment"))),
            R::InvalidType {
                value: field("segment"),
            },
        ),
        (
            with(segment(), "/error", Some(json!("true"))),
            R::WrongType {
                field: field("error"),
                expected: "a boolean",
            },
        ),
        (
            with(segment(), "/fault", Some(json!(1))),
            R::WrongType {
                field: field("fault"),
                expected: "a boolean",
            },
        ),
        (
            with(segment(), "/throttle", Some(json!(null))),
            R::WrongType {
                field: field("throttle"),
                expected: "a boolean",
            },
        ),
        (
            with(segment(), "/annotations/user-id", Some(json!("x"))),
            R::InvalidAnnotationKey {
                key: field("user-id"),
            },
        ),
        (
            with(segment(), "/annotations/tags", Some(json!(["a"]))),
            R::InvalidAnnotationValue { key: field("tags") },
        ),
        (
            with(segment(), "/annotations/none", Some(json!(null))),
            R::InvalidAnnotationValue { key: field("none") },
        ),
        (
            with(segment(), "/annotations", Some(json!([]))),
            R::WrongType {
                field: field("annotations"),
                expected: "an object",
            },
        ),
        (
            with(segment(), "/metadata/default", Some(json!(1))),
            R::WrongType {
                field: field("metadata.default"),
                expected: "an object",
            },
        ),
        (
            with(segment(), "/cause", Some(json!("short"))),
            R::InvalidCause {
                detail: field("a string cause must be a 16-hex exception id"),
            },
        ),
        (
            with(segment(), "/cause", Some(json!(3))),
            R::InvalidCause {
                detail: field("must be an exception id or an object"),
            },
        ),
        (
            with(
                segment(),
                "/cause",
                Some(json!({"exceptions": [{"message": "m"}]})),
            ),
            R::InvalidCause {
                detail: field("exception id is missing"),
            },
        ),
        (
            with(segment(), "/cause", Some(json!({"exceptions": {}}))),
            R::InvalidCause {
                detail: field("exceptions must be an array"),
            },
        ),
        (
            with(segment(), "/cause", Some(json!({"paths": "p"}))),
            R::InvalidCause {
                detail: field("paths must be an array of strings"),
            },
        ),
        (
            with(segment(), "/http", Some(json!("GET"))),
            R::WrongType {
                field: field("http"),
                expected: "an object",
            },
        ),
        (
            with(segment(), "/subsegments", Some(json!({}))),
            R::WrongType {
                field: field("subsegments"),
                expected: "an array",
            },
        ),
        (
            with(segment(), "/subsegments", Some(json!([1]))),
            R::NotAnObject {
                field: field("subsegments[0]"),
            },
        ),
        (
            with(segment(), "/subsegments/0/name", None),
            R::MissingField {
                field: field("subsegments[0].name"),
            },
        ),
        (
            with(segment(), "/subsegments/0/subsegments/0/in_progress", None),
            R::MissingEndTime {
                field: field("subsegments[0].subsegments[0]"),
            },
        ),
        (
            with(segment(), "/subsegments/0/end_time", Some(json!(0.5))),
            R::EndBeforeStart {
                field: field("subsegments[0]"),
            },
        ),
        (
            with(segment(), "/subsegments/0/fault", Some(json!("yes"))),
            R::WrongType {
                field: field("subsegments[0].fault"),
                expected: "a boolean",
            },
        ),
        (
            with(segment(), "/subsegments/0/type", Some(json!("segment"))),
            R::InvalidType {
                value: field("segment"),
            },
        ),
        (
            with(
                segment(),
                "/subsegments/0/trace_id",
                Some(json!("1-6553f100-ffffffffffffffffffffffff")),
            ),
            R::TraceIdMismatch {
                field: field("subsegments[0].trace_id"),
            },
        ),
        (
            with(
                segment(),
                "/subsegments/0/parent_id",
                Some(json!("00000000000000ff")),
            ),
            R::ParentMismatch {
                field: field("subsegments[0].parent_id"),
            },
        ),
        (
            with(
                segment(),
                "/subsegments/0/id",
                Some(json!("000000000000000a")),
            ),
            R::DuplicateId {
                id: field("000000000000000a"),
            },
        ),
        (
            with(subsegment(), "/parent_id", None),
            R::MissingField {
                field: field("parent_id"),
            },
        ),
        (
            with(subsegment(), "/trace_id", None),
            R::MissingField {
                field: field("trace_id"),
            },
        ),
    ];
    for (document, expected) in cases {
        let rejection = validate(&document).unwrap_err();
        assert_eq!(rejection.reason, expected, "{document}");
    }
}

#[test]
fn rejects_bad_json_and_oversized_documents_with_ids_when_known() {
    let rejection = validate_document("{\"id\":", now()).unwrap_err();
    assert!(
        matches!(rejection.reason, RejectReason::InvalidJson { .. }),
        "{rejection}"
    );
    let big = with(
        segment(),
        "/metadata/default/blob",
        Some(json!("x".repeat(MAX_DOCUMENT_BYTES))),
    );
    let text = big.to_string();
    let rejection = validate_document(&text, now()).unwrap_err();
    assert_eq!(
        rejection.reason,
        RejectReason::DocumentTooLarge { size: text.len() }
    );
    let rejection = validate(&with(segment(), "/name", None)).unwrap_err();
    assert_eq!(
        (rejection.id.as_deref(), rejection.trace_id.as_deref()),
        (Some("000000000000000a"), Some(TRACE))
    );
}
