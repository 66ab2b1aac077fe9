//! What the domain needs from the outside world, as traits. The embedded adapters (SQLite, the
//! filesystem, an in-process bus and hub) implement them in [`crate::embedded`]; the AWS
//! adapters (DynamoDB, S3, SNS, API Gateway Management, OpenSearch) will implement the same.

use std::{collections::BTreeMap, fmt, future::Future, pin::Pin, time::Duration};

use bytes::Bytes;

use crate::domain::{
    Connection, Group, Image, ImageUploaded, Page, PageRequest, is_allowed_content_type,
    is_blob_key,
};

/// A boxed, sendable future: what the port traits' methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a port call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// An item with this id already exists (a conditional create lost).
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// A `next_key` this store did not make, or one that no longer parses.
    #[error("invalid page key: {0}")]
    InvalidPageKey(String),
    /// The input breaks a rule of the store (a key with `..`, a blob over its limit, ...).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The peer is gone for good (a WebSocket connection that answered 410).
    #[error("gone: {0}")]
    Gone(String),
    /// The backing service failed (I/O, network, a corrupt answer). Never carries secrets.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A record that must exist is not visible yet: an eventually consistent read (a DynamoDB
    /// global secondary index) lags behind the write. Worth retrying a moment later.
    #[error("not visible yet: {0}")]
    NotVisibleYet(String),
}

/// Groups: the course's `Groups` table.
pub trait GroupStore: Send + Sync + fmt::Debug {
    /// Stores a new group; [`PortError::AlreadyExists`] if its id is taken.
    fn create_group<'a>(&'a self, group: &'a Group) -> BoxFuture<'a, Result<(), PortError>>;
    /// The group with `id`, if any.
    fn get_group<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Group>, PortError>>;
    /// A page of groups, newest first.
    fn list_groups<'a>(
        &'a self,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<Group>, PortError>>;
}

/// Images: the course's `Images` table with its `ImageIdIndex`: reading them and marking them
/// ready (what the upload processor needs).
pub trait ImageStore: Send + Sync + fmt::Debug {
    /// The image with `image_id`, if any. On DynamoDB this reads the image-id index, which is
    /// eventually consistent: a record created a moment ago may not be found yet.
    fn get_image<'a>(
        &'a self,
        image_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Image>, PortError>>;
    /// A page of a group's images, newest first.
    fn list_images<'a>(
        &'a self,
        group_id: &'a str,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<Image>, PortError>>;
    /// Marks `image` ready with its thumbnail, addressing the record by its own key (group and
    /// creation time), never through an index that may lag. Returns whether anything changed
    /// (`false` when it was already ready or is gone, so that processing an event twice changes
    /// nothing).
    fn mark_ready<'a>(
        &'a self,
        image: &'a Image,
        thumbnail_url: &'a str,
    ) -> BoxFuture<'a, Result<bool, PortError>>;
}

/// Adding images to groups (what the API needs besides reading): a new image's group must
/// exist, so on DynamoDB this needs the groups table as well as the images table.
pub trait ImageCatalog: ImageStore {
    /// Stores a new image record; [`PortError::AlreadyExists`] if its id is taken,
    /// [`PortError::Invalid`] if its group does not exist.
    fn create_image<'a>(&'a self, image: &'a Image) -> BoxFuture<'a, Result<(), PortError>>;
}

/// WebSocket connections: the course's `Connections` table.
pub trait ConnectionStore: Send + Sync + fmt::Debug {
    /// Records a connection (idempotent).
    fn add_connection<'a>(
        &'a self,
        connection: &'a Connection,
    ) -> BoxFuture<'a, Result<(), PortError>>;
    /// Forgets a connection (idempotent).
    fn remove_connection<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), PortError>>;
    /// Every recorded connection.
    fn list_connections(&self) -> BoxFuture<'_, Result<Vec<Connection>, PortError>>;
}

