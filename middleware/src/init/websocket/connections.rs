//! [`WebSocketConnections`]: send to a connection by id, the local twin of the API Gateway
//! Management API (`PostToConnection`, `DeleteConnection`, `GoneException`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::sync::mpsc::{self, error::TrySendError};

use super::WebSocketMessage;

/// How many messages may wait for a slow client by default before sends to it fail.
pub const DEFAULT_CONNECTION_BUFFER: usize = 64;

/// Why [`WebSocketConnections::send`] did not queue a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebSocketSendError {
    /// No open connection has this id (never had, or closed): API Gateway's `GoneException` (410).
    #[error("connection {0} is gone")]
    Gone(String),
    /// The connection's buffer is full (the client does not read fast enough); this message is
    /// dropped for it, later ones may pass.
    #[error("connection {0} is not keeping up")]
    Full(String),
}

/// The open connections of a [`WebSocketRoute`](super::WebSocketRoute), by id. Clone it freely:
/// clones share the connections.
///
/// Each connection has its own bounded buffer, drained by its own task, so [`send`](Self::send)
/// never waits and a slow client never holds up the others.
///
/// ```
/// use lamina_middleware::init::{WebSocketConnections, WebSocketSendError};
///
/// let connections = WebSocketConnections::new().with_buffer(16);
/// assert_eq!(
///     connections.send("L0SM9cOFvHcCIhw=", "hello"),
///     Err(WebSocketSendError::Gone("L0SM9cOFvHcCIhw=".into()))
/// );
/// ```
#[derive(Clone)]
pub struct WebSocketConnections {
    buffer: usize,
    senders: Arc<Mutex<HashMap<String, mpsc::Sender<WebSocketMessage>>>>,
}

impl Default for WebSocketConnections {
    fn default() -> Self {
        Self {
            buffer: DEFAULT_CONNECTION_BUFFER,
            senders: Arc::default(),
        }
    }
}

impl fmt::Debug for WebSocketConnections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketConnections")
            .field("buffer", &self.buffer)
            .field("open", &self.len())
            .finish()
    }
}

impl WebSocketConnections {
    /// No connection yet, a buffer of [`DEFAULT_CONNECTION_BUFFER`] messages per connection.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many messages may wait per connection (at least 1) for connections opened from now on.
    #[must_use]
    pub fn with_buffer(mut self, messages: usize) -> Self {
        self.buffer = messages.max(1);
        self
    }

    /// Queues `message` for the connection `id`; never waits.
    ///
    /// # Errors
    /// [`WebSocketSendError::Gone`] when no open connection has this id;
    /// [`WebSocketSendError::Full`] when its buffer is full.
    pub fn send(
        &self,
        id: &str,
        message: impl Into<WebSocketMessage>,
    ) -> Result<(), WebSocketSendError> {
        let mut senders = self.lock();
        let sender = senders
            .get(id)
            .ok_or_else(|| WebSocketSendError::Gone(id.to_owned()))?;
        match sender.try_send(message.into()) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(WebSocketSendError::Full(id.to_owned())),
            Err(TrySendError::Closed(_)) => {
                senders.remove(id);
                Err(WebSocketSendError::Gone(id.to_owned()))
            }
        }
    }

    /// Closes the connection `id` (close code 1000 after the messages already queued), like
    /// `DeleteConnection`; the route then calls `on_disconnect`. Returns whether it was open.
    pub fn close(&self, id: &str) -> bool {
        self.lock().remove(id).is_some()
    }

    /// Whether a connection with this id is open.
    #[must_use]
    pub fn contains(&self, id: &str) -> bool {
        self.lock().contains_key(id)
    }

    /// The ids of the open connections, in no particular order.
    #[must_use]
    pub fn ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// How many connections are open.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no connection is open.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Opens the connection `id` (a fresh [`new_connection_id`]); its messages arrive on the
    /// receiver.
    pub(super) fn open(&self, id: &str) -> mpsc::Receiver<WebSocketMessage> {
        let (sender, receiver) = mpsc::channel(self.buffer);
        self.lock().insert(id.to_owned(), sender);
        receiver
    }

    /// Forgets the connection `id` (idempotent).
    pub(super) fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, mpsc::Sender<WebSocketMessage>>> {
        // The map stays valid after a panic elsewhere: every change is one insert or remove.
        self.senders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A connection id shaped like API Gateway's: 12 random bytes in standard base64 (16 visible
/// ASCII characters, such as `L0SM9cOFvHcCIhw=`).
/// With 96 random bits, two connections of one process never share an id in practice.
pub(super) fn new_connection_id() -> String {
    STANDARD.encode(rand::random::<[u8; 12]>())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_api_gateway_ones() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| new_connection_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids {
            assert_eq!(id.len(), 16, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_graphic()), "{id}");
        }
    }

    #[tokio::test]
    async fn sends_reach_open_connections_and_gone_ones_are_gone() {
        let connections = WebSocketConnections::new().with_buffer(2);
        let (a, b) = (new_connection_id(), new_connection_id());
        let mut rx_a = connections.open(&a);
        let rx_b = connections.open(&b);
        assert_eq!(connections.len(), 2);
        connections.send(&a, "one").unwrap();
        connections.send(&a, vec![2_u8]).unwrap();
        assert_eq!(
            connections.send(&a, "three"),
            Err(WebSocketSendError::Full(a.clone()))
        );
        assert_eq!(rx_a.recv().await.unwrap(), WebSocketMessage::from("one"));
        connections.send(&a, "three").unwrap();

        drop(rx_b);
        assert_eq!(
            connections.send(&b, "x"),
            Err(WebSocketSendError::Gone(b.clone()))
        );
        assert!(!connections.contains(&b), "a dropped receiver is forgotten");

        assert!(connections.close(&a));
        assert!(!connections.close(&a));
        assert_eq!(
            connections.send(&a, "x"),
            Err(WebSocketSendError::Gone(a.clone()))
        );
        assert!(connections.is_empty());
        assert_eq!(
            rx_a.recv().await.unwrap(),
            WebSocketMessage::Binary(vec![2].into())
        );
    }
}
