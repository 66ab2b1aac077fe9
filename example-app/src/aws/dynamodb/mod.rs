//! [`GroupStore`], [`ImageStore`] and [`ConnectionStore`] on DynamoDB: the course's three tables
//! with the data model of the deployment template (see [`create_tables`]).
//!
//! - Groups: hash key `id`; every item also carries `listing = "groups"` and
//!   `createdKey = "<timestamp>#<id>"`, the keys of the `GroupsByTimeIndex` GSI that lists the
//!   groups newest first.
//! - Images: hash key `groupId`, range key `createdKey = "<timestamp>#<imageId>"` (a group's
//!   images newest first), GSI `ImageIdIndex` on `imageId`; its stream (`NEW_IMAGE`) feeds the
//!   search index.
//! - Connections: hash key `id`, attribute `timestamp`.
//!
//! Attribute names that are DynamoDB reserved words (`name`, `timestamp`, `status`) only ever
//! appear in expressions as `#placeholders`. Page keys are the same opaque, strictly validated
//! keys as the embedded store's; the `ExclusiveStartKey` is rebuilt from them, never taken
//! from the client as is.
//!
//! [`GroupStore`]: crate::ports::GroupStore
//! [`ImageStore`]: crate::ports::ImageStore
//! [`ConnectionStore`]: crate::ports::ConnectionStore

mod connections;
mod groups;
mod images;
mod item;
mod paging;
mod tables;

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;

pub use tables::{GROUPS_BY_TIME_INDEX, IMAGE_ID_INDEX, create_tables};

use crate::{aws::error::unavailable, ports::PortError};

/// The names of the three tables (the template's `GROUPS_TABLE`, `IMAGES_TABLE` and
/// `CONNECTIONS_TABLE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    /// The groups table.
    pub groups: String,
    /// The images table.
    pub images: String,
    /// The WebSocket connections table.
    pub connections: String,
}

/// The DynamoDB adapter for groups, images and connections. Clones share the client.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: aws_sdk_dynamodb::Client,
    tables: Arc<TableNames>,
}

impl DynamoDbStore {
    /// An adapter over `client` (built by the caller: region, endpoint, retries, interceptors)
    /// for the tables named in `tables`.
    pub fn new(client: aws_sdk_dynamodb::Client, tables: TableNames) -> Self {
        Self {
            client,
            tables: Arc::new(tables),
        }
    }

    /// The table names this store uses.
    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// Puts `item` into `table` unless an item with its `id` exists: `true` when written,
    /// `false` when the id was taken (the condition failed). `what` names the call in errors.
    async fn put_new(
        &self,
        table: &str,
        item: HashMap<String, AttributeValue>,
        what: &str,
    ) -> Result<bool, PortError> {
        let result = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        written_unless_condition_failed(
            result,
            PutItemError::is_conditional_check_failed_exception,
            what,
        )
    }
}

/// The outcome of a conditional write: `true` when it was made, `false` when its condition failed
/// (`condition_failed` recognises the operation's `ConditionalCheckFailedException`); any other
/// error is [`PortError::Unavailable`] naming `what`.
fn written_unless_condition_failed<O, E, R>(
    result: Result<O, SdkError<E, R>>,
    condition_failed: fn(&E) -> bool,
    what: &str,
) -> Result<bool, PortError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(error) if error.as_service_error().is_some_and(condition_failed) => Ok(false),
        Err(error) => Err(unavailable(what, &error)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests;
