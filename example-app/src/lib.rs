//! Udagram: the serverless image-sharing app, built only with Lamina.
//!
//! The same handlers run on AWS (Lambda, API Gateway, DynamoDB, S3, SNS) and on one machine
//! (`udagram serve`) with the embedded adapters: SQLite for records and search, a directory for
//! image bytes, an in-process event bus and WebSocket hub.

pub mod api;
pub mod app;
pub mod aws;
pub mod dev_issuer;
pub mod domain;
pub mod embedded;
pub mod events;
mod form_encoding;
pub mod lambda;
pub(crate) mod page_key;
pub mod ports;
pub mod post_policy;
pub mod realtime;
pub mod serve;
#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod test_support;
pub mod thumbnail;
