//! A minimal [`Router`]: (method, path pattern) to handler, with 404 and 405 problems.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Method;
use tower::Service;

use super::ApiError;
use super::error::BoxError;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
type Handler<ReqB, ResB> = Arc<
    dyn Fn(http::Request<ReqB>) -> BoxFuture<Result<http::Response<ResB>, BoxError>> + Send + Sync,
>;

/// Path parameters captured by a [`Router`] pattern, in the request extensions.
///
/// Values are percent-decoded when the result is valid UTF-8, otherwise kept as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams(BTreeMap<String, String>);

impl PathParams {
    /// The value of `{name}`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// All parameters, by name.
    #[must_use]
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    /// `{name+}`: the rest of the path, as API Gateway's greedy path variables.
    Greedy(String),
}

/// A pattern like `/photos/{id}` or `/files/{path+}`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern(Vec<Segment>);

impl Pattern {
    fn parse(pattern: &str) -> Self {
        let mut segments = Vec::new();
        for part in pattern.split('/').filter(|part| !part.is_empty()) {
            let segment = match part
                .strip_prefix('{')
                .and_then(|rest| rest.strip_suffix('}'))
            {
                Some(name) => match name.strip_suffix('+') {
                    Some(name) => Segment::Greedy(name.to_owned()),
                    None => Segment::Param(name.to_owned()),
                },
                None => Segment::Literal(part.to_owned()),
            };
            segments.push(segment);
        }
        Self(segments)
    }

    fn matches(&self, path: &str) -> Option<PathParams> {
        let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
        let mut params = BTreeMap::new();
        for (index, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Greedy(name) => {
                    let rest = parts.get(index..).filter(|rest| !rest.is_empty())?;
                    let value = rest
                        .iter()
                        .map(|part| percent_decode(part))
                        .collect::<Vec<_>>()
                        .join("/");
                    params.insert(name.clone(), value);
                    return Some(PathParams(params));
                }
                Segment::Literal(literal) => {
                    if parts.get(index) != Some(&literal.as_str()) {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    params.insert(name.clone(), percent_decode(parts.get(index)?));
                }
            }
        }
        (parts.len() == self.0.len()).then_some(PathParams(params))
    }
}

fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok());
        match (byte, hex.and_then(|pair| u8::from_str_radix(pair, 16).ok())) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                index += 3;
            }
            _ => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| input.to_owned())
}

struct Route<ReqB, ResB> {
    method: Method,
    pattern: Pattern,
    handler: Handler<ReqB, ResB>,
}

impl<ReqB, ResB> Clone for Route<ReqB, ResB> {
    fn clone(&self) -> Self {
        Self {
            method: self.method.clone(),
            pattern: self.pattern.clone(),
            handler: Arc::clone(&self.handler),
        }
    }
}

/// Routes requests by method and path pattern, like Powertools' event handler resolver.
///
/// Patterns are `/`-separated; `{name}` captures one segment and a final `{name+}` the rest of the
/// path (API Gateway's syntax). Captures go into the request extensions as [`PathParams`]. Routes
/// are tried in the order added. Behind a REST API, routes match the API's own path: the stage
/// `lambda_http` puts in front of it (`/prod/photos/7`) is left out, so `/photos/{id}` matches on
/// AWS as it does locally (the request's URI is not changed). A path no route matches is a 404
/// [`ApiError`]; a path matched
/// only under other methods is a 405 with an `Allow` header. Put [`ProblemLayer`](super::ProblemLayer)
/// around the router to turn those (and handler errors) into problem+json responses.
///
/// ```
/// use http::{Method, StatusCode};
/// use lambda_http::Body;
/// use lamina_middleware::errors::{ApiError, PathParams, ProblemLayer, Router};
/// use tower::{Layer, ServiceExt};
///
/// async fn get_photo(req: http::Request<Body>) -> Result<http::Response<Body>, ApiError> {
///     let id = req.extensions().get::<PathParams>().and_then(|p| p.get("id")).unwrap_or_default();
///     Ok(http::Response::new(Body::from(format!("photo {id}"))))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let router = Router::new().route(Method::GET, "/photos/{id}", get_photo);
/// let app = ProblemLayer::new().layer(router);
/// let req = http::Request::builder().method("DELETE").uri("/photos/7").body(Body::Empty).unwrap();
/// let response = app.oneshot(req).await.unwrap();
/// assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
/// assert_eq!(response.headers()["allow"], "GET");
/// # }
/// ```
pub struct Router<ReqB = lambda_http::Body, ResB = lambda_http::Body> {
    routes: Vec<Route<ReqB, ResB>>,
}

