//! The UDP server: receives datagrams, validates and stores documents, forwards them; and the
//! TCP sampling proxy on the same port.

use std::{
    fmt,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::{
    net::{TcpListener, UdpSocket},
    sync::{Notify, broadcast, mpsc, watch},
    task::JoinHandle,
    time::Instant,
};

use super::{
    Clock, Rejection, Stats, SystemClock, Trace, XrayError,
    datagram::{MAX_DATAGRAM_BYTES, parse_datagram},
    forward,
    sampling_proxy::{self, SamplingProxy, SamplingRule, SamplingStatistics},
    stats::Counters,
    store::Store,
    trace::MissingParts,
    validate_document,
};

/// The daemon's default address, `127.0.0.1:2000`.
pub const DEFAULT_DAEMON_ADDRESS: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 2000);

/// How to run an [`XrayCollector`].
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    bind: SocketAddr,
    forward: Option<aws_sdk_xray::Config>,
    forward_idle: Duration,
    max_traces: usize,
    max_rejections: usize,
    clock: Arc<dyn Clock>,
    sampling_rules: Vec<SamplingRule>,
    sampling_interval: Duration,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            bind: DEFAULT_DAEMON_ADDRESS,
            forward: None,
            forward_idle: Duration::from_secs(1),
            max_traces: 1000,
            max_rejections: 1000,
            clock: Arc::new(SystemClock),
            sampling_rules: Vec::new(),
            sampling_interval: Duration::from_secs(10),
        }
    }
}

impl CollectorConfig {
    /// The defaults: listen on `127.0.0.1:2000`, no forwarding, keep 1000 traces and 1000
    /// rejections, check trace ids against the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Listens on `addr` instead; port 0 picks a free port (see [`XrayCollector::local_addr`]).
    #[must_use]
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Forwards every accepted document to `PutTraceSegments` with a client built from
    /// `config`, e.g. `forward_to(&sdk_config)` with an `aws_config::SdkConfig`.
    #[must_use]
    pub fn forward_to(mut self, config: impl Into<aws_sdk_xray::Config>) -> Self {
        self.forward = Some(config.into());
        self
    }

    /// Sends a partial batch after this long without a new document (default 1 s, as the
    /// daemon does).
    #[must_use]
    pub fn forward_idle(mut self, idle: Duration) -> Self {
        self.forward_idle = idle;
        self
    }

    /// Keeps at most this many traces (at least 1); the oldest is forgotten first.
    #[must_use]
    pub fn max_traces(mut self, max: usize) -> Self {
        self.max_traces = max;
        self
    }

    /// Keeps at most this many rejections; they are all counted in [`Stats::rejected`].
    #[must_use]
    pub fn max_rejections(mut self, max: usize) -> Self {
        self.max_rejections = max;
        self
    }

    /// Checks trace-id ages against `clock` instead of the system clock.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The rules the sampling proxy serves (default: none, which serves the service's
    /// `Default` rule, priority 10000, 1 request per second then 5%); see
    /// [`XrayCollector::set_sampling_rules`] to change them while running.
    #[must_use]
    pub fn sampling_rules(mut self, rules: Vec<SamplingRule>) -> Self {
        self.sampling_rules = rules;
        self
    }

    /// The `Interval` the sampling proxy tells clients to report at (default 10 s, as the
    /// service; whole seconds, at least 1). Shorter makes tests of sampling clients faster.
    #[must_use]
    pub fn sampling_interval(mut self, interval: Duration) -> Self {
        self.sampling_interval = interval;
        self
    }
}

/// A running X-Ray daemon stand-in. Dropping it stops listening; [`shutdown`](Self::shutdown)
/// also waits for the last forwarding batch.
///
/// Like the daemon, it also listens on TCP on the same port (on loopback): a stand-in for the
/// daemon's sampling proxy answering `POST /GetSamplingRules` and `POST /SamplingTargets` with
/// the rules of [`CollectorConfig::sampling_rules`]. Each target gives a reporting client the
/// rule's `ReservoirSize` divided by the clients that reported it in the last minute, valid
/// for 10 s. Malformed bodies get a 400 with a JSON error.
pub struct XrayCollector {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    sampling: Arc<SamplingProxy>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Option<Tasks>>,
}

