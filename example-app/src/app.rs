//! The use cases, over the ports only: the same [`App`] serves `udagram serve` (embedded adapters)
//! and the Lambda handlers (AWS adapters).
//!
//! Input is assumed shaped by the API layer (JSON Schema, UUID path ids, page limits); the rules
//! that need the stores (a group exists, an image is still pending, a page key is genuine) live here.
//!
//! ```
//! use std::sync::Arc;
//! use udagram::app::App;
//! use udagram::embedded::{EmbeddedStore, FileBlobStore, blobs_dir, signing_key_path};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
//! let key = std::fs::read(signing_key_path(dir.path())).unwrap();
//! let blobs = FileBlobStore::open(&blobs_dir(dir.path()), "http://127.0.0.1:3000", key).unwrap();
//! let app = App::new(store.clone(), store.clone(), store, Arc::new(blobs));
//! let group = app.create_group("alice", "Cats", "").await.unwrap();
//! assert_eq!(app.get_group(&group.id).await.unwrap().user_id, "alice");
//! # });
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::domain::{
    ALLOWED_CONTENT_TYPES, Group, Image, ImageStatus, Page, PageRequest, is_allowed_content_type,
};
use crate::ports::{BlobStore, GroupStore, ImageCatalog, ImageSearch, PortError, UploadForm};
use crate::post_policy::PostPolicyError;

/// The most bytes one upload may carry (10 MiB).
pub const MAX_UPLOAD_BYTES: u64 = 10 * 1024 * 1024;
/// How long an upload form stays valid.
pub const UPLOAD_FORM_LIFETIME: Duration = Duration::from_secs(300);

/// The wall clock, behind a trait so tests can fix time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// Why a use case failed. Client mistakes are 4xx variants; only [`AppError::Unavailable`] is a
/// server fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// No group with this id.
    #[error("no group {0}")]
    GroupNotFound(String),
    /// No image with this id.
    #[error("no image {0}")]
    ImageNotFound(String),
    /// The input breaks a rule (a page limit, a search text, a page key the store did not make).
    #[error("{0}")]
    Invalid(String),
    /// The upload form breaks its policy or its signature (S3's refusals, `serve` refuses alike).
    #[error("{0}")]
    UploadRefused(#[from] PostPolicyError),
    /// The image's bytes already arrived.
    #[error("image {0} is already uploaded")]
    AlreadyUploaded(String),
    /// A port failed (storage, bus): a server fault whose details stay in the logs.
    #[error("backend unavailable: {0}")]
    Unavailable(PortError),
}

impl From<PortError> for AppError {
    fn from(error: PortError) -> Self {
        match error {
            PortError::InvalidPageKey(_) => Self::Invalid("nextKey is not a valid page key".into()),
            other => Self::Unavailable(other),
        }
    }
}

/// What `POST /groups/{groupId}/images` answers: the record and the form to POST its bytes with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewImage {
    /// The pending record.
    pub image: Image,
    /// The signed upload form.
    pub upload: UploadForm,
}

/// The use cases of Udagram, over the ports.
#[derive(Debug, Clone)]
pub struct App {
    groups: Arc<dyn GroupStore>,
    images: Arc<dyn ImageCatalog>,
    search: Arc<dyn ImageSearch>,
    blobs: Arc<dyn BlobStore>,
    clock: Arc<dyn Clock>,
}

