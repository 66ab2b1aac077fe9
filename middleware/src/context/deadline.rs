//! [`DeadlineLayer`]: answer `504` a margin before Lambda's timeout.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{Request, Response, StatusCode};
use tower::{Layer, Service};

use crate::errors::Problem;

/// Answers `504 Gateway Timeout` with a problem+json body when the handler has not answered
/// `margin` before the invocation's deadline.
///
/// Without a deadline (outside Lambda) requests pass through untouched. The handler's future is
/// dropped at that point, so work it has not finished is cancelled; the margin leaves time for the
/// answer to reach the client and for logs and traces to be flushed.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer {
    margin: Duration,
}

impl DeadlineLayer {
    /// Answers `margin` before the deadline.
    #[must_use]
    pub fn new(margin: Duration) -> Self {
        Self { margin }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            margin: self.margin,
        }
    }
}

/// The service built by [`DeadlineLayer`].
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    margin: Duration,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Deadline<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<ResBody>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let lambda = request.extensions().get::<lambda_http::Context>();
        let budget = lambda.map(|context| {
            let deadline = UNIX_EPOCH + Duration::from_millis(context.deadline);
            deadline
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
                .saturating_sub(self.margin)
        });
        let request_id = lambda.map(|context| context.request_id.clone());
        let response = self.inner.call(request);
        let Some(budget) = budget else {
            return Box::pin(response);
        };
        Box::pin(async move {
            match tokio::time::timeout(budget, response).await {
                Ok(result) => result,
                Err(_elapsed) => {
                    tracing::error!(
                        request_id = request_id.as_deref().unwrap_or(""),
                        budget_ms = budget.as_millis(),
                        "the handler did not answer before the deadline margin; answering 504"
                    );
                    let mut problem = Problem::new(StatusCode::GATEWAY_TIMEOUT)
                        .with_detail("The function ran out of time before it could answer.");
                    if let Some(id) = request_id {
                        problem = problem.with_request_id(id);
                    }
                    Ok(problem.to_response())
                }
            }
        })
    }
}
