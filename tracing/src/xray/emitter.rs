//! Sending documents to the X-Ray daemon over UDP.
//!
//! Each document is sent synchronously with one `send_to` on a non-blocking `std` UDP socket,
//! in the thread that closes the span. A background task with a bounded queue was the
//! alternative; it was not chosen because a UDP send to the daemon (loopback or Lambda's
//! link-local address) is a single system call that never waits on a non-blocking socket, so
//! a queue would add a copy, a wake-up and a flush step before every response, and memory
//! use would depend on its bound. With a direct send nothing is ever queued in this process:
//! when a span closes its document has left, so nothing needs flushing before an invocation
//! returns. A send that would block (a full socket buffer) or fails is dropped and counted.

use std::{
    fmt, io,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use super::{XrayError, document::Subsegment};

/// The header line of every datagram, then `\n`.
pub const DATAGRAM_HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";
/// The largest datagram sent, in bytes: the largest IPv4 UDP payload, which is under the
/// daemon's 64 KB receive buffer and X-Ray's 64 KB document limit.
pub const MAX_DATAGRAM_BYTES: usize = 65_507;
/// The largest document sent, in bytes: [`MAX_DATAGRAM_BYTES`] less the header line that shares
/// the datagram. Larger documents are trimmed, or dropped if trimming is not enough.
pub const MAX_DOCUMENT_BYTES: usize = MAX_DATAGRAM_BYTES - DATAGRAM_HEADER.len();
/// The daemon address when `AWS_XRAY_DAEMON_ADDRESS` is not set.
pub const DEFAULT_DAEMON_ADDRESS: &str = "127.0.0.1:2000";

/// Parses an `AWS_XRAY_DAEMON_ADDRESS` value and returns the UDP address: `host:port` (used
/// for both UDP and TCP), or `tcp:host:port udp:host:port` in either order. Host names are
/// resolved here, once.
///
/// # Errors
/// [`XrayError::InvalidDaemonAddress`] for any other form or a name that does not resolve.
pub fn parse_daemon_address(value: &str) -> Result<SocketAddr, XrayError> {
    crate::xray_protocol::daemon_udp_address(value).ok_or_else(|| XrayError::InvalidDaemonAddress {
        value: value.to_owned(),
    })
}

/// Counters of what the emitter did, shared by every clone of a layer.
#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    dropped: AtomicU64,
    trimmed: AtomicU64,
    annotations_dropped: AtomicU64,
}

/// A snapshot of the emitter's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct XrayStats {
    /// Documents handed to the socket.
    pub sent: u64,
    /// Documents dropped: the socket was full or failed, or a document stayed over 64 KB.
    pub dropped: u64,
    /// Documents sent after trimming metadata, stacks or nested subsegments.
    pub trimmed: u64,
    /// Annotations left out because the trace already had 50, or their value was not a finite number.
    pub annotations_dropped: u64,
}

/// Sends documents to one daemon address. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Emitter {
    socket: Option<Arc<UdpSocket>>,
    target: SocketAddr,
    counters: Arc<Counters>,
}

