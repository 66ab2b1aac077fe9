//! What a WebSocket route calls: the `$connect`, `$default` and `$disconnect` of an API Gateway
//! WebSocket API, as one trait.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http::Response;
use lambda_http::Body;

/// The future a [`WebSocketHandler`] method returns (boxed, so routes can hold any handler).
pub type WebSocketFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One message from or to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebSocketMessage {
    /// A text frame (UTF-8).
    Text(String),
    /// A binary frame.
    Binary(Bytes),
}

impl WebSocketMessage {
    /// The payload's bytes, whatever the frame type.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(text) => text.as_bytes(),
            Self::Binary(bytes) => bytes,
        }
    }

    /// A text message when `bytes` is UTF-8 (JSON, for example), else a binary one: what API
    /// Gateway's `PostToConnection` delivers for the same data.
    #[must_use]
    pub fn from_payload(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::Text(text.to_owned()),
            Err(_) => Self::Binary(Bytes::copy_from_slice(bytes)),
        }
    }
}

impl From<String> for WebSocketMessage {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<&str> for WebSocketMessage {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<Bytes> for WebSocketMessage {
    fn from(bytes: Bytes) -> Self {
        Self::Binary(bytes)
    }
}

impl From<Vec<u8>> for WebSocketMessage {
    fn from(bytes: Vec<u8>) -> Self {
        Self::Binary(bytes.into())
    }
}

/// The routes of a WebSocket API, called by a [`WebSocketRoute`](super::WebSocketRoute).
///
/// Each connection gets an id (opaque, visible ASCII, like API Gateway's `connectionId`) before
/// [`on_connect`](Self::on_connect) runs; the same id names it in the other calls and in
/// [`WebSocketConnections::send`](super::WebSocketConnections::send). For one connection the calls
/// never overlap: `on_connect`, then `on_message` one at a time, then `on_disconnect` exactly
/// once when `on_connect` accepted it (whether the client left, the server closed the connection,
/// or the server shut down).
///
/// ```
/// use http::{Response, StatusCode, request::Parts};
/// use lambda_http::Body;
/// use lamina_middleware::init::{WebSocketFuture, WebSocketHandler};
///
/// /// Lets in clients whose query string carries `key=open-sesame`.
/// struct Doorman;
///
/// impl WebSocketHandler for Doorman {
///     fn on_connect<'a>(
///         &'a self,
///         connection_id: &'a str,
///         request: &'a Parts,
///     ) -> WebSocketFuture<'a, Result<(), Response<Body>>> {
///         Box::pin(async move {
///             if request.uri.query() == Some("key=open-sesame") {
///                 println!("{connection_id} connected");
///                 return Ok(());
///             }
///             let mut refusal = Response::new(Body::from("no key"));
///             *refusal.status_mut() = StatusCode::FORBIDDEN;
///             Err(refusal)
///         })
///     }
///
///     fn on_disconnect<'a>(&'a self, connection_id: &'a str) -> WebSocketFuture<'a, ()> {
///         Box::pin(async move { println!("{connection_id} left") })
///     }
/// }
/// ```
pub trait WebSocketHandler: Send + Sync + 'static {
    /// `$connect`: accepts the handshake with `Ok(())`, or refuses it with this response (the
    /// status and body the client sees instead of `101 Switching Protocols`, as when a `$connect`
    /// function answers non-2xx). `request` is the upgrade request (path, query, headers).
    fn on_connect<'a>(
        &'a self,
        connection_id: &'a str,
        request: &'a http::request::Parts,
    ) -> WebSocketFuture<'a, Result<(), Response<Body>>>;

    /// `$default`: a text or binary message from the client. Does nothing unless overridden.
    fn on_message<'a>(
        &'a self,
        connection_id: &'a str,
        message: WebSocketMessage,
    ) -> WebSocketFuture<'a, ()> {
        let _ = (connection_id, message);
        Box::pin(std::future::ready(()))
    }

    /// `$disconnect`: the connection is closed (it is already gone from
    /// [`WebSocketConnections`](super::WebSocketConnections)).
    fn on_disconnect<'a>(&'a self, connection_id: &'a str) -> WebSocketFuture<'a, ()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_become_text_when_utf8() {
        let cases: [(&[u8], bool); 4] = [
            (b"{\"type\":\"x\"}", true),
            (b"", true),
            (&[0xff, 0xfe], false),
            ("é".as_bytes(), true),
        ];
        for (bytes, text) in cases {
            let message = WebSocketMessage::from_payload(bytes);
            assert_eq!(
                matches!(message, WebSocketMessage::Text(_)),
                text,
                "{bytes:?}"
            );
            assert_eq!(message.as_bytes(), bytes);
        }
    }
}
