//! [`BlobStore`] on the filesystem: one file per key in the blob directory, written atomically,
//! with upload forms in S3's POST protocol ([`crate::post_policy`]) signed with the data
//! directory's key, which `udagram serve` checks as S3 would.
//!
//! Each file starts with one header line, `udagram-blob/1 <content type>\n`, then the bytes: the
//! content type lives beside the bytes in the same file, so one rename replaces both together.
//! A write goes to a temporary file in the same directory (named with a leading `.`, which no
//! key has), is fsynced, renamed over the key, and the directory is fsynced: a crash leaves the
//! old blob or the new one, never a mix. Leftover temporary files are removed on open.

use std::{
    fmt,
    fs::{self, File, OpenOptions},
    io::{ErrorKind, Write},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime},
};

use bytes::Bytes;

use crate::{
    ports::{BlobStore, BoxFuture, PortError, UploadForm, validate_content_type, validate_key},
    post_policy::{self, PolicyVerifier, SigningIdentity, UploadPolicy},
};

/// The access key id of `serve`'s upload forms (their secret is the data directory's signing
/// key, in hex).
pub(crate) const LOCAL_ACCESS_KEY_ID: &str = "udagram-serve";
/// The region `serve`'s upload forms are scoped to.
pub(crate) const LOCAL_REGION: &str = "local";
/// The bucket name `serve`'s upload policies name.
pub(crate) const LOCAL_BUCKET: &str = "udagram";

const HEADER_PREFIX: &[u8] = b"udagram-blob/1 ";
const TEMP_SUFFIX: &str = ".tmp";
fn io_error(what: &str, error: std::io::Error) -> PortError {
    PortError::Unavailable(format!("{what}: {error}"))
}

/// The local blob store. Clone-able; `Debug` never shows the signing key.
#[derive(Clone)]
pub struct FileBlobStore {
    dir: Arc<PathBuf>,
    public_base_url: Arc<str>,
    signing_key: Arc<Vec<u8>>,
}

impl fmt::Debug for FileBlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileBlobStore")
            .field("dir", &self.dir)
            .field("public_base_url", &self.public_base_url)
            .field("signing_key", &"<redacted>")
            .finish()
    }
}

impl FileBlobStore {
    /// Opens (creating) the blob directory `dir`; URLs start with `public_base_url` (a trailing
    /// `/` is ignored); upload URLs are signed with `signing_key`. Removes temporary files left
    /// by a crash, so one process at a time owns a blob directory.
    pub fn open(
        dir: &Path,
        public_base_url: &str,
        signing_key: Vec<u8>,
    ) -> Result<Self, PortError> {
        fs::create_dir_all(dir).map_err(|e| io_error("creating the blob directory", e))?;
        remove_leftover_temp_files(dir)?;
        Ok(Self {
            dir: Arc::new(dir.to_path_buf()),
            public_base_url: public_base_url.trim_end_matches('/').into(),
            signing_key: Arc::new(signing_key),
        })
    }

    /// Checks a form posted to `serve` against this store's signing key ([`post_policy::verify`]).
    ///
    /// # Errors
    /// Whatever [`post_policy::verify`] refuses.
    pub fn verify_form(
        &self,
        fields: &[(String, String)],
        file_len: u64,
        now: SystemTime,
    ) -> Result<post_policy::AcceptedUpload, post_policy::PostPolicyError> {
        let secret = hex::encode(self.signing_key.as_slice());
        let verifier = PolicyVerifier {
            access_key_id: LOCAL_ACCESS_KEY_ID,
            secret_access_key: &secret,
            region: LOCAL_REGION,
            bucket: LOCAL_BUCKET,
        };
        post_policy::verify(fields, file_len, &verifier, now)
    }

    fn path(&self, key: &str) -> Result<PathBuf, PortError> {
        validate_key(key)?;
        Ok(self.dir.join(key))
    }
}

fn remove_leftover_temp_files(dir: &Path) -> Result<(), PortError> {
    let entries = fs::read_dir(dir).map_err(|e| io_error("reading the blob directory", e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(TEMP_SUFFIX) {
            fs::remove_file(entry.path()).map_err(|e| io_error("removing a temp file", e))?;
        }
    }
    Ok(())
}

/// Writes `content_type` and `bytes` to `path` atomically (see the module docs).
fn write_atomically(path: &Path, content_type: &str, bytes: &[u8]) -> Result<(), PortError> {
    let dir = path
        .parent()
        .ok_or_else(|| PortError::Invalid("blob path has no directory".into()))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = dir.join(format!(
        ".{name}.{}{TEMP_SUFFIX}",
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| io_error("creating a temp file", e))?;
        let mut write = |part: &[u8]| {
            file.write_all(part)
                .map_err(|e| io_error("writing a blob", e))
        };
        write(HEADER_PREFIX)?;
        write(content_type.as_bytes())?;
        write(b"\n")?;
        write(bytes)?;
        file.sync_all().map_err(|e| io_error("syncing a blob", e))?;
        fs::rename(&temp, path).map_err(|e| io_error("renaming a blob", e))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error("syncing the blob directory", e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Reads a blob file: its bytes and content type, or `None` when there is none.
fn read_blob(path: &Path) -> Result<Option<(Bytes, String)>, PortError> {
    let data = match fs::read(path) {
        Ok(data) => data,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("reading a blob", e)),
    };
    let corrupt = || PortError::Unavailable("corrupt blob file".into());
    let rest = data.strip_prefix(HEADER_PREFIX).ok_or_else(corrupt)?;
    let end = rest.iter().position(|&b| b == b'\n').ok_or_else(corrupt)?;
    let content_type = std::str::from_utf8(&rest[..end])
        .map_err(|_| corrupt())?
        .to_owned();
    let start = HEADER_PREFIX.len() + end + 1;
    Ok(Some((Bytes::from(data).slice(start..), content_type)))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PortError> + Send + 'static,
) -> Result<T, PortError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PortError::Unavailable(format!("blob task failed: {e}")))?
}

impl BlobStore for FileBlobStore {
    fn put_blob<'a>(
        &'a self,
        key: &'a str,
        bytes: Bytes,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            validate_content_type(content_type)?;
            let content_type = content_type.to_owned();
            blocking(move || write_atomically(&path, &content_type, &bytes)).await
        })
    }

    fn get_blob<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<(Bytes, String)>, PortError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            blocking(move || read_blob(&path)).await
        })
    }

    fn upload_form<'a>(
        &'a self,
        key: &'a str,
        content_type: &'a str,
        max_bytes: u64,
        expires_in: Duration,
    ) -> BoxFuture<'a, Result<UploadForm, PortError>> {
        Box::pin(async move {
            validate_key(key)?;
            validate_content_type(content_type)?;
            let now = SystemTime::now();
            let policy = UploadPolicy {
                bucket: LOCAL_BUCKET.to_owned(),
                key: key.to_owned(),
                content_type: content_type.to_owned(),
                max_bytes,
                expires_at: now + expires_in,
            };
            let secret = hex::encode(self.signing_key.as_slice());
            let identity = SigningIdentity {
                access_key_id: LOCAL_ACCESS_KEY_ID,
                secret_access_key: &secret,
                session_token: None,
                region: LOCAL_REGION,
            };
            let url = format!("{}/uploads", self.public_base_url);
            let post = post_policy::presign(&url, &policy, &identity, now);
            Ok(UploadForm {
                url: post.url,
                fields: post.fields,
                content_type: content_type.to_owned(),
                max_bytes,
                expires_in,
            })
        })
    }

    fn read_url(&self, key: &str) -> String {
        format!("{}/files/{key}", self.public_base_url)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests;
