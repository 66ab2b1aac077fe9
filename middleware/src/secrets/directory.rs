//! [`DirectorySource`]: secrets as files in a directory, the way Docker and Kubernetes mount them
//! (`/run/secrets/<name>`), for running a function on one machine with the same [`SecretCache`]
//! code it uses with Secrets Manager on AWS.
//!
//! [`SecretCache`]: super::SecretCache

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use super::source::{BoxFuture, SecretKey, SecretSource, SecretValue, SourceError, VersionStage};

/// The name this source reports in [`SourceError::Backend`].
const SERVICE: &str = "secrets-directory";

/// Files larger than this are refused (Secrets Manager's own limit is 64 KiB).
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// Secrets read from files under one directory: the secret `prod/db-password` is the file
/// `<dir>/prod/db-password`, read on every fetch (the cache decides how often that is).
///
/// - A file's bytes are the value, verbatim (a trailing newline is kept): UTF-8 files are text
///   secrets, others binary.
/// - Names are relative paths of normal segments: empty, `.` and `..` segments, absolute names
///   and backslashes are refused, so a name can never leave the directory.
/// - Only the current version exists: other version stages are [`SourceError::NotFound`].
/// - [`fetch_path`](SecretSource::fetch_path) lists the files under a sub-directory, recursively,
///   skipping entries whose name starts with `.` (Kubernetes keeps its `..data` links there).
///
/// ```
/// use lamina_middleware::secrets::{DirectorySource, SecretCache};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// std::fs::create_dir(dir.path().join("prod"))?;
/// std::fs::write(dir.path().join("prod/db-password"), "s3cret")?;
///
/// let cache = SecretCache::new(DirectorySource::new(dir.path()));
/// assert_eq!(cache.get_string("prod/db-password").await?.expose(), "s3cret");
/// assert!(cache.get_string("../etc/passwd").await.is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DirectorySource {
    root: PathBuf,
}

impl DirectorySource {
    /// Secrets under `root` (the directory need not exist yet: missing files are
    /// [`SourceError::NotFound`]).
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The file of the secret `name`, or why no file can be.
    fn file_of(&self, name: &str) -> Result<PathBuf, SourceError> {
        let refused = || SourceError::Unsupported {
            operation: "secret names that are not relative paths of plain segments",
        };
        if name.is_empty() || name.contains('\\') || name.contains('\0') {
            return Err(refused());
        }
        let mut path = self.root.clone();
        for segment in name.split('/') {
            let mut components = Path::new(segment).components();
            match (components.next(), components.next()) {
                (Some(Component::Normal(part)), None) if part == segment => path.push(part),
                _ => return Err(refused()),
            }
        }
        Ok(path)
    }
}

impl SecretSource for DirectorySource {
    fn fetch<'a>(&'a self, key: &'a SecretKey) -> BoxFuture<'a, Result<SecretValue, SourceError>> {
        Box::pin(async move {
            if *key.stage() != VersionStage::Current {
                return Err(SourceError::NotFound);
            }
            let path = self.file_of(key.name())?;
            read_value(&path).await
        })
    }

    fn fetch_path<'a>(
        &'a self,
        path: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, SecretValue)>, SourceError>> {
        Box::pin(async move {
            let prefix = path.trim_matches('/');
            let dir = if prefix.is_empty() {
                self.root.clone()
            } else {
                self.file_of(prefix)?
            };
            let mut found = Vec::new();
            let mut pending = vec![(dir, prefix.to_owned())];
            while let Some((dir, name)) = pending.pop() {
                let mut entries = match tokio::fs::read_dir(&dir).await {
                    Ok(entries) => entries,
                    Err(error) if error.kind() == ErrorKind::NotFound => continue,
                    Err(error) => return Err(backend(&error)),
                };
                while let Some(entry) = entries.next_entry().await.map_err(|e| backend(&e))? {
                    let file_name = entry.file_name();
                    let Some(file_name) = file_name.to_str() else {
                        continue; // not a name a caller could ask for
                    };
                    if file_name.starts_with('.') {
                        continue;
                    }
                    let child = if name.is_empty() {
                        file_name.to_owned()
                    } else {
                        format!("{name}/{file_name}")
                    };
                    // `metadata` follows symbolic links, as mounted secrets use them.
                    let meta = tokio::fs::metadata(entry.path())
                        .await
                        .map_err(|e| backend(&e))?;
                    if meta.is_dir() {
                        pending.push((entry.path(), child));
                    } else {
                        found.push((child, read_value(&entry.path()).await?));
                    }
                }
            }
            found.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(found)
        })
    }
}

