//! Assembly of validated documents into traces, and the completeness rule.

use std::{collections::HashMap, fmt};

use super::{Entity, EntityKind, RejectReason, ValidatedDocument};

/// Streamed documents nested deeper than this are reported instead of assembled
/// (it bounds the recursion on hostile input).
const MAX_DEPTH: usize = 256;

/// A trace assembled from the documents received so far.
///
/// Subsegments sent as their own documents are attached under the entity their `parent_id`
/// names, so [`roots`](Self::roots) is one tree per segment, whatever the order of arrival.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub(crate) id: String,
    pub(crate) roots: Vec<Entity>,
    pub(crate) documents: Vec<String>,
    pub(crate) missing: Vec<Missing>,
}

impl Trace {
    /// The trace id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The top-level entities by start time: segments, then (in an incomplete trace) any
    /// subsegment whose parent has not arrived.
    #[must_use]
    pub fn roots(&self) -> &[Entity] {
        &self.roots
    }

    /// The accepted documents of this trace, as received, in order of arrival
    /// (an in-progress document is replaced by its complete version).
    #[must_use]
    pub fn documents(&self) -> &[String] {
        &self.documents
    }

    /// Whether the trace has a segment, no open entity, and no subsegment without parent.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }

    /// What keeps the trace from being complete (empty when it is complete).
    #[must_use]
    pub fn missing(&self) -> &[Missing] {
        &self.missing
    }

    /// Every entity, depth-first from each root, with its depth (roots have depth 0).
    #[must_use]
    pub fn entities(&self) -> Vec<(usize, &Entity)> {
        self.roots.iter().flat_map(Entity::descendants).collect()
    }

    /// The first entity (depth-first) with this name.
    #[must_use]
    pub fn find(&self, name: &str) -> Option<&Entity> {
        self.entities()
            .into_iter()
            .map(|(_, entity)| entity)
            .find(|entity| entity.name == name)
    }

    /// The entity with this id.
    #[must_use]
    pub fn entity(&self, id: &str) -> Option<&Entity> {
        self.entities()
            .into_iter()
            .map(|(_, entity)| entity)
            .find(|entity| entity.id == id)
    }
}

/// One reason a trace is not complete yet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Missing {
    /// No segment has arrived (only subsegments).
    NoSegment,
    /// An entity is still in progress.
    Open {
        /// The entity id.
        id: String,
        /// The entity name.
        name: String,
    },
    /// A subsegment's parent has not arrived.
    Orphan {
        /// The subsegment id.
        id: String,
        /// The subsegment name.
        name: String,
        /// The parent id no entity of the trace has.
        parent_id: String,
    },
    /// A subsegment cannot be reached from any segment: its `parent_id` links form a cycle
    /// (or a chain deeper than the collector assembles).
    Unreachable {
        /// The subsegment id.
        id: String,
        /// The subsegment name.
        name: String,
    },
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSegment => f.write_str("no segment received (only subsegments)"),
            Self::Open { id, name } => write!(f, "{name:?} ({id}) is still in progress"),
            Self::Orphan {
                id,
                name,
                parent_id,
            } => {
                write!(f, "{name:?} ({id}) has orphan parent id {parent_id}")
            }
            Self::Unreachable { id, name } => {
                write!(f, "{name:?} ({id}) is not reachable from any segment")
            }
        }
    }
}

/// The list of [`Missing`] parts carried by
/// [`XrayError::TraceIncomplete`](super::XrayError::TraceIncomplete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingParts(pub Vec<Missing>);

impl fmt::Display for MissingParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, missing) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{missing}")?;
        }
        Ok(())
    }
}

/// The documents of one trace, as stored by the collector.
#[derive(Debug, Default)]
pub(crate) struct TraceState {
    id: String,
    documents: Vec<(String, Entity)>,
    /// Every entity id (nested ones included) to the index of its document.
    owners: HashMap<String, usize>,
}

