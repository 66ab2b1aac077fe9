//! Serves a `lambda_http` service on a local port, so the same app runs outside Lambda, with
//! optional WebSocket routes (see [`super::websocket`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use lambda_http::Body;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::{Service, ServiceExt as _};

use super::websocket::{self, Sockets, WebSocketRoute};

/// The largest request body the local server reads by default, as API Gateway's limit: 10 MiB.
const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
/// How long [`LocalServer::shutdown`] waits for requests in flight.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A running local server; dropping it stops accepting connections.
#[derive(Debug)]
pub struct LocalServer {
    address: SocketAddr,
    stop: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl LocalServer {
    /// The address the server listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting connections, lets the requests in flight finish (idle keep-alive
    /// connections are closed), closes every WebSocket with code 1001 and waits for its
    /// `on_disconnect` (waits at most 30 s in all), then returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let _ = (&mut self.accept).await;
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// How [`serve_local_with`] serves; the default is what [`serve_local`] does.
///
/// ```
/// use lamina_middleware::init::LocalServerOptions;
///
/// // Let an upload route with its own 10 MiB check see (and refuse) bigger bodies itself.
/// let options = LocalServerOptions::default().max_request_bytes(16 * 1024 * 1024);
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
pub struct LocalServerOptions {
    max_request_bytes: usize,
    websockets: Vec<WebSocketRoute>,
}

impl Default for LocalServerOptions {
    fn default() -> Self {
        Self {
            max_request_bytes: MAX_REQUEST_BYTES,
            websockets: Vec::new(),
        }
    }
}

impl LocalServerOptions {
    /// The largest request body read (default 10 MiB, API Gateway's limit). A bigger body is
    /// answered `413` with an `application/problem+json` body by the server itself, before the
    /// service and its layers (CORS included) see the request; raise it above the service's own
    /// limits when the service should answer those refusals.
    #[must_use]
    pub fn max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes;
        self
    }

    /// Serves WebSocket connections on `route`'s path, beside the service (see
    /// [`WebSocketRoute`]): what API Gateway's WebSocket API does on AWS. Every request to that
    /// path is the route's (a plain request is answered `426 Upgrade Required`); other paths,
    /// upgrade requests included, still go to the service. A later route for the same path
    /// replaces the earlier one.
    #[must_use]
    pub fn websocket(mut self, route: WebSocketRoute) -> Self {
        self.websockets
            .retain(|existing| existing.path() != route.path());
        self.websockets.push(route);
        self
    }
}

/// Serves `service` (the same `tower` service a function passes to `lambda_http::run`) over HTTP/1
/// and HTTP/2 on `address`. Requests carry no Lambda context, so layers such as
/// [`InvocationContextLayer`](crate::context::InvocationContextLayer) fall back to local values.
///
/// ```no_run
/// use lamina_middleware::init::serve_local;
/// use lambda_http::{Body, Request, Response};
///
/// # async fn demo() -> std::io::Result<()> {
/// let service = tower::service_fn(|_request: Request| async {
///     Ok::<_, lambda_http::Error>(Response::new(Body::from("hello")))
/// });
/// let server = serve_local("127.0.0.1:3000".parse().expect("address"), service).await?;
/// println!("listening on http://{}", server.local_addr());
/// # Ok(())
/// # }
/// ```
///
/// Request bodies over 10 MiB are answered `413` (see [`LocalServerOptions`] and
/// [`serve_local_with`] to change that).
///
/// # Errors
/// The address cannot be bound.
pub async fn serve_local<S, E>(address: SocketAddr, service: S) -> std::io::Result<LocalServer>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = E> + Clone + Send + 'static,
    S::Future: Send + 'static,
    E: Into<BoxError> + Send + 'static,
{
    let listener = TcpListener::bind(address).await?;
    serve_local_with(listener, service, LocalServerOptions::default()).await
}

/// Like [`serve_local`], on a listener bound beforehand and with [`LocalServerOptions`].
///
/// Binding first gives the port (with port 0, a free one) before the service is built, for a
/// service that needs its own URL (a token issuer, signed upload URLs); connections made in
/// between wait in the listener's backlog.
///
/// ```no_run
/// use lamina_middleware::init::{LocalServerOptions, serve_local_with};
/// use lambda_http::{Body, Request, Response};
///
/// # async fn demo() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let base = format!("http://{}", listener.local_addr()?);
/// let service = tower::service_fn(move |_request: Request| {
///     let body = format!("served from {base}");
///     async move { Ok::<_, lambda_http::Error>(Response::new(Body::from(body))) }
/// });
/// let options = LocalServerOptions::default().max_request_bytes(16 * 1024 * 1024);
/// let server = serve_local_with(listener, service, options).await?;
/// println!("listening on http://{}", server.local_addr());
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// The listener's local address cannot be read.
pub async fn serve_local_with<S, E>(
    listener: TcpListener,
    service: S,
    options: LocalServerOptions,
) -> std::io::Result<LocalServer>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = E> + Clone + Send + 'static,
    S::Future: Send + 'static,
    E: Into<BoxError> + Send + 'static,
{
    let address = listener.local_addr()?;
    let max_request_bytes = options.max_request_bytes;
    let websockets: Arc<[WebSocketRoute]> = options.websockets.into();
    let (stop, mut stopped) = watch::channel(false);
    let sockets = Sockets::new(stopped.clone());
    let accept = tokio::spawn(async move {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        loop {
            let connection = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stopped.changed() => break,
            };
            let (stream, _peer) = match connection {
                Ok(connection) => connection,
                Err(error) => {
                    tracing::warn!(%error, "local server could not accept a connection");
                    continue;
                }
            };
            let service = service.clone();
            let (websockets, sockets) = (Arc::clone(&websockets), sockets.clone());
            let handler = hyper::service::service_fn(move |request: Request<Incoming>| {
                let service = service.clone();
                let (websockets, sockets) = (Arc::clone(&websockets), sockets.clone());
                async move {
                    let path = request.uri().path();
                    let response = match websockets.iter().find(|route| route.path() == path) {
                        Some(route) => websocket::upgrade(route, request, &sockets).await,
                        None => handle(service, request, max_request_bytes).await,
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            let connection = auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(stream), handler)
                .into_owned();
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "local connection ended with an error");
                }
            });
        }
        drop(listener);
        // Sockets got the stop signal too and are closing meanwhile; the HTTP connections go
        // first, so a handshake in flight has counted its socket before the count is awaited.
        let drained = async {
            graceful.shutdown().await;
            sockets.closed().await;
        };
        if tokio::time::timeout(SHUTDOWN_GRACE, drained).await.is_err() {
            tracing::warn!("local connections still open after the shutdown grace period");
        }
    });
    Ok(LocalServer {
        address,
        stop,
        accept,
    })
}

async fn handle<S, E>(
    service: S,
    request: Request<Incoming>,
    max_request_bytes: usize,
) -> Response<Full<Bytes>>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = E>,
    E: Into<BoxError>,
{
    let (parts, incoming) = request.into_parts();
    let bytes = match Limited::new(incoming, max_request_bytes).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return problem(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
    };
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(binary) => Body::Binary(binary.into_bytes()),
        }
    };
    match service.oneshot(Request::from_parts(parts, body)).await {
        Ok(response) => full_response(response),
        Err(error) => {
            let error: BoxError = error.into();
            tracing::error!(%error, "the service failed a local request");
            problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// A `lambda_http` response as hyper's.
pub(super) fn full_response(response: Response<Body>) -> Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Full::new(Bytes::copy_from_slice(body.as_ref())))
}

/// An `application/problem+json` answer, like the ones `ProblemLayer` makes.
pub(super) fn problem(status: StatusCode, detail: &'static str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or_default(),
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/problem+json"),
    );
    response
}
