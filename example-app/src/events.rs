//! Upload processing: what happens when an image's bytes land.
//!
//! [`UploadProcessor::process`] loads the blob, makes a 150 px wide PNG thumbnail (stored as
//! `<imageId>.thumb.png`), marks the image ready and tells every connected client with an
//! [`ImageReadyNotice`], dropping connections that are gone. The search index follows the
//! record's write by itself (the Images table's stream on AWS, the same SQLite transaction
//! locally). An upload
//! that is not a decodable image of its declared type leaves the record pending, logs why, and
//! returns [`ProcessOutcome::Rejected`]: that is the uploader's problem, not a failure to retry.
//! Processing the same event twice changes nothing.
//!
//! # Eventual consistency
//!
//! An upload can land before its image record is visible: on DynamoDB the record is found by id
//! through a global secondary index, which lags behind the table. A miss is therefore never read
//! as "no such image": the processor reads again a few times ([`VisibilityRetry`], by default 3
//! reads over 300 ms), then fails with [`PortError::NotVisibleYet`], so that the event is
//! delivered again (on Lambda, the asynchronous invocation's retries: 2, then the function's
//! failure destination) instead of being dropped and the image left pending for ever. Once found,
//! the record is addressed by its own key: [`ImageStore::mark_ready`] takes the image, not its
//! id, and the notice is built from what was read, not read back through the index.
//!
//! # Connections whose token expired
//!
//! A connection is recorded with its token's `exp`. When notifying, one whose token has expired
//! gets no notice: it is sent [`TOKEN_EXPIRED_NOTICE`], closed ([`Notifier::close`]:
//! `DeleteConnection` on AWS) and forgotten, so that a client reconnects with a fresh token.
//! (`udagram serve` also closes it the moment its token expires; see
//! [`crate::serve::websocket`].)

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::{
    app::MAX_UPLOAD_BYTES,
    app::{Clock, SystemClock},
    domain::{
        Connection, Image, ImageReadyNotice, ImageStatus, ImageUploaded, THUMBNAIL_CONTENT_TYPE,
        TOKEN_EXPIRED_NOTICE, thumbnail_key,
    },
    ports::{BlobStore, ConnectionStore, ImageStore, Notifier, PortError},
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
        /// Connections removed: gone, or closed because their token expired.
        removed: usize,
    },
    /// The image was already ready: nothing changed.
    AlreadyReady,
    /// The record exists but its bytes do not: nothing changed.
    MissingBlob,
    /// The bytes are not a usable image; the record stays pending.
    Rejected {
        /// Why, for the logs.
        reason: String,
    },
}

/// How often, and how patiently, the processor reads an image record it cannot see yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisibilityRetry {
    /// Reads in all, at least 1.
    pub reads: u32,
    /// The wait before the second read; each further wait doubles.
    pub first_wait: Duration,
}

impl Default for VisibilityRetry {
    /// 3 reads, waiting 100 ms then 200 ms: a DynamoDB index usually catches up within a second,
    /// and a longer miss is left to the event's redelivery rather than to a sleeping function.
    fn default() -> Self {
        Self {
            reads: 3,
            first_wait: Duration::from_millis(100),
        }
    }
}

/// The upload processor, over the ports it needs.
#[derive(Debug, Clone)]
pub struct UploadProcessor {
    images: Arc<dyn ImageStore>,
    blobs: Arc<dyn BlobStore>,
    connections: Arc<dyn ConnectionStore>,
    notifier: Arc<dyn Notifier>,
    retry: VisibilityRetry,
    clock: Arc<dyn Clock>,
}

impl UploadProcessor {
    /// A processor over these ports (locally `images` and `connections` are one SQLite store).
    pub fn new(
        images: Arc<dyn ImageStore>,
        blobs: Arc<dyn BlobStore>,
        connections: Arc<dyn ConnectionStore>,
        notifier: Arc<dyn Notifier>,
    ) -> Self {
        Self {
            images,
            blobs,
            connections,
            notifier,
            retry: VisibilityRetry::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The same processor with another clock (which decides when a token has expired).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same processor, reading a record it cannot see yet as `retry` says.
    #[must_use]
    pub fn with_visibility_retry(mut self, retry: VisibilityRetry) -> Self {
        self.retry = retry;
        self
    }

    /// The image `image_id`, read again while it is not visible (see the module docs).
    async fn find_image(&self, image_id: &str) -> Result<Image, PortError> {
        let mut wait = self.retry.first_wait;
        for read in 1..=self.retry.reads.max(1) {
            if let Some(image) = self.images.get_image(image_id).await? {
                return Ok(image);
            }
            if read < self.retry.reads {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
        }
        tracing::warn!(
            image_id,
            "upload for an image not visible yet; to be redelivered"
        );
        Err(PortError::NotVisibleYet(format!("image {image_id}")))
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

    /// Processes one upload event. `Err` when a port failed or the image record is not visible
    /// yet: both worth retrying, with the same event.
    pub async fn process(&self, event: &ImageUploaded) -> Result<ProcessOutcome, PortError> {
        let image_id = event.image_id.as_str();
        let image = self.find_image(image_id).await?;
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
        let thumb_key = thumbnail_key(image_id);
        self.blobs
            .put_blob(&thumb_key, png.into(), THUMBNAIL_CONTENT_TYPE)
            .await?;
        let thumbnail_url = self.blobs.read_url(&thumb_key);
        if !self.images.mark_ready(&image, &thumbnail_url).await? {
            // Another run of the same event got there first: it notifies.
            return Ok(ProcessOutcome::AlreadyReady);
        }
        let (notified, removed) = self
            .notify(&ImageReadyNotice {
                kind: "imageReady".to_owned(),
                image_id: image.image_id.clone(),
                group_id: image.group_id.clone(),
            })
            .await?;
        Ok(ProcessOutcome::Ready { notified, removed })
    }

    /// Sends `notice` to every connection whose token is still valid; removes the gone ones and
    /// closes the expired ones. Other send failures are logged and skipped: one slow client must
    /// not hold up the rest.
    async fn notify(&self, notice: &ImageReadyNotice) -> Result<(usize, usize), PortError> {
        let payload = serde_json::to_vec(notice)
            .map_err(|e| PortError::Unavailable(format!("encoding the notice: {e}")))?;
        let now = u64::try_from(self.clock.now().unix_timestamp()).unwrap_or_default();
        let (mut notified, mut removed) = (0, 0);
        for connection in self.connections.list_connections().await? {
            if connection.is_expired(now) {
                close_expired(
                    self.notifier.as_ref(),
                    self.connections.as_ref(),
                    &connection,
                )
                .await?;
                removed += 1;
                continue;
            }
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

/// Tells a connection whose token expired so ([`TOKEN_EXPIRED_NOTICE`], best effort), closes it
/// and forgets it.
///
/// # Errors
/// When closing or forgetting it fails (it is then tried again at the next notice).
pub async fn close_expired(
    notifier: &dyn Notifier,
    connections: &dyn ConnectionStore,
    connection: &Connection,
) -> Result<(), PortError> {
    let id = connection.id.as_str();
    match notifier.send(id, TOKEN_EXPIRED_NOTICE.as_bytes()).await {
        Ok(()) | Err(PortError::Gone(_)) => {}
        Err(error) => tracing::warn!(connection_id = id, %error, "expiry notice not sent"),
    }
    notifier.close(id).await?;
    connections.remove_connection(id).await?;
    tracing::info!(
        connection_id = id,
        "closed a connection whose token expired"
    );
    Ok(())
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
