//! The AWS side of each function: SDK clients (one shared `SdkConfig`, every client with
//! lamina-tracing's `XrayInterceptor`, so each call is an X-Ray subsegment) and the adapters of
//! [`crate::aws`] over them, built from the function's configuration.

use std::sync::Arc;

use aws_config::SdkConfig;
use lamina_middleware::auth::{JwtVerifier, SigningAlgorithm};
use lamina_middleware::init::load_aws_config;
use lamina_tracing::aws_sdk::XrayInterceptor;

use super::config::{AuthConfig, BucketConfig, SearchConfig};
use super::runtime::{RunError, init_failed};
use crate::aws::{
    ApiGatewayNotifier, DynamoDbConnections, DynamoDbGroups, DynamoDbImages, OpenSearchIndex,
    S3BlobStore,
};

/// The shared SDK configuration (credentials and region straight from Lambda's environment;
/// `AWS_ENDPOINT_URL` honoured, for moto in tests).
pub(crate) async fn sdk_config() -> SdkConfig {
    load_aws_config().await
}

pub(crate) fn dynamodb(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(XrayInterceptor::new())
            .build(),
    )
}

pub(crate) fn blob_store(sdk: &SdkConfig, bucket: &BucketConfig) -> S3BlobStore {
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(bucket.force_path_style)
            .interceptor(XrayInterceptor::new())
            .build(),
    );
    S3BlobStore::new(
        client,
        sdk.credentials_provider(),
        bucket.name.clone(),
        bucket.public_url.clone(),
    )
}

pub(crate) fn notifier(sdk: &SdkConfig, endpoint: &str) -> ApiGatewayNotifier {
    ApiGatewayNotifier::new(aws_sdk_apigatewaymanagement::Client::from_conf(
        aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .interceptor(XrayInterceptor::new())
            .build(),
    ))
}

pub(crate) fn search_index(
    sdk: &SdkConfig,
    search: &SearchConfig,
) -> Result<OpenSearchIndex, RunError> {
    OpenSearchIndex::new(search.endpoint.clone(), search.index.clone(), sdk)
        .map_err(|e| init_failed("the search index (SEARCH_ENDPOINT, SEARCH_INDEX)")(&e))
}

/// The groups adapter over the groups table a function was given.
pub(crate) fn groups(client: &aws_sdk_dynamodb::Client, table: &str) -> Arc<DynamoDbGroups> {
    Arc::new(DynamoDbGroups::new(client.clone(), table))
}

/// The images adapter over the images table a function was given: reads and `mark_ready`;
/// `.with_groups_table(..)` for a function that creates images.
pub(crate) fn images(client: &aws_sdk_dynamodb::Client, table: &str) -> DynamoDbImages {
    DynamoDbImages::new(client.clone(), table)
}

/// The connections adapter over the connections table a function was given.
pub(crate) fn connections(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Arc<DynamoDbConnections> {
    Arc::new(DynamoDbConnections::new(client.clone(), table))
}

pub(crate) fn verifier(auth: &AuthConfig) -> Result<JwtVerifier, RunError> {
    JwtVerifier::builder()
        .jwks_url(auth.jwks_url.clone())
        .issuer(auth.issuer.clone())
        .audience(auth.audience.clone())
        .algorithms([SigningAlgorithm::Rs256])
        .required_claims(["exp", "sub"])
        .build()
        .map_err(|e| init_failed("the token verifier")(&e))
}

/// Loads the signing keys during init rather than on the first request; a failure is only
/// logged (the verifier fetches again when a token needs a key).
pub(crate) async fn prefetch_keys(verifier: &JwtVerifier) {
    if let Err(error) = verifier.prefetch().await {
        tracing::warn!(%error, "the JWKS could not be fetched at init; retried on demand");
    }
}
