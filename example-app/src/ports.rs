//! What the domain needs from the outside world, as traits. The embedded adapters (SQLite, the
//! filesystem, an in-process bus and hub) implement them in [`crate::embedded`]; the AWS
//! adapters (DynamoDB, S3, SNS, API Gateway Management, OpenSearch) will implement the same.

use std::{fmt, future::Future, pin::Pin, time::Duration};

use bytes::Bytes;

use crate::domain::{Connection, Group, Image, ImageUploaded, Page, PageRequest};

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

/// Images: the course's `Images` table with its `ImageIdIndex`.
pub trait ImageStore: Send + Sync + fmt::Debug {
    /// Stores a new image record; [`PortError::AlreadyExists`] if its id is taken.
    fn create_image<'a>(&'a self, image: &'a Image) -> BoxFuture<'a, Result<(), PortError>>;
    /// The image with `image_id` (through the image-id index), if any.
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
    /// Marks the image ready with its thumbnail. Returns whether anything changed (`false` when
    /// it was already ready, so that processing an event twice changes nothing).
    fn mark_ready<'a>(
        &'a self,
        image_id: &'a str,
        thumbnail_url: &'a str,
    ) -> BoxFuture<'a, Result<bool, PortError>>;
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

/// A signed, expiring URL a client PUTs an image's bytes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadUrl {
    /// The URL.
    pub url: String,
    /// The content type the upload must declare.
    pub content_type: String,
    /// The most bytes the upload may carry.
    pub max_bytes: u64,
    /// How long the URL stays valid.
    pub expires_in: Duration,
}

/// Image bytes: the course's S3 bucket, or a directory locally.
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
    /// A URL a client may PUT `key`'s bytes to, limited to `content_type` and `max_bytes`,
    /// valid for `expires_in`.
    fn upload_url<'a>(
        &'a self,
        key: &'a str,
        content_type: &'a str,
        max_bytes: u64,
        expires_in: Duration,
    ) -> BoxFuture<'a, Result<UploadUrl, PortError>>;
    /// The URL the image under `key` is read from.
    fn read_url(&self, key: &str) -> String;
}

/// Fan-out of upload events: S3 notifications to SNS on AWS, a channel locally.
pub trait EventBus: Send + Sync + fmt::Debug {
    /// Publishes that an image's bytes landed.
    fn publish<'a>(&'a self, event: &'a ImageUploaded) -> BoxFuture<'a, Result<(), PortError>>;
}

/// Full-text search over image titles: OpenSearch on AWS, SQLite FTS5 locally.
pub trait SearchIndex: Send + Sync + fmt::Debug {
    /// Adds or replaces an image in the index.
    fn index_image<'a>(&'a self, image: &'a Image) -> BoxFuture<'a, Result<(), PortError>>;
    /// Removes an image from the index (idempotent: an image that is not indexed is fine).
    fn remove_image<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, Result<(), PortError>>;
    /// Images whose title matches `query` (words, all required), best first, at most `limit`.
    /// The query is text from a user: it is never interpreted as the engine's query syntax.
    fn search<'a>(
        &'a self,
        query: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<Image>, PortError>>;
}

/// Messages to connected WebSocket clients: API Gateway Management API, or the local hub.
pub trait Notifier: Send + Sync + fmt::Debug {
    /// Sends `payload` to the connection; [`PortError::Gone`] when it no longer exists.
    fn send<'a>(
        &'a self,
        connection_id: &'a str,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<(), PortError>>;
}
