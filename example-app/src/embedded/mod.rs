//! The embedded adapters: everything `udagram serve` needs on one machine.
//!
//! - [`EmbeddedStore`]: groups, images, connections and title search in one SQLite database
//!   (`DIR/udagram.sqlite3`, WAL, `synchronous=FULL`, FTS5).
//! - [`FileBlobStore`]: image bytes in `DIR/blobs`, written atomically, with HMAC-signed upload
//!   URLs (the key in `DIR/signing.key`, made once).
//! - [`ChannelBus`]: upload events over an in-process channel.
//! - [`LocalHub`]: messages to connected clients over per-connection channels.
//!
//! ```
//! use udagram::{embedded::{EmbeddedStore, FileBlobStore, blobs_dir, signing_key_path}, ports::GroupStore};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let store = EmbeddedStore::open(dir.path()).unwrap();
//! let key = std::fs::read(signing_key_path(dir.path())).unwrap();
//! let blobs = FileBlobStore::open(&blobs_dir(dir.path()), "http://127.0.0.1:8080", key).unwrap();
//! assert!(store.get_group("0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b").await.unwrap().is_none());
//! # let _ = blobs;
//! # });
//! ```

mod blobs;
mod bus;
mod connections;
mod groups;
mod hub;
mod images;
#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod query_plans;
mod readers;
mod search;
mod sqlite;
#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests;

use std::{
    fs::{self, File, OpenOptions},
    io::{ErrorKind, Write},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

pub use blobs::FileBlobStore;
pub use bus::{ChannelBus, DEFAULT_CAPACITY};
pub use hub::{CONNECTION_BUFFER, LocalHub};

use crate::ports::PortError;
use sqlite::Db;

/// The length of the upload-URL signing key, in bytes.
pub const SIGNING_KEY_LEN: usize = 32;

/// Where the SQLite database lives in a data directory.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("udagram.sqlite3")
}

/// Where the blobs live in a data directory.
pub fn blobs_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("blobs")
}

/// Where the upload-URL signing key (32 random bytes, mode 0600) lives in a data directory.
pub fn signing_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("signing.key")
}

/// Groups, images, connections and search on one SQLite database. Clones share the database.
#[derive(Debug, Clone)]
pub struct EmbeddedStore {
    db: Db,
}

impl EmbeddedStore {
    /// Opens the data directory `data_dir`, creating it, its database (schema up to date), its
    /// blob directory and its signing key as needed.
    pub fn open(data_dir: &Path) -> Result<EmbeddedStore, PortError> {
        fs::create_dir_all(data_dir)
            .map_err(|e| PortError::Unavailable(format!("creating the data directory: {e}")))?;
        fs::create_dir_all(blobs_dir(data_dir))
            .map_err(|e| PortError::Unavailable(format!("creating the blob directory: {e}")))?;
        ensure_signing_key(&signing_key_path(data_dir))?;
        let db = Db::open(&database_path(data_dir))?;
        Ok(EmbeddedStore { db })
    }
}

/// Makes the signing key at `path` unless it exists: written to a private temp file, synced,
/// then hard-linked into place (which fails if another process got there first), so the key
/// is never seen half-written and never replaced.
fn ensure_signing_key(path: &Path) -> Result<(), PortError> {
    let failed = |what: &str, e: std::io::Error| PortError::Unavailable(format!("{what}: {e}"));
    match fs::metadata(path) {
        Ok(meta) if meta.len() == SIGNING_KEY_LEN as u64 => return Ok(()),
        Ok(_) => {
            return Err(PortError::Unavailable(format!(
                "the signing key is not {SIGNING_KEY_LEN} bytes long"
            )));
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(failed("reading the signing key", e)),
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = dir.join(format!(
        ".signing.key.{}.tmp",
        uuid::Uuid::new_v4().simple()
    ));
    let mut key = [0u8; SIGNING_KEY_LEN];
    rand::fill(&mut key);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .map_err(|e| failed("creating the signing key", e))?;
        file.write_all(&key)
            .and_then(|()| file.sync_all())
            .map_err(|e| failed("writing the signing key", e))?;
        match fs::hard_link(&temp, path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(failed("placing the signing key", e)),
        }
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| failed("syncing the data directory", e))
    })();
    let _ = fs::remove_file(&temp);
    result
}
