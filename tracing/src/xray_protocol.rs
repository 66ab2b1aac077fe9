//! Facts of the X-Ray daemon protocol shared by the native X-Ray layer and the OpenTelemetry path,
//! so that both read `AWS_XRAY_DAEMON_ADDRESS` by one rule.
//!
//! The address forms are those of the X-Ray SDKs' daemon configuration ("Configuring the X-Ray
//! SDK", docs.aws.amazon.com/xray/latest/devguide): `host:port` for both UDP and TCP, or
//! `tcp:host:port udp:host:port` in either order.

use std::net::{SocketAddr, ToSocketAddrs as _};

/// The daemon's UDP address from an `AWS_XRAY_DAEMON_ADDRESS` value, or `None` for any other
/// form, a port that is not a number, or a host name that does not resolve. Host names
/// (`localhost:2000`) are resolved here, once; in the two-part form the TCP part must resolve too.
pub(crate) fn daemon_udp_address(value: &str) -> Option<SocketAddr> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let udp = match parts.as_slice() {
        [single] if !single.starts_with("tcp:") && !single.starts_with("udp:") => *single,
        [first, second] => {
            let (tcp, udp) = match (first.split_once(':'), second.split_once(':')) {
                (Some(("tcp", tcp)), Some(("udp", udp)))
                | (Some(("udp", udp)), Some(("tcp", tcp))) => (tcp, udp),
                _ => return None,
            };
            resolve(tcp)?;
            udp
        }
        _ => return None,
    };
    resolve(udp)
}

fn resolve(host_port: &str) -> Option<SocketAddr> {
    let (host, port) = host_port.rsplit_once(':')?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return None;
    }
    host_port.to_socket_addrs().ok()?.next()
}
