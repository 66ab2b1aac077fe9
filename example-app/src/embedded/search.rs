//! [`SearchIndex`] on SQLite FTS5: image titles, best match (BM25) first.
//!
//! `image_titles` rows share their rowid with `images.seq`, so re-indexing replaces the one row
//! and results join back to the current record (a title found while pending shows as ready
//! once it is). User text never reaches FTS5 as query syntax: every word is quoted.
//!
//! Scoring is what costs: BM25 for every match of a common word, then a sort, took milliseconds
//! per search once the table held thousands of titles, and grew with it. So a search ranks only
//! the newest [`MAX_MATCHES_RANKED`] matches (FTS5 walks its index newest first and stops),
//! keeps the best `limit` of those, and only then reads their records: its cost is bounded
//! whatever the table holds. The price: an old title can lose to newer, weaker matches of a
//! word that more than [`MAX_MATCHES_RANKED`] titles contain.

use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    EmbeddedStore,
    images::{COLUMNS, image_from_row},
    sqlite::unavailable,
};
use crate::{
    domain::{Image, MAX_PAGE_SIZE},
    ports::{BoxFuture, ImageSearch, PortError, SearchIndex},
};

/// At most this many words of a query are used.
const MAX_QUERY_WORDS: usize = 32;

/// A search scores at most this many matches, the newest (see the module docs).
pub(crate) const MAX_MATCHES_RANKED: u32 = 500;

/// The search: `?1` the FTS5 query, `?2` the limit, `?3` how many matches to rank. Ties in
/// score go to the newer record (`seq` grows with every image stored).
static SEARCH_SQL: LazyLock<String> = LazyLock::new(|| {
    let columns = COLUMNS
        .split(", ")
        .map(|c| format!("i.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {columns} FROM ( \
             SELECT seq, score FROM ( \
                 SELECT rowid AS seq, rank AS score FROM image_titles \
                 WHERE image_titles MATCH ?1 ORDER BY rowid DESC LIMIT ?3 \
             ) ORDER BY score, seq DESC LIMIT ?2 \
         ) AS hits JOIN images i ON i.seq = hits.seq \
         ORDER BY hits.score, hits.seq DESC"
    )
});

/// The search's SQL, for query-plan tests.
#[cfg(test)]
pub(crate) fn search_sql() -> &'static str {
    &SEARCH_SQL
}

/// The best `limit` of the newest `ranked` titles matching the FTS5 query `fts`, best first.
fn search_titles(
    conn: &Connection,
    fts: &str,
    limit: u32,
    ranked: u32,
) -> Result<Vec<Image>, PortError> {
    let mut stmt = conn.prepare_cached(&SEARCH_SQL).map_err(unavailable)?;
    let rows = stmt
        .query_map(params![fts, limit, ranked.max(limit)], image_from_row)
        .map_err(unavailable)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
}

