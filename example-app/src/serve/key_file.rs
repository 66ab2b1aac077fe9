//! The URL-signing key (made by [`EmbeddedStore::open`](crate::embedded::EmbeddedStore::open)),
//! read through Lamina's [`SecretCache`] from a [`SecretSource`] over its file (on AWS the same
//! cache reads Secrets Manager).
//!
//! [`SecretCache`]: lamina_middleware::secrets::SecretCache

use std::path::PathBuf;

use lamina_middleware::secrets::{BoxFuture, SecretKey, SecretSource, SecretValue, SourceError};

/// The key's name in the cache.
pub(crate) const SIGNING_KEY_NAME: &str = "upload-url-signing-key";

/// A [`SecretSource`] holding one secret, [`SIGNING_KEY_NAME`], read from a file.
#[derive(Debug)]
pub(crate) struct KeyFileSource {
    path: PathBuf,
}

impl KeyFileSource {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

impl SecretSource for KeyFileSource {
    fn fetch<'a>(&'a self, key: &'a SecretKey) -> BoxFuture<'a, Result<SecretValue, SourceError>> {
        Box::pin(async move {
            if key.name() != SIGNING_KEY_NAME {
                return Err(SourceError::NotFound);
            }
            match tokio::fs::read(&self.path).await {
                Ok(bytes) if bytes.len() >= 32 => Ok(SecretValue::binary(bytes)),
                Ok(_) => Err(SourceError::Backend {
                    service: "key-file",
                    code: None,
                    message: "the key file is shorter than 32 bytes".into(),
                }),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    Err(SourceError::NotFound)
                }
                Err(error) => Err(SourceError::Backend {
                    service: "key-file",
                    code: None,
                    message: error.to_string(),
                }),
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use lamina_middleware::secrets::SecretCache;

    #[tokio::test]
    async fn the_key_is_read_through_the_cache_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.key");
        let first = [7u8; 32].to_vec();
        std::fs::write(&path, &first).unwrap();
        let cache = SecretCache::new(KeyFileSource::new(path.clone()));
        let key = cache.get_bytes(SIGNING_KEY_NAME).await.unwrap();
        assert_eq!(key.expose().as_ref(), first.as_slice());
        assert!(format!("{key:?}").contains("REDACTED"));
        assert!(cache.get_bytes("other").await.is_err());
        std::fs::write(&path, b"short").unwrap();
        let short = SecretCache::new(KeyFileSource::new(path));
        let error = short.get_bytes(SIGNING_KEY_NAME).await.unwrap_err();
        assert!(!error.to_string().contains("short\""));
    }
}
