//! Cold-start helpers: one AWS configuration for every SDK client, clients built lazily or eagerly,
//! concurrent prefetch of init work, and a local server for running the same service outside Lambda
//! (with WebSocket routes, the local twin of an API Gateway WebSocket API: see [`websocket`]).
//!
//! What each saves (measured in `bench/`, see the guide): loading the AWS configuration once instead
//! of per client avoids repeating the credential and region chain; in Lambda, [`load_aws_config`]
//! takes credentials and region straight from the environment Lambda sets, skipping the profile-file
//! and instance-metadata probes; [`Prefetch`] runs independent init work (secrets, JWKS) concurrently,
//! so init costs the slowest task instead of the sum.
//!
//! ```no_run
//! use lamina_middleware::init::{LazyClient, Prefetch, shared_aws_config};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let config = shared_aws_config().await; // loaded once per process
//! # let _ = config;
//! let report = Prefetch::new()
//!     .task("warm-up", async { Ok(()) })
//!     .task("another", async { Ok(()) })
//!     .run()
//!     .await?;
//! println!("init work took {:?}", report.total);
//! # Ok(())
//! # }
//! ```

mod aws;
mod lazy;
mod local_server;
mod prefetch;
pub mod websocket;

pub use aws::{load_aws_config, shared_aws_config};
pub use lazy::LazyClient;
pub use local_server::{LocalServer, LocalServerOptions, serve_local, serve_local_with};
pub use prefetch::{Prefetch, PrefetchError, PrefetchHandle, PrefetchReport};
pub use websocket::{
    WebSocketConnections, WebSocketFuture, WebSocketHandler, WebSocketMessage, WebSocketRoute,
    WebSocketSendError,
};
