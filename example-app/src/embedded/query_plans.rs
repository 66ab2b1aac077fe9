//! Query-plan guards: every read the API serves is answered through an index, so its cost does
//! not grow with the tables. A full scan of `groups` or `images`, or a sort of what a scan
//! found, fails here long before it shows up as a slow route under load.

use rusqlite::Connection;

use super::{
    groups, images, search,
    sqlite::{Db, unavailable},
};

/// The `detail` lines of `EXPLAIN QUERY PLAN sql`.
fn plan(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
    let rows = stmt
        .query_map(rusqlite::params_from_iter(nulls), |row| {
            row.get::<_, String>(3)
        })
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// Whether a plan line reads every row of a table, rather than a range of an index or a key.
fn full_scan(line: &str) -> bool {
    ["SCAN groups", "SCAN images", "SCAN i"]
        .iter()
        .any(|scan| line == *scan || line.starts_with(&format!("{scan} ")))
        && !line.contains("USING INDEX")
        && !line.contains("USING COVERING INDEX")
}

/// A database with some rows in every table and the planner's statistics gathered, so the
/// plans are the ones a used database gets.
async fn filled() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("t.sqlite3")).unwrap();
    db.write(|tx| {
        for g in 0..50 {
            tx.execute(
                "INSERT INTO groups VALUES (?1, 'u', 'n', 'd', ?2)",
                rusqlite::params![format!("g{g}"), format!("2025-01-01T00:00:{g:02}.000Z")],
            )
            .map_err(unavailable)?;
            for i in 0..10 {
                tx.execute(
                    "INSERT INTO images (image_id, group_id, user_id, title, timestamp, status, \
                     image_url) VALUES (?1, ?2, 'u', 'a title', ?3, 'pending', 'x')",
                    rusqlite::params![
                        format!("i{g}-{i}"),
                        format!("g{g}"),
                        format!("2025-01-01T00:01:{i:02}.000Z")
                    ],
                )
                .map_err(unavailable)?;
                super::search::reindex_title(tx, &format!("i{g}-{i}"))?;
            }
        }
        tx.execute_batch("ANALYZE").map_err(unavailable)
    })
    .await
    .unwrap();
    (dir, db)
}

#[tokio::test]
async fn lookups_and_listings_use_their_indexes() {
    let (_dir, db) = filled().await;
    let cases = [
        (
            "get group",
            groups::get_sql(),
            "USING INDEX sqlite_autoindex_groups_1",
        ),
        (
            "list groups",
            groups::list_sql(false),
            "USING INDEX groups_newest_first",
        ),
        (
            "list groups after",
            groups::list_sql(true),
            "USING INDEX groups_newest_first",
        ),
        (
            "get image",
            images::get_sql(),
            "USING INDEX sqlite_autoindex_images_1",
        ),
        (
            "list images",
            images::list_sql(false),
            "USING INDEX images_by_group_newest_first",
        ),
        (
            "list images after",
            images::list_sql(true),
            "USING INDEX images_by_group_newest_first",
        ),
    ];
    for (name, sql, index) in cases {
        let lines = db.read(move |conn| Ok(plan(conn, &sql))).await.unwrap();
        assert!(lines.iter().any(|l| l.contains(index)), "{name}: {lines:?}");
        assert!(!lines.iter().any(|l| full_scan(l)), "{name}: {lines:?}");
        assert!(
            !lines.iter().any(|l| l.contains("TEMP B-TREE")),
            "{name}: {lines:?}"
        );
    }
}

#[tokio::test]
async fn search_walks_the_title_index_newest_first_and_reads_records_by_key() {
    let (_dir, db) = filled().await;
    let lines = db
        .search(|conn| Ok(plan(conn, search::search_sql())))
        .await
        .unwrap();
    // FTS5's plan flags: 0x40 ordered by rowid, 0x80 descending. The limit stops the walk.
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("SCAN image_titles VIRTUAL TABLE INDEX 192:")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("SEARCH i USING INTEGER PRIMARY KEY")),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| full_scan(l)), "{lines:?}");
}

#[test]
fn full_scans_are_told_from_index_walks() {
    let cases = [
        ("SCAN groups", true),
        ("SCAN images", true),
        ("SCAN i", true),
        ("SCAN groups USING INDEX groups_newest_first", false),
        (
            "SCAN images USING COVERING INDEX images_by_group_newest_first",
            false,
        ),
        (
            "SEARCH images USING INDEX sqlite_autoindex_images_1 (image_id=?)",
            false,
        ),
        ("SCAN image_titles VIRTUAL TABLE INDEX 192:M1", false),
        ("SCAN hits", false),
    ];
    for (line, want) in cases {
        assert_eq!(full_scan(line), want, "{line}");
    }
}
