//! The WebSocket use cases: `$connect` records a connection, `$disconnect` forgets it. The same
//! [`Realtime`] serves `udagram serve`'s `/ws` endpoint and the Lambda `$connect`/`$disconnect`
//! handlers behind API Gateway's WebSocket API.
//!
//! ```
//! use std::sync::Arc;
//! use udagram::embedded::EmbeddedStore;
//! use udagram::ports::ConnectionStore as _;
//! use udagram::realtime::Realtime;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
//! let realtime = Realtime::new(store.clone());
//! realtime.connect("abc=", Some(4_102_444_800)).await.unwrap();
//! assert_eq!(store.list_connections().await.unwrap().len(), 1);
//! realtime.disconnect("abc=").await.unwrap();
//! assert!(store.list_connections().await.unwrap().is_empty());
//! # });
//! ```

use std::sync::Arc;

use crate::app::{AppError, Clock, SystemClock, rfc3339_millis};
use crate::domain::Connection;
use crate::ports::ConnectionStore;

/// The longest connection id accepted (API Gateway's, and `serve`'s, are 16 characters).
pub const MAX_CONNECTION_ID_LEN: usize = 128;

/// Connects and disconnects WebSocket clients, over the [`ConnectionStore`].
#[derive(Debug, Clone)]
pub struct Realtime {
    connections: Arc<dyn ConnectionStore>,
    clock: Arc<dyn Clock>,
}

impl Realtime {
    /// The use cases over `connections`, with the system clock.
    #[must_use]
    pub fn new(connections: Arc<dyn ConnectionStore>) -> Self {
        Self {
            connections,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same with another clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Records the connection `id`, made with a token that expires at `expires_at` (its `exp`,
    /// seconds since the Unix epoch), idempotently: a repeated `$connect` keeps one row.
    ///
    /// # Errors
    /// [`AppError::Invalid`] for an empty, too long or non-printable id, or a token that has
    /// already expired; [`AppError::Unavailable`] when the store fails.
    pub async fn connect(&self, id: &str, expires_at: Option<u64>) -> Result<Connection, AppError> {
        check_id(id)?;
        let now = self.clock.now();
        let connection = Connection {
            id: id.to_owned(),
            timestamp: rfc3339_millis(now),
            expires_at,
        };
        if connection.is_expired(u64::try_from(now.unix_timestamp()).unwrap_or_default()) {
            return Err(AppError::Invalid("the token has expired".into()));
        }
        self.connections.add_connection(&connection).await?;
        Ok(connection)
    }

    /// Forgets the connection `id` (idempotent).
    ///
    /// # Errors
    /// [`AppError::Invalid`] for a malformed id; [`AppError::Unavailable`] when the store fails.
    pub async fn disconnect(&self, id: &str) -> Result<(), AppError> {
        check_id(id)?;
        Ok(self.connections.remove_connection(id).await?)
    }
}

/// An id is 1 to [`MAX_CONNECTION_ID_LEN`] visible ASCII characters.
fn check_id(id: &str) -> Result<(), AppError> {
    let visible = id.bytes().all(|b| b.is_ascii_graphic());
    if id.is_empty() || id.len() > MAX_CONNECTION_ID_LEN || !visible {
        return Err(AppError::Invalid(
            "a connection id is 1 to 128 visible ASCII characters".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use crate::embedded::EmbeddedStore;

    #[tokio::test]
    async fn connect_is_idempotent_and_bad_ids_store_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let realtime = Realtime::new(store.clone());
        let exp = Some(4_102_444_800);
        realtime.connect("L0SM9cOFvHcCIhw=", exp).await.unwrap();
        realtime.connect("L0SM9cOFvHcCIhw=", exp).await.unwrap();
        for bad in ["", "has space", "tab\t", &"x".repeat(129), "é"] {
            assert!(
                matches!(realtime.connect(bad, exp).await, Err(AppError::Invalid(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            realtime.connect("expired=", Some(1)).await,
            Err(AppError::Invalid(_))
        ));
        let stored = store.list_connections().await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].id, "L0SM9cOFvHcCIhw=");
        realtime.disconnect("L0SM9cOFvHcCIhw=").await.unwrap();
        realtime.disconnect("L0SM9cOFvHcCIhw=").await.unwrap();
        assert!(store.list_connections().await.unwrap().is_empty());
    }
}
