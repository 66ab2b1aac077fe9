//! [`ConnectionStore`] on the connections table: idempotent puts and deletes, and a scan that
//! reads every page.

/// Items per scan request. Small in tests so that a test can make the scan page; on AWS one
/// request reads up to 1 MB anyway, which is thousands of connections.
const SCAN_PAGE_SIZE: i32 = if cfg!(test) { 25 } else { 1000 };

use super::{
    DynamoDbConnections,
    item::{connection_from_item, connection_to_item, s},
    put_new,
};
use crate::{
    aws::error::unavailable,
    domain::Connection,
    ports::{BoxFuture, ConnectionStore, PortError},
};

impl ConnectionStore for DynamoDbConnections {
    /// A second add of the same id keeps the first record (its timestamp), as the embedded
    /// store does.
    fn add_connection<'a>(
        &'a self,
        connection: &'a Connection,
    ) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            let item = connection_to_item(connection)?;
            put_new(&self.client, &self.table, item, "PutItem connections")
                .await
                .map(|_written| ())
        })
    }

    fn remove_connection<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            self.client
                .delete_item()
                .table_name(&*self.table)
                .key("id", s(id))
                .send()
                .await
                .map_err(|e| unavailable("DeleteItem connections", &e))?;
            Ok(())
        })
    }

    /// Every page of the scan, ordered by timestamp then id like the embedded store.
    fn list_connections(&self) -> BoxFuture<'_, Result<Vec<Connection>, PortError>> {
        Box::pin(async move {
            let mut connections = Vec::new();
            let mut start = None;
            loop {
                let output = self
                    .client
                    .scan()
                    .table_name(&*self.table)
                    .consistent_read(true)
                    .limit(SCAN_PAGE_SIZE)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| unavailable("Scan connections", &e))?;
                for item in output.items() {
                    connections.push(connection_from_item(item)?);
                }
                match output.last_evaluated_key {
                    Some(last) if !last.is_empty() => start = Some(last),
                    _ => break,
                }
            }
            connections.sort_by(|a, b| (&a.timestamp, &a.id).cmp(&(&b.timestamp, &b.id)));
            Ok(connections)
        })
    }
}