/// A signed, expiring upload form: a client POSTs `fields` and then the file (the field `file`)
/// as `multipart/form-data` to `url`; the form's policy ([`crate::post_policy`]) binds the key,
/// the content type, the size and the expiry, and the receiver (S3, or `serve`) enforces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadForm {
    /// Where the form goes.
    pub url: String,
    /// The form fields to send before the file.
    pub fields: BTreeMap<String, String>,
    /// The content type the upload must declare.
    pub content_type: String,
    /// The most bytes the upload may carry.
    pub max_bytes: u64,
    /// How long the URL stays valid.
    pub expires_in: Duration,
}

/// Checks a blob key against the domain's rule ([`is_blob_key`]): anything else (`..`, `/`,
/// absolute paths, NUL, empty) is [`PortError::Invalid`]. Both blob stores check with it.
pub fn validate_key(key: &str) -> Result<(), PortError> {
    if is_blob_key(key) {
        Ok(())
    } else {
        let shown: String = key.chars().take(64).collect();
        Err(PortError::Invalid(format!("bad blob key {shown:?}")))
    }
}

/// Checks a content type against the domain's ([`is_allowed_content_type`]); both blob stores
/// check with it.
pub fn validate_content_type(content_type: &str) -> Result<(), PortError> {
    if is_allowed_content_type(content_type) {
        Ok(())
    } else {
        Err(PortError::Invalid(
            "not an accepted image content type".into(),
        ))
    }
}

/// Image bytes: the course's S3 bucket, or a directory locally. Keys and content types are
/// checked with [`validate_key`] and [`validate_content_type`] before anything is stored.
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// Stores `bytes` under `key`, replacing what was there, atomically (readers see the old or
    /// the new bytes, never a mix; a crash leaves one or the other).
    fn put_blob<'a>(
        &'a self,
        key: &'a str,
        bytes: Bytes,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), PortError>>;
    /// The bytes and content type under `key`, if any.
    fn get_blob<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<(Bytes, String)>, PortError>>;
    /// A form a client may POST `key`'s bytes with, limited to `content_type` and 1 to
    /// `max_bytes` bytes, valid for `expires_in`.
    fn upload_form<'a>(
        &'a self,
        key: &'a str,
        content_type: &'a str,
        max_bytes: u64,
        expires_in: Duration,
    ) -> BoxFuture<'a, Result<UploadForm, PortError>>;
    /// The URL the image under `key` is read from.
    fn read_url(&self, key: &str) -> String;
}

/// Fan-out of upload events: S3 notifications to SNS on AWS, a channel locally.
pub trait EventBus: Send + Sync + fmt::Debug {
    /// Publishes that an image's bytes landed.
    fn publish<'a>(&'a self, event: &'a ImageUploaded) -> BoxFuture<'a, Result<(), PortError>>;
}

/// Full-text search over image titles, as the use cases ask it: OpenSearch on AWS, SQLite FTS5
/// locally. Keeping the index in step with the records is not theirs to do: each target does
/// it where the records are written (see [`SearchIndex`]).
pub trait ImageSearch: Send + Sync + fmt::Debug {
    /// Images whose title matches `query` (words, all required), best first, at most `limit`.
    /// The query is text from a user: it is never interpreted as the engine's query syntax.
    fn search<'a>(
        &'a self,
        query: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<Image>, PortError>>;
}

/// Writes to the search index: what follows a record's change. On AWS the Images table's
/// stream drives them (the `index-stream` function); locally the SQLite store re-indexes a title
/// in the same transaction as the record's write, and implements this port for replays.
pub trait SearchIndex: Send + Sync + fmt::Debug {
    /// Adds or replaces an image in the index.
    fn index_image<'a>(&'a self, image: &'a Image) -> BoxFuture<'a, Result<(), PortError>>;
    /// Removes an image from the index (idempotent: an image that is not indexed is fine).
    fn remove_image<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, Result<(), PortError>>;
}

/// Messages to connected WebSocket clients: API Gateway Management API, or the local hub.
pub trait Notifier: Send + Sync + fmt::Debug {
    /// Sends `payload` to the connection; [`PortError::Gone`] when it no longer exists.
    fn send<'a>(
        &'a self,
        connection_id: &'a str,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<(), PortError>>;
    /// Closes the connection from the server's side (idempotent: one already gone is fine).
    fn close<'a>(&'a self, connection_id: &'a str) -> BoxFuture<'a, Result<(), PortError>>;
}
