//! Upload processing: what happens when an image's bytes land.
//!
//! [`UploadProcessor::process`] loads the blob, makes a 150 px wide PNG thumbnail (stored as
//! `<imageId>.thumb.png`), marks the image ready, re-indexes it for search and tells every
//! connected client with an [`ImageReadyNotice`], dropping connections that are gone. An upload
//! that is not a decodable image of its declared type leaves the record pending, logs why, and
//! returns [`ProcessOutcome::Rejected`]: that is the uploader's problem, not a failure to retry.
//! Processing the same event twice changes nothing.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::{
    app::MAX_UPLOAD_BYTES,
    domain::{ImageReadyNotice, ImageStatus, ImageUploaded},
    embedded::THUMBNAIL_SUFFIX,
    ports::{BlobStore, ConnectionStore, ImageStore, Notifier, PortError, SearchIndex},
    thumbnail::{Thumbnail, make_thumbnail},
};

/// What processing one event did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProcessOutcome {
    /// The image is ready now.
    Ready {
        /// Clients that got the notice.
        notified: usize,
        /// Connections removed because they were gone.
        removed: usize,
    },
    /// The image was already ready: nothing changed.
    AlreadyReady,
    /// No image record has this id: nothing changed.
    UnknownImage,
    /// The record exists but its bytes do not: nothing changed.
    MissingBlob,
    /// The bytes are not a usable image; the record stays pending.
    Rejected {
        /// Why, for the logs.
        reason: String,
    },
}

/// The upload processor, over the ports it needs.
#[derive(Debug, Clone)]
pub struct UploadProcessor {
    images: Arc<dyn ImageStore>,
    blobs: Arc<dyn BlobStore>,
    search: Arc<dyn SearchIndex>,
    connections: Arc<dyn ConnectionStore>,
    notifier: Arc<dyn Notifier>,
}

impl UploadProcessor {
    /// A processor over these ports (locally `images`, `search` and `connections` are one
    /// [`crate::embedded::EmbeddedStore`]).
    pub fn new(
        images: Arc<dyn ImageStore>,
        blobs: Arc<dyn BlobStore>,
        search: Arc<dyn SearchIndex>,
        connections: Arc<dyn ConnectionStore>,
        notifier: Arc<dyn Notifier>,
    ) -> Self {
        Self {
            images,
            blobs,
            search,
            connections,
            notifier,
        }
    }

    /// Processes events from `events` until every sender is gone, logging each outcome (the
    /// background task `serve` runs over the [`crate::embedded::ChannelBus`] receiver).
    pub async fn run(&self, mut events: mpsc::Receiver<ImageUploaded>) {
        while let Some(event) = events.recv().await {
            match self.process(&event).await {
                Ok(outcome) => {
                    tracing::info!(image_id = %event.image_id, ?outcome, "upload processed");
                }
                Err(error) => {
                    tracing::error!(image_id = %event.image_id, %error, "upload processing failed");
                }
            }
        }
    }

    /// Processes one upload event. `Err` only when a port failed (worth retrying).
    pub async fn process(&self, event: &ImageUploaded) -> Result<ProcessOutcome, PortError> {
        let image_id = event.image_id.as_str();
        let Some(image) = self.images.get_image(image_id).await? else {
            tracing::warn!(image_id, "upload for an unknown image");
            return Ok(ProcessOutcome::UnknownImage);
        };
        if image.status == ImageStatus::Ready {
            return Ok(ProcessOutcome::AlreadyReady);
        }
        // On AWS a presigned PUT cannot cap the size: refuse big objects before loading them.
        if event.size > MAX_UPLOAD_BYTES {
            return Ok(too_large(image_id, event.size));
        }
        let Some((bytes, content_type)) = self.blobs.get_blob(image_id).await? else {
            tracing::warn!(image_id, "upload event but no blob");
            return Ok(ProcessOutcome::MissingBlob);
        };
        if bytes.len() as u64 > MAX_UPLOAD_BYTES {
            return Ok(too_large(image_id, bytes.len() as u64));
        }
        let made = tokio::task::spawn_blocking(move || make_thumbnail(&bytes, &content_type))
            .await
            .map_err(|e| PortError::Unavailable(format!("thumbnail task failed: {e}")))?;
        let Thumbnail { png, .. } = match made {
            Ok(thumbnail) => thumbnail,
            Err(error) => {
                let reason = error.to_string();
                tracing::warn!(image_id, %reason, "upload is not a usable image; left pending");
                return Ok(ProcessOutcome::Rejected { reason });
            }
        };
        let thumb_key = format!("{image_id}{THUMBNAIL_SUFFIX}");
        self.blobs
            .put_blob(&thumb_key, png.into(), "image/png")
            .await?;
        let thumbnail_url = self.blobs.read_url(&thumb_key);
        if !self.images.mark_ready(image_id, &thumbnail_url).await? {
            // Another run of the same event got there first: it indexes and notifies.
            return Ok(ProcessOutcome::AlreadyReady);
        }
        let ready = self
            .images
            .get_image(image_id)
            .await?
            .ok_or_else(|| PortError::Unavailable(format!("image {image_id} vanished")))?;
        self.search.index_image(&ready).await?;
        let (notified, removed) = self
            .notify(&ImageReadyNotice {
                kind: "imageReady".to_owned(),
                image_id: ready.image_id.clone(),
                group_id: ready.group_id.clone(),
            })
            .await?;
        Ok(ProcessOutcome::Ready { notified, removed })
    }

    /// Sends `notice` to every connection; removes the gone ones. Other send failures are
    /// logged and skipped: one slow client must not hold up the rest.
    async fn notify(&self, notice: &ImageReadyNotice) -> Result<(usize, usize), PortError> {
        let payload = serde_json::to_vec(notice)
            .map_err(|e| PortError::Unavailable(format!("encoding the notice: {e}")))?;
        let (mut notified, mut removed) = (0, 0);
        for connection in self.connections.list_connections().await? {
            match self.notifier.send(&connection.id, &payload).await {
                Ok(()) => notified += 1,
                Err(PortError::Gone(_)) => {
                    self.connections.remove_connection(&connection.id).await?;
                    removed += 1;
                }
                Err(error) => {
                    tracing::warn!(connection_id = %connection.id, %error, "notice not sent");
                }
            }
        }
        Ok((notified, removed))
    }
}

/// The outcome for an upload over [`MAX_UPLOAD_BYTES`]: left pending, with the reason logged.
fn too_large(image_id: &str, size: u64) -> ProcessOutcome {
    let reason = format!("the upload has {size} bytes, more than {MAX_UPLOAD_BYTES}");
    tracing::warn!(image_id, %reason, "upload refused; left pending");
    ProcessOutcome::Rejected { reason }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests;
