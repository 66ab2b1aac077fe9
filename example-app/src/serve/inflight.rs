//! [`DrainingService`]: the API with in-flight accounting for graceful shutdown.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderValue, Request, Response, StatusCode, header};
use lambda_http::Body;
use lamina_middleware::errors::{BoxError, Problem};
use tokio::sync::Notify;
use tower::{Service, ServiceExt as _};

use crate::api::ApiService;

#[derive(Debug, Default)]
struct Shared {
    in_flight: AtomicUsize,
    closed: AtomicBool,
    idle: Notify,
}

/// Serves through the API until [`close_and_wait`](Self::close_and_wait), answering 503 after
/// that; counts requests in flight.
#[derive(Debug, Clone)]
pub struct DrainingService<S = ApiService> {
    service: S,
    shared: Arc<Shared>,
}

/// Decrements the in-flight count when the request is done (or its future dropped).
struct InFlightGuard(Arc<Shared>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl<S> DrainingService<S> {
    /// Serves through `service`.
    #[must_use]
    pub fn new(service: S) -> Self {
        Self {
            service,
            shared: Arc::default(),
        }
    }

    /// Refuses new requests (503, `Connection: close`) and waits up to `timeout` for the ones in
    /// flight. Returns whether they all finished.
    pub async fn close_and_wait(&self, timeout: Duration) -> bool {
        self.shared.closed.store(true, Ordering::SeqCst);
        let wait = async {
            loop {
                let idle = self.shared.idle.notified();
                if self.shared.in_flight.load(Ordering::SeqCst) == 0 {
                    return;
                }
                idle.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }
}

fn unavailable(detail: &str) -> Response<Body> {
    let mut response: Response<Body> = Problem::new(StatusCode::SERVICE_UNAVAILABLE)
        .with_detail(detail)
        .to_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

impl<S> Service<Request<Body>> for DrainingService<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // Count first, then look at `closed`: shutdown sets `closed` first, then waits for zero,
        // so no request can slip in between.
        self.shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = InFlightGuard(self.shared.clone());
        if self.shared.closed.load(Ordering::SeqCst) {
            return Box::pin(async move {
                drop(guard);
                Ok(unavailable("the server is shutting down"))
            });
        }
        let service = self.service.clone();
        Box::pin(async move {
            let response = service.oneshot(req).await.map_err(Into::into);
            drop(guard);
            response
        })
    }
}
