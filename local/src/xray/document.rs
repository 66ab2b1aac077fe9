//! A typed view of a validated segment document.

use std::collections::BTreeMap;

/// A segment document that passed [`validate_document`](super::validate_document).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedDocument {
    pub(crate) raw: String,
    pub(crate) entity: Entity,
}

impl ValidatedDocument {
    /// The document exactly as it was received (this is what gets forwarded).
    #[must_use]
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The document's top-level entity, with its nested subsegments.
    #[must_use]
    pub fn entity(&self) -> &Entity {
        &self.entity
    }

    /// The trace the document belongs to.
    #[must_use]
    pub fn trace_id(&self) -> &str {
        &self.entity.trace_id
    }

    /// The document's top-level id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.entity.id
    }

    /// Whether the top-level entity is still open (`in_progress: true`).
    #[must_use]
    pub fn is_in_progress(&self) -> bool {
        self.entity.is_in_progress()
    }

    /// Splits the document into its raw text and its entity.
    #[must_use]
    pub fn into_parts(self) -> (String, Entity) {
        (self.raw, self.entity)
    }
}

/// Whether an entity is a segment or a subsegment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntityKind {
    /// A segment: the work done by one service for one request.
    Segment,
    /// A subsegment: a unit of work inside a segment or another subsegment.
    Subsegment,
}

/// One segment or subsegment, as validated.
///
/// Nested subsegments inherit their document's `trace_id` and get their enclosing entity's
/// id as `parent_id`, so every entity in a [`Trace`](super::Trace) carries both.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Entity {
    /// The entity id, 16 lowercase hex digits.
    pub id: String,
    /// The entity name.
    pub name: String,
    /// Segment or subsegment.
    pub kind: EntityKind,
    /// The trace the entity belongs to.
    pub trace_id: String,
    /// The parent entity (for a segment: an upstream segment, if any).
    pub parent_id: Option<String>,
    /// Start, in epoch seconds.
    pub start_time: f64,
    /// End, in epoch seconds; `None` while the entity is in progress.
    pub end_time: Option<f64>,
    /// `namespace` (`aws`, `remote`, `local`), subsegments only.
    pub namespace: Option<String>,
    /// `origin` (e.g. `AWS::Lambda::Function`), segments only.
    pub origin: Option<String>,
    /// The `error` flag (a 4xx client error).
    pub error: bool,
    /// The `fault` flag (a 5xx server error).
    pub fault: bool,
    /// The `throttle` flag (a 429).
    pub throttle: bool,
    /// Indexed annotations.
    pub annotations: BTreeMap<String, AnnotationValue>,
    /// Metadata, by namespace.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The error cause, when one was recorded.
    pub cause: Option<Cause>,
    /// Child subsegments, ordered by start time (nested and, in a trace, streamed ones).
    pub subsegments: Vec<Entity>,
}

impl Entity {
    /// Whether the entity is still open.
    #[must_use]
    pub fn is_in_progress(&self) -> bool {
        self.end_time.is_none()
    }

    /// The duration in seconds, when the entity is closed.
    #[must_use]
    pub fn duration(&self) -> Option<f64> {
        self.end_time.map(|end| end - self.start_time)
    }

    /// This entity and all its descendants, depth-first, with their depth below `self`.
    #[must_use]
    pub fn descendants(&self) -> Vec<(usize, &Entity)> {
        let mut out = Vec::new();
        let mut stack = vec![(0, self)];
        while let Some((depth, entity)) = stack.pop() {
            out.push((depth, entity));
            stack.extend(
                entity
                    .subsegments
                    .iter()
                    .rev()
                    .map(|child| (depth + 1, child)),
            );
        }
        out
    }

    /// The first entity (depth-first, `self` included) with this name.
    #[must_use]
    pub fn find(&self, name: &str) -> Option<&Entity> {
        self.descendants()
            .into_iter()
            .map(|(_, entity)| entity)
            .find(|entity| entity.name == name)
    }

    /// The names of the direct children, in order.
    #[must_use]
    pub fn child_names(&self) -> Vec<&str> {
        self.subsegments
            .iter()
            .map(|child| child.name.as_str())
            .collect()
    }
}

/// An annotation value: X-Ray indexes strings, numbers and booleans only.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnnotationValue {
    /// A string.
    String(String),
    /// A number, as written.
    Number(serde_json::Number),
    /// A boolean.
    Bool(bool),
}

/// The `cause` of an error, fault or throttle.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// The id of an exception recorded on another entity.
    ExceptionId(String),
    /// The exceptions themselves.
    Exceptions {
        /// The process's working directory, if given.
        working_directory: Option<String>,
        /// The exceptions, most recent first.
        exceptions: Vec<CauseException>,
    },
}

/// One exception in a [`Cause`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CauseException {
    /// The exception id, 16 lowercase hex digits.
    pub id: String,
    /// The message, if given.
    pub message: Option<String>,
    /// The exception type (`type` in the document), if given.
    pub kind: Option<String>,
    /// Whether the exception came from a downstream service.
    pub remote: bool,
}
