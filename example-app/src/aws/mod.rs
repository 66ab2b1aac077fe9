//! The AWS adapters: the port traits of [`crate::ports`] over the real AWS SDKs.
//!
//! | port | adapter | service |
//! |---|---|---|
//! | `GroupStore` | [`DynamoDbGroups`] | DynamoDB, the groups table |
//! | `ImageStore`, `ImageCatalog` | [`DynamoDbImages`] | DynamoDB, the images table (and, to create images, the groups table) |
//! | `ConnectionStore` | [`DynamoDbConnections`] | DynamoDB, the connections table |
//! | `BlobStore` | [`S3BlobStore`] | S3 (presigned PUTs for uploads) |
//! | `EventBus` | [`SnsEventBus`] | SNS |
//! | `Notifier` | [`ApiGatewayNotifier`] | API Gateway Management API |
//! | `ImageSearch`, `SearchIndex` | [`OpenSearchIndex`] | OpenSearch Service (SigV4-signed HTTP) |
//!
//! The tables are made by [`create_tables`] in tests, by the template on AWS.
//!
//! Each adapter takes an SDK client the caller built (region, endpoint, retries, tracing
//! interceptors), so the same code runs on AWS and against `moto_server` in tests. Errors
//! become [`PortError`](crate::ports::PortError)s that keep the service's error code and
//! message, never a credential.
//!
//! ```no_run
//! use udagram::aws::{DynamoDbGroups, TableNames, create_tables};
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
//! let groups = DynamoDbGroups::new(client, tables.groups);
//! let first_page = groups.list_groups(&Default::default()).await?;
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
pub use opensearch::{OpenSearchIndex, SIGNING_SERVICE};
pub use s3::S3BlobStore;
pub use sns::SnsEventBus;

pub(crate) use dynamodb::decode_item;
pub use dynamodb::{
    CONNECTION_TTL_ATTRIBUTE, DynamoDbConnections, DynamoDbGroups, DynamoDbImages,
    GROUPS_BY_TIME_INDEX, GroupsTable, IMAGE_ID_INDEX, NoGroupsTable, TableNames, create_tables,
};
