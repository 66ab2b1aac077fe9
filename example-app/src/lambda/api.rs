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
//! Behind the REST API, `lambda_http` puts the stage in front of the path (`/dev/groups` for the
//! resource path `/groups`); lamina-middleware's router and auth layer match the API's own path,
//! and the route ids above are read from the end of the path, so nothing here undoes it.
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

use crate::domain::is_image_id;
use crate::lambda::record_metric;

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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use std::sync::{Arc, Mutex};

    use lambda_http::Body;
    use tower::ServiceExt as _;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing_subscriber::layer::Context as LayerContext;
    use tracing_subscriber::prelude::*;

    use super::*;
    use crate::api::{ApiState, Schemas, service};
    use crate::app::App;
    use crate::test_support::{fixture, issuer, now, verifier};

    /// The `annotation.*` and status fields of every `api.request` span.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<(String, String)>>>);

    impl Visit for Captured {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0
                .lock()
                .unwrap()
                .push((field.name().to_owned(), format!("{value:?}")));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0
                .lock()
                .unwrap()
                .push((field.name().to_owned(), value.to_owned()));
        }
    }

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Captured {
        fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: LayerContext<'_, S>) {
            if attrs.metadata().name() == "api.request" {
                attrs.record(&mut self.clone());
            }
        }
        fn on_record(&self, _: &Id, values: &Record<'_>, _: LayerContext<'_, S>) {
            values.record(&mut self.clone());
        }
    }

    impl Captured {
        fn take(&self) -> Vec<(String, String)> {
            std::mem::take(&mut *self.0.lock().unwrap())
                .into_iter()
                .filter(|(name, _)| name.starts_with("annotation.") || name.contains("status"))
                .collect()
        }
    }

    #[tokio::test]
    async fn requests_carry_the_ids_of_their_route_as_annotations() {
        let f = fixture().await;
        let store = Arc::new(f.store.clone());
        let app = App::new(
            store.clone(),
            store.clone(),
            store,
            Arc::new(f.blobs.clone()),
        );
        let api = ApiTraceLayer.layer(
            service(
                ApiState::new(app, Schemas::load().unwrap()),
                verifier(),
                lamina_middleware::cors::CorsConfig::new()
                    .allow_origins(["https://client.example"]),
            )
            .unwrap(),
        );
        let captured = Captured::default();
        let _guard = tracing_subscriber::registry()
            .with(captured.clone())
            .set_default();
        let image = f.pending("pier").await;
        let missing = uuid::Uuid::new_v4().to_string();
        let group = f.group_id.clone();
        let token = issuer().1.issue("auth0|alice", now()).unwrap();
        let cases = [
            (
                "GET",
                format!("/groups/{group}/images"),
                None,
                200,
                Some(("groupId", &group)),
            ),
            (
                "GET",
                format!("/images/{}", image.image_id),
                None,
                200,
                Some(("imageId", &image.image_id)),
            ),
            (
                "GET",
                format!("/images/{missing}"),
                None,
                404,
                Some(("imageId", &missing)),
            ),
            ("GET", "/images/..%2Fetc".to_owned(), None, 400, None),
            (
                "POST",
                format!("/groups/{group}/images"),
                Some(r#"{"title":"t"}"#),
                201,
                Some(("groupId", &group)),
            ),
            ("GET", "/groups".to_owned(), None, 200, None),
        ];
        for (method, path, body, status, annotation) in cases {
            let mut request = http::Request::builder()
                .method(method)
                .uri(path.as_str())
                .header("authorization", format!("Bearer {token}"));
            if body.is_some() {
                request = request.header("content-type", "application/json");
            }
            let request = request
                .body(body.map_or(Body::Empty, |b| Body::Text(b.to_owned())))
                .unwrap();
            let response = api.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status().as_u16(), status, "{method} {path}");
            let mut expected = Vec::new();
            if let Some((key, id)) = annotation {
                expected.push((format!("annotation.{key}"), id.to_string()));
            }
            expected.push(("http.response.status_code".to_owned(), status.to_string()));
            assert_eq!(captured.take(), expected, "{method} {path}");
        }
    }
}
