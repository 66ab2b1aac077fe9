//! Checks for single fields of a segment document: ids, trace ids, names, annotations, causes.

use std::{
    collections::BTreeMap,
    time::{Duration, SystemTime},
};

use serde_json::{Map, Value};

use super::{AnnotationValue, Cause, CauseException, RejectReason};

/// The backend's limit on a trace id's age.
pub(crate) const MAX_TRACE_AGE: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// How far in the future a trace id's time may be.
pub(crate) const MAX_TRACE_SKEW: Duration = Duration::from_secs(5 * 60);
/// The longest allowed `name`, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 200;

/// Whether `value` is an entity id: 16 lowercase hex digits.
pub(crate) fn is_entity_id(value: &str) -> bool {
    value.len() == 16
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Reads the id field `field` of `object` (which must be present), checking its format.
pub(crate) fn entity_id(
    object: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<String, RejectReason> {
    let field = join(path, key);
    match object.get(key) {
        None => Err(RejectReason::MissingField { field }),
        Some(Value::String(id)) if is_entity_id(id) => Ok(id.clone()),
        Some(Value::String(id)) => Err(RejectReason::InvalidId {
            field,
            value: id.clone(),
        }),
        Some(_) => Err(RejectReason::WrongType {
            field,
            expected: "a string",
        }),
    }
}

/// Checks the form `1-{8 hex}-{24 hex}` and that the time part is within the backend's window.
pub(crate) fn check_trace_id(
    value: &str,
    field: &str,
    now: SystemTime,
) -> Result<(), RejectReason> {
    let invalid = || RejectReason::InvalidTraceId {
        field: field.to_owned(),
        value: value.to_owned(),
    };
    let mut parts = value.split('-');
    let (Some("1"), Some(time), Some(random), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let is_hex =
        |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_hex(time, 8) || !is_hex(random, 24) {
        return Err(invalid());
    }
    let seconds = u64::from_str_radix(time, 16).map_err(|_| invalid())?;
    let issued = SystemTime::UNIX_EPOCH + Duration::from_secs(seconds);
    if issued + MAX_TRACE_AGE < now {
        return Err(RejectReason::TraceIdTooOld {
            value: value.to_owned(),
        });
    }
    if issued > now + MAX_TRACE_SKEW {
        return Err(RejectReason::TraceIdInFuture {
            value: value.to_owned(),
        });
    }
    Ok(())
}

/// Checks a `name`: not empty, at most 200 characters, only the characters X-Ray allows.
pub(crate) fn check_name(name: &str, field: &str) -> Result<(), RejectReason> {
    let invalid = |detail: String| RejectReason::InvalidName {
        field: field.to_owned(),
        detail,
    };
    if name.is_empty() {
        return Err(invalid("it is empty".to_owned()));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(invalid(format!(
            "{chars} characters, more than {MAX_NAME_CHARS}"
        )));
    }
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/%&#=+\\-@".contains(c);
    match name.chars().find(|c| !allowed(*c)) {
        Some(c) => Err(invalid(format!("character {c:?} is not allowed"))),
        None => Ok(()),
    }
}

/// Checks `annotations`: a flat object with `[A-Za-z0-9_]` keys and scalar values.
pub(crate) fn annotations(
    value: &Value,
    path: &str,
) -> Result<BTreeMap<String, AnnotationValue>, RejectReason> {
    let Value::Object(object) = value else {
        return Err(RejectReason::WrongType {
            field: join(path, "annotations"),
            expected: "an object",
        });
    };
    let mut out = BTreeMap::new();
    for (key, value) in object {
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(RejectReason::InvalidAnnotationKey { key: key.clone() });
        }
        let value = match value {
            Value::String(text) => AnnotationValue::String(text.clone()),
            Value::Number(number) => AnnotationValue::Number(number.clone()),
            Value::Bool(flag) => AnnotationValue::Bool(*flag),
            _ => return Err(RejectReason::InvalidAnnotationValue { key: key.clone() }),
        };
        out.insert(key.clone(), value);
    }
    Ok(out)
}

/// Checks `metadata`: `{namespace: {key: any JSON}}`.
pub(crate) fn metadata(value: &Value, path: &str) -> Result<Map<String, Value>, RejectReason> {
    let field = join(path, "metadata");
    let Value::Object(object) = value else {
        return Err(RejectReason::WrongType {
            field,
            expected: "an object",
        });
    };
    if let Some(namespace) = object.keys().find(|key| !object[key.as_str()].is_object()) {
        let field = format!("{field}.{namespace}");
        return Err(RejectReason::WrongType {
            field,
            expected: "an object",
        });
    }
    Ok(object.clone())
}

/// Checks `cause`: an exception id, or `{working_directory, paths[], exceptions[]}`.
pub(crate) fn cause(value: &Value) -> Result<Cause, RejectReason> {
    let invalid = |detail: &str| RejectReason::InvalidCause {
        detail: detail.to_owned(),
    };
    let object = match value {
        Value::String(id) if is_entity_id(id) => return Ok(Cause::ExceptionId(id.clone())),
        Value::String(_) => return Err(invalid("a string cause must be a 16-hex exception id")),
        Value::Object(object) => object,
        _ => return Err(invalid("must be an exception id or an object")),
    };
    let working_directory = optional_string(object, "working_directory")
        .map_err(|()| invalid("working_directory must be a string"))?;
    if let Some(paths) = object.get("paths")
        && !paths
            .as_array()
            .is_some_and(|paths| paths.iter().all(Value::is_string))
    {
        return Err(invalid("paths must be an array of strings"));
    }
    let mut exceptions = Vec::new();
    if let Some(list) = object.get("exceptions") {
        let list = list
            .as_array()
            .ok_or_else(|| invalid("exceptions must be an array"))?;
        for exception in list {
            exceptions.push(cause_exception(exception).map_err(|detail| invalid(&detail))?);
        }
    }
    Ok(Cause::Exceptions {
        working_directory,
        exceptions,
    })
}

fn cause_exception(value: &Value) -> Result<CauseException, String> {
    let object = value
        .as_object()
        .ok_or("each exception must be an object")?;
    let id = match object.get("id") {
        Some(Value::String(id)) if is_entity_id(id) => id.clone(),
        Some(_) => return Err("exception id must be 16 lowercase hex digits".to_owned()),
        None => return Err("exception id is missing".to_owned()),
    };
    let message =
        optional_string(object, "message").map_err(|()| "exception message must be a string")?;
    let kind = optional_string(object, "type").map_err(|()| "exception type must be a string")?;
    let remote =
        optional_bool(object, "remote").map_err(|()| "exception remote must be a boolean")?;
    for key in ["truncated", "skipped"] {
        if object.get(key).is_some_and(|value| !value.is_u64()) {
            return Err(format!("exception {key} must be a non-negative integer"));
        }
    }
    if let Some(stack) = object.get("stack") {
        let frames = stack.as_array().ok_or("exception stack must be an array")?;
        for frame in frames {
            let frame = frame
                .as_object()
                .ok_or("each stack frame must be an object")?;
            let well_formed = optional_string(frame, "path").is_ok()
                && optional_string(frame, "label").is_ok()
                && frame.get("line").is_none_or(Value::is_i64);
            if !well_formed {
                return Err(
                    "stack frames are {path: string, line: integer, label: string}".to_owned(),
                );
            }
        }
    }
    Ok(CauseException {
        id,
        message,
        kind,
        remote: remote.unwrap_or(false),
    })
}

/// Reads an optional string; `Err(())` when present with another type.
pub(crate) fn optional_string(
    object: &Map<String, Value>,
    key: &str,
) -> Result<Option<String>, ()> {
    match object.get(key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(()),
    }
}

/// Reads an optional boolean; `Err(())` when present with another type.
pub(crate) fn optional_bool(object: &Map<String, Value>, key: &str) -> Result<Option<bool>, ()> {
    match object.get(key) {
        None => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(_) => Err(()),
    }
}

/// `path.key`, or just `key` at the top level.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000; // 0x6553f100

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn trace_at(seconds: u64) -> String {
        format!("1-{seconds:08x}-0123456789abcdef01234567")
    }

    #[test]
    fn entity_ids() {
        assert!(is_entity_id("0123456789abcdef"));
        for bad in [
            "0123456789ABCDEF",
            "0123456789abcde",
            "0123456789abcdef0",
            "0123456789abcdeg",
            "",
        ] {
            assert!(!is_entity_id(bad), "{bad}");
        }
    }

    #[test]
    fn trace_ids() {
        let ok = [
            trace_at(NOW),
            trace_at(NOW - 29 * 86_400),
            trace_at(NOW + 299),
            "1-6553F100-0123456789ABCDEF01234567".into(),
        ];
        for id in ok {
            assert_eq!(check_trace_id(&id, "trace_id", now()), Ok(()), "{id}");
        }
        let malformed = [
            "",
            "1-6553f100",
            "2-6553f100-0123456789abcdef01234567",
            "1-6553f10-0123456789abcdef01234567",
            "1-6553f100-0123456789abcdef0123456",
            "1-6553f100-0123456789abcdef01234567-1",
            "1-6553f10g-0123456789abcdef01234567",
            "1-+553f100-0123456789abcdef01234567",
        ];
        for id in malformed {
            let expected = RejectReason::InvalidTraceId {
                field: "trace_id".into(),
                value: id.into(),
            };
            assert_eq!(check_trace_id(id, "trace_id", now()), Err(expected), "{id}");
        }
        let old = trace_at(NOW - 31 * 86_400);
        assert_eq!(
            check_trace_id(&old, "trace_id", now()),
            Err(RejectReason::TraceIdTooOld { value: old.clone() })
        );
        let future = trace_at(NOW + 301);
        assert_eq!(
            check_trace_id(&future, "trace_id", now()),
            Err(RejectReason::TraceIdInFuture {
                value: future.clone()
            })
        );
    }

    #[test]
    fn names() {
        for ok in [
            "api",
            "GET /users/42",
            "dynamodb",
            "a_b.c:d/e%f&g#h=i+j\\k-l@m",
            "Ünïcödé 名前 123",
            &"x".repeat(200),
        ] {
            assert_eq!(check_name(ok, "name"), Ok(()), "{ok}");
        }
        let cases = [
            ("", "it is empty".to_owned()),
            (
                &*"x".repeat(201),
                "201 characters, more than 200".to_owned(),
            ),
            ("a,b", "character ',' is not allowed".to_owned()),
            ("a?b", "character '?' is not allowed".to_owned()),
            ("f(x)", "character '(' is not allowed".to_owned()),
            ("a<b>", "character '<' is not allowed".to_owned()),
        ];
        for (name, detail) in cases {
            assert_eq!(
                check_name(name, "name"),
                Err(RejectReason::InvalidName {
                    field: "name".into(),
                    detail
                }),
                "{name}"
            );
        }
    }
}
