//! Why a datagram or segment document was refused.

use std::fmt;

/// How many characters of the offending input a [`Rejection`] keeps.
const EXCERPT_CHARS: usize = 160;

/// A datagram or document that the collector refused, with the reason.
///
/// Rejections are counted in [`Stats::rejected`](super::Stats::rejected) and kept (up to a cap)
/// by the collector; they are never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// Why the input was refused.
    pub reason: RejectReason,
    /// The `id` of the document, when it could be read.
    pub id: Option<String>,
    /// The `trace_id` of the document, when it could be read.
    pub trace_id: Option<String>,
    /// The start of the offending input, with control characters escaped.
    pub excerpt: String,
}

impl Rejection {
    /// A rejection of `input` for `reason`, without ids.
    pub(crate) fn new(reason: RejectReason, input: &str) -> Self {
        Self {
            reason,
            id: None,
            trace_id: None,
            excerpt: excerpt(input),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rejected X-Ray document")?;
        match (&self.id, &self.trace_id) {
            (Some(id), Some(trace)) => write!(f, " {id} (trace {trace})")?,
            (Some(id), None) => write!(f, " {id}")?,
            (None, Some(trace)) => write!(f, " (trace {trace})")?,
            (None, None) => {}
        }
        write!(f, ": {}; input: {}", self.reason, self.excerpt)
    }
}

impl std::error::Error for Rejection {}

/// The reason a datagram or document was refused.
///
/// `field` values are paths into the document such as `subsegments[1].start_time`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// The datagram is larger than the daemon's 64 KB receive buffer.
    DatagramTooLarge {
        /// The datagram's size in bytes.
        size: usize,
    },
    /// The datagram is not valid UTF-8.
    NotUtf8,
    /// The datagram has no `\n` separating the header from the document.
    MissingHeader,
    /// The header line is not `{"format":"json","version":1}`.
    InvalidHeader {
        /// What is wrong with it.
        detail: String,
    },
    /// Nothing (or only whitespace) follows the header line.
    EmptyBody,
    /// The document is larger than 64 KB.
    DocumentTooLarge {
        /// The document's size in bytes.
        size: usize,
    },
    /// The document is not valid JSON.
    InvalidJson {
        /// The parser's message.
        detail: String,
    },
    /// The document, or an entry of `subsegments`, is not a JSON object.
    NotAnObject {
        /// Where the non-object was found (`document` for the top level).
        field: String,
    },
    /// A required field is absent.
    MissingField {
        /// The missing field.
        field: String,
    },
    /// A field has the wrong JSON type.
    WrongType {
        /// The field.
        field: String,
        /// The type the schema asks for.
        expected: &'static str,
    },
    /// An `id`, `parent_id` or exception id is not 16 lowercase hex digits.
    InvalidId {
        /// The field.
        field: String,
        /// The value found.
        value: String,
    },
    /// A `trace_id` does not have the form `1-{8 hex}-{24 hex}`.
    InvalidTraceId {
        /// The field.
        field: String,
        /// The value found.
        value: String,
    },
    /// The trace id's time part is more than 30 days in the past.
    TraceIdTooOld {
        /// The trace id.
        value: String,
    },
    /// The trace id's time part is more than 5 minutes in the future.
    TraceIdInFuture {
        /// The trace id.
        value: String,
    },
    /// A `name` is empty, longer than 200 characters, or has a character X-Ray does not allow.
    InvalidName {
        /// The field.
        field: String,
        /// What is wrong with the name.
        detail: String,
    },
    /// A top-level `type` is something other than `"subsegment"`.
    InvalidType {
        /// The value found.
        value: String,
    },
    /// An entity has neither `end_time` nor `in_progress: true`.
    MissingEndTime {
        /// The entity (`document` or a `subsegments[..]` path).
        field: String,
    },
    /// An entity has `in_progress: true` and an `end_time`.
    InProgressWithEndTime {
        /// The entity.
        field: String,
    },
    /// `end_time` is before `start_time`.
    EndBeforeStart {
        /// The entity.
        field: String,
    },
    /// An annotation key has a character outside `[A-Za-z0-9_]`.
    InvalidAnnotationKey {
        /// The key.
        key: String,
    },
    /// An annotation value is not a string, number or boolean.
    InvalidAnnotationValue {
        /// The annotation's key.
        key: String,
    },
    /// `cause` is neither a 16-hex exception id nor a well-formed cause object.
    InvalidCause {
        /// What is wrong with it.
        detail: String,
    },
    /// A nested subsegment names a different trace than its document.
    TraceIdMismatch {
        /// The field.
        field: String,
    },
    /// A nested subsegment's `parent_id` is not the id of the entity that contains it.
    ParentMismatch {
        /// The field.
        field: String,
    },
    /// The id is already used by another entity of the same trace (or of the same document).
    DuplicateId {
        /// The duplicated id.
        id: String,
    },
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DatagramTooLarge { size } => {
                write!(
                    f,
                    "datagram of {size} bytes exceeds the 64 KB receive buffer"
                )
            }
            Self::NotUtf8 => f.write_str("datagram is not valid UTF-8"),
            Self::MissingHeader => f.write_str("datagram has no header line (no newline)"),
            Self::InvalidHeader { detail } => write!(f, "invalid header line: {detail}"),
            Self::EmptyBody => f.write_str("datagram has an empty body after the header"),
            Self::DocumentTooLarge { size } => {
                write!(f, "document of {size} bytes exceeds the 64 KB limit")
            }
            Self::InvalidJson { detail } => write!(f, "document is not valid JSON: {detail}"),
            Self::NotAnObject { field } => write!(f, "{field} is not a JSON object"),
            Self::MissingField { field } => write!(f, "required field {field} is missing"),
            Self::WrongType { field, expected } => write!(f, "{field} must be {expected}"),
            Self::InvalidId { field, value } => {
                write!(f, "{field} {value:?} is not 16 lowercase hex digits")
            }
            Self::InvalidTraceId { field, value } => {
                write!(f, "{field} {value:?} is not of the form 1-<8 hex>-<24 hex>")
            }
            Self::TraceIdTooOld { value } => {
                write!(f, "trace id {value} is more than 30 days old")
            }
            Self::TraceIdInFuture { value } => {
                write!(f, "trace id {value} is more than 5 minutes in the future")
            }
            Self::InvalidName { field, detail } => write!(f, "{field} is invalid: {detail}"),
            Self::InvalidType { value } => {
                write!(f, "type {value:?} is not \"subsegment\"")
            }
            Self::MissingEndTime { field } => {
                write!(f, "{field} has neither end_time nor in_progress: true")
            }
            Self::InProgressWithEndTime { field } => {
                write!(f, "{field} has both in_progress: true and an end_time")
            }
            Self::EndBeforeStart { field } => write!(f, "{field} ends before it starts"),
            Self::InvalidAnnotationKey { key } => {
                write!(
                    f,
                    "annotation key {key:?} has characters outside [A-Za-z0-9_]"
                )
            }
            Self::InvalidAnnotationValue { key } => {
                write!(f, "annotation {key:?} is not a string, number or boolean")
            }
            Self::InvalidCause { detail } => write!(f, "invalid cause: {detail}"),
            Self::TraceIdMismatch { field } => {
                write!(f, "{field} differs from the document's trace_id")
            }
            Self::ParentMismatch { field } => {
                write!(f, "{field} is not the id of the enclosing entity")
            }
            Self::DuplicateId { id } => write!(f, "id {id} is already used in this trace"),
        }
    }
}

/// The first characters of `input`, with control characters escaped so it prints on one line.
pub(crate) fn excerpt(input: &str) -> String {
    let mut out = String::new();
    for (index, c) in input.chars().enumerate() {
        if index == EXCERPT_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_ids_reason_and_excerpt() {
        let mut rejection = Rejection::new(
            RejectReason::MissingField {
                field: "name".into(),
            },
            "{\"id\":\n1}",
        );
        rejection.id = Some("0123456789abcdef".into());
        assert_eq!(
            rejection.to_string(),
            "rejected X-Ray document 0123456789abcdef: required field name is missing; \
             input: {\"id\":\\n1}"
        );
    }

    #[test]
    fn excerpt_is_cut() {
        let long = "x".repeat(500);
        assert_eq!(excerpt(&long).chars().count(), EXCERPT_CHARS + 1);
    }
}
