//! A stand-in for an Amazon OpenSearch Service domain, for tests: `moto_server` keeps only a
//! domain's metadata and has no search engine (see the local-AWS guide), so this small HTTP
//! server on 127.0.0.1 implements the part of OpenSearch's REST API that a search adapter
//! uses, and checks every request's SigV4 signature as the AWS front end of a domain does.
//!
//! What it implements:
//! - `PUT /{index}` (create, with `mappings`; 400 `resource_already_exists_exception` when it
//!   exists), `GET /{index}`, `HEAD /{index}`;
//! - `PUT|POST /{index}/_doc/{id}` (201 `created` / 200 `updated`; creates a missing index, as
//!   OpenSearch does by default), `GET` and `DELETE` of a document (404 when missing);
//! - `GET|POST /{index}/_search` with `size`, a `match` query (`operator` `and`/`or`) or
//!   `match_all`, and `sort` by `_score` and by fields (400 for a field mapped as `text`, as
//!   OpenSearch refuses). The analyzer lower-cases and splits on
//!   anything that is not a Unicode letter or digit (so `Café` matches `café`); the score is
//!   the matched terms' frequency in the field, not BM25.
//! - Answers in OpenSearch's JSON shapes (`hits.hits[]._id/_score/_source`; errors as
//!   `{"error":{"type","reason"},"status"}`), 404 `index_not_found_exception` for an unknown
//!   index.
//!
//! Every request must carry a valid SigV4 signature (service `es`) made with the configured
//! credentials and region: the stand-in recomputes it with `aws-sigv4` from the method, path,
//! query, signed headers, the body's hash and `x-amz-date`, and answers 403 with AWS's
//! `{"message": ...}` to a missing, wrong or stale (over 5 minutes) signature. So a broken
//! signer fails tests here instead of on AWS. Documents are kept in memory and searchable at
//! once (a real domain refreshes about every second).
//!
//! ```no_run
//! use aws_credential_types::Credentials;
//! use lamina_local::opensearch::OpenSearchServer;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let credentials = Credentials::new("AKIDTEST", "secret", None, None, "test");
//! let search = OpenSearchServer::start(credentials, "us-east-1").await?;
//! println!("SEARCH_ENDPOINT={}", search.endpoint_url());
//! # Ok(())
//! # }
//! ```

mod engine;
mod query;
mod sigv4;

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::SystemTime,
};

use aws_config::SdkConfig;
use aws_credential_types::{Credentials, provider::ProvideCredentials};
use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{Method, StatusCode},
    response::{IntoResponse, Response},
};
use http_body_util::{BodyExt, Limited};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use engine::{Engine, EngineError};
use sigv4::Verifier;

/// The SigV4 service name of Amazon OpenSearch Service domains.
pub const SERVICE: &str = "es";

/// The largest request body accepted (a real domain's smallest limit is 10 MB).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Why the stand-in could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenSearchError {
    /// Binding the loopback port failed.
    #[error("OpenSearch stand-in I/O error")]
    Io(#[from] std::io::Error),
    /// The SDK configuration has no credentials provider or no region.
    #[error("the SDK configuration has no {0}")]
    Incomplete(&'static str),
    /// The credentials provider failed.
    #[error("loading credentials failed: {0}")]
    Credentials(String),
}

struct Shared {
    verifier: Verifier,
    engine: Mutex<Engine>,
    refused: AtomicU64,
}

/// A running stand-in on 127.0.0.1, stopped when dropped.
pub struct OpenSearchServer {
    address: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl std::fmt::Debug for OpenSearchServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenSearchServer")
            .field("address", &self.address)
            .field("region", &self.shared.verifier.region)
            .finish_non_exhaustive()
    }
}

