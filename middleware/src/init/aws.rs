//! One AWS SDK configuration per process, loaded the fast way inside Lambda.

use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use tokio::sync::OnceCell;

static SHARED: OnceCell<SdkConfig> = OnceCell::const_new();

/// The process's AWS configuration, loaded by [`load_aws_config`] on first use and shared by every
/// client after that.
pub async fn shared_aws_config() -> &'static SdkConfig {
    SHARED.get_or_init(load_aws_config).await
}

/// Loads an AWS configuration.
///
/// Inside Lambda (the runtime sets `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_REGION`) the
/// credentials and region come straight from those variables: the default chain would otherwise look
/// for profile files, web identity and container or instance metadata first. Anywhere else, the
/// standard chain runs. `AWS_ENDPOINT_URL` is honoured in both cases, which is how tests point
/// functions at a local moto server.
pub async fn load_aws_config() -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest());
    let has_env_credentials = std::env::var_os("AWS_ACCESS_KEY_ID").is_some()
        && std::env::var_os("AWS_SECRET_ACCESS_KEY").is_some();
    match std::env::var("AWS_REGION") {
        Ok(region) if has_env_credentials && !region.is_empty() => {
            loader
                .region(Region::new(region))
                .credentials_provider(EnvironmentVariableCredentialsProvider::new())
                .load()
                .await
        }
        _ => loader.load().await,
    }
}