impl App {
    /// An app over these ports, with the system clock.
    #[must_use]
    pub fn new(
        groups: Arc<dyn GroupStore>,
        images: Arc<dyn ImageCatalog>,
        search: Arc<dyn ImageSearch>,
        blobs: Arc<dyn BlobStore>,
    ) -> Self {
        Self {
            groups,
            images,
            search,
            blobs,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same app with another clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The blob store (the local server reads files through it).
    #[must_use]
    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    fn timestamp(&self) -> String {
        rfc3339_millis(self.clock.now())
    }

    /// Creates a group owned by `user_id` (the token's `sub`).
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when the store fails.
    pub async fn create_group(
        &self,
        user_id: &str,
        name: &str,
        description: &str,
    ) -> Result<Group, AppError> {
        let group = Group {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user_id.to_owned(),
            name: name.to_owned(),
            description: description.to_owned(),
            timestamp: self.timestamp(),
        };
        self.groups.create_group(&group).await?;
        Ok(group)
    }

    /// A page of groups, newest first.
    ///
    /// # Errors
    /// [`AppError::Invalid`] for a page key the store did not make.
    pub async fn list_groups(&self, page: &PageRequest) -> Result<Page<Group>, AppError> {
        Ok(self.groups.list_groups(page).await?)
    }

    /// One group.
    ///
    /// # Errors
    /// [`AppError::GroupNotFound`].
    pub async fn get_group(&self, id: &str) -> Result<Group, AppError> {
        self.groups
            .get_group(id)
            .await?
            .ok_or_else(|| AppError::GroupNotFound(id.to_owned()))
    }

    /// Creates a pending image in `group_id` and signs an upload form for `content_type` (one of
    /// [`ALLOWED_CONTENT_TYPES`]). Its title becomes searchable through the record's write (the
    /// Images table's stream on AWS, the same transaction locally), not through a second call.
    ///
    /// # Errors
    /// [`AppError::GroupNotFound`], [`AppError::Invalid`] for another content type.
    pub async fn create_image(
        &self,
        user_id: &str,
        group_id: &str,
        title: &str,
        content_type: &str,
    ) -> Result<NewImage, AppError> {
        if !is_allowed_content_type(content_type) {
            return Err(AppError::Invalid(format!(
                "contentType must be one of {}",
                ALLOWED_CONTENT_TYPES.join(", ")
            )));
        }
        self.get_group(group_id).await?;
        let image_id = uuid::Uuid::new_v4().to_string();
        let image = Image {
            image_url: self.blobs.read_url(&image_id),
            image_id,
            group_id: group_id.to_owned(),
            user_id: user_id.to_owned(),
            title: title.to_owned(),
            timestamp: self.timestamp(),
            status: ImageStatus::Pending,
            thumbnail_url: None,
        };
        self.images.create_image(&image).await?;
        let upload = self
            .blobs
            .upload_form(
                &image.image_id,
                content_type,
                MAX_UPLOAD_BYTES,
                UPLOAD_FORM_LIFETIME,
            )
            .await?;
        Ok(NewImage { image, upload })
    }

    /// A page of a group's images, newest first.
    ///
    /// # Errors
    /// [`AppError::GroupNotFound`], [`AppError::Invalid`] for a bad page key.
    pub async fn list_images(
        &self,
        group_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Image>, AppError> {
        self.get_group(group_id).await?;
        Ok(self.images.list_images(group_id, page).await?)
    }

    /// One image.
    ///
    /// # Errors
    /// [`AppError::ImageNotFound`].
    pub async fn get_image(&self, image_id: &str) -> Result<Image, AppError> {
        self.images
            .get_image(image_id)
            .await?
            .ok_or_else(|| AppError::ImageNotFound(image_id.to_owned()))
    }

    /// Images whose titles match `query` (1 to 200 characters), at most `limit`.
    ///
    /// # Errors
    /// [`AppError::Invalid`] for an empty or too long query.
    pub async fn search(&self, query: &str, limit: u32) -> Result<Vec<Image>, AppError> {
        let chars = query.chars().count();
        if query.trim().is_empty() || chars > 200 {
            return Err(AppError::Invalid("q must be 1 to 200 characters".into()));
        }
        Ok(self.search.search(query, limit).await?)
    }
}

/// RFC 3339 in UTC with exactly three fractional digits, so timestamps sort as text.
#[must_use]
pub fn rfc3339_millis(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_milliseconds_in_utc() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(rfc3339_millis(at), "2023-11-14T22:13:20.123Z");
        let offset = at.to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
        assert_eq!(rfc3339_millis(offset), "2023-11-14T22:13:20.123Z");
    }
}
