//! [`ConnectionStore`] on SQLite: the `connections` table.

use rusqlite::params;

use super::{EmbeddedStore, sqlite::unavailable};
use crate::{
    domain::Connection,
    ports::{BoxFuture, ConnectionStore, PortError},
};

impl ConnectionStore for EmbeddedStore {
    fn add_connection<'a>(
        &'a self,
        connection: &'a Connection,
    ) -> BoxFuture<'a, Result<(), PortError>> {
        let connection = connection.clone();
        Box::pin(self.db.write(move |tx| {
            tx.execute(
                "INSERT INTO connections (id, timestamp, expires_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (id) DO NOTHING",
                params![
                    connection.id,
                    connection.timestamp,
                    connection
                        .expires_at
                        .and_then(|exp| i64::try_from(exp).ok())
                ],
            )
            .map_err(unavailable)?;
            Ok(())
        }))
    }

    fn remove_connection<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), PortError>> {
        let id = id.to_owned();
        Box::pin(self.db.write(move |tx| {
            tx.execute("DELETE FROM connections WHERE id = ?1", [id])
                .map_err(unavailable)?;
            Ok(())
        }))
    }

    fn list_connections(&self) -> BoxFuture<'_, Result<Vec<Connection>, PortError>> {
        Box::pin(self.db.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, timestamp, expires_at FROM connections ORDER BY timestamp, id",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map([], |row| {
                    let expires_at: Option<i64> = row.get(2)?;
                    Ok(Connection {
                        id: row.get(0)?,
                        timestamp: row.get(1)?,
                        expires_at: expires_at.and_then(|exp| u64::try_from(exp).ok()),
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
        }))
    }
}
