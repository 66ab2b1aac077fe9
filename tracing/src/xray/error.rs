//! The module's error type.

/// What can go wrong setting up X-Ray tracing. Sending never fails: problems there are counted
/// in [`XrayStats`](super::XrayStats).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum XrayError {
    /// `AWS_XRAY_DAEMON_ADDRESS` (or the address given in code) is neither `host:port` nor
    /// `tcp:host:port udp:host:port`, or its host does not resolve.
    #[error(
        "invalid X-Ray daemon address {value:?}: expected host:port or tcp:host:port udp:host:port"
    )]
    InvalidDaemonAddress {
        /// The value as given.
        value: String,
    },
}
