//! `udagram serve`: the whole app in one process on 127.0.0.1, with the embedded adapters.
//!
//! Startup: bind (port 0 picks a free port), open the data directory (SQLite, blobs, the
//! URL-signing key, the development issuer's key), build the API with its middleware stack, start
//! the upload processor, then print `udagram listening on http://127.0.0.1:PORT` on stdout. The
//! processor first re-processes stored uploads whose image is still pending: the in-process bus
//! loses its queue when the process is killed after answering 204.
//!
//! WebSockets: `ws://127.0.0.1:PORT/ws?token=TOKEN` on the same port (see [`websocket`]), the local
//! twin of the API Gateway WebSocket API: a valid token or `401`, the connection recorded in the
//! `connections` table while open, and `{"type":"imageReady","imageId":..,"groupId":..}` to every
//! client when an upload is processed. Rows left by a killed process are removed the first time a
//! notice to them answers Gone.
//!
//! Shutdown (when `shutdown` completes, e.g. on SIGINT/SIGTERM): stop accepting connections,
//! answer 503 to new requests on open connections, close every WebSocket with code 1001 (going
//! away) and forget it, wait for in-flight requests, process the events already queued, return.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use udagram::serve::{ServeOptions, run};
//! // Or `start(options)` for a `Server` to shut down yourself (tests).
//!
//! let options = ServeOptions::new("udagram-data", 0);
//! run(options, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(())
//! # }
//! ```

mod inflight;
pub mod uploads;
pub mod web_client;
pub mod websocket;

use std::future::Future;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use lamina_middleware::auth::{JwtVerifier, SigningAlgorithm};
use lamina_middleware::cors::CorsConfig;
use lamina_middleware::init::{
    LocalServer, LocalServerOptions, WebSocketConnections, WebSocketRoute, serve_local_with,
};
use lamina_middleware::secrets::{DirectorySource, SecretCache};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::{self, ApiService, ApiState, LocalRoutes, Schemas};
use crate::app::{App, MAX_UPLOAD_BYTES};
use crate::dev_issuer::oidc::{CLIENT_ID, FlowState, SCOPES};
use crate::dev_issuer::{AUDIENCE, DevIssuer, Lifetimes};
use crate::domain::{ImageStatus, ImageUploaded, is_image_id};
use crate::embedded::{ChannelBus, EmbeddedStore, FileBlobStore, LocalHub, blobs_dir};
use crate::events::UploadProcessor;
use crate::ports::ImageStore;
use crate::realtime::Realtime;

pub use inflight::DrainingService;
use uploads::LocalUploads;
pub use web_client::{OidcClientConfig, WebClient, WebClientConfig};
use websocket::{RealtimeRoutes, WEBSOCKET_PATH};

/// The URL-signing key's name in the data directory's secrets: the file `DIR/signing.key`, made
/// and checked (32 bytes) by [`EmbeddedStore::open`].
const SIGNING_KEY_NAME: &str = "signing.key";

/// How long shutdown waits for in-flight requests and queued events.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest request body the local server reads: above [`MAX_UPLOAD_BYTES`], so the upload
/// route's own check (inside the CORS layer) answers bigger uploads, with CORS headers.
const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;
const _: () = assert!(MAX_REQUEST_BYTES as u64 > MAX_UPLOAD_BYTES);

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The data directory (created when missing).
    pub data_dir: PathBuf,
    /// The port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// How long the development issuer's tokens and sign-in sessions last.
    pub lifetimes: Lifetimes,
    /// Origins besides the server's own that may call the API from a browser (`*` for any).
    pub cors_origins: Vec<String>,
}

impl ServeOptions {
    /// Serves `data_dir` on `port` with the default token lifetimes and no other origin allowed.
    #[must_use]
    pub fn new(data_dir: impl Into<PathBuf>, port: u16) -> Self {
        Self {
            data_dir: data_dir.into(),
            port,
            lifetimes: Lifetimes::default(),
            cors_origins: Vec::new(),
        }
    }
}

/// A running server: its URL, and what shutdown has to stop and drain.
#[derive(Debug)]
pub struct Server {
    url: String,
    server: LocalServer,
    api: DrainingService<WebClient<ApiService>>,
    stop_events: watch::Sender<bool>,
    drain: JoinHandle<()>,
}

