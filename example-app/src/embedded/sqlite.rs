//! The SQLite database behind the embedded stores: opening, pragmas, schema migrations, and
//! running blocking calls off the async runtime.
//!
//! One writer connection behind a mutex (SQLite serialises writers anyway) and read-only
//! connections (WAL lets readers run beside the writer), all used from `spawn_blocking`. Title
//! searches have readers of their own: one costs far more than a lookup by key, and a burst of
//! them must never hold every connection while the cheap reads queue behind them. WAL
//! with `synchronous=FULL` makes every committed transaction durable before the call returns,
//! so an acknowledged write survives SIGKILL and power loss; readers see every write that has
//! returned.

use std::{
    path::Path,
    sync::{Arc, LockResult, Mutex, MutexGuard, TryLockError},
    time::Duration,
};

use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior};

use super::readers::ReaderPool;
use crate::ports::PortError;

/// The schema version this code writes (`PRAGMA user_version`).
pub(crate) const SCHEMA_VERSION: i64 = 2;

/// How many read-only connections serve lookups and listings.
const READERS: usize = 4;

/// How many read-only connections serve title searches. Two, not one: searches are the costly
/// reads, and a single connection made them queue (one core busy, the other idle) under load.
const SEARCH_READERS: usize = 2;

/// How long a statement waits for a lock held by another connection (another process).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Version 1: groups, images (by id, and by group newest first), connections, title search.
/// `images.seq` is a stable rowid (VACUUM never renumbers it): `image_titles` rows share it.
const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS groups (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    timestamp TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS groups_newest_first ON groups (timestamp DESC, id DESC);
CREATE TABLE IF NOT EXISTS images (
    seq INTEGER PRIMARY KEY,
    image_id TEXT NOT NULL UNIQUE,
    group_id TEXT NOT NULL REFERENCES groups (id),
    user_id TEXT NOT NULL,
    title TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'ready')),
    image_url TEXT NOT NULL,
    thumbnail_url TEXT
);
CREATE INDEX IF NOT EXISTS images_by_group_newest_first
    ON images (group_id, timestamp DESC, image_id DESC);
CREATE TABLE IF NOT EXISTS connections (
    id TEXT PRIMARY KEY NOT NULL,
    timestamp TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS image_titles USING fts5 (
    title,
    tokenize = 'unicode61 remove_diacritics 2'
);
";

/// Version 2: when a connection's token expires (`NULL` for the rows of version 1).
const SCHEMA_V2: &str = "ALTER TABLE connections ADD COLUMN expires_at INTEGER;";

/// A shared handle on the database: cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    writer: Arc<Mutex<Connection>>,
    readers: ReaderPool,
    search_readers: ReaderPool,
}

/// Maps any SQLite failure to [`PortError::Unavailable`] (messages carry no secrets).
pub(crate) fn unavailable(error: rusqlite::Error) -> PortError {
    PortError::Unavailable(format!("sqlite: {error}"))
}

/// Whether `error` is a constraint failure with this extended code.
pub(crate) fn is_constraint(error: &rusqlite::Error, extended: i32) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(e, _)
        if e.code == ErrorCode::ConstraintViolation && e.extended_code == extended)
}

impl Db {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub(crate) fn open(path: &Path) -> Result<Self, PortError> {
        let mut writer = Connection::open(path).map_err(unavailable)?;
        configure(&writer)?;
        migrate(&mut writer)?;
        Ok(Self {
            writer: Arc::new(Mutex::new(writer)),
            readers: ReaderPool::open(path, READERS)?,
            search_readers: ReaderPool::open(path, SEARCH_READERS)?,
        })
    }

    /// Runs `f` with a read-only connection on the blocking pool, once one is free. For
    /// lookups and listings that an index answers.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, PortError> + Send + 'static,
    {
        self.readers.run(f).await
    }

