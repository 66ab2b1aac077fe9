//! [`SecretsLayer`]: named secrets in request extensions (middy's `setToContext`).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Extensions, Request, Response, StatusCode};
use serde::de::DeserializeOwned;
use tower::{Layer, Service};

use super::decode::{decode_json, join_all};
use super::{BoxFuture, Secret, SecretCache, SecretError, SecretKey};
use crate::errors::Problem;

/// The problem `type` of the 500 answered when a secret cannot be loaded.
pub const SECRET_UNAVAILABLE_TYPE: &str = "https://lamina.dev/problems/secret-unavailable";

/// The text secrets a [`SecretsLayer`] loaded for this request, by the names given to
/// [`SecretsLayer::secret`]. Read it from the request extensions.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: HashMap<String, Secret<String>>,
}

impl Secrets {
    /// The secret loaded under `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Secret<String>> {
        self.values.get(name)
    }

    /// The value loaded under `name`, exposed.
    #[must_use]
    pub fn expose(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|secret| secret.expose().as_str())
    }

    /// How many secrets were loaded.
    #[must_use]
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no secret was loaded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The names secrets were loaded under.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

type Apply = Box<dyn FnOnce(&mut Extensions, &mut Secrets) + Send>;

/// One thing the layer loads per request.
trait Load: Send + Sync {
    fn key(&self) -> &SecretKey;
    fn load<'a>(&'a self, cache: &'a SecretCache) -> BoxFuture<'a, Result<Apply, SecretError>>;
}

struct TextEntry {
    alias: String,
    key: SecretKey,
}

impl Load for TextEntry {
    fn key(&self) -> &SecretKey {
        &self.key
    }

    fn load<'a>(&'a self, cache: &'a SecretCache) -> BoxFuture<'a, Result<Apply, SecretError>> {
        Box::pin(async move {
            let value = cache.get_string(&self.key).await?;
            let alias = self.alias.clone();
            let apply: Apply = Box::new(move |_, secrets| {
                secrets.values.insert(alias, value);
            });
            Ok(apply)
        })
    }
}

struct JsonEntry<T> {
    key: SecretKey,
    _type: PhantomData<fn() -> T>,
}

impl<T> Load for JsonEntry<T>
where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
{
    fn key(&self) -> &SecretKey {
        &self.key
    }

    fn load<'a>(&'a self, cache: &'a SecretCache) -> BoxFuture<'a, Result<Apply, SecretError>> {
        Box::pin(async move {
            let value = cache.get(&self.key).await?;
            let typed: Secret<T> = decode_json(&self.key, &value)?;
            let apply: Apply = Box::new(move |extensions, _| {
                extensions.insert(typed);
            });
            Ok(apply)
        })
    }
}

/// Loads named secrets through a [`SecretCache`] before each request and puts them in the request
/// extensions: text secrets in one [`Secrets`] map, JSON secrets as `Secret<T>` of your type.
/// Several layers (one over Secrets Manager, one over Parameter Store) add to the same map.
///
/// Secrets are loaded concurrently; a cache hit costs a map lookup, so per-request loading is
/// cheap once the cache is warm (warm it at init with [`SecretCache::get_many`]). When a secret
/// cannot be loaded, the handler is not called: the client gets a 500 `application/problem+json`
/// that names neither the secret nor its value, and the log gets the secret's name, the error and
/// the request id.
///
/// ```
/// use http::Request;
/// use lambda_http::Body;
/// use lamina_middleware::secrets::{InMemorySource, Secret, SecretCache, Secrets, SecretsLayer};
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// #[derive(Clone, serde::Deserialize)]
/// struct Db { user: String, password: String }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let source = InMemorySource::new();
/// source.insert_text("prod/api-key", "k-123");
/// source.insert_text("prod/db", r#"{"user":"app","password":"pw"}"#);
/// let cache = SecretCache::new(source);
///
/// let service = ServiceBuilder::new()
///     .layer(SecretsLayer::new(cache).secret("API_KEY", "prod/api-key").json::<Db>("prod/db"))
///     .service(service_fn(|req: Request<Body>| async move {
///         let key = req.extensions().get::<Secrets>().and_then(|s| s.expose("API_KEY"));
///         let db = req.extensions().get::<Secret<Db>>().map(|db| db.expose().user.clone());
///         Ok::<_, std::convert::Infallible>(http::Response::new(Body::from(format!("{key:?} {db:?}"))))
///     }));
/// let response = service.oneshot(Request::new(Body::Empty)).await?;
/// assert_eq!(response.body().as_ref(), br#"Some("k-123") Some("app")"#);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct SecretsLayer {
    cache: SecretCache,
    entries: Arc<[Arc<dyn Load>]>,
}

