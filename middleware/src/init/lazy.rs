//! SDK clients built on first use, or at once.

use std::fmt;
use std::sync::Arc;

use aws_config::SdkConfig;
use tokio::sync::OnceCell;

use super::aws::shared_aws_config;

type Build<C> = Arc<dyn Fn(&SdkConfig) -> C + Send + Sync>;

/// Where a lazy client's configuration comes from.
#[derive(Clone)]
enum ConfigSource {
    /// The process's shared configuration ([`shared_aws_config`]).
    Shared,
    /// A configuration given by the caller (a moto server in tests, another region).
    Given(Arc<SdkConfig>),
}

/// An SDK client built from the shared AWS configuration on first use ([`LazyClient::new`]) or at
/// once ([`LazyClient::eager`]). Clones share the client.
///
/// A lazy client keeps a function that may never call that service from paying for it at init; an
/// eager one moves the cost into init, where Lambda gives full CPU before the first request.
///
/// ```no_run
/// use lamina_middleware::init::LazyClient;
///
/// # async fn demo() {
/// let ssm = LazyClient::new(aws_sdk_ssm::Client::new);
/// let client: &aws_sdk_ssm::Client = ssm.get().await;
/// # let _ = client;
/// # }
/// ```
pub struct LazyClient<C> {
    cell: Arc<OnceCell<C>>,
    build: Build<C>,
    config: ConfigSource,
}

impl<C> LazyClient<C> {
    /// A client built from the shared configuration the first time [`get`](Self::get) is called.
    #[must_use]
    pub fn new(build: impl Fn(&SdkConfig) -> C + Send + Sync + 'static) -> Self {
        Self {
            cell: Arc::new(OnceCell::new()),
            build: Arc::new(build),
            config: ConfigSource::Shared,
        }
    }

    /// A client built from `config`, instead of the shared configuration, on first use.
    #[must_use]
    pub fn with_config(
        config: SdkConfig,
        build: impl Fn(&SdkConfig) -> C + Send + Sync + 'static,
    ) -> Self {
        Self {
            cell: Arc::new(OnceCell::new()),
            build: Arc::new(build),
            config: ConfigSource::Given(Arc::new(config)),
        }
    }

    /// A client built now, from the shared configuration.
    pub async fn eager(build: impl Fn(&SdkConfig) -> C + Send + Sync + 'static) -> Self {
        let client = Self::new(build);
        client.get().await;
        client
    }

    /// The client, built on first call.
    pub async fn get(&self) -> &C {
        self.cell
            .get_or_init(|| async {
                match &self.config {
                    ConfigSource::Shared => (self.build)(shared_aws_config().await),
                    ConfigSource::Given(config) => (self.build)(config),
                }
            })
            .await
    }

    /// Whether the client has been built yet.
    #[must_use]
    pub fn is_built(&self) -> bool {
        self.cell.initialized()
    }
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        Self {
            cell: Arc::clone(&self.cell),
            build: Arc::clone(&self.build),
            config: self.config.clone(),
        }
    }
}

impl<C> fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyClient")
            .field("built", &self.is_built())
            .finish()
    }
}
