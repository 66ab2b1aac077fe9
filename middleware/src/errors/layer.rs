//! [`ProblemLayer`] and [`ErrorMapping`]: handler errors and panics become problem+json responses.

use std::any::Any;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::error::{BoxError, HttpError};
use super::{ApiError, request_id};

/// Turns a boxed error into an [`ApiError`] if it is of one registered type.
type Recognizer = fn(BoxError) -> Result<ApiError, BoxError>;

fn recognize_as<E: HttpError>(error: BoxError) -> Result<ApiError, BoxError> {
    error.downcast::<E>().map(|error| ApiError::from(*error))
}

/// Builds [`ErrorMapping`]: the one place where handler errors become HTTP responses.
///
/// Put it inside CORS (so error responses get CORS headers) and outside everything that may fail.
/// See the [module docs](super) for an example.
#[derive(Clone, Default)]
pub struct ProblemLayer {
    recognizers: Arc<[Recognizer]>,
}

impl ProblemLayer {
    /// A layer that recognizes [`ApiError`]s; every other error is an opaque 500.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Also recognizes the domain error `E` when a handler returns it boxed (as `lambda_http::Error`
    /// after `?`), so the handler need not convert to [`ApiError`] itself.
    #[must_use]
    pub fn recognize<E: HttpError>(self) -> Self {
        let mut recognizers = self.recognizers.to_vec();
        recognizers.push(recognize_as::<E>);
        Self {
            recognizers: recognizers.into(),
        }
    }
}

impl fmt::Debug for ProblemLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProblemLayer")
            .field("recognized_types", &self.recognizers.len())
            .finish()
    }
}

impl<S> Layer<S> for ProblemLayer {
    type Service = ErrorMapping<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ErrorMapping {
            inner,
            recognizers: Arc::clone(&self.recognizers),
            ready_error: None,
        }
    }
}

/// Maps the inner service's errors and panics to `application/problem+json` responses.
///
/// - An error that is (or boxes) an [`ApiError`], or a type registered with
///   [`ProblemLayer::recognize`], answers with its problem and headers.
/// - Any other error answers 500 with a generic body; the full error chain is logged with
///   `tracing::error!` and the request id.
/// - A panic in the handler (in `call` or while its future runs) answers 500 the same way; the process
///   and the Lambda runtime keep serving.
///
/// Every problem body carries the Lambda request id (`requestId`) when the request has a
/// `lambda_http::Context`. The error type is [`Infallible`]: this service always answers.
pub struct ErrorMapping<S> {
    inner: S,
    recognizers: Arc<[Recognizer]>,
    ready_error: Option<BoxError>,
}

impl<S: Clone> Clone for ErrorMapping<S> {
    fn clone(&self) -> Self {
        // A pending readiness error belongs to the call that follows this service's poll_ready only.
        Self {
            inner: self.inner.clone(),
            recognizers: Arc::clone(&self.recognizers),
            ready_error: None,
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for ErrorMapping<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorMapping")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, ReqB, B> Service<http::Request<ReqB>> for ErrorMapping<S>
where
    S: Service<http::Request<ReqB>, Response = http::Response<B>>,
    S::Error: Into<BoxError>,
    B: From<String>,
{
    type Response = http::Response<B>;
    type Error = Infallible;
    type Future = ResponseFuture<S::Future, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.ready_error.is_some() {
            return Poll::Ready(Ok(()));
        }
        match self.inner.poll_ready(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            // Answer the next request with a 500 rather than failing the whole service.
            Poll::Ready(Err(error)) => {
                self.ready_error = Some(error.into());
                Poll::Ready(Ok(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn call(&mut self, req: http::Request<ReqB>) -> Self::Future {
        let request_id = request_id(&req);
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let meta = Meta {
            request_id,
            method,
            path,
            recognizers: Arc::clone(&self.recognizers),
        };
        if let Some(error) = self.ready_error.take() {
            return ResponseFuture {
                state: State::Failed(Some(error)),
                meta,
                _body: PhantomData,
            };
        }
        let state = match catch_unwind(AssertUnwindSafe(|| self.inner.call(req))) {
            Ok(future) => State::Running(Box::pin(future)),
            Err(payload) => State::Failed(Some(Box::new(HandlerPanicked::new(payload.as_ref())))),
        };
        ResponseFuture {
            state,
            meta,
            _body: PhantomData,
        }
    }
}

/// What the response future needs to build and log a problem.
struct Meta {
    request_id: Option<String>,
    method: http::Method,
    path: String,
    recognizers: Arc<[Recognizer]>,
}

impl Meta {
    fn api_error(&self, error: BoxError) -> ApiError {
        let error = match error.downcast::<ApiError>() {
            Ok(api) => return *api,
            Err(error) => error,
        };
        let mut error = error;
        for recognize in self.recognizers.iter() {
            match recognize(error) {
                Ok(api) => return api,
                Err(unrecognized) => error = unrecognized,
            }
        }
        ApiError::internal(error)
    }

    fn respond<B: From<String>>(&self, error: BoxError) -> http::Response<B> {
        let api = self.api_error(error);
        let request_id = self.request_id.as_deref().unwrap_or("-");
        if api.status().is_server_error() {
            tracing::error!(
                request_id,
                method = %self.method,
                path = %self.path,
                status = api.status().as_u16(),
                error_type = api.error_type(),
                error = %ErrorChain(&api),
                "request failed"
            );
        } else {
            tracing::info!(
                request_id,
                method = %self.method,
                path = %self.path,
                status = api.status().as_u16(),
                error_type = api.error_type(),
                error = %ErrorChain(&api),
                "request rejected"
            );
        }
        api.to_response_with_id(self.request_id.as_deref())
    }
}

enum State<F> {
    Running(Pin<Box<F>>),
    Failed(Option<BoxError>),
}

/// Response future of [`ErrorMapping`].
pub struct ResponseFuture<F, B> {
    state: State<F>,
    meta: Meta,
    _body: PhantomData<fn() -> B>,
}

impl<F, B> fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("request_id", &self.meta.request_id)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: Into<BoxError>,
    B: From<String>,
{
    type Output = Result<http::Response<B>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let error = match &mut this.state {
            State::Failed(error) => error.take().unwrap_or_else(|| {
                Box::new(HandlerPanicked(
                    "response future polled after completion".into(),
                ))
            }),
            State::Running(future) => {
                match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(Ok(response))) => return Poll::Ready(Ok(response)),
                    Ok(Poll::Ready(Err(error))) => error.into(),
                    Err(payload) => Box::new(HandlerPanicked::new(payload.as_ref())),
                }
            }
        };
        // A panicked future must not be polled again.
        this.state = State::Failed(None);
        Poll::Ready(Ok(this.meta.respond(error)))
    }
}

/// The error logged when a handler panics; the message is the panic payload when it is a string.
#[derive(Debug)]
struct HandlerPanicked(String);

impl HandlerPanicked {
    fn new(payload: &(dyn Any + Send)) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_owned());
        Self(message)
    }
}

impl fmt::Display for HandlerPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handler panicked: {}", self.0)
    }
}

