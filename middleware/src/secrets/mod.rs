//! Secrets and parameters: a shared, single-flight cache over Secrets Manager and SSM Parameter
//! Store, a redacting [`Secret<T>`], and a layer that puts secrets into request extensions.
//!
//! ```
//! use std::time::Duration;
//! use lamina_middleware::secrets::{InMemorySource, SecretCache, SecretKey, VersionStage};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), lamina_middleware::secrets::SecretError> {
//! // In a function: `SecretsManagerSource::new(client)` or `ParameterStoreSource::new(client)`.
//! let source = InMemorySource::new();
//! source.insert_text("prod/db-password", "rotated-pw");
//! source.insert(
//!     SecretKey::new("prod/db-password").with_stage(VersionStage::Previous),
//!     lamina_middleware::secrets::SecretValue::text("old-pw"),
//! );
//!
//! let cache = SecretCache::builder(source)
//!     .max_age(Duration::from_secs(300))
//!     .max_stale(Duration::from_secs(3600))
//!     .build();
//!
//! let password = cache.get_string("prod/db-password").await?;
//! assert_eq!(format!("{password:?}"), "Secret([REDACTED])");
//! assert_eq!(password.expose(), "rotated-pw");
//!
//! // During a rotation, the database may still accept only the previous password.
//! let previous = SecretKey::new("prod/db-password").with_stage(VersionStage::Previous);
//! assert_eq!(cache.get_string(previous).await?.expose(), "old-pw");
//!
//! // After an authentication failure: the next read fetches again.
//! cache.invalidate("prod/db-password");
//! # Ok(())
//! # }
//! ```
//!
//! The parts, ports and adapters style:
//!
//! - [`SecretSource`] is the port; [`SecretsManagerSource`] and [`ParameterStoreSource`] are the
//!   AWS adapters, [`DirectorySource`] reads mounted secret files on one machine, and
//!   [`InMemorySource`] is the one for tests.
//! - [`SecretCache`] adds `max_age`, single flight, the `max_stale` fallback during outages,
//!   forced refresh, invalidation and typed reads (`get_string`, `get_bytes`, `get_base64`,
//!   `get_json::<T>`, `get_many`, `get_path`).
//! - [`SecretsLayer`] loads named secrets per request into [`Secrets`] or `Secret<T>` extensions.
//!
//! Values never appear in `Debug`, `Display`, serde output, errors or logs: every value is held in
//! a [`Secret`], and decoding errors give positions, not text.

mod cache;
mod clock;
mod decode;
mod directory;
mod error;
mod layer;
mod memory;
mod parameter_store;
mod secret;
mod secrets_manager;
mod slot;
mod source;

pub use cache::{
    DEFAULT_MAX_AGE, DEFAULT_MAX_STALE, DEFAULT_RETRY_AFTER, SecretCache, SecretCacheBuilder,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use directory::{DirectorySource, MAX_SECRET_FILE_BYTES};
pub use error::SecretError;
pub use layer::{ResponseFuture, SECRET_UNAVAILABLE_TYPE, Secrets, SecretsLayer, SecretsService};
pub use memory::InMemorySource;
pub use parameter_store::ParameterStoreSource;
pub use secret::{REDACTED, Secret};
pub use secrets_manager::SecretsManagerSource;
pub use source::{
    BoxFuture, PayloadKind, SecretKey, SecretSource, SecretValue, SourceError, VersionStage,
};
