//! The daemon's UDP framing: a JSON header line, `\n`, then one segment document.

use std::net::SocketAddr;

use tokio::net::UdpSocket;

use super::{RejectReason, Rejection, XrayError};

/// The header line every SDK writes before the document (without the newline).
pub const DATAGRAM_HEADER: &str = r#"{"format":"json","version":1}"#;

/// The daemon's receive buffer: a larger datagram would be truncated, so it is rejected.
pub const MAX_DATAGRAM_BYTES: usize = 64 * 1024;

/// Splits a daemon datagram into its header and document, and checks the header.
///
/// The header is parsed as JSON, as the real daemon does: whitespace does not matter,
/// `format` must be `"json"` (any case) and `version` must be `1`. Returns the document,
/// which still has to go through [`validate_document`](super::validate_document).
///
/// ```
/// use lamina_local::xray::parse_datagram;
///
/// let body = parse_datagram(b"{\"format\": \"JSON\", \"version\": 1}\n{\"id\":\"x\"}").unwrap();
/// assert_eq!(body, "{\"id\":\"x\"}");
/// ```
#[allow(
    clippy::result_large_err,
    reason = "a Rejection is the ordinary answer to bad input; boxing it would only add an allocation"
)]
pub fn parse_datagram(datagram: &[u8]) -> Result<&str, Rejection> {
    let lossy = || String::from_utf8_lossy(datagram);
    if datagram.len() > MAX_DATAGRAM_BYTES {
        let reason = RejectReason::DatagramTooLarge {
            size: datagram.len(),
        };
        return Err(Rejection::new(reason, &lossy()));
    }
    let text = std::str::from_utf8(datagram)
        .map_err(|_| Rejection::new(RejectReason::NotUtf8, &lossy()))?;
    let Some((header, body)) = text.split_once('\n') else {
        return Err(Rejection::new(RejectReason::MissingHeader, text));
    };
    if let Err(detail) = check_header(header) {
        return Err(Rejection::new(RejectReason::InvalidHeader { detail }, text));
    }
    if body.trim().is_empty() {
        return Err(Rejection::new(RejectReason::EmptyBody, text));
    }
    Ok(body)
}

fn check_header(header: &str) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_str(header).map_err(|error| format!("not JSON ({error})"))?;
    let format = value.get("format").and_then(serde_json::Value::as_str);
    if !format.is_some_and(|format| format.eq_ignore_ascii_case("json")) {
        return Err("format is not \"json\"".to_owned());
    }
    if value.get("version").and_then(serde_json::Value::as_u64) != Some(1) {
        return Err("version is not 1".to_owned());
    }
    Ok(())
}

/// The datagram an SDK sends for `document`: [`DATAGRAM_HEADER`], `\n`, then the document.
#[must_use]
pub fn encode_datagram(document: &str) -> Vec<u8> {
    let mut datagram = Vec::with_capacity(DATAGRAM_HEADER.len() + 1 + document.len());
    datagram.extend_from_slice(DATAGRAM_HEADER.as_bytes());
    datagram.push(b'\n');
    datagram.extend_from_slice(document.as_bytes());
    datagram
}

/// Sends one segment document to the daemon at `daemon`, framed as the SDKs do.
///
/// Fire-and-forget like every X-Ray SDK: success means the datagram left the socket, not
/// that a daemon accepted it.
///
/// ```no_run
/// # async fn demo() -> Result<(), lamina_local::xray::XrayError> {
/// use tokio::net::UdpSocket;
///
/// let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
/// let document = r#"{"name":"api","id":"70de5b6f19ff9a0a","trace_id":"1-5759e988-bd862e3fe1be46a994272793","start_time":1.0,"end_time":2.0}"#;
/// lamina_local::xray::send_document(&socket, "127.0.0.1:2000".parse().expect("addr"), document).await?;
/// # Ok(())
/// # }
/// ```
pub async fn send_document(
    socket: &UdpSocket,
    daemon: SocketAddr,
    document: &str,
) -> Result<(), XrayError> {
    socket
        .send_to(&encode_datagram(document), daemon)
        .await
        .map(|_| ())
        .map_err(|source| XrayError::Send {
            addr: daemon,
            source,
        })
}

