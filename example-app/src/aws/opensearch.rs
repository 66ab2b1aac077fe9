//! [`ImageSearch`] and [`SearchIndex`] on an Amazon OpenSearch Service domain, over HTTP signed
//! with SigV4 (service `es`) using the Lambda's credentials. The `api` function only searches;
//! the `index-stream` function alone writes, from the Images table's stream.
//!
//! - Documents are the domain's serde form of an [`Image`] (`imageId`, `title`, `timestamp`,
//!   ...), at `/{index}/_doc/{imageId}`; [`OpenSearchIndex::ensure_index`] creates the index
//!   with a mapping (`title` analysed text, `timestamp` a date, ids keywords).
//! - A search is one `match` query on `title` with `operator: and` (every word required); the
//!   user's text is the query's value, never parsed as query syntax (`title:* OR "` is just
//!   the words `title` and `or`). Hits come best first, then newest first, at most 100.
//! - Search is near-real-time: writes do not ask for `?refresh=true` (that would cost the
//!   domain a refresh per write), so a document shows up in searches within the domain's
//!   refresh interval (1 s by default), not at once.
//! - Failures become [`PortError::Unavailable`] with the method, path, HTTP status and
//!   OpenSearch's error type; never a signature or credential.
//!
//! The HTTP client is hyper-util's with hyper-rustls: HTTPS on AWS, plain HTTP against
//! `lamina_local::opensearch::OpenSearchServer` in tests. Not the `opensearch` crate (2.4, with
//! its `aws-auth` feature): it sends through `reqwest` 0.13, a second HTTP client and TLS
//! configuration beside the SDK's hyper and rustls, in every function's binary, to make the four
//! requests this adapter needs (create the index, put, delete, search), which are little code
//! over `aws-sigv4` and the SDK's own credential provider.

use std::{fmt, sync::Arc, time::Duration, time::SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::{
    http_request::{PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign},
    sign::v4,
};
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::{Method, Request, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    domain::{Image, MAX_PAGE_SIZE},
    ports::{BoxFuture, ImageSearch, PortError, SearchIndex},
};

/// The SigV4 service name of OpenSearch Service domains.
pub const SIGNING_SERVICE: &str = "es";

/// How long one request to the domain may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from the domain (100 images are far less).
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// At most this much of OpenSearch's error reason is kept in an error.
const MAX_REASON_CHARS: usize = 200;

/// The index's mapping: titles are analysed text; the rest are keywords or a date, so that
/// sorting by `timestamp` works.
fn mapping() -> Value {
    let keyword = json!({"type": "keyword"});
    let stored_only = json!({"type": "keyword", "index": false});
    json!({
        "mappings": {
            "properties": {
                "imageId": keyword,
                "groupId": keyword,
                "userId": keyword,
                "title": {"type": "text"},
                "timestamp": {"type": "date"},
                "status": keyword,
                "imageUrl": stored_only,
                "thumbnailUrl": stored_only,
            }
        }
    })
}

/// OpenSearch's index-name rules, checked up front so that a bad `SEARCH_INDEX` fails at init.
fn check_index_name(name: &str) -> Result<(), PortError> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with(['_', '-', '+', '.'])
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')
        });
    if ok {
        Ok(())
    } else {
        Err(PortError::Invalid(format!(
            "bad search index name {name:?}"
        )))
    }
}

/// A document id as a path segment: ids are UUIDs; anything that would need escaping is
/// refused rather than escaped, so the signed path is the path sent.
fn check_document_id(id: &str) -> Result<(), PortError> {
    let ok = !id.is_empty()
        && id.len() <= 512
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(PortError::Invalid(
            "bad image id for the search index".into(),
        ))
    }
}

/// The error type and a short reason from an OpenSearch or AWS error body.
fn describe_error(body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return "no JSON error body".to_owned();
    };
    let (kind, reason) = match &value["error"] {
        Value::Object(error) => (
            error.get("type").and_then(Value::as_str),
            error.get("reason").and_then(Value::as_str),
        ),
        Value::String(text) => (None, Some(text.as_str())),
        _ => (
            None,
            value["message"].as_str().or(value["Message"].as_str()),
        ),
    };
    let reason: String = reason
        .unwrap_or("")
        .chars()
        .take(MAX_REASON_CHARS)
        .collect();
    match kind {
        Some(kind) => format!("{kind}: {reason}"),
        None => reason,
    }
}

