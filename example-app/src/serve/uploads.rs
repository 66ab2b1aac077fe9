//! The local upload protocol of `udagram serve`: `PUT /uploads/{imageId}?expires&type&max&sig`,
//! the embedded stand-in for a presigned S3 upload. An adapter of `serve`, not a use case: on AWS
//! the bytes go to S3 and the bucket's notification announces them.
//!
//! [`LocalUploads::accept`] checks the signed URL ([`crate::upload_url`]), the declared content
//! type and the size, that the image exists and is still pending; then stores the bytes
//! atomically and publishes [`ImageUploaded`] on the in-process bus, as S3 and SNS would.
//! Nothing is stored when any check fails.

use std::sync::Arc;

use bytes::Bytes;

use crate::app::{AppError, Clock, MAX_UPLOAD_BYTES, SystemClock};
use crate::domain::{ImageStatus, ImageUploaded};
use crate::ports::{BlobStore, EventBus, ImageStore};
use crate::upload_url::{self, UploadUrlError};

/// One PUT to an upload URL, as the API layer received it.
#[derive(Debug, Clone)]
pub struct Upload<'a> {
    /// The image id from the path (already checked to be a UUID).
    pub image_id: &'a str,
    /// The raw query string (`expires`, `type`, `max`, `sig`).
    pub query: &'a str,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The `Content-Length` header, if any (checked as well as the body, in case it lies).
    pub content_length: Option<u64>,
    /// The bytes.
    pub body: Bytes,
    /// The URL-signing key.
    pub signing_key: &'a [u8],
}

/// The uploads `serve` accepts, over the ports they touch. Clones share them.
#[derive(Debug, Clone)]
pub struct LocalUploads {
    images: Arc<dyn ImageStore>,
    blobs: Arc<dyn BlobStore>,
    events: Arc<dyn EventBus>,
    clock: Arc<dyn Clock>,
}

impl LocalUploads {
    /// Uploads checked against `images`, stored in `blobs` and announced on `events`.
    #[must_use]
    pub fn new(
        images: Arc<dyn ImageStore>,
        blobs: Arc<dyn BlobStore>,
        events: Arc<dyn EventBus>,
    ) -> Self {
        Self {
            images,
            blobs,
            events,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same with another clock (which decides when a URL has expired).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Accepts one upload; see the module docs.
    ///
    /// # Errors
    /// [`AppError::UploadForbidden`], [`AppError::WrongContentType`], [`AppError::TooLarge`],
    /// [`AppError::ImageNotFound`], [`AppError::AlreadyUploaded`], [`AppError::Unavailable`].
    pub async fn accept(&self, upload: Upload<'_>) -> Result<(), AppError> {
        let now = u64::try_from(self.clock.now().unix_timestamp()).unwrap_or_default();
        let grant = upload_url::verify(upload.signing_key, upload.image_id, upload.query, now)
            .map_err(|error| match error {
                UploadUrlError::Expired => AppError::UploadForbidden("the URL has expired".into()),
                UploadUrlError::BadSignature => {
                    AppError::UploadForbidden("the URL's signature does not match".into())
                }
                other => AppError::UploadForbidden(other.to_string()),
            })?;
        let declared = upload.content_type.unwrap_or_default();
        if !same_media_type(declared, &grant.content_type) {
            return Err(AppError::WrongContentType(grant.content_type));
        }
        let too_large = |len: u64| len > grant.max_bytes.min(MAX_UPLOAD_BYTES);
        if upload.content_length.is_some_and(too_large) || too_large(upload.body.len() as u64) {
            return Err(AppError::TooLarge(grant.max_bytes.min(MAX_UPLOAD_BYTES)));
        }
        // The embedded store is strongly consistent: a miss is an image that does not exist.
        let image = self
            .images
            .get_image(upload.image_id)
            .await?
            .ok_or_else(|| AppError::ImageNotFound(upload.image_id.to_owned()))?;
        if image.status == ImageStatus::Ready {
            return Err(AppError::AlreadyUploaded(image.image_id));
        }
        let size = upload.body.len() as u64;
        self.blobs
            .put_blob(&image.image_id, upload.body, &grant.content_type)
            .await?;
        let event = ImageUploaded {
            image_id: image.image_id,
            size,
        };
        self.events.publish(&event).await?;
        Ok(())
    }
}

/// Whether a `Content-Type` header names `expected` (parameters and case ignored).
fn same_media_type(header: &str, expected: &str) -> bool {
    header
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .eq_ignore_ascii_case(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_compare_without_parameters() {
        for (header, expected, same) in [
            ("image/png", "image/png", true),
            ("IMAGE/PNG; charset=binary", "image/png", true),
            ("image/jpeg", "image/png", false),
            ("", "image/png", false),
        ] {
            assert_eq!(same_media_type(header, expected), same, "{header}");
        }
    }
}
