//! Items to and from the domain's types, and the attribute names and values in expressions.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    aws::error::corrupt,
    domain::{Connection, Group, Image, ImageStatus},
    ports::PortError,
};

/// An item as the SDK hands it over.
pub(super) type Item = HashMap<String, AttributeValue>;

/// The constant `listing` of every group, the hash key of `GroupsByTimeIndex`.
pub(super) const GROUPS_LISTING: &str = "groups";

/// `createdKey`: `<timestamp>#<id>`, which sorts by time, then id.
pub(super) fn created_key(timestamp: &str, id: &str) -> String {
    format!("{timestamp}#{id}")
}

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn status_text(status: ImageStatus) -> &'static str {
    match status {
        ImageStatus::Pending => "pending",
        ImageStatus::Ready => "ready",
    }
}

/// Decodes an item, as the SDK or a stream record hands it over, into a domain type: the
/// domain's serde form (the JSON field names) is the only decoder of stored records, for the
/// adapters and for the `index-stream` function alike. Attributes the type does not have
/// (`createdKey`, `listing`) are ignored.
pub(crate) fn decode<T: DeserializeOwned>(
    item: impl Into<serde_dynamo::Item>,
    what: &str,
) -> Result<T, PortError> {
    serde_dynamo::from_item(item).map_err(|e| corrupt(&format!("{what}: {e}")))
}

/// Encodes a domain value as an item (its serde form), before the keys only the table needs.
fn encode<T: Serialize>(value: &T, what: &str) -> Result<Item, PortError> {
    serde_dynamo::to_item(value).map_err(|e| PortError::Invalid(format!("{what}: {e}")))
}

/// A group, with `listing` and `createdKey`, the keys of `GroupsByTimeIndex`.
pub(super) fn group_to_item(group: &Group) -> Result<Item, PortError> {
    let mut item = encode(group, "group")?;
    item.insert("listing".to_owned(), s(GROUPS_LISTING));
    item.insert(
        "createdKey".to_owned(),
        s(created_key(&group.timestamp, &group.id)),
    );
    Ok(item)
}

pub(super) fn group_from_item(item: &Item) -> Result<Group, PortError> {
    decode(item.clone(), "group")
}

/// An image, with `createdKey`, the table's range key.
pub(super) fn image_to_item(image: &Image) -> Result<Item, PortError> {
    let mut item = encode(image, "image")?;
    item.insert(
        "createdKey".to_owned(),
        s(created_key(&image.timestamp, &image.image_id)),
    );
    Ok(item)
}

pub(super) fn image_from_item(item: &Item) -> Result<Image, PortError> {
    decode(item.clone(), "image")
}

/// A connection; `expiresAt` is a number (epoch seconds), so it can be the table's TTL attribute.
pub(super) fn connection_to_item(connection: &Connection) -> Result<Item, PortError> {
    encode(connection, "connection")
}

pub(super) fn connection_from_item(item: &Item) -> Result<Connection, PortError> {
    decode(item.clone(), "connection")
}