type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The OpenSearch adapter. Clones share the HTTP client (and its connections).
#[derive(Clone)]
pub struct OpenSearchIndex {
    endpoint: Arc<str>,
    index: Arc<str>,
    credentials: SharedCredentialsProvider,
    region: Arc<str>,
    client: HttpsClient,
}

impl fmt::Debug for OpenSearchIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenSearchIndex")
            .field("endpoint", &self.endpoint)
            .field("index", &self.index)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// An answer from the domain.
struct Answer {
    status: u16,
    body: Bytes,
}

impl OpenSearchIndex {
    /// An adapter for `index` on the domain at `endpoint` (`https://search-x.us-east-1.es.amazonaws.com`;
    /// a trailing `/` is ignored), signing with `sdk_config`'s credentials provider and region.
    ///
    /// # Errors
    /// [`PortError::Invalid`] for an endpoint that is not an `http(s)://host[:port]` URL, a bad
    /// index name, or a configuration without credentials provider or region.
    pub fn new(
        endpoint: impl Into<String>,
        index: impl Into<String>,
        sdk_config: &aws_config::SdkConfig,
    ) -> Result<Self, PortError> {
        let endpoint: String = endpoint.into();
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        let uri: Uri = endpoint
            .parse()
            .map_err(|_| PortError::Invalid(format!("bad search endpoint {endpoint:?}")))?;
        let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
        if !scheme_ok || uri.authority().is_none() || !matches!(uri.path(), "" | "/") {
            return Err(PortError::Invalid(format!(
                "the search endpoint must be http(s)://host[:port], not {endpoint:?}"
            )));
        }
        let index: String = index.into();
        check_index_name(&index)?;
        let credentials = sdk_config
            .credentials_provider()
            .ok_or_else(|| PortError::Invalid("the AWS configuration has no credentials".into()))?;
        let region = sdk_config
            .region()
            .ok_or_else(|| PortError::Invalid("the AWS configuration has no region".into()))?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(lamina_middleware::crypto::rustls_provider())
            .map_err(|e| PortError::Unavailable(format!("TLS for the search domain: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            endpoint: endpoint.into(),
            index: index.into(),
            credentials,
            region: region.as_ref().into(),
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }

    /// The index this adapter reads and writes.
    pub fn index(&self) -> &str {
        &self.index
    }

    /// Creates the index with its mapping unless it exists (idempotent: OpenSearch's
    /// `resource_already_exists_exception` is success). Run it before the first search: a
    /// search of a missing index is an error.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the domain refuses or cannot be reached.
    pub async fn ensure_index(&self) -> Result<(), PortError> {
        let path = format!("/{}", self.index);
        let answer = self
            .send(Method::PUT, &path, Some(mapping().to_string()))
            .await?;
        match answer.status {
            200..=299 => Ok(()),
            400 if describe_error(&answer.body)
                .starts_with("resource_already_exists_exception") =>
            {
                Ok(())
            }
            _ => Err(self.failed(&Method::PUT, &path, &answer)),
        }
    }

    fn failed(&self, method: &Method, path: &str, answer: &Answer) -> PortError {
        PortError::Unavailable(format!(
            "OpenSearch {method} {path}: {} {}",
            answer.status,
            describe_error(&answer.body)
        ))
    }

    /// Sends one signed request (`path` starts with `/`, may hold a query) and reads the answer.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Answer, PortError> {
        let unavailable =
            |what: &str| PortError::Unavailable(format!("OpenSearch {method} {path}: {what}"));
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| unavailable(&format!("loading credentials: {e}")))?;
        let url = format!("{}{path}", self.endpoint);
        let uri: Uri = url.parse().map_err(|_| unavailable("bad URL"))?;
        let host = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .ok_or_else(|| unavailable("no host"))?;
        let body = Bytes::from(body.unwrap_or_default());
        let mut request = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header(header::HOST, &host)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body.clone()))
            .map_err(|_| unavailable("bad request"))?;
        let identity: Identity = credentials.into();
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SIGNING_SERVICE)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| unavailable(&format!("signing: {e}")))?
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            &url,
            [
                ("host", host.as_str()),
                ("content-type", "application/json"),
            ]
            .into_iter(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| unavailable(&format!("signing: {e}")))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| unavailable(&format!("signing: {e}")))?
            .into_parts();
        instructions.apply_to_request_http1x(&mut request);
        let response = tokio::time::timeout(REQUEST_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| unavailable(&format!("no answer within {REQUEST_TIMEOUT:?}")))?
            .map_err(|e| unavailable(&format!("request failed: {e}")))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| unavailable(&format!("reading the answer: {e}")))?
            .to_bytes();
        Ok(Answer { status, body })
    }
}

