//! The collector's bounded memory: recent traces and recent rejections.

use std::collections::{HashMap, VecDeque};

use super::{Rejection, Trace, ValidatedDocument, rejection::excerpt, trace::TraceState};

/// What happened to an accepted document.
#[derive(Debug)]
pub(crate) struct Accepted {
    /// The raw document, for forwarding.
    pub(crate) raw: String,
    /// The trace, when this document completed it.
    pub(crate) completed: Option<Trace>,
}

#[derive(Debug)]
struct StoredTrace {
    state: TraceState,
    complete: bool,
}

/// Keeps the most recent `max_traces` traces (by first document) and `max_rejections` rejections.
#[derive(Debug)]
pub(crate) struct Store {
    traces: HashMap<String, StoredTrace>,
    order: VecDeque<String>,
    max_traces: usize,
    rejections: VecDeque<Rejection>,
    max_rejections: usize,
}

impl Store {
    pub(crate) fn new(max_traces: usize, max_rejections: usize) -> Self {
        Self {
            traces: HashMap::new(),
            order: VecDeque::new(),
            max_traces: max_traces.max(1),
            rejections: VecDeque::new(),
            max_rejections,
        }
    }

    /// Adds a validated document to its trace, or turns it into a rejection.
    #[allow(
        clippy::result_large_err,
        reason = "a Rejection is the ordinary answer to bad input; boxing it would only add an allocation"
    )]
    pub(crate) fn accept(&mut self, document: ValidatedDocument) -> Result<Accepted, Rejection> {
        let trace_id = document.trace_id().to_owned();
        if !self.traces.contains_key(&trace_id) {
            while self.order.len() >= self.max_traces {
                if let Some(oldest) = self.order.pop_front() {
                    self.traces.remove(&oldest);
                }
            }
        }
        let order = &mut self.order;
        let stored = self.traces.entry(trace_id.clone()).or_insert_with(|| {
            order.push_back(trace_id.clone());
            StoredTrace {
                state: TraceState::new(&trace_id),
                complete: false,
            }
        });
        let raw = document.raw().to_owned();
        let id = document.id().to_owned();
        if let Err(reason) = stored.state.insert(document) {
            let rejection = Rejection {
                reason,
                id: Some(id),
                trace_id: Some(trace_id),
                excerpt: excerpt(&raw),
            };
            return Err(rejection);
        }
        let trace = stored.state.assemble();
        let was_complete = std::mem::replace(&mut stored.complete, trace.is_complete());
        let completed = (stored.complete && !was_complete).then_some(trace);
        Ok(Accepted { raw, completed })
    }

    pub(crate) fn reject(&mut self, rejection: Rejection) {
        if self.max_rejections == 0 {
            return;
        }
        if self.rejections.len() >= self.max_rejections {
            self.rejections.pop_front();
        }
        self.rejections.push_back(rejection);
    }

    pub(crate) fn rejections(&self) -> Vec<Rejection> {
        self.rejections.iter().cloned().collect()
    }

    pub(crate) fn trace(&self, trace_id: &str) -> Option<Trace> {
        let stored = self.traces.get(trace_id)?;
        stored
            .state
            .has_documents()
            .then(|| stored.state.assemble())
    }

    /// The stored traces, oldest first.
    pub(crate) fn traces(&self) -> Vec<Trace> {
        self.order
            .iter()
            .filter_map(|trace_id| self.trace(trace_id))
            .collect()
    }
}