impl Server {
    /// `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops accepting connections, answers 503 to new requests on open ones, closes the
    /// WebSockets (code 1001), waits for the requests in flight, then processes the upload events
    /// already queued.
    pub async fn shutdown(self) {
        tracing::info!("shutting down: no new connections, finishing in-flight requests");
        self.server.shutdown().await;
        if !self.api.close_and_wait(DRAIN_TIMEOUT).await {
            tracing::warn!("in-flight requests did not finish in time");
        }
        let _ = self.stop_events.send(true);
        match tokio::time::timeout(DRAIN_TIMEOUT, self.drain).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "the upload processor failed"),
            Err(_) => tracing::warn!("queued uploads were not all processed in time"),
        }
        tracing::info!("stopped");
    }
}

/// Serves until `shutdown` completes, then drains and returns; prints the ready line on stdout.
///
/// # Errors
/// The port cannot be bound or the data directory cannot be opened.
pub async fn run(options: ServeOptions, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let server = start(options).await?;
    println!("udagram listening on {}", server.url());
    let _ = std::io::stdout().flush();
    shutdown.await;
    server.shutdown().await;
    Ok(())
}

/// Binds, opens the data directory, and starts serving and processing uploads.
///
/// # Errors
/// The port cannot be bound or the data directory cannot be opened.
pub async fn start(options: ServeOptions) -> anyhow::Result<Server> {
    let data_dir = options.data_dir;
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;

    // The URLs (issuer, JWKS, blobs) name the port, known only once bound: bind first, build
    // the API, then serve (connections made in between wait in the listener's backlog).
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, options.port));
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let bound = listener
        .local_addr()
        .with_context(|| format!("cannot read the address bound for {address}"))?;
    let base = format!("http://{bound}");

    // Opening the store makes the URL-signing key on first run; it is then read through
    // Lamina's SecretCache, as Secrets Manager would be on AWS.
    let store = EmbeddedStore::open(&data_dir).context("cannot open the embedded store")?;
    let secrets = SecretCache::new(DirectorySource::new(&data_dir));
    let signing_key = secrets
        .get_bytes(SIGNING_KEY_NAME)
        .await
        .context("cannot read the URL-signing key")?;
    let blobs = FileBlobStore::open(&blobs_dir(&data_dir), &base, signing_key.expose().to_vec())
        .context("cannot open the blob directory")?;
    let (bus, events) = ChannelBus::new();
    let store = Arc::new(store);
    let blobs = Arc::new(blobs);
    let app = App::new(store.clone(), store.clone(), store.clone(), blobs.clone());
    let uploads = LocalUploads::new(store.clone(), blobs.clone(), Arc::new(bus));

    let issuer_url = format!("{base}/");
    let issuer = DevIssuer::load_or_create(&data_dir, issuer_url.clone())
        .context("cannot load the development issuer's key")?
        .with_lifetimes(options.lifetimes);
    // The issuer and the verifier share this process's clock: no leeway, so a token is refused
    // the second it expires, as the web client's expiry handling expects.
    // The keys are found as any OpenID Connect provider's are: through its discovery document.
    let verifier = JwtVerifier::builder()
        .oidc_issuer(issuer_url.clone())
        .audience(AUDIENCE)
        .algorithms([SigningAlgorithm::Rs256])
        .required_claims(["exp", "sub"])
        .leeway(Duration::ZERO)
        .build()
        .context("cannot build the token verifier")?;
    let state = ApiState::new(app, Schemas::load()?).with_local_routes(LocalRoutes {
        uploads,
        issuer: Arc::new(issuer),
        flow: Arc::new(FlowState::default()),
        client_origins: options
            .cors_origins
            .iter()
            .filter(|origin| origin.as_str() != "*")
            .cloned()
            .collect(),
    });
    let client = WebClientConfig {
        api_url: base.clone(),
        web_socket_url: format!("ws://{bound}{WEBSOCKET_PATH}"),
        oidc: OidcClientConfig {
            authority: issuer_url,
            client_id: CLIENT_ID.to_owned(),
            scope: SCOPES.to_owned(),
            audience: Some(AUDIENCE.to_owned()),
        },
    };
    let mut origins = vec![base.clone()];
    origins.extend(options.cors_origins.iter().cloned());
    let cors = CorsConfig::new().allow_origins(origins);
    // `$connect` verifies with the API's own verifier (one JWKS cache) and records the connection
    // in the store the upload processor notifies from, through the hub.
    let websockets = WebSocketConnections::new();
    let hub = LocalHub::with_websockets(websockets.clone());
    let routes = RealtimeRoutes::new(
        Realtime::new(store.clone()),
        verifier.clone(),
        hub.clone(),
        store.clone(),
    );
    let sockets = WebSocketRoute::new(WEBSOCKET_PATH, routes).with_connections(websockets);
    let api = api::service(state, verifier, cors).context("the CORS origins are not valid")?;
    let api = DrainingService::new(
        WebClient::new(api, &client).context("the web client's configuration is not valid")?,
    );
    let local = LocalServerOptions::default()
        .max_request_bytes(MAX_REQUEST_BYTES)
        .websocket(sockets);
    let server = serve_local_with(listener, api.clone(), local)
        .await
        .with_context(|| format!("cannot serve on {bound}"))?;

    let recovery_images: Arc<dyn ImageStore> = store.clone();
    let processor = UploadProcessor::new(store.clone(), blobs, store, Arc::new(hub));
    let (stop_events, stopped) = watch::channel(false);
    let recovery = Recovery {
        blob_dir: blobs_dir(&data_dir),
        images: recovery_images,
    };
    let drain = tokio::spawn(drain_events(processor, recovery, events, stopped));

    Ok(Server {
        url: base,
        server,
        api,
        stop_events,
        drain,
    })
}