/// Whether OpenSearch answered that the index does not exist (404 `index_not_found_exception`).
fn is_missing_index(answer: &Answer) -> bool {
    answer.status == 404
        && serde_json::from_slice::<Value>(&answer.body)
            .is_ok_and(|error| error["error"]["type"] == "index_not_found_exception")
}

/// The search request for user text `query` (see the module docs).
fn search_body(query: &str, limit: u32) -> Value {
    json!({
        "size": limit,
        "query": {"match": {"title": {"query": query, "operator": "and"}}},
        "sort": ["_score", {"timestamp": "desc"}],
    })
}

impl SearchIndex for OpenSearchIndex {
    /// `PUT /{index}/_doc/{imageId}` with the image's JSON (replaces a previous version).
    fn index_image<'a>(&'a self, image: &'a Image) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            check_document_id(&image.image_id)?;
            let path = format!("/{}/_doc/{}", self.index, image.image_id);
            let body = serde_json::to_string(image)
                .map_err(|e| PortError::Invalid(format!("image: {e}")))?;
            let answer = self.send(Method::PUT, &path, Some(body)).await?;
            match answer.status {
                200..=299 => Ok(()),
                _ => Err(self.failed(&Method::PUT, &path, &answer)),
            }
        })
    }

    /// `DELETE /{index}/_doc/{imageId}`; a 404 (no such document or index) is success.
    fn remove_image<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            check_document_id(image_id)?;
            let path = format!("/{}/_doc/{image_id}", self.index);
            let answer = self.send(Method::DELETE, &path, None).await?;
            match answer.status {
                200..=299 | 404 => Ok(()),
                _ => Err(self.failed(&Method::DELETE, &path, &answer)),
            }
        })
    }
}

impl ImageSearch for OpenSearchIndex {
    /// Limits above [`MAX_PAGE_SIZE`] are read as [`MAX_PAGE_SIZE`]; a query without a letter
    /// or digit (which matches nothing) and a limit of 0 answer at once with no hits. An index
    /// that does not exist yet (a fresh deployment, before the first image) has no hits either.
    fn search<'a>(
        &'a self,
        query: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<Image>, PortError>> {
        Box::pin(async move {
            let limit = limit.min(MAX_PAGE_SIZE);
            if limit == 0 || !query.chars().any(char::is_alphanumeric) {
                return Ok(Vec::new());
            }
            let path = format!("/{}/_search", self.index);
            let body = search_body(query, limit).to_string();
            let answer = self.send(Method::POST, &path, Some(body)).await?;
            if is_missing_index(&answer) {
                // A fresh deployment: nothing was indexed yet, so nothing matches.
                return Ok(Vec::new());
            }
            if !(200..=299).contains(&answer.status) {
                return Err(self.failed(&Method::POST, &path, &answer));
            }
            let corrupt =
                |what: &str| PortError::Unavailable(format!("OpenSearch POST {path}: {what}"));
            let value: Value =
                serde_json::from_slice(&answer.body).map_err(|_| corrupt("answer is not JSON"))?;
            let hits = value["hits"]["hits"]
                .as_array()
                .ok_or_else(|| corrupt("answer has no hits.hits"))?;
            hits.iter()
                .take(limit as usize)
                .map(|hit| {
                    Image::deserialize(&hit["_source"])
                        .map_err(|_| corrupt("a hit's _source is not an image"))
                })
                .collect()
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests;
