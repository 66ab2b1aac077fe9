//! Call counters and injected failures, shared by the in-memory ports.

use std::collections::BTreeMap;

use crate::ports::PortError;

/// Per-method call counts and the failures queued for the next calls.
#[derive(Debug, Default)]
pub(super) struct Faults {
    calls: BTreeMap<String, u64>,
    pending: BTreeMap<String, (u32, PortError)>,
}

impl Faults {
    /// Counts a call of `method` and returns the failure queued for it, if any.
    pub(super) fn enter(&mut self, method: &str) -> Result<(), PortError> {
        *self.calls.entry(method.to_owned()).or_default() += 1;
        if let Some((remaining, error)) = self.pending.get_mut(method) {
            let error = error.clone();
            *remaining -= 1;
            if *remaining == 0 {
                self.pending.remove(method);
            }
            return Err(error);
        }
        Ok(())
    }

    pub(super) fn calls(&self, method: &str) -> u64 {
        self.calls.get(method).copied().unwrap_or(0)
    }

    pub(super) fn total(&self) -> u64 {
        self.calls.values().sum()
    }

    pub(super) fn fail_next(&mut self, method: &str, times: u32, error: PortError) {
        if times == 0 {
            self.pending.remove(method);
        } else {
            self.pending.insert(method.to_owned(), (times, error));
        }
    }

    pub(super) fn reset_counts(&mut self) {
        self.calls.clear();
    }
}
