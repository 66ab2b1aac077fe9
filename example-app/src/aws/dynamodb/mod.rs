//! [`GroupStore`], [`ImageStore`] and [`ConnectionStore`] on DynamoDB, one adapter per port and
//! table ([`DynamoDbGroups`], [`DynamoDbImages`], [`DynamoDbConnections`]), so that a function is
//! built with the tables it has and no other: the course's three tables with the data model of
//! the deployment template (see [`create_tables`]).
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

pub(crate) use item::decode as decode_item;
pub use tables::{CONNECTION_TTL_ATTRIBUTE, GROUPS_BY_TIME_INDEX, IMAGE_ID_INDEX, create_tables};

use crate::{aws::error::unavailable, ports::PortError};

/// The names of the three tables (the template's `GROUPS_TABLE`, `IMAGES_TABLE` and
/// `CONNECTIONS_TABLE`), for [`create_tables`]. A function is given only the adapters, and so
/// the tables, it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    /// The groups table.
    pub groups: String,
    /// The images table.
    pub images: String,
    /// The WebSocket connections table.
    pub connections: String,
}

/// [`GroupStore`](crate::ports::GroupStore) on the groups table. Clones share the client.
#[derive(Debug, Clone)]
pub struct DynamoDbGroups {
    client: aws_sdk_dynamodb::Client,
    table: Arc<str>,
}

impl DynamoDbGroups {
    /// The groups in `table`, through `client` (built by the caller: region, endpoint,
    /// retries, interceptors).
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<Arc<str>>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

/// [`ImageStore`](crate::ports::ImageStore) on the images table; with
/// [`with_groups_table`](Self::with_groups_table), [`ImageCatalog`](crate::ports::ImageCatalog)
/// too: creating an image checks, in the same transaction, that its group exists. A function
/// without the groups table (`process-upload`) cannot be given an adapter that creates images.
/// Clones share the client.
#[derive(Debug, Clone)]
pub struct DynamoDbImages<G = NoGroupsTable> {
    client: aws_sdk_dynamodb::Client,
    table: Arc<str>,
    groups_table: G,
}

/// The images adapter's groups table: none (reads and `mark_ready` only).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoGroupsTable;

/// The images adapter's groups table: named, so images can be created.
#[derive(Debug, Clone)]
pub struct GroupsTable(Arc<str>);

impl DynamoDbImages {
    /// The images in `table`, through `client`: reads and `mark_ready`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<Arc<str>>) -> Self {
        Self {
            client,
            table: table.into(),
            groups_table: NoGroupsTable,
        }
    }

    /// The same, able to create images in the groups of `groups_table`.
    pub fn with_groups_table(
        self,
        groups_table: impl Into<Arc<str>>,
    ) -> DynamoDbImages<GroupsTable> {
        DynamoDbImages {
            client: self.client,
            table: self.table,
            groups_table: GroupsTable(groups_table.into()),
        }
    }
}

/// [`ConnectionStore`](crate::ports::ConnectionStore) on the connections table. Clones share
/// the client.
#[derive(Debug, Clone)]
pub struct DynamoDbConnections {
    client: aws_sdk_dynamodb::Client,
    table: Arc<str>,
}

impl DynamoDbConnections {
    /// The connections in `table`, through `client`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<Arc<str>>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

/// Puts `item` into `table` unless an item with its `id` exists: `true` when written, `false`
/// when the id was taken (the condition failed). `what` names the call in errors.
async fn put_new(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    item: HashMap<String, AttributeValue>,
    what: &str,
) -> Result<bool, PortError> {
    let result = client
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
