//! [`ValidateJsonLayer`]: reject requests whose JSON body does not match a schema.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Method;
use serde_json::Value;
use tower::{Layer, Service};

use super::JsonSchema;
use crate::errors::{ApiError, request_id};

/// The parsed and validated body, put in the request extensions so handlers need not parse twice.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidatedJson(pub Value);

/// Builds [`ValidateJson`], which answers 400/415 problem+json for bodies that are not JSON or do
/// not match the schema, without calling the inner service.
///
/// By default every request is checked; [`only_methods`](Self::only_methods) limits it (e.g. to
/// `POST` and `PUT`, so `GET`s without a body pass).
#[derive(Debug, Clone)]
pub struct ValidateJsonLayer {
    schema: JsonSchema,
    methods: Option<Vec<Method>>,
}

impl ValidateJsonLayer {
    /// Validates bodies against `schema` (compiled once, shared by every clone).
    #[must_use]
    pub fn new(schema: JsonSchema) -> Self {
        Self {
            schema,
            methods: None,
        }
    }

    /// Checks only requests with these methods; others pass untouched.
    #[must_use]
    pub fn only_methods(mut self, methods: impl IntoIterator<Item = Method>) -> Self {
        self.methods = Some(methods.into_iter().collect());
        self
    }
}

impl<S> Layer<S> for ValidateJsonLayer {
    type Service = ValidateJson<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ValidateJson {
            inner,
            schema: self.schema.clone(),
            methods: self.methods.clone(),
        }
    }
}

/// Validates JSON request bodies against a [`JsonSchema`]; see [`ValidateJsonLayer`].
#[derive(Clone)]
pub struct ValidateJson<S> {
    inner: S,
    schema: JsonSchema,
    methods: Option<Vec<Method>>,
}

impl<S: fmt::Debug> fmt::Debug for ValidateJson<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidateJson")
            .field("inner", &self.inner)
            .field("schema", &self.schema)
            .field("methods", &self.methods)
            .finish()
    }
}

impl<S, ReqB, ResB> Service<http::Request<ReqB>> for ValidateJson<S>
where
    S: Service<http::Request<ReqB>, Response = http::Response<ResB>>,
    ReqB: AsRef<[u8]>,
    ResB: From<String>,
{
    type Response = http::Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<ReqB>) -> Self::Future {
        let checked = self
            .methods
            .as_ref()
            .is_none_or(|methods| methods.contains(req.method()));
        if checked {
            // The schema's body cap, the parse and the validation, in that order.
            let result = self.schema.validate_body::<Value>(&req);
            match result {
                Ok(value) => {
                    req.extensions_mut().insert(ValidatedJson(value));
                }
                Err(error) => {
                    let id = request_id(&req);
                    tracing::info!(
                        request_id = id.as_deref().unwrap_or("-"),
                        status = error.status().as_u16(),
                        error = %error,
                        "request body rejected"
                    );
                    return ResponseFuture {
                        kind: Kind::Rejected(Some(error), id),
                        _body: PhantomData,
                    };
                }
            }
        }
        ResponseFuture {
            kind: Kind::Inner(Box::pin(self.inner.call(req))),
            _body: PhantomData,
        }
    }
}

enum Kind<F> {
    Inner(Pin<Box<F>>),
    /// The rejection and the request id; the response is built when polled.
    Rejected(Option<ApiError>, Option<String>),
}

/// Response future of [`ValidateJson`].
pub struct ResponseFuture<F, B> {
    kind: Kind<F>,
    _body: PhantomData<fn() -> B>,
}

impl<F, B> fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.kind {
            Kind::Inner(_) => "inner",
            Kind::Rejected(..) => "rejected",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: From<String>,
{
    type Output = Result<http::Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The inner future is boxed, so this type is Unpin and needs no pin projection.
        match &mut self.get_mut().kind {
            Kind::Inner(future) => future.as_mut().poll(cx),
            Kind::Rejected(error, id) => {
                let error = error.take().unwrap_or_else(|| {
                    ApiError::internal("validation response future polled after completion")
                });
                Poll::Ready(Ok(error.to_response_with_id(id.as_deref())))
            }
        }
    }
}
