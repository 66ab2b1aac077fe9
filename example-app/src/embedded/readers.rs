//! A small pool of read-only SQLite connections used from async code.
//!
//! A caller first waits (asynchronously, first come first served) for a permit, one per
//! connection, and only then takes a blocking thread, so a queue of reads never ties up the
//! blocking pool or waits behind one busy connection while another is free.

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::sqlite::{configure, lock, try_lock, unavailable};
use crate::ports::PortError;

/// Read-only connections on one database file: cheap to clone, clones share the connections.
#[derive(Debug, Clone)]
pub(crate) struct ReaderPool {
    conns: Arc<[Mutex<Connection>]>,
    permits: Arc<Semaphore>,
}

impl ReaderPool {
    /// Opens `count` (at least one) read-only connections on the database at `path`, which must
    /// already hold the current schema.
    pub(crate) fn open(path: &Path, count: usize) -> Result<Self, PortError> {
        let count = count.max(1);
        let conns = (0..count)
            .map(|_| {
                let conn = Connection::open(path).map_err(unavailable)?;
                configure(&conn)?;
                conn.execute_batch("PRAGMA query_only = ON")
                    .map_err(unavailable)?;
                Ok(Mutex::new(conn))
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        Ok(Self {
            conns: conns.into(),
            permits: Arc::new(Semaphore::new(count)),
        })
    }

    /// Runs `f` with a free connection on the blocking pool, once one is free.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, PortError> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| PortError::Unavailable(format!("database readers closed: {e}")))?;
        let conns = Arc::clone(&self.conns);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // A permit per connection: one of them is free (the fallback is never taken).
            let guard = conns
                .iter()
                .find_map(try_lock)
                .unwrap_or_else(|| lock(&conns[0]));
            f(&guard)
        })
        .await
        .map_err(|e| PortError::Unavailable(format!("database task failed: {e}")))?
    }
}
