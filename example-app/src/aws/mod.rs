//! The AWS adapters: the port traits of [`crate::ports`] over the real AWS SDKs.
//!
//! | port | adapter | service |
//! |---|---|---|
//! | `GroupStore`, `ImageStore`, `ConnectionStore` | [`DynamoDbStore`] | DynamoDB (tables made by [`create_tables`] or the template) |
//! | `BlobStore` | [`S3BlobStore`] | S3 (presigned PUTs for uploads) |
//! | `EventBus` | [`SnsEventBus`] | SNS |
//! | `Notifier` | [`ApiGatewayNotifier`] | API Gateway Management API |
//! | `SearchIndex` | [`OpenSearchIndex`], [`IndexedByStream`] | OpenSearch Service (SigV4-signed HTTP) |
//!
//! Each adapter takes an SDK client the caller built (region, endpoint, retries, tracing
//! interceptors), so the same code runs on AWS and against `moto_server` in tests. Errors
//! become [`PortError`](crate::ports::PortError)s that keep the service's error code and
//! message, never a credential.
//!
//! ```no_run
//! use udagram::aws::{DynamoDbStore, TableNames, create_tables};
//! use udagram::ports::GroupStore;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = aws_config::load_from_env().await;
//! let tables = TableNames {
//!     groups: "Groups".into(),
//!     images: "Images".into(),
//!     connections: "Connections".into(),
//! };
//! let client = aws_sdk_dynamodb::Client::new(&config);
//! create_tables(&client, &tables).await?; // tests only: on AWS the template makes them
//! let store = DynamoDbStore::new(client, tables);
//! let first_page = store.list_groups(&Default::default()).await?;
//! # let _ = first_page;
//! # Ok(())
//! # }
//! ```

mod dynamodb;
mod error;
mod notifier;
mod opensearch;
mod s3;
mod sns;

pub use notifier::ApiGatewayNotifier;
pub use opensearch::{IndexedByStream, OpenSearchIndex, SIGNING_SERVICE};
pub use s3::S3BlobStore;
pub use sns::SnsEventBus;

pub use dynamodb::{
    DynamoDbStore, GROUPS_BY_TIME_INDEX, IMAGE_ID_INDEX, TableNames, create_tables,
};
