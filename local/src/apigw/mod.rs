//! A stand-in for API Gateway's REST API with a Lambda proxy integration in front of emulated
//! functions, as `sam local start-api` is: HTTP/1.1 on loopback, one proxy event per request.
//!
//! [`RestApi::bind`] serves every path and method as a `/{proxy+}` resource (and `/`). Each request
//! becomes the REST proxy event (payload format 1.0, the shape of `aws_lambda_events`'
//! `ApiGatewayProxyRequest`) and is handed to the function, which scales out as Lambda does: each
//! concurrent request gets an execution environment of its own, up to the function's
//! [concurrency](crate::emulator::FunctionConfig::concurrency). The function's proxy response (`statusCode`, `headers`, `multiValueHeaders`, `body`,
//! `isBase64Encoded`) becomes the HTTP response.
//!
//! Where API Gateway answers by itself, so does the stand-in, with its `{"message": ...}` bodies:
//!
//! | what happens | answer |
//! |---|---|
//! | the function errors, crashes, fails init, runs past its own timeout, or answers something that is not a proxy response | `502 {"message": "Internal server error"}` |
//! | the function is throttled (every environment busy: Lambda's 429) | `500 {"message": "Internal server error"}` |
//! | no answer within the integration timeout (29 s by default) | `504 {"message": "Endpoint request timed out"}` |
//! | a request body over 10 MB, or an event over Lambda's 6 MB payload limit | `413 {"message": "Request Too Long"}` |
//!
//! Tracing: the request's `X-Amzn-Trace-Id` (or a fresh sampled one when it has none) becomes the
//! invocation's trace header, so the function's segments join the caller's trace; the response
//! carries it back with `x-amzn-RequestId`. With [`RestApiConfig::xray_daemon`] the stage is traced
//! as API Gateway's is with tracing on: each sampled request gets an `AWS::ApiGateway::Stage`
//! segment named `API/STAGE`, sent to the daemon when the answer is known, and its id is the
//! `Parent` the function sees.
//!
//! What differs from API Gateway: there are no stages to deploy, no authorizers, models or usage
//! plans; the `Host` header is the client's and `X-Forwarded-Proto` is `http`, as with
//! `sam local start-api`. Bodies of every media type except text, JSON, XML, JavaScript and form
//! data count as binary media types: they reach the function base64-encoded, and a base64 response
//! body is always decoded.
//!
//! ```no_run
//! use lamina_local::apigw::{RestApi, RestApiConfig};
//! use lamina_local::emulator::{Emulator, FunctionConfig};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let function = Emulator::start(FunctionConfig::new("target/debug/my-api")).await?;
//! let api = RestApi::bind(
//!     [function],
//!     RestApiConfig::new().stage("prod"),
//!     "127.0.0.1:0".parse()?,
//! )
//! .await?;
//! println!("curl {}/groups", api.url());
//! api.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod event;
mod response;
mod server;
mod stage_segment;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::emulator::Emulator;

/// The largest request body API Gateway accepts: 10 MB.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

/// API Gateway's default integration timeout: 29 s.
pub const DEFAULT_INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);

/// Why the stand-in could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiGatewayError {
    /// The pool of functions is empty.
    #[error("a REST API needs at least one function to integrate with")]
    NoFunction,
    /// The server could not listen on the requested address.
    #[error("could not listen on {address}")]
    Listen {
        /// The address asked for.
        address: String,
        /// The operating system's error (for example, the address is in use).
        #[source]
        source: std::io::Error,
    },
}

/// What the REST API puts in each event's `requestContext`, and its integration timeout.
///
/// ```
/// use std::time::Duration;
/// use lamina_local::apigw::RestApiConfig;
///
/// let config = RestApiConfig::new()
///     .stage("Prod")
///     .api_id("udagram123")
///     .integration_timeout(Duration::from_secs(10));
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
pub struct RestApiConfig {
    pub(crate) api_name: String,
    pub(crate) stage: String,
    pub(crate) api_id: String,
    pub(crate) account_id: String,
    pub(crate) region: String,
    pub(crate) integration_timeout: Duration,
    pub(crate) xray_daemon_address: Option<String>,
}

