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
    /// When the token it connected with expires (the token's `exp`, seconds since the Unix
    /// epoch). From then on it gets no notices: it is told [`TOKEN_EXPIRED_NOTICE`] and closed.
    /// `None` for a connection recorded before tokens were tracked, which never expires here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

impl Connection {
    /// Whether its token has expired at `now` (seconds since the Unix epoch): `exp` is the
    /// first second at which the token is no longer valid (RFC 7519, section 4.1.4).
    #[must_use]
    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|exp| now >= exp)
    }
}

/// What a client is told just before its connection is closed because its token expired; it
/// reconnects with a fresh token.
pub const TOKEN_EXPIRED_NOTICE: &str = r#"{"type":"tokenExpired"}"#;

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

/// The content types an image may have: what an upload may declare (thumbnails are
/// [`THUMBNAIL_CONTENT_TYPE`], one of them). Both blob stores refuse any other.
pub const ALLOWED_CONTENT_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// The suffix of a thumbnail's blob key: the thumbnail of image `<id>` is `<id>.thumb.png`.
pub const THUMBNAIL_SUFFIX: &str = ".thumb.png";

/// The content type of every thumbnail.
pub const THUMBNAIL_CONTENT_TYPE: &str = "image/png";

/// Whether `text` is an image id: a UUID in its canonical form (lowercase, hyphenated), as the
/// use cases make them. Thumbnail keys (`<id>.thumb.png`) are not.
#[must_use]
pub fn is_image_id(text: &str) -> bool {
    uuid::Uuid::try_parse(text).is_ok_and(|id| id.hyphenated().to_string() == text)
}

/// The blob key of an image's thumbnail.
#[must_use]
pub fn thumbnail_key(image_id: &str) -> String {
    format!("{image_id}{THUMBNAIL_SUFFIX}")
}

/// Whether `key` is a blob key: an image id (the uploaded bytes live under the image's id) or a
/// thumbnail key. Nothing else (`..`, `/`, an absolute path, NUL, the empty key) ever reaches a
/// blob store.
#[must_use]
pub fn is_blob_key(key: &str) -> bool {
    is_image_id(key.strip_suffix(THUMBNAIL_SUFFIX).unwrap_or(key))
}

/// Whether `content_type` is one of [`ALLOWED_CONTENT_TYPES`], exactly.
#[must_use]
pub fn is_allowed_content_type(content_type: &str) -> bool {
    ALLOWED_CONTENT_TYPES.contains(&content_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_image_ids_or_their_thumbnails() {
        let id = "0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b";
        assert!(is_image_id(id) && is_blob_key(id));
        assert!(is_blob_key(&thumbnail_key(id)) && !is_image_id(&thumbnail_key(id)));
        for bad in [
            "0B6F7C9E-3D1A-4F5E-9C2B-8A7D6E5F4C3B",
            "0b6f7c9e3d1a4f5e9c2b8a7d6e5f4c3b",
            "{0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b}",
            "0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b.thumb.png.thumb.png",
            "../0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b",
            ".thumb.png",
            "",
        ] {
            assert!(!is_blob_key(bad), "{bad}");
            assert!(!is_image_id(bad), "{bad}");
        }
    }

    #[test]
    fn thumbnails_have_an_allowed_type_and_every_allowed_type_has_a_decoder() {
        assert!(is_allowed_content_type(THUMBNAIL_CONTENT_TYPE));
        for kind in ALLOWED_CONTENT_TYPES {
            assert!(
                crate::thumbnail::format_for_content_type(kind).is_some(),
                "{kind}"
            );
        }
        assert!(!is_allowed_content_type("image/png; charset=binary"));
        assert!(!is_allowed_content_type("text/html"));
    }
}
