//! The local upload protocol of `udagram serve`: `POST /uploads`, a `multipart/form-data` form in
//! S3's browser-upload protocol ([`crate::post_policy`]), the same form the web client posts to
//! S3 on AWS. An adapter of `serve`, not a use case: on AWS the bytes go to S3 and the bucket's
//! notification announces them.
//!
//! [`LocalUploads::accept`] checks the form as S3 would (signature, expiry, key, content type,
//! size), that the image exists and is still pending; then stores the bytes atomically and
//! publishes [`ImageUploaded`] on the in-process bus, as S3 and SNS would. Nothing is stored when
//! any check fails.

use std::sync::Arc;

use bytes::Bytes;

use crate::app::{AppError, Clock, MAX_UPLOAD_BYTES, SystemClock};
use crate::domain::{ImageStatus, ImageUploaded};
use crate::embedded::FileBlobStore;
use crate::ports::{BlobStore, EventBus, ImageStore};
use crate::post_policy::PostPolicyError;

/// One form posted to `POST /uploads`, as the API layer parsed it.
#[derive(Debug, Clone, Default)]
pub struct PostedForm {
    /// The fields before the file, names as sent.
    pub fields: Vec<(String, String)>,
    /// The field `file`'s bytes, if the form had one.
    pub file: Option<Bytes>,
}

/// The uploads `serve` accepts, over the ports they touch. Clones share them.
#[derive(Debug, Clone)]
pub struct LocalUploads {
    images: Arc<dyn ImageStore>,
    blobs: Arc<FileBlobStore>,
    events: Arc<dyn EventBus>,
    clock: Arc<dyn Clock>,
}

impl LocalUploads {
    /// Uploads checked against `images` and `blobs`' signing key, stored in `blobs` and
    /// announced on `events`.
    #[must_use]
    pub fn new(
        images: Arc<dyn ImageStore>,
        blobs: Arc<FileBlobStore>,
        events: Arc<dyn EventBus>,
    ) -> Self {
        Self {
            images,
            blobs,
            events,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same with another clock (which decides when a form has expired).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Accepts one upload; see the module docs.
    ///
    /// # Errors
    /// [`AppError::UploadRefused`] (the form's policy, signature or size),
    /// [`AppError::ImageNotFound`], [`AppError::AlreadyUploaded`], [`AppError::Unavailable`].
    pub async fn accept(&self, form: PostedForm) -> Result<(), AppError> {
        let file = form.file.ok_or_else(|| {
            PostPolicyError::Malformed("the form has no file field (it must be the last)".into())
        })?;
        let size = file.len() as u64;
        // Forms are only signed with a length range under this, so this only catches forged ones.
        if size > MAX_UPLOAD_BYTES {
            return Err(PostPolicyError::EntityTooLarge(MAX_UPLOAD_BYTES).into());
        }
        let accepted = self
            .blobs
            .verify_form(&form.fields, size, self.clock.now().into())?;
        // The embedded store is strongly consistent: a miss is an image that does not exist.
        let image = self
            .images
            .get_image(&accepted.key)
            .await?
            .ok_or_else(|| AppError::ImageNotFound(accepted.key.clone()))?;
        if image.status == ImageStatus::Ready {
            return Err(AppError::AlreadyUploaded(image.image_id));
        }
        self.blobs
            .put_blob(&image.image_id, file, &accepted.content_type)
            .await
            .map_err(|error| match error {
                crate::ports::PortError::Invalid(why) => {
                    AppError::UploadRefused(PostPolicyError::Malformed(why))
                }
                other => other.into(),
            })?;
        let event = ImageUploaded {
            image_id: image.image_id,
            size,
        };
        self.events.publish(&event).await?;
        Ok(())
    }
}