    /// Like [`Db::read`], on the connections kept for title searches.
    pub(crate) async fn search<T, F>(&self, f: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, PortError> + Send + 'static,
    {
        self.search_readers.run(f).await
    }

    /// Runs `f` inside one `BEGIN IMMEDIATE` transaction on the blocking pool, committing when it
    /// returns `Ok` and rolling back otherwise.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, PortError> + Send + 'static,
    {
        let writer = Arc::clone(&self.writer);
        tokio::task::spawn_blocking(move || {
            let mut guard = lock(&writer);
            let tx = guard
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let value = f(&tx)?;
            tx.commit().map_err(unavailable)?;
            Ok(value)
        })
        .await
        .map_err(|e| PortError::Unavailable(format!("database task failed: {e}")))?
    }

    /// The writer connection, for tests that poke at the mutex.
    #[cfg(test)]
    pub(crate) fn raw(&self) -> Arc<Mutex<Connection>> {
        Arc::clone(&self.writer)
    }
}

/// Locks the connection, recovering from a panic in another holder: whatever transaction it
/// left open is rolled back, so the connection is back at a clean state.
pub(crate) fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    reset(conn, conn.lock())
}

/// Like [`lock`], but `None` at once when another holder has the connection.
pub(crate) fn try_lock(conn: &Mutex<Connection>) -> Option<MutexGuard<'_, Connection>> {
    match conn.try_lock() {
        Ok(guard) => Some(reset(conn, Ok(guard))),
        Err(TryLockError::Poisoned(poisoned)) => Some(reset(conn, Err(poisoned))),
        Err(TryLockError::WouldBlock) => None,
    }
}

fn reset<'a>(
    conn: &'a Mutex<Connection>,
    locked: LockResult<MutexGuard<'a, Connection>>,
) -> MutexGuard<'a, Connection> {
    let guard = locked.unwrap_or_else(|poisoned| {
        conn.clear_poison();
        poisoned.into_inner()
    });
    if !guard.is_autocommit()
        && let Err(error) = guard.execute_batch("ROLLBACK")
    {
        tracing::error!(%error, "could not roll back a transaction left open by a panic");
    }
    guard
}

/// Sets the pragmas every connection needs (WAL, `synchronous=FULL`, foreign keys, busy timeout).
pub(crate) fn configure(conn: &Connection) -> Result<(), PortError> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(unavailable)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(unavailable)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(PortError::Unavailable(format!(
            "sqlite: journal mode is {mode}, not wal"
        )));
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(unavailable)
}