impl std::error::Error for HandlerPanicked {}

/// Displays an error and its sources joined by `: `.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        // ApiError's Display already shows its direct source.
        if self.0.is::<ApiError>() {
            source = source.and_then(std::error::Error::source);
        }
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;
    use lambda_http::Body;
    use tower::{ServiceBuilder, ServiceExt, service_fn};

    fn text(response: &http::Response<Body>) -> String {
        String::from_utf8_lossy(response.body().as_ref()).into_owned()
    }

    #[tokio::test]
    async fn passes_ok_responses_through() {
        let svc = ServiceBuilder::new()
            .layer(ProblemLayer::new())
            .service(service_fn(|_req: http::Request<Body>| async {
                Ok::<_, BoxError>(http::Response::new(Body::from("hi")))
            }));
        let response = svc
            .oneshot(http::Request::new(Body::Empty))
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(text(&response), "hi");
    }

    #[tokio::test]
    async fn panic_in_call_is_a_500() {
        #[derive(Clone)]
        struct Exploding;
        impl Service<http::Request<Body>> for Exploding {
            type Response = http::Response<Body>;
            type Error = BoxError;
            type Future = std::future::Ready<Result<http::Response<Body>, BoxError>>;
            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
                Poll::Ready(Ok(()))
            }
            fn call(&mut self, _: http::Request<Body>) -> Self::Future {
                panic!("boom in call")
            }
        }
        let response = ProblemLayer::new()
            .layer(Exploding)
            .oneshot(http::Request::new(Body::Empty))
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!text(&response).contains("boom"));
    }

    #[tokio::test]
    async fn readiness_error_is_a_500_for_the_next_call() {
        struct NeverReady;
        impl Service<http::Request<Body>> for NeverReady {
            type Response = http::Response<Body>;
            type Error = BoxError;
            type Future = std::future::Ready<Result<http::Response<Body>, BoxError>>;
            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
                Poll::Ready(Err("pool closed".into()))
            }
            fn call(&mut self, _: http::Request<Body>) -> Self::Future {
                std::future::ready(Ok(http::Response::new(Body::from("unreachable"))))
            }
        }
        let response = ProblemLayer::new()
            .layer(NeverReady)
            .oneshot(http::Request::new(Body::Empty))
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!text(&response).contains("pool closed"));
    }

    #[test]
    fn panic_payloads_are_described() {
        assert_eq!(HandlerPanicked::new(&"static").0, "static");
        assert_eq!(HandlerPanicked::new(&String::from("owned")).0, "owned");
        assert_eq!(HandlerPanicked::new(&42_u8).0, "non-string panic payload");
    }
}
