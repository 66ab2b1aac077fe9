//! [`Notifier`] in process: a hub of connected clients keyed by connection id, each with its
//! own bounded buffer. The clients are the WebSocket connections of `udagram serve`'s `/ws` route
//! (lamina-middleware's [`WebSocketConnections`], the local twin of the API Gateway Management
//! API) and in-process subscribers with a tokio channel (tests, other local consumers).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

use lamina_middleware::init::{WebSocketConnections, WebSocketMessage, WebSocketSendError};
use tokio::sync::mpsc::{self, error::TrySendError};

use crate::ports::{BoxFuture, Notifier, PortError};

/// How many messages may wait for a slow in-process client before sends to it fail (WebSocket
/// connections have their own, [`WebSocketConnections::with_buffer`]).
pub const CONNECTION_BUFFER: usize = 64;

/// The local hub: clone it freely; clones share the connections. It only routes messages:
/// recording a connection in the [`crate::ports::ConnectionStore`] (which the upload processor
/// notifies from) is the WebSocket handler's job.
#[derive(Debug, Clone, Default)]
pub struct LocalHub {
    connections: Arc<Mutex<HashMap<String, mpsc::Sender<Vec<u8>>>>>,
    websockets: Option<WebSocketConnections>,
}

impl LocalHub {
    /// A hub of in-process clients only.
    pub fn new() -> Self {
        Self::default()
    }

    /// A hub that also reaches the WebSocket connections of a lamina-middleware route (ids
    /// unknown to the hub are looked up there). Payloads that are UTF-8 (the JSON notices) go
    /// out as text frames, others as binary ones, as `PostToConnection` does.
    pub fn with_websockets(connections: WebSocketConnections) -> Self {
        Self {
            websockets: Some(connections),
            ..Self::default()
        }
    }

    /// Registers a new in-process client: its connection id (a UUID) and the receiver of its
    /// messages.
    pub fn connect(&self) -> (String, mpsc::Receiver<Vec<u8>>) {
        let id = uuid::Uuid::new_v4().to_string();
        let (sender, receiver) = mpsc::channel(CONNECTION_BUFFER);
        self.lock().insert(id.clone(), sender);
        (id, receiver)
    }

    /// Forgets a client (idempotent); later sends to it are [`PortError::Gone`].
    pub fn disconnect(&self, id: &str) {
        self.lock().remove(id);
    }

    /// How many clients are connected (in process and over WebSocket).
    pub fn len(&self) -> usize {
        let sockets = self
            .websockets
            .as_ref()
            .map_or(0, WebSocketConnections::len);
        self.lock().len() + sockets
    }

    /// Whether no client is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, mpsc::Sender<Vec<u8>>>> {
        // The map is valid after any panic (inserts and removes are single calls).
        self.connections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Notifier for LocalHub {
    /// Never waits: a client whose buffer is full is [`PortError::Unavailable`] (this message
    /// is dropped for it); an unknown id, or one whose receiver or socket is gone, is
    /// [`PortError::Gone`].
    fn send<'a>(
        &'a self,
        connection_id: &'a str,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            let mut connections = self.lock();
            let gone = || PortError::Gone(connection_id.to_owned());
            let Some(sender) = connections.get(connection_id) else {
                drop(connections);
                let Some(websockets) = &self.websockets else {
                    return Err(gone());
                };
                return match websockets.send(connection_id, WebSocketMessage::from_payload(payload))
                {
                    Ok(()) => Ok(()),
                    Err(WebSocketSendError::Full(_)) => Err(PortError::Unavailable(format!(
                        "connection {connection_id} is not keeping up"
                    ))),
                    Err(_) => Err(gone()),
                };
            };
            match sender.try_send(payload.to_vec()) {
                Ok(()) => Ok(()),
                Err(TrySendError::Full(_)) => Err(PortError::Unavailable(format!(
                    "connection {connection_id} is not keeping up"
                ))),
                Err(TrySendError::Closed(_)) => {
                    connections.remove(connection_id);
                    Err(gone())
                }
            }
        })
    }

    /// An in-process client's receiver ends (after the messages already queued); a WebSocket
    /// gets close code 1000 after its queued messages (lamina-middleware's
    /// [`WebSocketConnections::close`], the twin of `DeleteConnection`).
    fn close<'a>(&'a self, connection_id: &'a str) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            if self.lock().remove(connection_id).is_none()
                && let Some(websockets) = &self.websockets
            {
                websockets.close(connection_id);
            }
            Ok(())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_reach_connected_clients_only() {
        let hub = LocalHub::new();
        let (a, mut rx_a) = hub.connect();
        let (b, rx_b) = hub.connect();
        assert_ne!(a, b);
        assert_eq!(hub.len(), 2);
        hub.send(&a, b"hello").await.unwrap();
        assert_eq!(rx_a.recv().await.unwrap(), b"hello");

        drop(rx_b);
        assert_eq!(hub.send(&b, b"x").await, Err(PortError::Gone(b.clone())));
        assert_eq!(hub.len(), 1, "a closed receiver is forgotten");

        hub.disconnect(&a);
        hub.disconnect(&a);
        assert_eq!(hub.send(&a, b"x").await, Err(PortError::Gone(a.clone())));
        assert_eq!(
            hub.send("nobody", b"x").await,
            Err(PortError::Gone("nobody".into()))
        );
        assert!(hub.is_empty());
    }

    #[tokio::test]
    async fn ids_unknown_to_the_hub_are_looked_up_among_the_websockets() {
        let sockets = WebSocketConnections::new();
        let hub = LocalHub::with_websockets(sockets.clone());
        let (local, mut rx) = hub.connect();
        hub.send(&local, b"in process").await.unwrap();
        assert_eq!(rx.recv().await.unwrap(), b"in process");
        assert_eq!(
            hub.send("L0SM9cOFvHcCIhw=", b"{}").await,
            Err(PortError::Gone("L0SM9cOFvHcCIhw=".into()))
        );
        assert_eq!(hub.len(), 1);
        // The sockets themselves are covered with a real server in `serve`'s contract tests.
        assert!(sockets.is_empty());
    }

    #[tokio::test]
    async fn a_full_buffer_is_unavailable_not_gone() {
        let hub = LocalHub::new();
        let (id, mut rx) = hub.connect();
        for _ in 0..CONNECTION_BUFFER {
            hub.send(&id, b"m").await.unwrap();
        }
        assert!(matches!(
            hub.send(&id, b"m").await,
            Err(PortError::Unavailable(_))
        ));
        rx.recv().await.unwrap();
        hub.send(&id, b"m").await.unwrap();
    }
}