impl fmt::Debug for Emitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emitter")
            .field("target", &self.target)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Emitter {
    /// An emitter for `target`. If no socket can be opened, every document is counted as dropped.
    pub(crate) fn new(target: SocketAddr) -> Self {
        Self {
            socket: open_socket(target).ok().map(Arc::new),
            target,
            counters: Arc::default(),
        }
    }

    pub(crate) fn stats(&self) -> XrayStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        XrayStats {
            sent: load(&self.counters.sent),
            dropped: load(&self.counters.dropped),
            trimmed: load(&self.counters.trimmed),
            annotations_dropped: load(&self.counters.annotations_dropped),
        }
    }

    pub(crate) fn count_dropped_annotations(&self, count: u64) {
        self.counters
            .annotations_dropped
            .fetch_add(count, Ordering::Relaxed);
    }

    /// Serialises `subsegment`, trimming it under 64 KB if needed, and sends it. Never blocks
    /// and never panics; failures are counted.
    pub(crate) fn emit(&self, mut subsegment: Subsegment) {
        let fits = |entity: &Subsegment| document_len(entity) <= MAX_DOCUMENT_BYTES;
        let mut datagram = DATAGRAM_HEADER.as_bytes().to_vec();
        let mut document = serde_json::to_vec(&subsegment.to_json()).unwrap_or_default();
        if document.len() > MAX_DOCUMENT_BYTES {
            if !subsegment.trim_to_fit(fits) {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            self.counters.trimmed.fetch_add(1, Ordering::Relaxed);
            document = serde_json::to_vec(&subsegment.to_json()).unwrap_or_default();
        }
        datagram.extend_from_slice(&document);
        let sent = match &self.socket {
            Some(socket) => socket.send_to(&datagram, self.target).is_ok(),
            None => false,
        };
        let counter = if sent {
            &self.counters.sent
        } else {
            &self.counters.dropped
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn document_len(subsegment: &Subsegment) -> usize {
    serde_json::to_vec(&subsegment.to_json()).map_or(usize::MAX, |bytes| bytes.len())
}

fn open_socket(target: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = match target {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::xray::{SegmentId, TraceId};

    #[test]
    fn daemon_addresses() {
        let ok = [
            ("127.0.0.1:2000", "127.0.0.1:2000"),
            ("169.254.79.2:2000", "169.254.79.2:2000"),
            ("tcp:127.0.0.1:2001 udp:127.0.0.1:2002", "127.0.0.1:2002"),
            ("udp:127.0.0.1:2002 tcp:127.0.0.1:2001", "127.0.0.1:2002"),
            ("  127.0.0.1:3000 ", "127.0.0.1:3000"),
            ("[::1]:2000", "[::1]:2000"),
        ];
        for (input, expected) in ok {
            let parsed = parse_daemon_address(input).map(|addr| addr.to_string());
            assert_eq!(parsed.ok().as_deref(), Some(expected), "{input}");
        }
        for bad in [
            "",
            "127.0.0.1",
            "127.0.0.1:notaport",
            ":2000",
            "udp:127.0.0.1:2000",
            "tcp:127.0.0.1:1 tcp:127.0.0.1:2",
            "tcp:127.0.0.1:1 udp:127.0.0.1:2 x",
            "tcp:127.0.0.1:1 udp:127.0.0.1",
            "127.0.0.1:70000",
        ] {
            assert!(
                matches!(
                    parse_daemon_address(bad),
                    Err(XrayError::InvalidDaemonAddress { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn sends_header_and_document() {
        let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind");
        receiver
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let emitter = Emitter::new(receiver.local_addr().expect("addr"));
        let sub = Subsegment::new("s", TraceId::generate(), SegmentId::generate());
        emitter.emit(sub.clone());
        let mut buffer = vec![0; 70_000];
        let len = receiver.recv(&mut buffer).expect("datagram");
        let text = std::str::from_utf8(&buffer[..len]).expect("utf8");
        let body = text.strip_prefix(DATAGRAM_HEADER).expect("header");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(body).expect("json"),
            sub.to_json()
        );
        assert!(lamina_local::xray::validate_document(body, SystemTime::now()).is_ok());
        assert_eq!(
            emitter.stats(),
            XrayStats {
                sent: 1,
                ..XrayStats::default()
            }
        );
    }

    #[test]
    fn oversized_documents_are_trimmed_or_dropped() {
        let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind");
        receiver
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let emitter = Emitter::new(receiver.local_addr().expect("addr"));
        let mut sub = Subsegment::new("s", TraceId::generate(), SegmentId::generate());
        sub.metadata.insert("big".into(), "x".repeat(70_000).into());
        emitter.emit(sub.clone());
        let mut buffer = vec![0; 70_000];
        let len = receiver.recv(&mut buffer).expect("datagram");
        assert!(len <= MAX_DATAGRAM_BYTES);
        let body = std::str::from_utf8(&buffer[DATAGRAM_HEADER.len()..len]).expect("utf8");
        assert!(!body.contains("metadata"));
        assert!(lamina_local::xray::validate_document(body, SystemTime::now()).is_ok());
        // A document of exactly the limit goes out whole.
        let mut exact = Subsegment::new("s", TraceId::generate(), SegmentId::generate());
        exact.metadata.insert("fill".into(), String::new().into());
        let padding = MAX_DOCUMENT_BYTES - exact.to_json().to_string().len();
        exact
            .metadata
            .insert("fill".into(), "z".repeat(padding).into());
        emitter.emit(exact);
        let len = receiver.recv(&mut buffer).expect("datagram");
        assert_eq!(len, MAX_DATAGRAM_BYTES);
        let body = std::str::from_utf8(&buffer[DATAGRAM_HEADER.len()..len]).expect("utf8");
        assert!(body.contains("zzz"));
        assert!(lamina_local::xray::validate_document(body, SystemTime::now()).is_ok());
        // Annotations are never trimmed; a document that stays too large is dropped.
        let mut huge = sub;
        for index in 0..400 {
            huge.annotations
                .push((format!("key{index}"), "y".repeat(240).as_str().into()));
        }
        emitter.emit(huge);
        assert_eq!(
            emitter.stats(),
            XrayStats {
                sent: 2,
                dropped: 1,
                trimmed: 1,
                annotations_dropped: 0
            }
        );
    }

    #[test]
    fn unreachable_daemon_never_fails_the_caller() {
        // Nothing listens here; sends still succeed locally or are counted as dropped.
        let emitter = Emitter::new("127.0.0.1:9".parse().expect("addr"));
        for _ in 0..100 {
            emitter.emit(Subsegment::new(
                "s",
                TraceId::generate(),
                SegmentId::generate(),
            ));
        }
        let stats = emitter.stats();
        assert_eq!(stats.sent + stats.dropped, 100);
    }
}
