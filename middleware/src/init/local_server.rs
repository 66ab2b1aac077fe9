//! Serves a `lambda_http` service on a local port, so the same app runs outside Lambda.

use std::convert::Infallible;
use std::net::SocketAddr;

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

/// The largest request body the local server reads, as API Gateway's limit: 10 MB.
const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

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

    /// Stops accepting connections and waits for the accept loop to end.
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
/// # Errors
/// The address cannot be bound.
pub async fn serve_local<S, E>(address: SocketAddr, service: S) -> std::io::Result<LocalServer>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = E> + Clone + Send + 'static,
    S::Future: Send + 'static,
    E: Into<BoxError> + Send + 'static,
{
    let listener = TcpListener::bind(address).await?;
    let address = listener.local_addr()?;
    let (stop, mut stopped) = watch::channel(false);
    let accept = tokio::spawn(async move {
        loop {
            let connection = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stopped.changed() => return,
            };
            let (stream, _peer) = match connection {
                Ok(connection) => connection,
                Err(error) => {
                    tracing::warn!(%error, "local server could not accept a connection");
                    continue;
                }
            };
            let service = service.clone();
            tokio::spawn(async move {
                let handler = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let service = service.clone();
                    async move { Ok::<_, Infallible>(handle(service, request).await) }
                });
                if let Err(error) = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), handler)
                    .await
                {
                    tracing::debug!(%error, "local connection ended with an error");
                }
            });
        }
    });
    Ok(LocalServer {
        address,
        stop,
        accept,
    })
}

async fn handle<S, E>(service: S, request: Request<Incoming>) -> Response<Full<Bytes>>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = E>,
    E: Into<BoxError>,
{
    let (parts, incoming) = request.into_parts();
    let bytes = match Limited::new(incoming, MAX_REQUEST_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
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
        Ok(response) => {
            let (parts, body) = response.into_parts();
            Response::from_parts(parts, Full::new(Bytes::copy_from_slice(body.as_ref())))
        }
        Err(error) => {
            let error: BoxError = error.into();
            tracing::error!(%error, "the service failed a local request");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}
