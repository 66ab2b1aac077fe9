//! Udagram's domain: groups, images and WebSocket connections, and what a page of them is.
//!
//! JSON field names are the course app's (`id`, `userId`, `groupId`, `imageId`, `timestamp`,
//! `imageUrl`), so a client written for it works unchanged.

use serde::{Deserialize, Serialize};

/// A group of images, created by a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The group's id (a UUID).
    pub id: String,
    /// The creator: the token's `sub`, never the request body.
    pub user_id: String,
    /// The name, 1 to 100 characters.
    pub name: String,
    /// The description, at most 1000 characters.
    pub description: String,
    /// When it was created, RFC 3339 UTC with milliseconds (sorts as text).
    pub timestamp: String,
}

/// Whether an image's bytes have arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageStatus {
    /// The record exists; the upload has not landed yet.
    Pending,
    /// The upload landed and the thumbnail is made.
    Ready,
}

/// An image in a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// The image's id (a UUID).
    pub image_id: String,
    /// The group it belongs to.
    pub group_id: String,
    /// The uploader: the token's `sub`.
    pub user_id: String,
    /// The title, 1 to 200 characters; full-text searchable.
    pub title: String,
    /// When the record was created, RFC 3339 UTC with milliseconds.
    pub timestamp: String,
    /// Whether the bytes have arrived.
    pub status: ImageStatus,
    /// Where the image's bytes are read from.
    pub image_url: String,
    /// Where the 150 px wide thumbnail is read from, once made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
}

/// A connected WebSocket client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// The connection's id (API Gateway's `connectionId`, or the local hub's).
    pub id: String,
    /// When it connected, RFC 3339 UTC with milliseconds.
    pub timestamp: String,
}

/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;
/// The page size when the client does not say.
pub const DEFAULT_PAGE_SIZE: u32 = 20;

/// Which page to read: at most `limit` items after the opaque `next_key` of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// How many items, 1 to [`MAX_PAGE_SIZE`].
    pub limit: u32,
    /// Where the previous page stopped: opaque to clients, validated by the store that made it.
    pub next_key: Option<String>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: DEFAULT_PAGE_SIZE,
            next_key: None,
        }
    }
}

/// One page of items, and the key of the next page when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// The items, in the store's order.
    pub items: Vec<T>,
    /// Where the next page starts, or `None` on the last page.
    pub next_key: Option<String>,
}

/// What is published when an image's bytes land in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageUploaded {
    /// The image (also the blob's key).
    pub image_id: String,
    /// The blob's size in bytes.
    pub size: u64,
}

/// What every connected client is told when an image is ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageReadyNotice {
    /// Always `"imageReady"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The image.
    pub image_id: String,
    /// Its group.
    pub group_id: String,
}