/// Sends one segment document to the daemon at `daemon` (`host:port`: an IPv4 or IPv6 address, or a
/// host name), from a socket of the daemon's address family, blocking only for the name lookup.
///
/// For the emulator's own segments (the Lambda function's and API Gateway's), sent once per
/// invocation from synchronous code.
pub(crate) fn send_to_daemon(daemon: &str, document: &str) -> std::io::Result<()> {
    use std::net::{Ipv4Addr, Ipv6Addr, ToSocketAddrs as _};
    let address = daemon.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{daemon:?} resolves to no address"),
        )
    })?;
    let local: SocketAddr = if address.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = std::net::UdpSocket::bind(local)?;
    socket.send_to(&encode_datagram(document), address)?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn accepts_header_variants() {
        let cases: &[&[u8]] = &[
            b"{\"format\":\"json\",\"version\":1}\n{}",
            b"{\"format\": \"json\", \"version\": 1}\n{}",
            b" { \"version\" : 1 , \"format\" : \"JSON\" } \n{}",
            b"{\"format\":\"Json\",\"version\":1,\"extra\":true}\n{}",
        ];
        for case in cases {
            assert_eq!(
                parse_datagram(case),
                Ok("{}"),
                "{}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn body_keeps_everything_after_the_first_newline() {
        let datagram = encode_datagram("{\"a\":\n1}");
        assert_eq!(parse_datagram(&datagram).unwrap(), "{\"a\":\n1}");
    }

    #[test]
    fn rejects_each_malformation() {
        let oversized = [
            b"{\"format\":\"json\",\"version\":1}\n".as_slice(),
            &[b' '; 65_536],
        ]
        .concat();
        let cases: Vec<(&[u8], RejectReason)> = vec![
            (b"\xff\xfe\n{}", RejectReason::NotUtf8),
            (
                b"{\"format\":\"json\",\"version\":1}",
                RejectReason::MissingHeader,
            ),
            (b"", RejectReason::MissingHeader),
            (
                b"{\"format\":\"json\",\"version\":1}\n",
                RejectReason::EmptyBody,
            ),
            (
                b"{\"format\":\"json\",\"version\":1}\n  \n",
                RejectReason::EmptyBody,
            ),
            (
                b"{\"format\":\"xml\",\"version\":1}\n{}",
                RejectReason::InvalidHeader {
                    detail: "format is not \"json\"".into(),
                },
            ),
            (
                b"{\"version\":1}\n{}",
                RejectReason::InvalidHeader {
                    detail: "format is not \"json\"".into(),
                },
            ),
            (
                b"{\"format\":\"json\",\"version\":2}\n{}",
                RejectReason::InvalidHeader {
                    detail: "version is not 1".into(),
                },
            ),
            (
                b"{\"format\":\"json\",\"version\":\"1\"}\n{}",
                RejectReason::InvalidHeader {
                    detail: "version is not 1".into(),
                },
            ),
            (
                &oversized,
                RejectReason::DatagramTooLarge {
                    size: oversized.len(),
                },
            ),
        ];
        for (datagram, expected) in cases {
            let rejection = parse_datagram(datagram).unwrap_err();
            assert_eq!(
                rejection.reason,
                expected,
                "{}",
                String::from_utf8_lossy(datagram)
            );
        }
        let not_json = parse_datagram(b"format=json\n{}").unwrap_err();
        assert!(
            matches!(&not_json.reason, RejectReason::InvalidHeader { detail } if detail.starts_with("not JSON")),
            "{not_json}"
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_datagram(&bytes);
        }

        #[test]
        fn round_trips_any_document(document in "\\PC*") {
            prop_assume!(!document.trim().is_empty());
            let datagram = encode_datagram(&document);
            prop_assert_eq!(parse_datagram(&datagram), Ok(document.as_str()));
        }
    }
}