impl Default for RestApiConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl RestApiConfig {
    /// API `local-api` (id `local00api`), stage `prod`, account `123456789012`, `us-east-1`, a 29 s
    /// timeout, tracing off.
    #[must_use]
    pub fn new() -> Self {
        Self {
            api_name: "local-api".to_owned(),
            stage: "prod".to_owned(),
            api_id: "local00api".to_owned(),
            account_id: "123456789012".to_owned(),
            region: "us-east-1".to_owned(),
            integration_timeout: DEFAULT_INTEGRATION_TIMEOUT,
            xray_daemon_address: None,
        }
    }

    /// The REST API's name: the first half of its X-Ray segment's name, `API/STAGE`.
    #[must_use]
    pub fn api_name(mut self, name: impl Into<String>) -> Self {
        self.api_name = name.into();
        self
    }

    /// The stage name (`requestContext.stage`, and the first segment of `requestContext.path`).
    #[must_use]
    pub fn stage(mut self, stage: impl Into<String>) -> Self {
        self.stage = stage.into();
        self
    }

    /// The REST API's id (`requestContext.apiId`, and part of `domainName`).
    #[must_use]
    pub fn api_id(mut self, api_id: impl Into<String>) -> Self {
        self.api_id = api_id.into();
        self
    }

    /// The account id (`requestContext.accountId`).
    #[must_use]
    pub fn account_id(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = account_id.into();
        self
    }

    /// The region (part of `requestContext.domainName`).
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// How long a request may wait for the function (queueing included) before the answer is 504.
    #[must_use]
    pub fn integration_timeout(mut self, timeout: Duration) -> Self {
        self.integration_timeout = timeout;
        self
    }

    /// Turns on the stage's X-Ray tracing: each sampled request's `AWS::ApiGateway::Stage` segment
    /// is sent to the daemon at `address` (`host:port`, IPv4, IPv6 or a host name), and the function
    /// gets that segment's id as its `Parent`, so a local trace starts where an AWS one does.
    /// Give the functions the same daemon ([`FunctionConfig::xray_daemon`]) to see the whole tree.
    ///
    /// [`FunctionConfig::xray_daemon`]: crate::emulator::FunctionConfig::xray_daemon
    #[must_use]
    pub fn xray_daemon(mut self, address: impl Into<String>) -> Self {
        self.xray_daemon_address = Some(address.into());
        self
    }
}

/// A running REST API stand-in. Dropping it stops the server; [`RestApi::shutdown`] also waits.
#[derive(Debug)]
pub struct RestApi {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl RestApi {
    /// Listens on `address` (port 0 for a free port) and serves requests with the `functions` pool.
    ///
    /// # Errors
    /// [`ApiGatewayError::NoFunction`] for an empty pool, [`ApiGatewayError::Listen`] when the
    /// address cannot be bound.
    pub async fn bind(
        functions: impl IntoIterator<Item = Emulator>,
        config: RestApiConfig,
        address: SocketAddr,
    ) -> Result<Self, ApiGatewayError> {
        let functions: Vec<Emulator> = functions.into_iter().collect();
        if functions.is_empty() {
            return Err(ApiGatewayError::NoFunction);
        }
        let listen_error = |source| ApiGatewayError::Listen {
            address: address.to_string(),
            source,
        };
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(listen_error)?;
        let address = listener.local_addr().map_err(listen_error)?;
        let gateway = Arc::new(server::Gateway {
            config,
            pool: server::Pool::new(functions),
            local_port: address.port(),
        });
        let router = Router::new()
            .fallback(server::handle)
            .with_state(gateway)
            .into_make_service_with_connect_info::<SocketAddr>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stop_rx.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "REST API stand-in stopped");
            }
        });
        Ok(Self {
            address,
            stop: Some(stop_tx),
            server,
        })
    }

    /// The address the API listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// The API's base URL, `http://127.0.0.1:PORT` (no stage in the path, as with `sam local`).
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops accepting requests and waits for the ones in flight.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.server).await;
    }
}

impl Drop for RestApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}