impl OpenSearchServer {
    /// Starts a stand-in on a free loopback port that accepts requests signed with
    /// `credentials` for `region` and service [`SERVICE`].
    ///
    /// # Errors
    /// [`OpenSearchError::Io`] when no port can be bound.
    pub async fn start(
        credentials: Credentials,
        region: impl Into<String>,
    ) -> Result<Self, OpenSearchError> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            verifier: Verifier {
                credentials,
                region: region.into(),
                service: SERVICE.to_owned(),
            },
            engine: Mutex::new(Engine::default()),
            refused: AtomicU64::new(0),
        });
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::warn!(%error, "OpenSearch stand-in stopped");
            }
        });
        Ok(Self {
            address,
            shared,
            server,
        })
    }

    /// Starts a stand-in that accepts what `config`'s credentials sign for its region (for
    /// example `MotoServer::sdk_config()`), so one configuration serves moto and search.
    ///
    /// # Errors
    /// [`OpenSearchError::Incomplete`] without credentials or region; otherwise as
    /// [`OpenSearchServer::start`].
    pub async fn start_for(config: &SdkConfig) -> Result<Self, OpenSearchError> {
        let provider = config
            .credentials_provider()
            .ok_or(OpenSearchError::Incomplete("credentials provider"))?;
        let region = config
            .region()
            .ok_or(OpenSearchError::Incomplete("region"))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| OpenSearchError::Credentials(e.to_string()))?;
        Self::start(credentials, region.as_ref()).await
    }

    /// The base URL, `http://127.0.0.1:PORT` (a domain's `SEARCH_ENDPOINT`).
    #[must_use]
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// How many requests were refused for their signature so far.
    #[must_use]
    pub fn requests_refused(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }

    /// The `mappings` `index` was created with, if it exists (for assertions).
    #[must_use]
    pub fn mappings(&self, index: &str) -> Option<Value> {
        let engine = self
            .shared
            .engine
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        engine
            .get_index(index)
            .ok()
            .and_then(|found| found.get(index)?.get("mappings").cloned())
    }

    /// The stored `_source` of document `id` in `index`, if any (for assertions).
    #[must_use]
    pub fn document(&self, index: &str, id: &str) -> Option<Value> {
        let engine = self
            .shared
            .engine
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match engine.get_document(index, id) {
            Ok((200, found)) => found.get("_source").cloned(),
            _ => None,
        }
    }
}

impl Drop for OpenSearchServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn json_response(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [("content-type", "application/json; charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

fn engine_error(error: &EngineError) -> Response {
    json_response(error.status, &error.body())
}

/// The body as JSON; an empty body is `empty`.
fn parse_body(body: &[u8], empty: Value, kind: &'static str) -> Result<Value, EngineError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(empty);
    }
    serde_json::from_slice(body).map_err(|e| EngineError {
        status: 400,
        kind,
        reason: format!("failed to parse the request body: {e}"),
    })
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return json_response(
                413,
                &json!({"message": "Request size exceeded the stand-in's limit"}),
            );
        }
    };
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    if let Err(refusal) = shared.verifier.verify(
        parts.method.as_str(),
        path_and_query,
        &parts.headers,
        &body,
        SystemTime::now(),
    ) {
        shared.refused.fetch_add(1, Ordering::Relaxed);
        return json_response(403, &json!({"message": refusal.0}));
    }
    let segments: Vec<&str> = parts
        .uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let mut engine = shared.engine.lock().unwrap_or_else(PoisonError::into_inner);
    let method = &parts.method;
    let result: Result<(u16, Value), EngineError> = match (method, segments.as_slice()) {
        (&Method::PUT, [index]) => parse_body(&body, json!({}), "parsing_exception")
            .and_then(|b| engine.create_index(index, &b))
            .map(|v| (200, v)),
        (&Method::GET, [index]) => engine.get_index(index).map(|v| (200, v)),
        (&Method::HEAD, [index]) => {
            let status = if engine.get_index(index).is_ok() {
                200
            } else {
                404
            };
            return Response::builder()
                .status(status)
                .body(Body::empty())
                .unwrap_or_default();
        }
        (&Method::PUT | &Method::POST, [index, "_doc", id]) => {
            parse_body(&body, Value::Null, "mapper_parsing_exception")
                .and_then(|source| engine.put_document(index, id, source))
        }
        (&Method::GET, [index, "_doc", id]) => engine.get_document(index, id),
        (&Method::DELETE, [index, "_doc", id]) => engine.delete_document(index, id),
        (&Method::GET | &Method::POST, [index, "_search"]) => {
            parse_body(&body, json!({}), "parsing_exception")
                .and_then(|b| engine.search(index, &b))
                .map(|v| (200, v))
        }
        _ => Err(EngineError {
            status: 405,
            kind: "method_not_allowed",
            reason: format!(
                "Incorrect HTTP method for uri [{}] and method [{method}] (not implemented by the stand-in)",
                parts.uri.path()
            ),
        }),
    };
    match result {
        Ok((status, body)) => json_response(status, &body),
        Err(error) => engine_error(&error),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests;