/// (Re)indexes the stored image `image_id`'s title; call inside a write transaction.
pub(crate) fn reindex_title(conn: &Connection, image_id: &str) -> Result<(), PortError> {
    let (seq, title): (i64, String) = conn
        .query_row(
            "SELECT seq, title FROM images WHERE image_id = ?1",
            [image_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(unavailable)?
        .ok_or_else(|| PortError::Invalid(format!("image {image_id} is not stored")))?;
    conn.execute("DELETE FROM image_titles WHERE rowid = ?1", [seq])
        .map_err(unavailable)?;
    conn.execute(
        "INSERT INTO image_titles (rowid, title) VALUES (?1, ?2)",
        params![seq, title],
    )
    .map_err(unavailable)?;
    Ok(())
}

/// The FTS5 query for user text: each whitespace-separated word that has a letter or digit,
/// as a quoted string (so `OR`, `NEAR(`, `*`, `-`, `:` and `"` are plain text), all required.
/// `None` when nothing searchable is left.
pub(crate) fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split_whitespace()
        .filter(|word| word.chars().any(char::is_alphanumeric))
        .take(MAX_QUERY_WORDS)
        .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

impl SearchIndex for EmbeddedStore {
    /// Re-indexes the stored record of `image` (its title as stored): the embedded index lives
    /// in the same database, so an image that is not stored is [`PortError::Invalid`].
    fn index_image<'a>(&'a self, image: &'a Image) -> BoxFuture<'a, Result<(), PortError>> {
        let image_id = image.image_id.clone();
        Box::pin(self.db.write(move |tx| reindex_title(tx, &image_id)))
    }

    /// Drops the image's title from the index; the record itself stays (it is the store's).
    fn remove_image<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, Result<(), PortError>> {
        let image_id = image_id.to_owned();
        Box::pin(self.db.write(move |tx| {
            tx.execute(
                "DELETE FROM image_titles WHERE rowid = \
                 (SELECT seq FROM images WHERE image_id = ?1)",
                [&image_id],
            )
            .map_err(unavailable)?;
            Ok(())
        }))
    }
}

impl ImageSearch for EmbeddedStore {
    /// Limits above [`MAX_PAGE_SIZE`] are read as [`MAX_PAGE_SIZE`].
    fn search<'a>(
        &'a self,
        query: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<Image>, PortError>> {
        let fts = fts_query(query);
        let limit = limit.min(MAX_PAGE_SIZE);
        Box::pin(async move {
            let Some(fts) = fts.filter(|_| limit > 0) else {
                return Ok(Vec::new());
            };
            self.db
                .search(move |conn| search_titles(conn, &fts, limit, MAX_MATCHES_RANKED))
                .await
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::{fts_query, reindex_title, search_titles};
    use crate::embedded::sqlite::{Db, unavailable};

    /// Only the newest `ranked` matches compete; among them the best comes first, ties newest
    /// first; and at least `limit` matches are always ranked.
    #[tokio::test]
    async fn only_the_newest_matches_are_ranked() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).unwrap();
        let titles = [
            "cat cat",
            "a cat on a mat",
            "a cat on a hat",
            "dog",
            "a cat in a box",
        ];
        db.write(move |tx| {
            tx.execute_batch("INSERT INTO groups VALUES ('g', 'u', 'n', 'd', 't')")
                .map_err(unavailable)?;
            for (n, title) in titles.iter().enumerate() {
                tx.execute(
                    "INSERT INTO images (image_id, group_id, user_id, title, timestamp, status, \
                     image_url) VALUES (?1, 'g', 'u', ?2, 't', 'pending', 'x')",
                    rusqlite::params![format!("i{n}"), title],
                )
                .map_err(unavailable)?;
                reindex_title(tx, &format!("i{n}"))?;
            }
            Ok(())
        })
        .await
        .unwrap();
        let search = |limit, ranked| {
            db.search(move |conn| {
                let found = search_titles(conn, r#""cat""#, limit, ranked)?;
                Ok(found.into_iter().map(|i| i.title).collect::<Vec<_>>())
            })
        };
        let all = [
            "cat cat",
            "a cat in a box",
            "a cat on a hat",
            "a cat on a mat",
        ];
        assert_eq!(search(10, 10).await.unwrap(), all);
        assert_eq!(search(2, 10).await.unwrap(), all[..2]);
        assert_eq!(search(3, 3).await.unwrap(), all[1..]);
        assert_eq!(search(1, 3).await.unwrap(), all[1..2]);
        assert_eq!(search(4, 1).await.unwrap(), all, "limit above the cap");
    }

    #[test]
    fn queries_are_quoted_words() {
        let cases = [
            ("cat", Some(r#""cat""#)),
            ("  big   cat ", Some(r#""big" "cat""#)),
            (r#"say "hi""#, Some(r#""say" """hi""""#)),
            ("NEAR( a OR b", Some(r#""NEAR(" "a" "OR" "b""#)),
            ("* - : ( ) \"", None),
            ("", None),
            ("title:x -y z*", Some(r#""title:x" "-y" "z*""#)),
        ];
        for (input, want) in cases {
            assert_eq!(fts_query(input).as_deref(), want, "{input}");
        }
    }
}
