//! Strict validation of one segment document against the X-Ray segment schema.

use std::{collections::HashSet, time::SystemTime};

use serde_json::{Map, Value};

use super::{
    Entity, EntityKind, RejectReason, Rejection, ValidatedDocument,
    fields::{self, join},
    rejection::excerpt,
};

/// The largest segment document X-Ray accepts, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// Validates one segment document (the part of a datagram after the header line).
///
/// `now` is the time the trace id's time part is checked against (at most 30 days old,
/// at most 5 minutes in the future); pass `SystemTime::now()` outside tests.
///
/// A top-level document is a segment, or a subsegment sent on its own when it has
/// `"type": "subsegment"` (which then also needs `trace_id` and `parent_id`). Nested
/// `subsegments` are validated recursively; they may leave out `trace_id`, `type` and
/// `parent_id`, but must agree with their document when they give them.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use lamina_local::xray::validate_document;
///
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(0x5759_e988);
/// let document = r#"{"name":"api","id":"70de5b6f19ff9a0a","trace_id":"1-5759e988-bd862e3fe1be46a994272793","start_time":1465510280.0,"end_time":1465510280.5}"#;
/// let validated = validate_document(document, now).unwrap();
/// assert_eq!(validated.entity().name, "api");
/// ```
#[allow(
    clippy::result_large_err,
    reason = "a Rejection is the ordinary answer to bad input; boxing it would only add an allocation"
)]
pub fn validate_document(document: &str, now: SystemTime) -> Result<ValidatedDocument, Rejection> {
    if document.len() > MAX_DOCUMENT_BYTES {
        let reason = RejectReason::DocumentTooLarge {
            size: document.len(),
        };
        return Err(Rejection::new(reason, document));
    }
    let value: Value = serde_json::from_str(document).map_err(|error| {
        Rejection::new(
            RejectReason::InvalidJson {
                detail: error.to_string(),
            },
            document,
        )
    })?;
    let Value::Object(object) = value else {
        let reason = RejectReason::NotAnObject {
            field: "document".to_owned(),
        };
        return Err(Rejection::new(reason, document));
    };
    match top_level(&object, now) {
        Ok(entity) => Ok(ValidatedDocument {
            raw: document.to_owned(),
            entity,
        }),
        Err(reason) => {
            let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
            Err(Rejection {
                reason,
                id: text("id"),
                trace_id: text("trace_id"),
                excerpt: excerpt(document),
            })
        }
    }
}

fn top_level(object: &Map<String, Value>, now: SystemTime) -> Result<Entity, RejectReason> {
    let kind = match object.get("type") {
        None => EntityKind::Segment,
        Some(Value::String(kind)) if kind == "subsegment" => EntityKind::Subsegment,
        Some(Value::String(kind)) => {
            return Err(RejectReason::InvalidType {
                value: kind.clone(),
            });
        }
        Some(_) => return Err(wrong_type("type", "a string")),
    };
    let trace_id = match object.get("trace_id") {
        None => {
            return Err(RejectReason::MissingField {
                field: "trace_id".to_owned(),
            });
        }
        Some(Value::String(trace_id)) => trace_id.clone(),
        Some(_) => return Err(wrong_type("trace_id", "a string")),
    };
    fields::check_trace_id(&trace_id, "trace_id", now)?;
    let parent_id = match (kind, object.contains_key("parent_id")) {
        (EntityKind::Subsegment, _) | (_, true) => {
            Some(fields::entity_id(object, "parent_id", "")?)
        }
        _ => None,
    };
    entity(object, "", kind, &trace_id, parent_id, &mut HashSet::new())
}