impl TraceState {
    pub(crate) fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            ..Self::default()
        }
    }

    /// Adds a document, or refuses it when one of its ids is taken.
    ///
    /// A complete document supersedes in-progress ones: an in-progress document with the
    /// same id is dropped, and so is an in-progress copy nested in an in-progress document.
    pub(crate) fn insert(&mut self, document: ValidatedDocument) -> Result<(), RejectReason> {
        let (raw, entity) = document.into_parts();
        let mut superseded = Vec::new();
        for (_, new) in entity.descendants() {
            let Some(&index) = self.owners.get(&new.id) else {
                continue;
            };
            if entity.is_in_progress() || !self.documents[index].1.is_in_progress() {
                return Err(RejectReason::DuplicateId { id: new.id.clone() });
            }
            superseded.push((index, new.id.clone()));
        }
        if superseded.is_empty() {
            self.add(raw, entity);
            return Ok(());
        }
        let mut dropped = Vec::new();
        for (index, id) in superseded {
            let document = &mut self.documents[index].1;
            if document.id == id {
                dropped.push(index);
            } else {
                remove_nested(document, &id);
            }
        }
        dropped.sort_unstable();
        dropped.dedup();
        for index in dropped.into_iter().rev() {
            self.documents.remove(index);
        }
        self.documents.push((raw, entity));
        self.reindex();
        Ok(())
    }

    fn add(&mut self, raw: String, entity: Entity) {
        let index = self.documents.len();
        for (_, nested) in entity.descendants() {
            self.owners.insert(nested.id.clone(), index);
        }
        self.documents.push((raw, entity));
    }

    fn reindex(&mut self) {
        self.owners.clear();
        for (index, (_, entity)) in self.documents.iter().enumerate() {
            for (_, nested) in entity.descendants() {
                self.owners.insert(nested.id.clone(), index);
            }
        }
    }

    pub(crate) fn has_documents(&self) -> bool {
        !self.documents.is_empty()
    }

    /// Builds the trees and lists what is missing.
    pub(crate) fn assemble(&self) -> Trace {
        let mut children: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut roots = Vec::new();
        let mut missing = Vec::new();
        for (index, (_, entity)) in self.documents.iter().enumerate() {
            match entity.parent_id.as_deref() {
                Some(parent) if self.owners.contains_key(parent) => {
                    children.entry(parent).or_default().push(index);
                }
                Some(parent) if entity.kind == EntityKind::Subsegment => {
                    missing.push(Missing::Orphan {
                        id: entity.id.clone(),
                        name: entity.name.clone(),
                        parent_id: parent.to_owned(),
                    });
                    roots.push(index);
                }
                _ => roots.push(index),
            }
        }
        if !self
            .documents
            .iter()
            .any(|(_, entity)| entity.kind == EntityKind::Segment)
        {
            missing.insert(0, Missing::NoSegment);
        }
        let mut placed = vec![false; self.documents.len()];
        let mut trees: Vec<Entity> = roots
            .iter()
            .map(|&index| self.attach(index, &children, &mut placed, 0))
            .collect();
        sort_by_start(&mut trees);
        for (index, (_, entity)) in self.documents.iter().enumerate() {
            if !placed[index] {
                missing.push(Missing::Unreachable {
                    id: entity.id.clone(),
                    name: entity.name.clone(),
                });
            }
        }
        for (_, entity) in trees.iter().flat_map(Entity::descendants) {
            if entity.is_in_progress() {
                missing.push(Missing::Open {
                    id: entity.id.clone(),
                    name: entity.name.clone(),
                });
            }
        }
        Trace {
            id: self.id.clone(),
            roots: trees,
            documents: self.documents.iter().map(|(raw, _)| raw.clone()).collect(),
            missing,
        }
    }

    /// A copy of document `index` with the streamed documents that name one of its
    /// entities as parent attached, recursively.
    fn attach(
        &self,
        index: usize,
        children: &HashMap<&str, Vec<usize>>,
        placed: &mut [bool],
        depth: usize,
    ) -> Entity {
        placed[index] = true;
        let mut entity = self.documents[index].1.clone();
        self.attach_under(&mut entity, children, placed, depth);
        entity
    }

    fn attach_under(
        &self,
        entity: &mut Entity,
        children: &HashMap<&str, Vec<usize>>,
        placed: &mut [bool],
        depth: usize,
    ) {
        for child in &mut entity.subsegments {
            self.attach_under(child, children, placed, depth + 1);
        }
        if depth < MAX_DEPTH {
            for &child in children.get(entity.id.as_str()).into_iter().flatten() {
                if !placed[child] {
                    let attached = self.attach(child, children, placed, depth + 1);
                    entity.subsegments.push(attached);
                }
            }
        }
        sort_by_start(&mut entity.subsegments);
    }
}

fn sort_by_start(entities: &mut [Entity]) {
    entities.sort_by(|a, b| {
        a.start_time
            .total_cmp(&b.start_time)
            .then_with(|| a.id.cmp(&b.id))
    });
}

fn remove_nested(entity: &mut Entity, id: &str) -> bool {
    if let Some(position) = entity.subsegments.iter().position(|child| child.id == id) {
        entity.subsegments.remove(position);
        return true;
    }
    entity
        .subsegments
        .iter_mut()
        .any(|child| remove_nested(child, id))
}

#[cfg(test)]
#[path = "trace_tests.rs"]
mod tests;
