//! Per-route requirements on verified claims: [`require_scope`], [`require_claim`] and the
//! [`RequireLayer`] they build. Unmet requirements answer 403.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use serde_json::Value;
use tower::{Layer, Service};

use super::response::{forbidden, sanitize_realm, unauthorized};
use super::{Claims, ResponseFuture};

/// One condition on a verified token.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Requirement {
    /// The token grants this scope (from `scope`, `scp` or `permissions`).
    Scope(String),
    /// Claim `name` equals `value`, or is an array containing it.
    Claim {
        /// The claim's name.
        name: String,
        /// The value it must have or contain.
        value: Value,
    },
}

impl Requirement {
    /// Whether `claims` meet this requirement.
    #[must_use]
    pub fn is_met(&self, claims: &Claims) -> bool {
        match self {
            Self::Scope(scope) => claims.has_scope(scope),
            Self::Claim { name, value } => claims.claim_matches(name, value),
        }
    }

    pub(crate) fn scope(&self) -> Option<&str> {
        match self {
            Self::Scope(scope) => Some(scope),
            Self::Claim { .. } => None,
        }
    }
}

/// The first unmet requirement, if any.
pub(crate) fn first_unmet<'a>(
    requirements: &'a [Requirement],
    claims: &Claims,
) -> Option<&'a Requirement> {
    requirements.iter().find(|r| !r.is_met(claims))
}

/// A layer that requires a scope (403 otherwise). Put it inside a [`JwtAuthLayer`](super::JwtAuthLayer),
/// on the routes that need it.
#[must_use]
pub fn require_scope(scope: impl Into<String>) -> RequireLayer {
    RequireLayer::new().scope(scope)
}

/// A layer that requires claim `name` to equal (or, for an array claim, contain) `value` (403
/// otherwise).
#[must_use]
pub fn require_claim(name: impl Into<String>, value: impl Into<Value>) -> RequireLayer {
    RequireLayer::new().claim(name, value)
}

/// Checks requirements on the [`Claims`] that [`JwtAuth`](super::JwtAuth) put into the request.
///
/// A request without `Claims` (no `JwtAuth` in front, or an optional one and no token) answers 401;
/// claims that miss a requirement answer 403 with `error="insufficient_scope"`.
///
/// ```
/// use lamina_middleware::auth::{require_claim, require_scope};
///
/// let writers = require_scope("write:photos").claim("email_verified", true);
/// let admins = require_claim("https://example.com/roles", "admin").realm("photos");
/// # let _ = (writers, admins);
/// ```
#[derive(Debug, Clone)]
pub struct RequireLayer {
    requirements: Arc<[Requirement]>,
    realm: Arc<str>,
}

impl Default for RequireLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl RequireLayer {
    /// No requirement yet, realm `api`.
    #[must_use]
    pub fn new() -> Self {
        Self {
            requirements: Arc::new([]),
            realm: Arc::from("api"),
        }
    }

    fn push(mut self, requirement: Requirement) -> Self {
        let mut all = self.requirements.to_vec();
        all.push(requirement);
        self.requirements = all.into();
        self
    }

    /// Also requires `scope`.
    #[must_use]
    pub fn scope(self, scope: impl Into<String>) -> Self {
        self.push(Requirement::Scope(scope.into()))
    }

    /// Also requires claim `name` to equal or contain `value`.
    #[must_use]
    pub fn claim(self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.push(Requirement::Claim {
            name: name.into(),
            value: value.into(),
        })
    }

    /// The realm named in `WWW-Authenticate` (default `api`).
    #[must_use]
    pub fn realm(mut self, realm: &str) -> Self {
        self.realm = Arc::from(sanitize_realm(realm));
        self
    }

    /// The requirements, in the order they are checked.
    #[must_use]
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }
}

impl<S> Layer<S> for RequireLayer {
    type Service = Require<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Require {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service built by [`RequireLayer`].
#[derive(Debug, Clone)]
pub struct Require<S> {
    inner: S,
    layer: RequireLayer,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for Require<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResB: From<String> + Send + 'static,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<ResB, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let realm = &self.layer.realm;
        let Some(claims) = req.extensions().get::<Claims>() else {
            tracing::info!(
                path = req.uri().path(),
                "request without verified claims reached a requirement"
            );
            return ResponseFuture::ready(unauthorized(&req, realm, None));
        };
        if let Some(unmet) = first_unmet(&self.layer.requirements, claims) {
            tracing::info!(path = req.uri().path(), requirement = ?unmet, "token misses a requirement");
            let scopes: Vec<&str> = unmet.scope().into_iter().collect();
            return ResponseFuture::ready(forbidden(&req, realm, &scopes));
        }
        ResponseFuture::new(self.inner.call(req))
    }
}
