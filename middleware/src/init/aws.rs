//! One AWS SDK configuration per process, loaded the fast way inside Lambda.

use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
#[cfg(feature = "aws-lc")]
use aws_smithy_runtime::client::defaults::default_http_client_plugin_v2;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
#[cfg(feature = "aws-lc")]
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
#[cfg(feature = "aws-lc")]
use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin as _;
use tokio::sync::OnceCell;

static SHARED: OnceCell<SdkConfig> = OnceCell::const_new();

/// The process's AWS configuration, loaded by [`load_aws_config`] on first use and shared by every
/// client after that.
pub async fn shared_aws_config() -> &'static SdkConfig {
    SHARED.get_or_init(load_aws_config).await
}

/// Loads an AWS configuration.
///
/// Inside Lambda (the runtime sets `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN` and `AWS_REGION`) the credentials and region come straight from those
/// variables. The default chains would find the same variables first too, but they are built with
/// their profile-file, web-identity, container and instance-metadata providers behind them; naming
/// the environment providers directly skips building those. Anywhere else (either variable
/// missing), the standard chains run. `AWS_ENDPOINT_URL` is honoured in both cases, which is how tests point
/// functions at a local moto server.
///
/// The HTTP client is the SDK's default one (hyper 1, rustls with aws-lc-rs, the proxy settings
/// from the environment; with only the `ring` feature, the same client on ring), shared by every
/// client built from this configuration, with one change:
/// it builds its TLS connector, and so loads and parses the system's root certificates, when the
/// first request needs it rather than each time a client is constructed. The SDK's own default does
/// it eagerly in every `Client::new`; measured on the cold-start bench, that was about 2.4 ms of a
/// function's init for one client on a Debian image (which lists every root twice: one bundle file
/// and one file per certificate), repeated for each further client. The trust store itself is
/// unchanged (the platform's roots, as `rustls-native-certs` finds them).
pub async fn load_aws_config() -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(client) = first_use_http_client() {
        loader = loader.http_client(client);
    }
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

/// The SDK's default HTTP client (or its twin on ring), wrapped in [`FirstUseHttpClient`]; `None`
/// if this build of the SDK has no default client (then every client falls back to the SDK's own
/// choice).
fn first_use_http_client() -> Option<FirstUseHttpClient> {
    sdk_https_client().map(|inner| FirstUseHttpClient { inner })
}

/// The SDK's default HTTPS client, on aws-lc-rs.
#[cfg(feature = "aws-lc")]
fn sdk_https_client() -> Option<SharedHttpClient> {
    let plugin = default_http_client_plugin_v2(BehaviorVersion::latest())?;
    let components = plugin.runtime_components(&RuntimeComponentsBuilder::new("lamina"));
    components.http_client()
}

/// The SDK's default HTTPS client built the way aws-smithy-runtime builds it (connector settings
/// and sleep from the client, proxy settings from the environment), on ring.
#[cfg(not(feature = "aws-lc"))]
fn sdk_https_client() -> Option<SharedHttpClient> {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder};

    // `build_with_connector_fn` is hidden from aws-smithy-http-client's docs but public; it is the
    // entry point aws-smithy-runtime's own default client uses, so both clients match but for the
    // crypto mode.
    let client = Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    });
    Some(client)
}

/// Delegates to the SDK's default client, except for the check the SDK runs when a client is
/// constructed: the default client uses it to build a throw-away TLS connector (loading the native
/// root certificates) so that the cost is paid at construction. Here the connector is built, once
/// per connector settings and cached by the inner client, on the first request instead.
#[derive(Debug)]
struct FirstUseHttpClient {
    inner: SharedHttpClient,
}

impl HttpClient for FirstUseHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.inner.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_sdks_default_client_is_the_one_wrapped() {
        let client = first_use_http_client().unwrap();
        let metadata = client.connector_metadata().unwrap();
        assert_eq!(metadata.name(), "hyper");
    }

    #[tokio::test]
    async fn the_loaded_configuration_carries_it() {
        let config = load_aws_config().await;
        let client = config.http_client().unwrap();
        assert_eq!(client.connector_metadata().unwrap().name(), "hyper");
    }
}
