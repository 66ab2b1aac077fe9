//! The handshake (answered by hyper, with `101 Switching Protocols`) and one task per open socket.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::connections::new_connection_id;
use super::{WebSocketMessage, WebSocketRoute};
use crate::init::local_server::{full_response, problem};

/// How long the client has to take the upgraded connection after the `101`.
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one frame may take to go out before the client counts as dead.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing socket waits for the client's close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// The server's side of every socket: the stop signal, and the count of sockets still open that
/// shutdown waits for.
#[derive(Debug, Clone)]
pub(crate) struct Sockets {
    stop: watch::Receiver<bool>,
    open: Arc<watch::Sender<usize>>,
}

impl Sockets {
    pub(crate) fn new(stop: watch::Receiver<bool>) -> Self {
        Self {
            stop,
            open: Arc::new(watch::Sender::new(0)),
        }
    }

    /// Waits until every socket has closed and its `on_disconnect` has returned.
    pub(crate) async fn closed(&self) {
        let mut open = self.open.subscribe();
        let _ = open.wait_for(|open| *open == 0).await;
    }

    fn opened(&self) -> OpenSocket {
        self.open.send_modify(|open| *open += 1);
        OpenSocket(Arc::clone(&self.open))
    }
}

/// Counts one socket as open until dropped.
struct OpenSocket(Arc<watch::Sender<usize>>);

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.send_modify(|open| *open = open.saturating_sub(1));
    }
}

/// Answers a request to `route`'s path: a refusal, or `101` with the socket's task started.
pub(crate) async fn upgrade(
    route: &WebSocketRoute,
    mut request: Request<Incoming>,
    sockets: &Sockets,
) -> Response<Full<Bytes>> {
    let on_upgrade = hyper::upgrade::on(&mut request);
    let (parts, _body) = request.into_parts();
    let accept = match accept_key(&parts.method, parts.version, &parts.headers) {
        Ok(accept) => accept,
        Err(refusal) => return refusal.response(),
    };
    if *sockets.stop.borrow() {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        );
    }
    let id = new_connection_id();
    if let Err(refusal) = route.handler.on_connect(&id, &parts).await {
        tracing::debug!(connection_id = %id, status = %refusal.status(), "WebSocket connection refused");
        return full_response(refusal);
    }
    let outgoing = route.connections.open(&id);
    let open = sockets.opened();
    tracing::debug!(connection_id = %id, path = %route.path, "WebSocket connected");
    tokio::spawn(run(
        route.clone(),
        id,
        on_upgrade,
        outgoing,
        sockets.stop.clone(),
        open,
    ));
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}

/// Why a request to a WebSocket path is not a handshake the route can accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Not an HTTP/1.1 WebSocket upgrade: `426`.
    NotUpgrade,
    /// Another method than GET: `405`.
    Method,
    /// Another protocol version than 13: `426`.
    Version,
    /// No `Sec-WebSocket-Key`, or not 16 bytes in base64: `400`.
    Key,
}

impl Refusal {
    fn response(self) -> Response<Full<Bytes>> {
        let (status, detail) = match self {
            Self::NotUpgrade => (
                StatusCode::UPGRADE_REQUIRED,
                "this path only serves WebSocket connections",
            ),
            Self::Method => (
                StatusCode::METHOD_NOT_ALLOWED,
                "a WebSocket handshake is a GET",
            ),
            Self::Version => (
                StatusCode::UPGRADE_REQUIRED,
                "only WebSocket version 13 is supported",
            ),
            Self::Key => (
                StatusCode::BAD_REQUEST,
                "Sec-WebSocket-Key must be 16 bytes in base64",
            ),
        };
        let mut response = problem(status, detail);
        let headers = response.headers_mut();
        if status == StatusCode::UPGRADE_REQUIRED {
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            headers.insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
        }
        if self == Self::Method {
            headers.insert(header::ALLOW, HeaderValue::from_static("GET"));
        }
        response
    }
}

