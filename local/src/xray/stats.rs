//! Counters of what the collector received, accepted, rejected and forwarded.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the collector's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Datagrams received on the socket.
    pub received: u64,
    /// Documents accepted into a trace.
    pub accepted: u64,
    /// Datagrams or documents rejected (see [`XrayCollector::rejections`](super::XrayCollector::rejections)).
    pub rejected: u64,
    /// Documents that `PutTraceSegments` accepted.
    pub forwarded: u64,
    /// Documents that could not be forwarded: listed as unprocessed, lost in a failed
    /// call, or dropped because the forwarding queue was full.
    pub forward_failed: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) received: AtomicU64,
    pub(crate) accepted: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) forwarded: AtomicU64,
    pub(crate) forward_failed: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            received: read(&self.received),
            accepted: read(&self.accepted),
            rejected: read(&self.rejected),
            forwarded: read(&self.forwarded),
            forward_failed: read(&self.forward_failed),
        }
    }
}