/// The background tasks, taken out by the first `shutdown`.
#[derive(Debug)]
struct Tasks {
    receive: JoinHandle<()>,
    forward: Option<JoinHandle<()>>,
    sampling: JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    clock: Arc<dyn Clock>,
    store: Mutex<Store>,
    counters: Arc<Counters>,
    changed: Notify,
    completed: broadcast::Sender<Trace>,
}

impl XrayCollector {
    /// Binds the UDP socket and the TCP listener of the sampling proxy (the same port, on
    /// loopback) and starts receiving (and forwarding, if configured).
    ///
    /// # Errors
    /// [`XrayError::Bind`] when the UDP address cannot be bound, [`XrayError::BindSampling`]
    /// when the TCP port next to it cannot (e.g. it is in use); the error names the address
    /// that failed.
    pub async fn start(config: CollectorConfig) -> Result<Self, XrayError> {
        let (socket, local_addr, listener) = bind(config.bind).await?;
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared {
            clock: config.clock,
            store: Mutex::new(Store::new(config.max_traces, config.max_rejections)),
            counters: Arc::clone(&counters),
            changed: Notify::new(),
            completed: broadcast::channel(256).0,
        });
        let (forwarder, forward_task) = match config.forward {
            Some(client_config) => {
                let (sender, task) = forward::spawn(client_config, config.forward_idle, counters);
                (Some(sender), Some(task))
            }
            None => (None, None),
        };
        let (stop, stopped) = watch::channel(false);
        let sampling = Arc::new(SamplingProxy::new(
            config.sampling_rules,
            config.sampling_interval,
        ));
        let sampling_task = sampling_proxy::spawn(listener, Arc::clone(&sampling), stopped.clone());
        let receive_task = tokio::spawn(receive(socket, Arc::clone(&shared), forwarder, stopped));
        Ok(Self {
            local_addr,
            shared,
            sampling,
            stop,
            tasks: Mutex::new(Some(Tasks {
                receive: receive_task,
                forward: forward_task,
                sampling: sampling_task,
            })),
        })
    }

    /// Replaces the rules the sampling proxy serves (none: the `Default` rule). The next
    /// `SamplingTargets` answer carries a newer `LastRuleModification`, which tells clients
    /// to fetch the rules again.
    pub fn set_sampling_rules(&self, rules: Vec<SamplingRule>) {
        self.sampling.set_rules(rules);
    }

    /// Every statistics document the sampling proxy accepted, oldest first.
    #[must_use]
    pub fn sampling_statistics(&self) -> Vec<SamplingStatistics> {
        self.sampling.statistics()
    }

    /// The address the socket is bound to.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The value for `AWS_XRAY_DAEMON_ADDRESS` (`127.0.0.1:PORT`; a wildcard bind address is
    /// given as loopback).
    #[must_use]
    pub fn daemon_address(&self) -> String {
        let mut addr = self.local_addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(if addr.is_ipv4() {
                Ipv4Addr::LOCALHOST.into()
            } else {
                Ipv6Addr::LOCALHOST.into()
            });
        }
        addr.to_string()
    }

    /// Waits until the trace is complete (a segment, nothing in progress, no orphan) and
    /// returns it.
    ///
    /// # Errors
    /// After `timeout`: [`XrayError::TraceNotReceived`] if no document of the trace arrived,
    /// else [`XrayError::TraceIncomplete`] listing the open entities and orphan parent ids.
    pub async fn wait_for_trace(
        &self,
        trace_id: &str,
        timeout: Duration,
    ) -> Result<Trace, XrayError> {
        let deadline = Instant::now() + timeout;
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let trace = self.trace(trace_id);
            if let Some(trace) = trace.as_ref().filter(|trace| trace.is_complete()) {
                return Ok(trace.clone());
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                let trace_id = trace_id.to_owned();
                return Err(match self.trace(&trace_id) {
                    Some(trace) if trace.is_complete() => return Ok(trace),
                    Some(trace) => XrayError::TraceIncomplete {
                        trace_id,
                        waited: timeout,
                        missing: MissingParts(trace.missing().to_vec()),
                    },
                    None => XrayError::TraceNotReceived {
                        trace_id,
                        waited: timeout,
                    },
                });
            }
        }
    }

    /// A snapshot of every stored trace, complete or not, oldest first.
    #[must_use]
    pub fn traces(&self) -> Vec<Trace> {
        self.shared.store().traces()
    }

    /// A snapshot of one trace, if any document of it was accepted (and it was not evicted).
    #[must_use]
    pub fn trace(&self, trace_id: &str) -> Option<Trace> {
        self.shared.store().trace(trace_id)
    }

    /// The most recent rejections, oldest first.
    #[must_use]
    pub fn rejections(&self) -> Vec<Rejection> {
        self.shared.store().rejections()
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// A receiver of every trace at the moment it becomes complete (again, if a later
    /// document reopened it). Slow receivers miss traces rather than block the collector.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Trace> {
        self.shared.completed.subscribe()
    }

    /// Stops listening (after handling datagrams already queued on the socket) and sends the
    /// last forwarding batch. Calling it again does nothing.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let tasks = self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(Tasks {
            receive: receive_task,
            forward: forward_task,
            sampling: sampling_task,
        }) = tasks
        {
            // Idle keep-alive connections of clients end at once; a client in the middle of a
            // call gets a second to finish.
            let abort = sampling_task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(1), sampling_task)
                .await
                .is_err()
            {
                abort.abort();
            }
            if let Err(error) = receive_task.await {
                tracing::warn!(%error, "the X-Ray receive task failed");
            }
            if let Some(Err(error)) = match forward_task {
                Some(task) => Some(task.await),
                None => None,
            } {
                tracing::warn!(%error, "the X-Ray forwarding task failed");
            }
        }
    }
}