/// The `Sec-WebSocket-Accept` value for a well-formed RFC 6455 handshake.
fn accept_key(
    method: &Method,
    version: Version,
    headers: &HeaderMap,
) -> Result<HeaderValue, Refusal> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|value| {
                value
                    .split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    let is_upgrade = version == Version::HTTP_11
        && has_token(header::CONNECTION, "upgrade")
        && has_token(header::UPGRADE, "websocket");
    if !is_upgrade {
        return Err(Refusal::NotUpgrade);
    }
    if method != Method::GET {
        return Err(Refusal::Method);
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|version| version != "13")
    {
        return Err(Refusal::Version);
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|key| {
            STANDARD
                .decode(key.as_bytes())
                .is_ok_and(|raw| raw.len() == 16)
        })
        .ok_or(Refusal::Key)?;
    HeaderValue::from_str(&derive_accept_key(key.as_bytes())).map_err(|_| Refusal::Key)
}

/// One socket's life: take the upgraded connection, move messages both ways until either side
/// ends it or the server stops, then forget it and call `on_disconnect`.
async fn run(
    route: WebSocketRoute,
    id: String,
    on_upgrade: OnUpgrade,
    outgoing: mpsc::Receiver<WebSocketMessage>,
    stop: watch::Receiver<bool>,
    open: OpenSocket,
) {
    match tokio::time::timeout(UPGRADE_TIMEOUT, on_upgrade).await {
        Ok(Ok(upgraded)) => {
            let config = WebSocketConfig::default()
                .max_message_size(Some(route.max_message_bytes))
                .max_frame_size(Some(route.max_message_bytes));
            let socket = WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                Some(config),
            )
            .await;
            let end = pump(&route, &id, socket, outgoing, stop).await;
            tracing::debug!(connection_id = %id, ?end, "WebSocket disconnected");
        }
        Ok(Err(error)) => tracing::debug!(connection_id = %id, %error, "WebSocket upgrade failed"),
        Err(_) => tracing::debug!(connection_id = %id, "WebSocket upgrade timed out"),
    }
    route.connections.remove(&id);
    route.handler.on_disconnect(&id).await;
    drop(open);
}

/// Why a socket ended (for the debug log).
#[derive(Debug)]
enum End {
    /// The client closed it or the connection dropped.
    Client,
    /// The server is shutting down (close code 1001).
    Shutdown,
    /// [`WebSocketConnections::close`](super::WebSocketConnections::close) (close code 1000).
    Closed,
    /// The client sent a message over the limit (close code 1009).
    TooBig,
    /// A frame could not be written in time, or at all.
    WriteFailed,
}

async fn pump(
    route: &WebSocketRoute,
    id: &str,
    mut socket: Socket,
    mut outgoing: mpsc::Receiver<WebSocketMessage>,
    mut stop: watch::Receiver<bool>,
) -> End {
    loop {
        tokio::select! {
            // A closed stop channel means the server is gone: stop as well.
            () = stopped(&mut stop) => {
                close(&mut socket, CloseCode::Away, "server shutting down").await;
                return End::Shutdown;
            }
            message = outgoing.recv() => {
                let Some(message) = message else {
                    close(&mut socket, CloseCode::Normal, "closed by the server").await;
                    return End::Closed;
                };
                let frame = match message {
                    WebSocketMessage::Text(text) => Message::text(text),
                    WebSocketMessage::Binary(bytes) => Message::binary(bytes),
                };
                // A client that stopped reading must not hold up shutdown: its socket is
                // dropped without a close frame, which could not go out either.
                tokio::select! {
                    sent = tokio::time::timeout(WRITE_TIMEOUT, socket.send(frame)) => {
                        if !matches!(sent, Ok(Ok(()))) {
                            return End::WriteFailed;
                        }
                    }
                    () = stopped(&mut stop) => return End::Shutdown,
                }
            }
            incoming = socket.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let message = WebSocketMessage::Text(text.as_str().to_owned());
                    route.handler.on_message(id, message).await;
                }
                Some(Ok(Message::Binary(bytes))) => {
                    route.handler.on_message(id, WebSocketMessage::Binary(bytes)).await;
                }
                // Pings are answered by tungstenite on the next read; a close frame is answered
                // likewise, and the stream then ends.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_))) => {}
                Some(Err(WsError::Capacity(_))) => {
                    close(&mut socket, CloseCode::Size, "message too big").await;
                    return End::TooBig;
                }
                Some(Err(_)) | None => return End::Client,
            },
        }
    }
}