impl<ReqB, ResB> Router<ReqB, ResB> {
    /// A router without routes (every request is a 404).
    #[must_use]
    pub fn new() -> Self {
        Self { routes: Vec::new() }
    }

    /// Adds a route. `handler` is an async function from the request to a response or any error
    /// (an [`ApiError`], a boxed `lambda_http::Error`, ...).
    #[must_use]
    pub fn route<H, Fut, E>(mut self, method: Method, pattern: &str, handler: H) -> Self
    where
        H: Fn(http::Request<ReqB>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<http::Response<ResB>, E>> + Send + 'static,
        E: Into<BoxError>,
        ResB: Send + 'static,
    {
        let handler: Handler<ReqB, ResB> = Arc::new(move |req| {
            let future = handler(req);
            Box::pin(async move { future.await.map_err(Into::into) })
        });
        self.routes.push(Route {
            method,
            pattern: Pattern::parse(pattern),
            handler,
        });
        self
    }
}

impl<ReqB, ResB> Default for Router<ReqB, ResB> {
    fn default() -> Self {
        Self::new()
    }
}

impl<ReqB, ResB> Clone for Router<ReqB, ResB> {
    fn clone(&self) -> Self {
        Self {
            routes: self.routes.clone(),
        }
    }
}

impl<ReqB, ResB> fmt::Debug for Router<ReqB, ResB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes: Vec<String> = self
            .routes
            .iter()
            .map(|route| format!("{} {:?}", route.method, route.pattern.0))
            .collect();
        f.debug_struct("Router").field("routes", &routes).finish()
    }
}

impl<ReqB, ResB> Service<http::Request<ReqB>> for Router<ReqB, ResB>
where
    ResB: Send + 'static,
{
    type Response = http::Response<ResB>;
    type Error = BoxError;
    type Future = BoxFuture<Result<http::Response<ResB>, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: http::Request<ReqB>) -> Self::Future {
        let mut allowed: Vec<Method> = Vec::new();
        let path = crate::route_path::route_path(&req);
        let mut found = None;
        for route in &self.routes {
            let Some(params) = route.pattern.matches(path) else {
                continue;
            };
            if route.method == req.method() {
                found = Some((Arc::clone(&route.handler), params));
                break;
            }
            if !allowed.contains(&route.method) {
                allowed.push(route.method.clone());
            }
        }
        if let Some((handler, params)) = found {
            req.extensions_mut().insert(params);
            return handler(req);
        }
        let error = if allowed.is_empty() {
            ApiError::not_found()
        } else {
            ApiError::method_not_allowed(&allowed)
        };
        Box::pin(std::future::ready(Err(error.into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pattern_table() {
        type Case<'a> = (&'a str, &'a str, Option<&'a [(&'a str, &'a str)]>);
        let cases: [Case<'_>; 11] = [
            ("/", "/", Some(&[])),
            ("/photos", "/photos", Some(&[])),
            ("/photos", "/photos/", Some(&[])),
            ("/photos", "/photo", None),
            ("/photos/{id}", "/photos/42", Some(&[("id", "42")])),
            ("/photos/{id}", "/photos", None),
            ("/photos/{id}", "/photos/1/2", None),
            ("/photos/{id}", "/photos/a%20b", Some(&[("id", "a b")])),
            ("/photos/{id}", "/photos/%ff", Some(&[("id", "%ff")])),
            (
                "/files/{path+}",
                "/files/a/b/c.txt",
                Some(&[("path", "a/b/c.txt")]),
            ),
            ("/files/{path+}", "/files", None),
        ];
        for (pattern, path, expected) in cases {
            let got = Pattern::parse(pattern).matches(path);
            let expected = expected.map(|pairs| {
                PathParams(
                    pairs
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                )
            });
            assert_eq!(got, expected, "{pattern} vs {path}");
        }
    }

    #[test]
    fn percent_decode_table() {
        for (input, output) in [
            ("abc", "abc"),
            ("a%2Fb", "a/b"),
            ("%", "%"),
            ("%4", "%4"),
            ("%zz", "%zz"),
            ("%C3%A9", "é"),
        ] {
            assert_eq!(percent_decode(input), output);
        }
    }

    proptest! {
        #[test]
        fn matching_arbitrary_paths_never_panics(path in "[/a-z{}%+0-9é]{0,40}", pattern in "[/a-z{}+]{0,20}") {
            let _ = Pattern::parse(&pattern).matches(&path);
            let _ = percent_decode(&path);
        }
    }
}
