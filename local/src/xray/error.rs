//! The error type of the X-Ray daemon stand-in.

use std::{io, net::SocketAddr, time::Duration};

use super::trace::MissingParts;

/// Everything that can go wrong while running the collector or sending to it.
///
/// Invalid segment documents are not errors: they are [`Rejection`](super::Rejection)s,
/// counted and kept by the collector.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum XrayError {
    /// The UDP socket could not be bound, usually because another daemon holds the port.
    #[error("cannot listen for X-Ray segments on {addr}{}", hint(source))]
    Bind {
        /// The address the collector tried to listen on.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The TCP port of the sampling proxy could not be bound.
    #[error("cannot listen for X-Ray sampling requests on {addr}{}", hint(source))]
    BindSampling {
        /// The TCP address the sampling proxy tried to listen on.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The bound socket could not report its local address.
    #[error("cannot read the local address of the X-Ray socket")]
    LocalAddr {
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A document could not be sent to a daemon address.
    #[error("cannot send an X-Ray segment document to {addr}")]
    Send {
        /// The daemon address the datagram was sent to.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// `wait_for_trace` timed out and not a single valid document of the trace arrived.
    #[error(
        "trace {trace_id} not received within {waited:?}: no documents received for this trace"
    )]
    TraceNotReceived {
        /// The trace that was waited for.
        trace_id: String,
        /// How long the caller waited.
        waited: Duration,
    },
    /// `wait_for_trace` timed out while the trace still had open entities or orphans.
    #[error("trace {trace_id} not complete within {waited:?}: {missing}")]
    TraceIncomplete {
        /// The trace that was waited for.
        trace_id: String,
        /// How long the caller waited.
        waited: Duration,
        /// What kept the trace from being complete.
        missing: MissingParts,
    },
    /// The collector's background task has stopped (it was shut down or panicked).
    #[error("the X-Ray collector has stopped")]
    Stopped,
}

/// What a developer should check for the common socket errors. The error itself is the
/// [`source`](std::error::Error::source), shown by reporters that print the chain.
fn hint(error: &io::Error) -> &'static str {
    match error.kind() {
        io::ErrorKind::AddrInUse => " (is another X-Ray daemon running?)",
        io::ErrorKind::AddrNotAvailable => " (the address is not on this machine)",
        _ => "",
    }
}
