//! `process-upload`: S3 `ObjectCreated` notifications, fanned out through SNS, run
//! [`UploadProcessor::process`] once per uploaded image.
//!
//! Each SNS record's `Message` is an S3 event document whose object keys are URL-encoded (`+`
//! for a space, `%XX` escapes). Keys that are not canonical UUIDs (thumbnails
//! `<id>.thumb.png`, anything a client could invent) are ignored, as are S3's `s3:TestEvent`
//! and messages that are not S3 events: retrying them could never succeed. Processing is
//! idempotent, so a duplicate delivery changes nothing.
//!
//! An upload whose image record the image-id index does not show yet is a failure too
//! ([`PortError::NotVisibleYet`], after the processor's own short retries), never a silent drop:
//! the retry finds it once the index has caught up, and an event that still fails after the
//! function's retries goes to its failure destination, where it can be seen and replayed.
//!
//! When a port fails for some uploads, the others are still processed and the invocation fails
//! with an [`UploadError`] listing the failed ones, so that Lambda's asynchronous retry (SNS
//! invokes asynchronously) runs the event again; the uploads that succeeded are then
//! `AlreadyReady` and cost a read each.

use aws_lambda_events::s3::S3Event;
use aws_lambda_events::sns::SnsEvent;
use lambda_runtime::Diagnostic;
use serde::Serialize;
use tracing::Instrument as _;

use crate::domain::ImageUploaded;
use crate::domain::is_image_id;
use crate::events::{ProcessOutcome, UploadProcessor};
use crate::lambda::record_metric;
use crate::ports::PortError;

/// The metric counting images made ready.
pub const IMAGES_PROCESSED_METRIC: &str = "ImagesProcessed";
/// The metric counting uploads left pending (not an image, too large).
pub const UPLOADS_REJECTED_METRIC: &str = "UploadsRejected";

/// What one invocation did, returned to Lambda (and recorded by X-Ray as the response).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadSummary {
    /// Images made ready.
    pub ready: usize,
    /// Uploads already processed (a duplicate delivery or a retry).
    pub already_ready: usize,
    /// Uploads left pending: not an image of its type, too large, or without bytes (see the
    /// logs for why).
    pub rejected: usize,
    /// Records ignored: thumbnails, keys that are not image ids, other event types.
    pub ignored: usize,
}

/// One upload whose processing failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedUpload {
    /// The SNS message it came in.
    pub message_id: String,
    /// The image id (the object key).
    pub image_id: String,
    /// What failed.
    pub error: PortError,
}

/// Why a `process-upload` invocation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// Some uploads could not be processed; the rest were.
    #[error("{} upload(s) failed: {}", failed.len(), describe(failed))]
    Failed {
        /// The failed uploads.
        failed: Vec<FailedUpload>,
        /// What the others did.
        summary: UploadSummary,
    },
}

fn describe(failed: &[FailedUpload]) -> String {
    failed
        .iter()
        .map(|f| format!("{} (message {}): {}", f.image_id, f.message_id, f.error))
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<UploadError> for Diagnostic {
    fn from(error: UploadError) -> Self {
        Diagnostic {
            error_type: "UploadError.Failed".to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Handles one SNS event: every upload of every record.
///
/// # Errors
/// [`UploadError::Failed`] when a port failed for at least one upload.
pub async fn handle_uploads(
    processor: &UploadProcessor,
    event: SnsEvent,
) -> Result<UploadSummary, UploadError> {
    let mut summary = UploadSummary::default();
    let mut failed = Vec::new();
    for record in event.records {
        let message_id = record.sns.message_id;
        let Some(uploads) = uploads_in(&message_id, &record.sns.message, &mut summary) else {
            continue;
        };
        for upload in uploads {
            let span = tracing::info_span!(
                "process_upload",
                "annotation.imageId" = upload.image_id.as_str(),
                message_id = message_id.as_str(),
            );
            match processor.process(&upload).instrument(span).await {
                Ok(outcome) => count(&upload.image_id, outcome, &mut summary),
                Err(error) => {
                    tracing::error!(image_id = %upload.image_id, %error, "upload processing failed; will be retried");
                    failed.push(FailedUpload {
                        message_id: message_id.clone(),
                        image_id: upload.image_id,
                        error,
                    });
                }
            }
        }
    }
    record_metric(IMAGES_PROCESSED_METRIC, summary.ready);
    record_metric(UPLOADS_REJECTED_METRIC, summary.rejected);
    if failed.is_empty() {
        Ok(summary)
    } else {
        Err(UploadError::Failed { failed, summary })
    }
}

/// The uploads an SNS message announces, or `None` (logged) when it is not an S3 event.
fn uploads_in(
    message_id: &str,
    message: &str,
    summary: &mut UploadSummary,
) -> Option<Vec<ImageUploaded>> {
    let event: S3Event = match serde_json::from_str(message) {
        Ok(event) => event,
        Err(error) => {
            // S3 sends `{"Event": "s3:TestEvent", ...}` once when the notification is set up.
            summary.ignored += 1;
            tracing::warn!(message_id, %error, "SNS message is not an S3 event; ignored");
            return None;
        }
    };
    let mut uploads = Vec::new();
    for record in event.records {
        let created = record
            .event_name
            .as_deref()
            .is_some_and(|name| name.starts_with("ObjectCreated:"));
        let key = record.s3.object.key.as_deref().unwrap_or("");
        match decode_s3_key(key).filter(|k| is_image_id(k)) {
            Some(image_id) if created => uploads.push(ImageUploaded {
                image_id,
                size: record
                    .s3
                    .object
                    .size
                    .and_then(|s| u64::try_from(s).ok())
                    .unwrap_or(0),
            }),
            _ => {
                summary.ignored += 1;
                tracing::debug!(message_id, key, event = ?record.event_name, "not an upload of an image id; ignored");
            }
        }
    }
    Some(uploads)
}

fn count(image_id: &str, outcome: ProcessOutcome, summary: &mut UploadSummary) {
    tracing::info!(image_id, ?outcome, "upload processed");
    match outcome {
        ProcessOutcome::Ready { .. } => summary.ready += 1,
        ProcessOutcome::AlreadyReady => summary.already_ready += 1,
        _ => summary.rejected += 1,
    }
}

/// Decodes an S3 event's object key (`application/x-www-form-urlencoded` style: `+` is a space,
/// `%XX` a byte). `None` for a broken escape or bytes that are not UTF-8.
#[must_use]
pub fn decode_s3_key(key: &str) -> Option<String> {
    crate::form_encoding::decode(key)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
#[path = "upload_tests.rs"]
mod tests;