/// Returns once the server stops (or is gone), holding no borrow of the channel.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Sends a close frame, then waits briefly for the client's, so the close handshake completes.
async fn close(socket: &mut Socket, code: CloseCode, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let handshake = async {
        if socket.close(Some(frame)).await.is_ok() {
            while let Some(Ok(_)) = socket.next().await {}
        }
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, handshake).await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn handshakes_are_checked() {
        let good = [
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "WebSocket"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, HeaderValue::from_static(value));
            }
            map
        };
        let without = |name: &str| {
            let kept: Vec<_> = good.iter().copied().filter(|(n, _)| *n != name).collect();
            headers(&kept)
        };
        let with = |name: &'static str, value: &'static str| {
            let mut map = headers(&good);
            map.insert(name, HeaderValue::from_static(value));
            map
        };
        // RFC 6455's own example.
        assert_eq!(
            accept_key(&Method::GET, Version::HTTP_11, &headers(&good)).unwrap(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let cases: [(Method, Version, HeaderMap, StatusCode); 7] = [
            (
                Method::GET,
                Version::HTTP_11,
                without("upgrade"),
                StatusCode::UPGRADE_REQUIRED,
            ),
            (
                Method::GET,
                Version::HTTP_11,
                without("connection"),
                StatusCode::UPGRADE_REQUIRED,
            ),
            (
                Method::GET,
                Version::HTTP_2,
                headers(&good),
                StatusCode::UPGRADE_REQUIRED,
            ),
            (
                Method::POST,
                Version::HTTP_11,
                headers(&good),
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            (
                Method::GET,
                Version::HTTP_11,
                with("sec-websocket-version", "8"),
                StatusCode::UPGRADE_REQUIRED,
            ),
            (
                Method::GET,
                Version::HTTP_11,
                without("sec-websocket-key"),
                StatusCode::BAD_REQUEST,
            ),
            (
                Method::GET,
                Version::HTTP_11,
                with("sec-websocket-key", "c2hvcnQ="),
                StatusCode::BAD_REQUEST,
            ),
        ];
        for (method, version, headers, status) in cases {
            let refusal = accept_key(&method, version, &headers)
                .unwrap_err()
                .response();
            assert_eq!(refusal.status(), status, "{method} {version:?} {headers:?}");
            assert_eq!(
                refusal.headers()[header::CONTENT_TYPE],
                "application/problem+json"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_handshake_headers_are_refused_or_accepted_without_panic(
            connection in proptest::prop_oneof!["keep-alive, Upgrade", "[ -~]{0,24}"],
            upgrade in proptest::prop_oneof!["websocket", "[ -~]{0,24}"],
            version in proptest::prop_oneof!["13", "[ -~]{0,4}"],
            key in proptest::prop_oneof!["[A-Za-z0-9+/]{21}[AQgw]==", "[ -~]{0,30}"],
        ) {
            let mut headers = HeaderMap::new();
            for (name, value) in [
                (header::CONNECTION, &connection),
                (header::UPGRADE, &upgrade),
                (header::SEC_WEBSOCKET_VERSION, &version),
                (header::SEC_WEBSOCKET_KEY, &key),
            ] {
                if let Ok(value) = HeaderValue::from_str(value) {
                    headers.insert(name, value);
                }
            }
            let upgrade_asked = connection.to_ascii_lowercase().contains("upgrade")
                && upgrade.to_ascii_lowercase().contains("websocket");
            if accept_key(&Method::GET, Version::HTTP_11, &headers).is_ok() {
                proptest::prop_assert!(upgrade_asked);
                proptest::prop_assert_eq!(version.as_str(), "13");
                proptest::prop_assert_eq!(STANDARD.decode(key.as_bytes()).map(|raw| raw.len()), Ok(16));
            }
        }
    }
}