fn migrate(conn: &mut Connection) -> Result<(), PortError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(unavailable)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(unavailable)?;
    if version > SCHEMA_VERSION {
        return Err(PortError::Unavailable(format!(
            "sqlite: schema version {version} is newer than this udagram ({SCHEMA_VERSION})"
        )));
    }
    if version < 1 {
        tx.execute_batch(SCHEMA_V1).map_err(unavailable)?;
    }
    if version < 2 {
        tx.execute_batch(SCHEMA_V2).map_err(unavailable)?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))
        .map_err(unavailable)?;
    tx.commit().map_err(unavailable)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    fn pragma(conn: &Connection, name: &str) -> String {
        conn.query_row(&format!("PRAGMA {name}"), [], |row| {
            row.get::<_, rusqlite::types::Value>(0)
        })
        .map(|v| match v {
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Text(t) => t,
            other => format!("{other:?}"),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn pragmas_are_set() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).unwrap();
        let got = db
            .read(|conn| {
                Ok([
                    "journal_mode",
                    "synchronous",
                    "foreign_keys",
                    "busy_timeout",
                    "user_version",
                ]
                .map(|name| pragma(conn, name)))
            })
            .await
            .unwrap();
        // synchronous: 2 is FULL.
        assert_eq!(got, ["wal", "2", "1", "5000", "2"].map(String::from));
        let writer = db
            .write(|tx| {
                Ok([
                    "journal_mode",
                    "synchronous",
                    "foreign_keys",
                    "busy_timeout",
                ]
                .map(|name| pragma(tx, name)))
            })
            .await
            .unwrap();
        assert_eq!(writer, ["wal", "2", "1", "5000"].map(String::from));
        let write_on_reader = db
            .read(|conn| {
                conn.execute("INSERT INTO connections VALUES ('r', 't')", [])
                    .map_err(unavailable)
            })
            .await;
        assert!(matches!(write_on_reader, Err(PortError::Unavailable(_))));
    }

    #[tokio::test]
    async fn fts5_is_compiled_in() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).unwrap();
        let options = db
            .read(|conn| {
                let mut stmt = conn
                    .prepare("PRAGMA compile_options")
                    .map_err(unavailable)?;
                let rows = stmt
                    .query_map([], |row| row.get::<_, String>(0))
                    .map_err(unavailable)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
            })
            .await
            .unwrap();
        assert!(options.iter().any(|o| o == "ENABLE_FTS5"), "{options:?}");
    }

    #[tokio::test]
    async fn opening_twice_is_idempotent_and_newer_schemas_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        drop(Db::open(&path).unwrap());
        let db = Db::open(&path).unwrap();
        db.write(|tx| {
            tx.execute_batch("PRAGMA user_version = 99")
                .map_err(unavailable)
        })
        .await
        .unwrap();
        drop(db);
        assert!(matches!(Db::open(&path), Err(PortError::Unavailable(m)) if m.contains("99")));
    }

    #[tokio::test]
    async fn a_version_1_database_gains_token_expiry_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA_V1).unwrap();
            conn.execute_batch(
                "INSERT INTO connections VALUES ('old=', 't'); PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let db = Db::open(&path).unwrap();
        let rows = db
            .read(|conn| {
                conn.query_row(
                    "SELECT id, expires_at, (SELECT user_version FROM pragma_user_version) \
                     FROM connections",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .map_err(unavailable)
            })
            .await
            .unwrap();
        assert_eq!(rows, ("old=".to_owned(), None::<i64>, SCHEMA_VERSION));
    }

    #[tokio::test]
    async fn failed_writes_roll_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).unwrap();
        let err = db
            .write(|tx| {
                tx.execute("INSERT INTO connections VALUES ('a', 't', NULL)", [])
                    .map_err(unavailable)?;
                Err::<(), _>(PortError::Invalid("no".into()))
            })
            .await;
        assert_eq!(err, Err(PortError::Invalid("no".into())));
        let count: i64 = db
            .read(|c| {
                c.query_row("SELECT count(*) FROM connections", [], |r| r.get(0))
                    .map_err(unavailable)
            })
            .await
            .unwrap();
        assert_eq!(count, 0);
    }

    #[tokio::test]
    async fn a_poisoned_mutex_does_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).unwrap();
        let raw = db.raw();
        let _ = std::thread::spawn(move || {
            let guard = raw.lock().unwrap();
            guard
                .execute_batch("BEGIN; INSERT INTO connections VALUES ('x', 't', NULL);")
                .unwrap();
            panic!("poison the lock mid-transaction");
        })
        .join();
        assert!(db.raw().is_poisoned());
        // The panicking thread left a transaction open: it is rolled back, and writes work.
        db.write(|tx| {
            tx.execute("INSERT INTO connections VALUES ('y', 't', NULL)", [])
                .map_err(unavailable)
        })
        .await
        .unwrap();
        let ids: Vec<String> = db
            .read(|c| {
                let mut stmt = c
                    .prepare("SELECT id FROM connections")
                    .map_err(unavailable)?;
                let rows = stmt.query_map([], |r| r.get(0)).map_err(unavailable)?;
                rows.collect::<Result<_, _>>().map_err(unavailable)
            })
            .await
            .unwrap();
        assert_eq!(ids, ["y"]);
        assert!(!db.raw().is_poisoned());
    }
}
