//! `api`: the REST API ([`crate::api::service`]) behind API Gateway, with each request in an
//! `api.request` span that carries the business annotations.
//!
//! [`ApiTraceLayer`] reads the route's ids from the path (`/groups/{groupId}/images`,
//! `/images/{imageId}`) and records them as the X-Ray annotations `groupId` and `imageId`, so a
//! trace can be found by the group or image it touched. Only well-formed UUIDs are recorded:
//! the path is client input, and anything else is answered 400 by the API anyway. It also
//! records the response status (X-Ray's error and fault flags) and counts the writes as the
//! metrics `GroupsCreated` and `ImagesCreated`.
//!
//! ```
//! use udagram::lambda::api::route_ids;
//!
//! let image = "0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b";
//! assert_eq!(route_ids(&format!("/images/{image}")), (None, Some(image)));
//! assert_eq!(route_ids(&format!("/groups/{image}/images")), (Some(image), None));
//! assert_eq!(route_ids("/images/not-a-uuid"), (None, None));
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Method, StatusCode};
use lambda_http::{Request, Response};
use tower::{Layer, Service};
use tracing::Instrument as _;
use tracing::field::Empty;

use crate::lambda::upload::{is_image_id, record_metric};

/// The metric counting groups created.
pub const GROUPS_CREATED_METRIC: &str = "GroupsCreated";
/// The metric counting image records created.
pub const IMAGES_CREATED_METRIC: &str = "ImagesCreated";
/// The metric counting 5xx answers.
pub const SERVER_ERRORS_METRIC: &str = "ServerErrors";

/// The `groupId` and `imageId` a path names, when they are well-formed UUIDs.
#[must_use]
pub fn route_ids(path: &str) -> (Option<&str>, Option<&str>) {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [.., "groups", group, "images"] if is_image_id(group) => (Some(group), None),
        [.., "images", image] if is_image_id(image) => (None, Some(image)),
        _ => (None, None),
    }
}

/// Wraps the API service in the `api.request` span; see the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiTraceLayer;

impl<S> Layer<S> for ApiTraceLayer {
    type Service = ApiTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ApiTrace { inner }
    }
}

/// The service built by [`ApiTraceLayer`].
#[derive(Debug, Clone)]
pub struct ApiTrace<S> {
    inner: S,
}

/// The future of [`ApiTrace`].
pub type ResponseFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

impl<S, B> Service<Request> for ApiTrace<S>
where
    S: Service<Request, Response = Response<B>>,
    S::Future: Send + 'static,
    B: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let path = request.uri().path().to_owned();
        let method = request.method().clone();
        let (group_id, image_id) = route_ids(&path);
        let span = tracing::info_span!(
            "api.request",
            "xray.name" = "udagram-api",
            "http.request.method" = method.as_str(),
            "annotation.groupId" = Empty,
            "annotation.imageId" = Empty,
            "http.response.status_code" = Empty,
        );
        if let Some(group_id) = group_id {
            span.record("annotation.groupId", group_id);
        }
        if let Some(image_id) = image_id {
            span.record("annotation.imageId", image_id);
        }
        let future = self.inner.call(request).instrument(span.clone());
        Box::pin(async move {
            let result = future.await;
            if let Ok(response) = &result {
                let status = response.status();
                span.record("http.response.status_code", u64::from(status.as_u16()));
                count(&method, &path, status);
            }
            result
        })
    }
}

fn count(method: &Method, path: &str, status: StatusCode) {
    if status.is_server_error() {
        record_metric(SERVER_ERRORS_METRIC, 1);
    }
    if *method != Method::POST || status != StatusCode::CREATED {
        return;
    }
    match route_ids(path) {
        (Some(_), None) => record_metric(IMAGES_CREATED_METRIC, 1),
        _ if path.trim_end_matches('/').ends_with("/groups") => {
            record_metric(GROUPS_CREATED_METRIC, 1);
        }
        _ => {}
    }
}