fn entity(
    object: &Map<String, Value>,
    path: &str,
    kind: EntityKind,
    trace_id: &str,
    parent_id: Option<String>,
    ids: &mut HashSet<String>,
) -> Result<Entity, RejectReason> {
    let id = fields::entity_id(object, "id", path)?;
    if !ids.insert(id.clone()) {
        return Err(RejectReason::DuplicateId { id });
    }
    let name = match object.get("name") {
        None => {
            return Err(RejectReason::MissingField {
                field: join(path, "name"),
            });
        }
        Some(Value::String(name)) => name.clone(),
        Some(_) => return Err(wrong_type(&join(path, "name"), "a string")),
    };
    fields::check_name(&name, &join(path, "name"))?;
    let start_time =
        number(object, "start_time", path)?.ok_or_else(|| RejectReason::MissingField {
            field: join(path, "start_time"),
        })?;
    let end_time = number(object, "end_time", path)?;
    let in_progress = boolean(object, "in_progress", path)?.unwrap_or(false);
    let entity_field = if path.is_empty() {
        "document".to_owned()
    } else {
        path.to_owned()
    };
    match (end_time, in_progress) {
        (Some(_), true) => {
            return Err(RejectReason::InProgressWithEndTime {
                field: entity_field,
            });
        }
        (None, false) => {
            return Err(RejectReason::MissingEndTime {
                field: entity_field,
            });
        }
        (Some(end), false) if end < start_time => {
            return Err(RejectReason::EndBeforeStart {
                field: entity_field,
            });
        }
        _ => {}
    }
    let string = |key: &str| {
        fields::optional_string(object, key).map_err(|()| wrong_type(&join(path, key), "a string"))
    };
    let (namespace, origin) = (string("namespace")?, string("origin")?);
    for key in ["http", "aws", "sql", "service"] {
        if object.get(key).is_some_and(|value| !value.is_object()) {
            return Err(wrong_type(&join(path, key), "an object"));
        }
    }
    if let Some(precursors) = object.get("precursor_ids") {
        let valid = precursors.as_array().is_some_and(|ids| {
            ids.iter()
                .all(|id| id.as_str().is_some_and(fields::is_entity_id))
        });
        if !valid {
            return Err(wrong_type(
                &join(path, "precursor_ids"),
                "an array of 16-hex ids",
            ));
        }
    }
    let annotations = match object.get("annotations") {
        Some(value) => fields::annotations(value, path)?,
        None => Default::default(),
    };
    let metadata = match object.get("metadata") {
        Some(value) => fields::metadata(value, path)?,
        None => Map::new(),
    };
    let cause = object.get("cause").map(fields::cause).transpose()?;
    let subsegments = match object.get("subsegments") {
        None => Vec::new(),
        Some(Value::Array(children)) => {
            let mut out = Vec::with_capacity(children.len());
            for (index, child) in children.iter().enumerate() {
                let child_path = format!("{}subsegments[{index}]", prefix(path));
                out.push(nested(child, &child_path, trace_id, &id, ids)?);
            }
            out
        }
        Some(_) => return Err(wrong_type(&join(path, "subsegments"), "an array")),
    };
    Ok(Entity {
        error: boolean(object, "error", path)?.unwrap_or(false),
        fault: boolean(object, "fault", path)?.unwrap_or(false),
        throttle: boolean(object, "throttle", path)?.unwrap_or(false),
        id,
        name,
        kind,
        trace_id: trace_id.to_owned(),
        parent_id,
        start_time,
        end_time,
        namespace,
        origin,
        annotations,
        metadata,
        cause,
        subsegments,
    })
}

/// A subsegment inside a `subsegments` array: `type`, `trace_id` and `parent_id` are
/// optional, but must agree with the enclosing document.
fn nested(
    value: &Value,
    path: &str,
    trace_id: &str,
    enclosing_id: &str,
    ids: &mut HashSet<String>,
) -> Result<Entity, RejectReason> {
    let Value::Object(object) = value else {
        return Err(RejectReason::NotAnObject {
            field: path.to_owned(),
        });
    };
    match object.get("type") {
        None => {}
        Some(Value::String(kind)) if kind == "subsegment" => {}
        Some(Value::String(kind)) => {
            return Err(RejectReason::InvalidType {
                value: kind.clone(),
            });
        }
        Some(_) => return Err(wrong_type(&join(path, "type"), "a string")),
    }
    match object.get("trace_id") {
        None => {}
        Some(Value::String(own)) if own == trace_id => {}
        Some(Value::String(_)) => {
            return Err(RejectReason::TraceIdMismatch {
                field: join(path, "trace_id"),
            });
        }
        Some(_) => return Err(wrong_type(&join(path, "trace_id"), "a string")),
    }
    if object.contains_key("parent_id")
        && fields::entity_id(object, "parent_id", path)? != enclosing_id
    {
        return Err(RejectReason::ParentMismatch {
            field: join(path, "parent_id"),
        });
    }
    entity(
        object,
        path,
        EntityKind::Subsegment,
        trace_id,
        Some(enclosing_id.to_owned()),
        ids,
    )
}

fn number(object: &Map<String, Value>, key: &str, path: &str) -> Result<Option<f64>, RejectReason> {
    match object.get(key) {
        None => Ok(None),
        Some(Value::Number(number)) => Ok(number.as_f64()),
        Some(_) => Err(wrong_type(&join(path, key), "a number")),
    }
}

fn boolean(
    object: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<bool>, RejectReason> {
    fields::optional_bool(object, key).map_err(|()| wrong_type(&join(path, key), "a boolean"))
}

fn wrong_type(field: &str, expected: &'static str) -> RejectReason {
    RejectReason::WrongType {
        field: field.to_owned(),
        expected,
    }
}

fn prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}.")
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "validate_props.rs"]
mod props;