impl fmt::Debug for XrayCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XrayCollector")
            .field("local_addr", &self.local_addr)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[allow(
        clippy::result_large_err,
        reason = "a Rejection is the ordinary answer to bad input; boxing it would only add an allocation"
    )]
    fn handle(&self, datagram: &[u8], forwarder: Option<&mpsc::Sender<String>>) {
        Counters::add(&self.counters.received, 1);
        let validated =
            parse_datagram(datagram).and_then(|body| validate_document(body, self.clock.now()));
        let accepted = validated.and_then(|document| self.store().accept(document));
        match accepted {
            Ok(accepted) => {
                Counters::add(&self.counters.accepted, 1);
                if let Some(trace) = accepted.completed {
                    let _no_subscribers = self.completed.send(trace);
                }
                self.changed.notify_waiters();
                if let Some(forwarder) = forwarder
                    && forwarder.try_send(accepted.raw).is_err()
                {
                    tracing::warn!("X-Ray forwarding queue is full; dropping a segment document");
                    Counters::add(&self.counters.forward_failed, 1);
                }
            }
            Err(rejection) => {
                tracing::warn!(%rejection, "X-Ray collector rejected a datagram");
                Counters::add(&self.counters.rejected, 1);
                self.store().reject(rejection);
            }
        }
    }
}

/// Binds UDP on `addr` and TCP on the same port on loopback. With port 0, a port whose TCP
/// side is taken is given back and another one tried.
async fn bind(addr: SocketAddr) -> Result<(UdpSocket, SocketAddr, TcpListener), XrayError> {
    let mut attempts = 0;
    loop {
        let socket = UdpSocket::bind(addr)
            .await
            .map_err(|source| XrayError::Bind { addr, source })?;
        let local_addr = socket
            .local_addr()
            .map_err(|source| XrayError::LocalAddr { source })?;
        let tcp = sampling_proxy::tcp_address(local_addr);
        match TcpListener::bind(tcp).await {
            Ok(listener) => return Ok((socket, local_addr, listener)),
            Err(error)
                if addr.port() == 0
                    && attempts < 10
                    && error.kind() == std::io::ErrorKind::AddrInUse =>
            {
                attempts += 1;
            }
            Err(source) => return Err(XrayError::BindSampling { addr: tcp, source }),
        }
    }
}

