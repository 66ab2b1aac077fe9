//! WebSocket routes for the local server: the local twin of an API Gateway WebSocket API, on the
//! same port as the HTTP service.
//!
//! A [`WebSocketRoute`] answers upgrade requests on one path. Its [`WebSocketHandler`] plays the
//! `$connect` (accept, or refuse with a response), `$default` and `$disconnect` routes, and its
//! [`WebSocketConnections`] handle plays the Management API: send to a connection id, get
//! [`WebSocketSendError::Gone`] for a closed one. Requests to other paths (upgrades included) go
//! to the service as before.
//!
//! What the server does for every connection: answers pings (tungstenite replies with a pong),
//! refuses messages and frames over the route's limit (close code 1009), gives each connection its
//! own bounded buffer and task so that a slow client holds up only itself, and on
//! [`LocalServer::shutdown`](super::LocalServer::shutdown) closes every socket with code 1001
//! (going away), calls `on_disconnect`, and waits for that before returning.
//!
//! ```no_run
//! use http::{Response, request::Parts};
//! use lambda_http::{Body, Request};
//! use lamina_middleware::init::{
//!     LocalServerOptions, WebSocketFuture, WebSocketHandler, WebSocketMessage, WebSocketRoute,
//!     serve_local_with,
//! };
//!
//! struct Chat;
//!
//! impl WebSocketHandler for Chat {
//!     fn on_connect<'a>(
//!         &'a self,
//!         _id: &'a str,
//!         _request: &'a Parts,
//!     ) -> WebSocketFuture<'a, Result<(), Response<Body>>> {
//!         Box::pin(async { Ok(()) })
//!     }
//!
//!     fn on_message<'a>(&'a self, id: &'a str, message: WebSocketMessage) -> WebSocketFuture<'a, ()> {
//!         Box::pin(async move { println!("{id} says {:?}", message.as_bytes()) })
//!     }
//!
//!     fn on_disconnect<'a>(&'a self, _id: &'a str) -> WebSocketFuture<'a, ()> {
//!         Box::pin(async {})
//!     }
//! }
//!
//! # async fn demo() -> std::io::Result<()> {
//! let route = WebSocketRoute::new("/ws", Chat);
//! let connections = route.connections(); // send to clients from anywhere
//! let service = tower::service_fn(|_request: Request| async {
//!     Ok::<_, lambda_http::Error>(Response::new(Body::from("the REST API")))
//! });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let options = LocalServerOptions::default().websocket(route);
//! let server = serve_local_with(listener, service, options).await?;
//! for id in connections.ids() {
//!     let _ = connections.send(&id, r#"{"type":"hello"}"#);
//! }
//! server.shutdown().await; // closes the sockets with 1001, after on_disconnect
//! # Ok(())
//! # }
//! ```

mod connections;
mod handler;
mod socket;

use std::fmt;
use std::sync::Arc;

pub use connections::{DEFAULT_CONNECTION_BUFFER, WebSocketConnections, WebSocketSendError};
pub use handler::{WebSocketFuture, WebSocketHandler, WebSocketMessage};
pub(super) use socket::{Sockets, upgrade};

/// The largest message (and frame) a client may send by default: 128 KiB, API Gateway's
/// WebSocket message limit.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// One WebSocket endpoint of the local server: a path, the handler of its connections, and the
/// handle to send to them. Add it with
/// [`LocalServerOptions::websocket`](super::LocalServerOptions::websocket).
#[derive(Clone)]
pub struct WebSocketRoute {
    path: String,
    handler: Arc<dyn WebSocketHandler>,
    connections: WebSocketConnections,
    max_message_bytes: usize,
}

impl fmt::Debug for WebSocketRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketRoute")
            .field("path", &self.path)
            .field("connections", &self.connections)
            .field("max_message_bytes", &self.max_message_bytes)
            .finish_non_exhaustive()
    }
}

impl WebSocketRoute {
    /// Upgrade requests whose path is exactly `path` (the query string aside) are handled by
    /// `handler`, with a new [`WebSocketConnections`].
    #[must_use]
    pub fn new(path: impl Into<String>, handler: impl WebSocketHandler) -> Self {
        Self {
            path: path.into(),
            handler: Arc::new(handler),
            connections: WebSocketConnections::new(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }

    /// Uses `connections` (made beforehand, for example for a handler that answers messages
    /// itself) instead of a new handle.
    #[must_use]
    pub fn with_connections(mut self, connections: WebSocketConnections) -> Self {
        self.connections = connections;
        self
    }

    /// The largest message and frame a client may send (default
    /// [`DEFAULT_MAX_MESSAGE_BYTES`]); a bigger one closes the connection with code 1009.
    #[must_use]
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// The handle to this route's connections (a clone: it shares them).
    #[must_use]
    pub fn connections(&self) -> WebSocketConnections {
        self.connections.clone()
    }

    /// The path this route answers.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests;