/// Where to look for uploads whose event died with the process.
#[derive(Debug)]
struct Recovery {
    blob_dir: PathBuf,
    images: Arc<dyn ImageStore>,
}

impl Recovery {
    /// The stored uploads whose image is still pending. The in-process bus loses its queue on a
    /// crash (SIGKILL after the 204), so every start re-publishes them; processing is idempotent.
    async fn pending_uploads(&self) -> Vec<ImageUploaded> {
        let dir = self.blob_dir.clone();
        let listed = tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            for entry in std::fs::read_dir(dir)?.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if is_image_id(&name) {
                    found.push((name, entry.metadata()?.len()));
                }
            }
            Ok::<_, std::io::Error>(found)
        })
        .await;
        let listed = match listed {
            Ok(Ok(listed)) => listed,
            Ok(Err(error)) => {
                tracing::error!(%error, "cannot list the blob directory; no upload recovered");
                return Vec::new();
            }
            Err(error) => {
                tracing::error!(%error, "blob listing failed; no upload recovered");
                return Vec::new();
            }
        };
        let mut pending = Vec::new();
        for (image_id, size) in listed {
            match self.images.get_image(&image_id).await {
                Ok(Some(image)) if image.status == ImageStatus::Pending => {
                    pending.push(ImageUploaded { image_id, size });
                }
                Ok(_) => {}
                Err(error) => tracing::error!(%image_id, %error, "cannot check an upload"),
            }
        }
        pending
    }
}

/// Re-processes uploads a crash left pending, then processes upload events until told to stop,
/// then the ones still queued.
async fn drain_events(
    processor: UploadProcessor,
    recovery: Recovery,
    mut events: tokio::sync::mpsc::Receiver<ImageUploaded>,
    mut stop: watch::Receiver<bool>,
) {
    let pending = recovery.pending_uploads().await;
    if !pending.is_empty() {
        tracing::info!(
            count = pending.len(),
            "processing uploads left pending by a crash"
        );
    }
    for event in &pending {
        process(&processor, event).await;
    }
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => process(&processor, &event).await,
                None => return,
            },
            _ = stop.changed() => break,
        }
    }
    while let Ok(event) = events.try_recv() {
        process(&processor, &event).await;
    }
}

async fn process(processor: &UploadProcessor, event: &ImageUploaded) {
    match processor.process(event).await {
        Ok(outcome) => tracing::info!(image_id = %event.image_id, ?outcome, "upload processed"),
        Err(error) => {
            tracing::error!(image_id = %event.image_id, %error, "upload processing failed");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests;
