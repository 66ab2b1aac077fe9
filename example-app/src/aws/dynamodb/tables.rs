//! Creating the three tables exactly as the deployment template declares them, for tests and
//! the local Lambda harness (on AWS the template creates them).

use std::time::Duration;

use aws_sdk_dynamodb::{
    Client,
    types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
        TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
    },
};

use super::TableNames;
use crate::{
    aws::error::{error_code, unavailable},
    ports::PortError,
};

/// The groups table's GSI: hash `listing` (always `"groups"`), range `createdKey`.
pub const GROUPS_BY_TIME_INDEX: &str = "GroupsByTimeIndex";
/// The images table's GSI: hash `imageId`.
pub const IMAGE_ID_INDEX: &str = "ImageIdIndex";

/// How long [`create_tables`] waits for a new table to become `ACTIVE`.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(60);

fn invalid_schema(error: impl std::fmt::Display) -> PortError {
    PortError::Invalid(format!("table definition: {error}"))
}

fn attribute(name: &str) -> Result<AttributeDefinition, PortError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(invalid_schema)
}

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, PortError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(invalid_schema)
}

fn index(name: &str, keys: Vec<KeySchemaElement>) -> Result<GlobalSecondaryIndex, PortError> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .set_key_schema(Some(keys))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(invalid_schema)
}

/// The connections table's time-to-live attribute: the connection's token expiry in seconds since
/// the Unix epoch ([`Connection::expires_at`](crate::domain::Connection::expires_at), stored as
/// `expiresAt`). DynamoDB deletes a row some time after it passes, so connections whose client
/// vanished without `$disconnect` do not pile up; the template enables the same attribute.
pub const CONNECTION_TTL_ATTRIBUTE: &str = "expiresAt";

/// Creates the groups, images and connections tables (on-demand billing) with
/// [`GROUPS_BY_TIME_INDEX`], [`IMAGE_ID_INDEX`], the images table's `NEW_IMAGE` stream and the
/// connections table's time to live on [`CONNECTION_TTL_ATTRIBUTE`], and waits until they are
/// `ACTIVE`. A table that already exists is left as it is.
///
/// # Errors
/// [`PortError::Unavailable`] with DynamoDB's error code and message.
pub async fn create_tables(client: &Client, tables: &TableNames) -> Result<(), PortError> {
    let groups = client
        .create_table()
        .table_name(&tables.groups)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("id")?)
        .attribute_definitions(attribute("listing")?)
        .attribute_definitions(attribute("createdKey")?)
        .key_schema(key("id", KeyType::Hash)?)
        .global_secondary_indexes(index(
            GROUPS_BY_TIME_INDEX,
            vec![
                key("listing", KeyType::Hash)?,
                key("createdKey", KeyType::Range)?,
            ],
        )?);
    let images = client
        .create_table()
        .table_name(&tables.images)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("groupId")?)
        .attribute_definitions(attribute("createdKey")?)
        .attribute_definitions(attribute("imageId")?)
        .key_schema(key("groupId", KeyType::Hash)?)
        .key_schema(key("createdKey", KeyType::Range)?)
        .global_secondary_indexes(index(IMAGE_ID_INDEX, vec![key("imageId", KeyType::Hash)?])?)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .map_err(invalid_schema)?,
        );
    let connections = client
        .create_table()
        .table_name(&tables.connections)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("id")?)
        .key_schema(key("id", KeyType::Hash)?);
    for (name, request) in [
        (&tables.groups, groups),
        (&tables.images, images),
        (&tables.connections, connections),
    ] {
        match request.send().await {
            Ok(_) => {}
            Err(error) if error_code(&error) == Some("ResourceInUseException") => {}
            Err(error) => return Err(unavailable(&format!("CreateTable {name}"), &error)),
        }
    }
    for name in [&tables.groups, &tables.images, &tables.connections] {
        wait_until_active(client, name).await?;
    }
    enable_connection_ttl(client, &tables.connections).await
}

/// Turns on the connections table's time to live unless it already is (DynamoDB refuses to
/// enable it twice).
async fn enable_connection_ttl(client: &Client, table: &str) -> Result<(), PortError> {
    let described = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| unavailable(&format!("DescribeTimeToLive {table}"), &e))?;
    let enabled = described.time_to_live_description().is_some_and(|ttl| {
        ttl.attribute_name() == Some(CONNECTION_TTL_ATTRIBUTE)
            && matches!(
                ttl.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            )
    });
    if enabled {
        return Ok(());
    }
    let specification = TimeToLiveSpecification::builder()
        .attribute_name(CONNECTION_TTL_ATTRIBUTE)
        .enabled(true)
        .build()
        .map_err(invalid_schema)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(specification)
        .send()
        .await
        .map_err(|e| unavailable(&format!("UpdateTimeToLive {table}"), &e))?;
    Ok(())
}

/// Polls `DescribeTable` until the table is `ACTIVE` (moto's are at once; AWS's take seconds).
async fn wait_until_active(client: &Client, name: &str) -> Result<(), PortError> {
    let deadline = tokio::time::Instant::now() + ACTIVE_TIMEOUT;
    loop {
        let described = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| unavailable(&format!("DescribeTable {name}"), &e))?;
        let status = described.table().and_then(|t| t.table_status());
        if status == Some(&TableStatus::Active) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(PortError::Unavailable(format!(
                "table {name} is not ACTIVE after {ACTIVE_TIMEOUT:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