async fn receive(
    socket: UdpSocket,
    shared: Arc<Shared>,
    forwarder: Option<mpsc::Sender<String>>,
    mut stop: watch::Receiver<bool>,
) {
    // One byte more than the daemon's buffer, so an oversized datagram is seen as such.
    let mut buffer = vec![0_u8; MAX_DATAGRAM_BYTES + 1];
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buffer) => match received {
                Ok((len, _from)) => shared.handle(&buffer[..len], forwarder.as_ref()),
                Err(error) => {
                    tracing::warn!(%error, "X-Ray collector failed to receive a datagram");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
    while let Ok((len, _from)) = socket.try_recv_from(&mut buffer) {
        shared.handle(&buffer[..len], forwarder.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::xray::{FixedClock, send_document};

    const TRACE: &str = "1-6553f100-0123456789abcdef01234567";

    fn config() -> CollectorConfig {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(0x6553_f100);
        CollectorConfig::new()
            .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .clock(FixedClock(now))
    }

    #[tokio::test]
    async fn a_port_in_use_is_a_clear_error() -> Result<(), Box<dyn std::error::Error>> {
        let taken = UdpSocket::bind("127.0.0.1:0").await?;
        let addr = taken.local_addr()?;
        let Err(error) = XrayCollector::start(config().bind(addr)).await else {
            return Err("binding a taken port succeeded".into());
        };
        assert_eq!(
            error.to_string(),
            format!(
                "cannot listen for X-Ray segments on {addr} (is another X-Ray daemon running?)"
            )
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_taken_tcp_port_is_a_clear_error() -> Result<(), Box<dyn std::error::Error>> {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = taken.local_addr()?;
        let Err(error) = XrayCollector::start(config().bind(addr)).await else {
            return Err("binding a taken TCP port succeeded".into());
        };
        assert!(matches!(error, XrayError::BindSampling { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!(
                "cannot listen for X-Ray sampling requests on {addr} (is another X-Ray daemon running?)"
            )
        );
        Ok(())
    }

    #[tokio::test]
    async fn waits_for_completion_and_explains_timeouts() -> Result<(), Box<dyn std::error::Error>>
    {
        let collector = XrayCollector::start(config()).await?;
        assert_eq!(
            collector.daemon_address(),
            format!("127.0.0.1:{}", collector.local_addr().port())
        );
        let mut completed = collector.subscribe();
        let error = collector
            .wait_for_trace(TRACE, Duration::from_millis(50))
            .await
            .err()
            .ok_or("no timeout")?;
        assert_eq!(
            error.to_string(),
            format!("trace {TRACE} not received within 50ms: no documents received for this trace")
        );

        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let daemon = collector.local_addr();
        let child = format!(
            r#"{{"type":"subsegment","name":"child","id":"00000000000000b1","parent_id":"00000000000000a1","trace_id":"{TRACE}","start_time":1.5,"end_time":2}}"#
        );
        send_document(&socket, daemon, &child).await?;
        let error = collector
            .wait_for_trace(TRACE, Duration::from_millis(200))
            .await
            .err()
            .ok_or("no timeout")?;
        assert_eq!(
            error.to_string(),
            format!(
                "trace {TRACE} not complete within 200ms: no segment received (only subsegments); \
                 \"child\" (00000000000000b1) has orphan parent id 00000000000000a1"
            )
        );

        let waiter = collector.wait_for_trace(TRACE, Duration::from_secs(5));
        let segment = format!(
            r#"{{"name":"api","id":"00000000000000a1","trace_id":"{TRACE}","start_time":1,"end_time":3}}"#
        );
        let (trace, ()) = tokio::join!(waiter, async {
            let _ = send_document(&socket, daemon, &segment).await;
        });
        let trace = trace?;
        assert_eq!(trace.roots()[0].child_names(), ["child"]);
        assert_eq!(completed.recv().await?.id(), TRACE);
        collector.shutdown().await;
        let stats = collector.stats();
        assert_eq!(
            (
                stats.received,
                stats.accepted,
                stats.rejected,
                stats.forwarded
            ),
            (2, 2, 0, 0)
        );
        Ok(())
    }
}
