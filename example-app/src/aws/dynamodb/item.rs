//! Items to and from the domain's types, and the attribute names and values in expressions.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

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

fn get<'a>(item: &'a Item, name: &str) -> Result<&'a str, PortError> {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| corrupt(&format!("no string attribute `{name}`")))
}

fn get_owned(item: &Item, name: &str) -> Result<String, PortError> {
    get(item, name).map(str::to_owned)
}

pub(super) fn status_text(status: ImageStatus) -> &'static str {
    match status {
        ImageStatus::Pending => "pending",
        ImageStatus::Ready => "ready",
    }
}

pub(super) fn group_to_item(group: &Group) -> Item {
    HashMap::from([
        ("id".to_owned(), s(&group.id)),
        ("userId".to_owned(), s(&group.user_id)),
        ("name".to_owned(), s(&group.name)),
        ("description".to_owned(), s(&group.description)),
        ("timestamp".to_owned(), s(&group.timestamp)),
        ("listing".to_owned(), s(GROUPS_LISTING)),
        (
            "createdKey".to_owned(),
            s(created_key(&group.timestamp, &group.id)),
        ),
    ])
}

pub(super) fn group_from_item(item: &Item) -> Result<Group, PortError> {
    Ok(Group {
        id: get_owned(item, "id")?,
        user_id: get_owned(item, "userId")?,
        name: get_owned(item, "name")?,
        description: get_owned(item, "description")?,
        timestamp: get_owned(item, "timestamp")?,
    })
}

pub(super) fn image_to_item(image: &Image) -> Item {
    let mut item = HashMap::from([
        ("groupId".to_owned(), s(&image.group_id)),
        (
            "createdKey".to_owned(),
            s(created_key(&image.timestamp, &image.image_id)),
        ),
        ("imageId".to_owned(), s(&image.image_id)),
        ("userId".to_owned(), s(&image.user_id)),
        ("title".to_owned(), s(&image.title)),
        ("timestamp".to_owned(), s(&image.timestamp)),
        ("status".to_owned(), s(status_text(image.status))),
        ("imageUrl".to_owned(), s(&image.image_url)),
    ]);
    if let Some(thumbnail) = &image.thumbnail_url {
        item.insert("thumbnailUrl".to_owned(), s(thumbnail));
    }
    item
}

pub(super) fn image_from_item(item: &Item) -> Result<Image, PortError> {
    let status = match get(item, "status")? {
        "pending" => ImageStatus::Pending,
        "ready" => ImageStatus::Ready,
        _ => return Err(corrupt("unknown image status")),
    };
    let thumbnail_url = match item.get("thumbnailUrl") {
        None | Some(AttributeValue::Null(_)) => None,
        Some(_) => Some(get_owned(item, "thumbnailUrl")?),
    };
    Ok(Image {
        image_id: get_owned(item, "imageId")?,
        group_id: get_owned(item, "groupId")?,
        user_id: get_owned(item, "userId")?,
        title: get_owned(item, "title")?,
        timestamp: get_owned(item, "timestamp")?,
        status,
        image_url: get_owned(item, "imageUrl")?,
        thumbnail_url,
    })
}

pub(super) fn connection_to_item(connection: &Connection) -> Item {
    HashMap::from([
        ("id".to_owned(), s(&connection.id)),
        ("timestamp".to_owned(), s(&connection.timestamp)),
    ])
}

pub(super) fn connection_from_item(item: &Item) -> Result<Connection, PortError> {
    Ok(Connection {
        id: get_owned(item, "id")?,
        timestamp: get_owned(item, "timestamp")?,
    })
}