impl fmt::Debug for SecretsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<String> = self.entries.iter().map(|e| e.key().to_string()).collect();
        f.debug_struct("SecretsLayer")
            .field("cache", &self.cache)
            .field("secrets", &keys)
            .finish()
    }
}

impl SecretsLayer {
    /// A layer that loads nothing yet, over `cache`.
    pub fn new(cache: SecretCache) -> Self {
        Self {
            cache,
            entries: Arc::new([]),
        }
    }

    fn with_entry(self, entry: Arc<dyn Load>) -> Self {
        let mut entries: Vec<Arc<dyn Load>> = self.entries.iter().cloned().collect();
        entries.push(entry);
        Self {
            cache: self.cache,
            entries: entries.into(),
        }
    }

    /// Loads `key` as UTF-8 text into the [`Secrets`] map under `name`.
    pub fn secret(self, name: impl Into<String>, key: impl Into<SecretKey>) -> Self {
        self.with_entry(Arc::new(TextEntry {
            alias: name.into(),
            key: key.into(),
        }))
    }

    /// Loads `key` as JSON into a `Secret<T>` extension (one per type `T`).
    pub fn json<T>(self, key: impl Into<SecretKey>) -> Self
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        self.with_entry(Arc::new(JsonEntry::<T> {
            key: key.into(),
            _type: PhantomData,
        }))
    }
}

impl<S> Layer<S> for SecretsLayer {
    type Service = SecretsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecretsService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service built by [`SecretsLayer`].
#[derive(Clone, Debug)]
pub struct SecretsService<S> {
    inner: S,
    layer: SecretsLayer,
}

/// The response future of [`SecretsService`].
pub struct ResponseFuture<B, E> {
    inner: BoxFuture<'static, Result<Response<B>, E>>,
}

impl<B, E> fmt::Debug for ResponseFuture<B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<B, E> Future for ResponseFuture<B, E> {
    type Output = Result<Response<B>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SecretsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // The clone is not ready; the instance that was polled ready serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        ResponseFuture {
            inner: Box::pin(async move {
                let cache = &layer.cache;
                let loaded = join_all(layer.entries.iter().map(|entry| entry.load(cache))).await;
                let mut applies = Vec::with_capacity(loaded.len());
                for (entry, result) in layer.entries.iter().zip(loaded) {
                    match result {
                        Ok(apply) => applies.push(apply),
                        Err(error) => return Ok(unavailable(&req, entry.key(), &error)),
                    }
                }
                let extensions = req.extensions_mut();
                // Stacked layers (one per cache, say) add to one map rather than replace it.
                let mut secrets = extensions.remove::<Secrets>().unwrap_or_default();
                for apply in applies {
                    apply(extensions, &mut secrets);
                }
                extensions.insert(secrets);
                inner.call(req).await
            }),
        }
    }
}

fn unavailable<ReqBody, ResBody: From<String>>(
    req: &Request<ReqBody>,
    key: &SecretKey,
    error: &SecretError,
) -> Response<ResBody> {
    let request_id = crate::errors::request_id(req);
    let cause = std::error::Error::source(error)
        .map(ToString::to_string)
        .unwrap_or_default();
    tracing::error!(
        secret = %key,
        error = %error,
        cause = %cause,
        request_id = request_id.as_deref().unwrap_or("-"),
        "a secret required by the request could not be loaded"
    );
    let mut problem = Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
        .with_type(SECRET_UNAVAILABLE_TYPE)
        .with_title("Secret unavailable")
        .with_detail("A configuration value this service needs is temporarily unavailable.");
    if let Some(id) = request_id {
        problem = problem.with_request_id(id);
    }
    problem.to_response()
}
