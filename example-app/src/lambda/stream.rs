//! `index-stream`: the Images table's DynamoDB stream keeps the search index in step.
//!
//! `INSERT` and `MODIFY` put the record's `NewImage`, read as a [`domain::Image`](Image) by the
//! same decoder as the DynamoDB adapter's, into the index; `REMOVE` deletes the document of the image named by the record's `Keys` (the
//! table's range key `createdKey` is `<timestamp>#<imageId>`; a `NEW_IMAGE` stream carries no
//! old image). A record that cannot be read is logged and skipped: it would fail the same way
//! on every retry and block the shard until it expires.
//!
//! When the index fails, the handler stops at that record and reports it in
//! `batchItemFailures` (the event source mapping needs `FunctionResponseTypes:
//! [ReportBatchItemFailures]`): Lambda retries from it, so the records after it are retried too,
//! in order, and a later `REMOVE` is never overtaken by an earlier `INSERT`.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde_dynamo::AttributeValue;
use tracing::Instrument as _;

use crate::aws::decode_item;
use crate::domain::Image;
use crate::domain::is_image_id;
use crate::lambda::record_metric;
use crate::ports::{PortError, SearchIndex};

/// The metric counting documents written to the index.
pub const DOCUMENTS_INDEXED_METRIC: &str = "DocumentsIndexed";
/// The metric counting documents removed from the index.
pub const DOCUMENTS_REMOVED_METRIC: &str = "DocumentsRemoved";
/// The metric counting stream records skipped as unreadable.
pub const MALFORMED_RECORDS_METRIC: &str = "MalformedStreamRecords";

/// What one stream record asks of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexChange {
    /// Put this image's document.
    Index(Image),
    /// Delete the document of this image id.
    Remove(String),
}

/// Why a stream record cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedRecord {
    /// `INSERT`/`MODIFY` without a `NewImage` that reads as an image.
    #[error("the new image is not an image record: {0}")]
    BadImage(String),
    /// `REMOVE` whose keys do not name an image.
    #[error("the keys do not name an image (createdKey = <timestamp>#<imageId>)")]
    BadKeys,
    /// An event name other than INSERT, MODIFY and REMOVE.
    #[error("unknown event name {0:?}")]
    UnknownEvent(String),
}

/// Reads what a stream record asks of the index.
///
/// # Errors
/// [`MalformedRecord`] when the record cannot be read.
pub fn change_of(record: &EventRecord) -> Result<IndexChange, MalformedRecord> {
    match record.event_name.as_str() {
        "INSERT" | "MODIFY" => {
            let image: Image = decode_item(record.change.new_image.clone(), "new image")
                .map_err(|e| MalformedRecord::BadImage(e.to_string()))?;
            if !is_image_id(&image.image_id) {
                return Err(MalformedRecord::BadImage("imageId is not a UUID".into()));
            }
            Ok(IndexChange::Index(image))
        }
        "REMOVE" => {
            let Some(AttributeValue::S(created_key)) = record.change.keys.get("createdKey") else {
                return Err(MalformedRecord::BadKeys);
            };
            match created_key.rsplit_once('#') {
                Some((_, image_id)) if is_image_id(image_id) => {
                    Ok(IndexChange::Remove(image_id.to_owned()))
                }
                _ => Err(MalformedRecord::BadKeys),
            }
        }
        other => Err(MalformedRecord::UnknownEvent(other.to_owned())),
    }
}

/// Handles one batch of stream records, in order.
pub async fn handle_stream(index: &dyn SearchIndex, event: Event) -> DynamoDbEventResponse {
    let (mut indexed, mut removed, mut malformed) = (0, 0, 0);
    let mut response = DynamoDbEventResponse::default();
    for record in &event.records {
        let change = match change_of(record) {
            Ok(change) => change,
            Err(error) => {
                malformed += 1;
                tracing::error!(event_id = %record.event_id, %error, "stream record skipped");
                continue;
            }
        };
        let result = apply(index, &change).await;
        match (result, change) {
            (Ok(()), IndexChange::Index(_)) => indexed += 1,
            (Ok(()), IndexChange::Remove(_)) => removed += 1,
            (Err(error), _) => {
                tracing::error!(event_id = %record.event_id, %error, "indexing failed; the batch is retried from this record");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = record.change.sequence_number.clone();
                response.batch_item_failures.push(failure);
                break;
            }
        }
    }
    record_metric(DOCUMENTS_INDEXED_METRIC, indexed);
    record_metric(DOCUMENTS_REMOVED_METRIC, removed);
    record_metric(MALFORMED_RECORDS_METRIC, malformed);
    response
}

async fn apply(index: &dyn SearchIndex, change: &IndexChange) -> Result<(), PortError> {
    match change {
        IndexChange::Index(image) => {
            let span = tracing::info_span!(
                "index_image",
                "annotation.imageId" = image.image_id.as_str(),
                "annotation.groupId" = image.group_id.as_str(),
            );
            index.index_image(image).instrument(span).await
        }
        IndexChange::Remove(image_id) => {
            let span =
                tracing::info_span!("remove_image", "annotation.imageId" = image_id.as_str());
            index.remove_image(image_id).instrument(span).await
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
#[path = "stream_tests.rs"]
mod tests;