/// The value in the file at `path`.
async fn read_value(path: &Path) -> Result<SecretValue, SourceError> {
    let meta = match tokio::fs::metadata(path).await {
        Ok(meta) => meta,
        Err(error) if error.kind() == ErrorKind::NotFound => return Err(SourceError::NotFound),
        Err(error) => return Err(backend(&error)),
    };
    if meta.is_dir() {
        return Err(SourceError::NotFound);
    }
    if meta.len() > MAX_SECRET_FILE_BYTES {
        return Err(SourceError::Backend {
            service: SERVICE,
            code: None,
            message: format!("the file is larger than {MAX_SECRET_FILE_BYTES} bytes"),
        });
    }
    let bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == ErrorKind::NotFound => return Err(SourceError::NotFound),
        Err(error) => return Err(backend(&error)),
    };
    Ok(match String::from_utf8(bytes) {
        Ok(text) => SecretValue::text(text),
        Err(not_text) => SecretValue::binary(not_text.into_bytes()),
    })
}

/// An I/O failure, described by its kind only (an OS message can name the path, never the value).
fn backend(error: &std::io::Error) -> SourceError {
    SourceError::Backend {
        service: SERVICE,
        code: None,
        message: error.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use crate::secrets::SecretCache;

    fn source() -> (tempfile::TempDir, DirectorySource) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("prod/db")).unwrap();
        std::fs::write(dir.path().join("prod/db/password"), "pw\n").unwrap();
        std::fs::write(dir.path().join("prod/api-key"), [0xff, 0x00, 0x01]).unwrap();
        std::fs::write(dir.path().join("prod/.hidden"), "x").unwrap();
        std::fs::write(dir.path().join("top"), "t").unwrap();
        let source = DirectorySource::new(dir.path());
        (dir, source)
    }

    #[tokio::test]
    async fn files_are_text_or_binary_secrets_read_verbatim() {
        let (_dir, source) = source();
        let cache = SecretCache::new(source);
        assert_eq!(
            cache.get_string("prod/db/password").await.unwrap().expose(),
            "pw\n"
        );
        let key = cache.get_bytes("prod/api-key").await.unwrap();
        assert_eq!(key.expose().as_ref(), [0xff, 0x00, 0x01]);
        assert!(format!("{key:?}").contains("REDACTED"));
    }

    #[tokio::test]
    async fn names_never_leave_the_directory() {
        let (_dir, source) = source();
        for name in [
            "",
            "/top",
            "../top",
            "prod/../top",
            "prod//api-key",
            "./top",
            "prod/",
            "a\\b",
            "nul\0",
        ] {
            let error = source.fetch(&SecretKey::new(name)).await.unwrap_err();
            assert!(
                matches!(error, SourceError::Unsupported { .. }),
                "{name:?}: {error}"
            );
        }
        for missing in ["nope", "prod", "prod/db/password/more"] {
            let error = source.fetch(&SecretKey::new(missing)).await.unwrap_err();
            assert!(
                matches!(error, SourceError::NotFound | SourceError::Backend { .. }),
                "{missing:?}: {error}"
            );
        }
        let previous = SecretKey::new("top").with_stage(VersionStage::Previous);
        assert!(matches!(
            source.fetch(&previous).await,
            Err(SourceError::NotFound)
        ));
    }

    #[tokio::test]
    async fn paths_list_files_recursively_without_hidden_entries() {
        let (_dir, source) = source();
        let names = |found: Vec<(String, SecretValue)>| {
            found.into_iter().map(|(name, _)| name).collect::<Vec<_>>()
        };
        assert_eq!(
            names(source.fetch_path("/prod").await.unwrap()),
            ["prod/api-key", "prod/db/password"]
        );
        assert_eq!(
            names(source.fetch_path("").await.unwrap()),
            ["prod/api-key", "prod/db/password", "top"]
        );
        assert!(source.fetch_path("absent").await.unwrap().is_empty());
        assert!(source.fetch_path("../x").await.is_err());
    }

    #[tokio::test]
    async fn oversized_files_are_refused_without_their_content() {
        let (dir, source) = source();
        let big = "s".repeat(usize::try_from(MAX_SECRET_FILE_BYTES).unwrap() + 1);
        std::fs::write(dir.path().join("big"), &big).unwrap();
        let error = source.fetch(&SecretKey::new("big")).await.unwrap_err();
        assert!(error.to_string().contains("larger than"), "{error}");
        assert!(!error.to_string().contains("sss"));
    }
}
