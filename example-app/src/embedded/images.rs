//! [`ImageStore`] on SQLite: the `images` table, by id and by group newest first. Creating an
//! image and marking it ready also (re)index its title, in the same transaction.

use rusqlite::{Connection, OptionalExtension, Row, ffi, params};

use super::{
    EmbeddedStore,
    search::reindex_title,
    sqlite::{is_constraint, unavailable},
};
use crate::{
    domain::{Image, ImageStatus, Page, PageRequest},
    page_key::{PageKey, checked_limit, into_page},
    ports::{BoxFuture, ImageCatalog, ImageStore, PortError},
};

/// The columns of an image, in the order [`image_from_row`] reads them.
pub(crate) const COLUMNS: &str =
    "image_id, group_id, user_id, title, timestamp, status, image_url, thumbnail_url";

/// Reads an image from a row selected with [`COLUMNS`] (optionally table-qualified).
pub(crate) fn image_from_row(row: &Row<'_>) -> rusqlite::Result<Image> {
    let status: String = row.get(5)?;
    let status = match status.as_str() {
        "pending" => ImageStatus::Pending,
        "ready" => ImageStatus::Ready,
        _ => {
            return Err(rusqlite::Error::InvalidColumnType(
                5,
                "status".into(),
                rusqlite::types::Type::Text,
            ));
        }
    };
    Ok(Image {
        image_id: row.get(0)?,
        group_id: row.get(1)?,
        user_id: row.get(2)?,
        title: row.get(3)?,
        timestamp: row.get(4)?,
        status,
        image_url: row.get(6)?,
        thumbnail_url: row.get(7)?,
    })
}

fn status_text(status: ImageStatus) -> &'static str {
    match status {
        ImageStatus::Pending => "pending",
        ImageStatus::Ready => "ready",
    }
}

fn listing(group_id: &str) -> String {
    format!("images:{group_id}")
}

/// Selects an image by `?1`, its id.
pub(super) fn get_sql() -> String {
    format!("SELECT {COLUMNS} FROM images WHERE image_id = ?1")
}

/// A page of a group's images newest first: `?1` the group id, `?2` the limit; or, `after` a
/// page key, `?2`/`?3` the key's timestamp and id and `?4` the limit.
pub(super) fn list_sql(after: bool) -> String {
    if after {
        format!(
            "SELECT {COLUMNS} FROM images WHERE group_id = ?1 \
             AND (timestamp, image_id) < (?2, ?3) \
             ORDER BY timestamp DESC, image_id DESC LIMIT ?4"
        )
    } else {
        format!(
            "SELECT {COLUMNS} FROM images WHERE group_id = ?1 \
             ORDER BY timestamp DESC, image_id DESC LIMIT ?2"
        )
    }
}

fn list_page(
    conn: &Connection,
    group_id: &str,
    after: Option<&PageKey>,
    fetch: i64,
) -> rusqlite::Result<Vec<Image>> {
    match after {
        Some(key) => {
            let mut stmt = conn.prepare_cached(&list_sql(true))?;
            let rows = stmt.query_map(
                params![group_id, key.timestamp, key.id, fetch],
                image_from_row,
            )?;
            rows.collect()
        }
        None => {
            let mut stmt = conn.prepare_cached(&list_sql(false))?;
            let rows = stmt.query_map(params![group_id, fetch], image_from_row)?;
            rows.collect()
        }
    }
}

impl ImageCatalog for EmbeddedStore {
    fn create_image<'a>(&'a self, image: &'a Image) -> BoxFuture<'a, Result<(), PortError>> {
        let image = image.clone();
        Box::pin(self.db.write(move |tx| {
            tx.execute(
                &format!("INSERT INTO images ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                params![
                    image.image_id,
                    image.group_id,
                    image.user_id,
                    image.title,
                    image.timestamp,
                    status_text(image.status),
                    image.image_url,
                    image.thumbnail_url,
                ],
            )
            .map_err(|e| {
                if is_constraint(&e, ffi::SQLITE_CONSTRAINT_UNIQUE) {
                    PortError::AlreadyExists(image.image_id.clone())
                } else if is_constraint(&e, ffi::SQLITE_CONSTRAINT_FOREIGNKEY) {
                    PortError::Invalid(format!("group {} does not exist", image.group_id))
                } else {
                    unavailable(e)
                }
            })?;
            reindex_title(tx, &image.image_id)
        }))
    }
}

impl ImageStore for EmbeddedStore {
    fn get_image<'a>(
        &'a self,
        image_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Image>, PortError>> {
        let image_id = image_id.to_owned();
        Box::pin(self.db.read(move |conn| {
            conn.query_row(&get_sql(), [image_id], image_from_row)
                .optional()
                .map_err(unavailable)
        }))
    }

    fn list_images<'a>(
        &'a self,
        group_id: &'a str,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<Image>, PortError>> {
        Box::pin(async move {
            let limit = checked_limit(page)?;
            let listing = listing(group_id);
            let after = page
                .next_key
                .as_deref()
                .map(|key| PageKey::decode(key, &listing))
                .transpose()?;
            let group = group_id.to_owned();
            let fetch = i64::from(limit) + 1;
            let items = self
                .db
                .read(move |conn| {
                    list_page(conn, &group, after.as_ref(), fetch).map_err(unavailable)
                })
                .await?;
            Ok(into_page(items, limit, |i: &Image| PageKey {
                listing: listing.clone(),
                timestamp: i.timestamp.clone(),
                id: i.image_id.clone(),
            }))
        })
    }

    fn mark_ready<'a>(
        &'a self,
        image: &'a Image,
        thumbnail_url: &'a str,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        let (image_id, thumbnail_url) = (image.image_id.clone(), thumbnail_url.to_owned());
        Box::pin(self.db.write(move |tx| {
            let changed = tx
                .execute(
                    "UPDATE images SET status = 'ready', thumbnail_url = ?2 \
                     WHERE image_id = ?1 AND status = 'pending'",
                    params![image_id, thumbnail_url],
                )
                .map_err(unavailable)?;
            if changed == 1 {
                reindex_title(tx, &image_id)?;
            }
            Ok(changed == 1)
        }))
    }
}
