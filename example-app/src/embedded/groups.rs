//! [`GroupStore`] on SQLite: the `groups` table, newest first.

use rusqlite::{OptionalExtension, Row, ffi, params};

use super::{
    EmbeddedStore,
    sqlite::{is_constraint, unavailable},
};
use crate::{
    domain::{Group, Page, PageRequest},
    page_key::{PageKey, checked_limit, into_page},
    ports::{BoxFuture, GroupStore, PortError},
};

const COLUMNS: &str = "id, user_id, name, description, timestamp";
const LISTING: &str = "groups";

/// Selects a group by `?1`, its id.
pub(super) fn get_sql() -> String {
    format!("SELECT {COLUMNS} FROM groups WHERE id = ?1")
}

/// A page of groups newest first: `?1` the limit; or, `after` a page key, `?1`/`?2` the
/// key's timestamp and id and `?3` the limit.
pub(super) fn list_sql(after: bool) -> String {
    if after {
        format!(
            "SELECT {COLUMNS} FROM groups WHERE (timestamp, id) < (?1, ?2) \
             ORDER BY timestamp DESC, id DESC LIMIT ?3"
        )
    } else {
        format!("SELECT {COLUMNS} FROM groups ORDER BY timestamp DESC, id DESC LIMIT ?1")
    }
}

fn group_from_row(row: &Row<'_>) -> rusqlite::Result<Group> {
    Ok(Group {
        id: row.get(0)?,
        user_id: row.get(1)?,
        name: row.get(2)?,
        description: row.get(3)?,
        timestamp: row.get(4)?,
    })
}

impl GroupStore for EmbeddedStore {
    fn create_group<'a>(&'a self, group: &'a Group) -> BoxFuture<'a, Result<(), PortError>> {
        let group = group.clone();
        Box::pin(self.db.write(move |tx| {
            tx.execute(
                &format!("INSERT INTO groups ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
                params![
                    group.id,
                    group.user_id,
                    group.name,
                    group.description,
                    group.timestamp
                ],
            )
            .map_err(|e| {
                if is_constraint(&e, ffi::SQLITE_CONSTRAINT_PRIMARYKEY) {
                    PortError::AlreadyExists(group.id.clone())
                } else {
                    unavailable(e)
                }
            })?;
            Ok(())
        }))
    }

    fn get_group<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Group>, PortError>> {
        let id = id.to_owned();
        Box::pin(self.db.read(move |conn| {
            conn.query_row(&get_sql(), [id], group_from_row)
                .optional()
                .map_err(unavailable)
        }))
    }

    fn list_groups<'a>(
        &'a self,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<Group>, PortError>> {
        Box::pin(async move {
            let limit = checked_limit(page)?;
            let after = page
                .next_key
                .as_deref()
                .map(|key| PageKey::decode(key, LISTING))
                .transpose()?;
            let items = self
                .db
                .read(move |conn| {
                    let fetch = i64::from(limit) + 1;
                    let mut stmt;
                    let rows = match &after {
                        Some(key) => {
                            stmt = conn.prepare_cached(&list_sql(true)).map_err(unavailable)?;
                            stmt.query_map(params![key.timestamp, key.id, fetch], group_from_row)
                        }
                        None => {
                            stmt = conn.prepare_cached(&list_sql(false)).map_err(unavailable)?;
                            stmt.query_map(params![fetch], group_from_row)
                        }
                    }
                    .map_err(unavailable)?;
                    rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
                })
                .await?;
            Ok(into_page(items, limit, |g: &Group| PageKey {
                listing: LISTING.to_owned(),
                timestamp: g.timestamp.clone(),
                id: g.id.clone(),
            }))
        })
    }
}
