//! What the contract suite needs from a deployment of Udagram, so that the same cases run against
//! `udagram serve` and against the Lambda handlers under `lamina-local` (with the AWS adapters on
//! moto).

use bytes::Bytes;
use serde_json::Value;

use crate::client::{Http, Reply};

/// A running Udagram.
pub trait Target {
    /// A client bound to the API's base URL.
    fn http(&self) -> &Http;

    /// A bearer token whose `sub` is `user`, accepted by the API.
    async fn token(&self, user: &str) -> String;

    /// Posts `body` (as a file of `content_type`) with an `upload` form the API handed out
    /// (`{url, fields}`: to `serve`, or to S3).
    async fn upload(&self, upload: &Value, content_type: &str, body: Bytes) -> Reply;

    /// GETs an `imageUrl` or `thumbnailUrl`.
    async fn fetch(&self, url: &str) -> Reply;

    /// Waits until the asynchronous work that earlier requests started has been done: on Lambda,
    /// the search index fed by the table's stream and uploads processed from S3's notifications.
    /// The search and upload cases call it before they look at what that work produces. By
    /// default nothing: `serve` indexes as it writes, and the upload cases poll for `ready`.
    async fn settle(&self) {}

    /// Stops the deployment.
    async fn stop(self);
}
