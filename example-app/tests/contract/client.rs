//! A small HTTP client for the contract suite: every request goes through [`Call::send`], which
//! fails the test on any 5xx, so "no 5xx anywhere" holds for every case without repeating it.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::sync::mpsc;

/// Any request body: a full buffer or a stream of chunks (sent with chunked encoding).
pub type Body = BoxBody<Bytes, std::io::Error>;

/// How long one exchange may take before the test fails instead of hanging.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A client bound to a base URL (`http://127.0.0.1:PORT`).
#[derive(Clone, Debug)]
pub struct Http {
    client: Client<HttpConnector, Body>,
    base: String,
}

impl Http {
    pub fn new(base: &str) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `path` as given when it is already absolute, else joined to the base URL.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub fn call(&self, method: Method, path: &str) -> Call<'_> {
        Call {
            http: self,
            method,
            url: self.url(path),
            headers: HeaderMap::new(),
            body: None,
            shutting_down: false,
        }
    }

    pub fn get(&self, path: &str) -> Call<'_> {
        self.call(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call<'_> {
        self.call(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> Call<'_> {
        self.call(Method::PUT, path)
    }
}

/// One request being built.
#[derive(Debug)]
pub struct Call<'a> {
    http: &'a Http,
    method: Method,
    url: String,
    headers: HeaderMap,
    body: Option<Body>,
    shutting_down: bool,
}

impl Call<'_> {
    /// The server is shutting down: a 503 problem (refusing a request that arrived after the
    /// signal) is allowed; any other 5xx still fails the test.
    pub fn shutting_down(mut self) -> Self {
        self.shutting_down = true;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
        self.headers
            .append(name, HeaderValue::from_str(value).unwrap());
        self
    }

    pub fn token(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn json(self, value: &Value) -> Self {
        self.bytes("application/json", serde_json::to_vec(value).unwrap())
    }

    pub fn bytes(self, content_type: &str, body: impl Into<Bytes>) -> Self {
        self.header("content-type", content_type).raw(body)
    }

    /// A body without touching the headers.
    pub fn raw(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(full(body.into()));
        self
    }

    /// A streamed body: no Content-Length, chunked on the wire.
    pub fn stream(mut self, body: Body) -> Self {
        self.body = Some(body);
        self
    }

    /// Sends the request; the test fails on a transport error, a timeout or any 5xx.
    pub async fn send(self) -> Reply {
        let what = format!("{} {}", self.method, self.url);
        match self.try_send().await {
            Ok(reply) => reply,
            Err(error) => panic!("{what}: {error}"),
        }
    }

    /// Sends the request; a transport error is returned (the server may be going away), but a 5xx
    /// still fails the test.
    pub async fn try_send(self) -> Result<Reply, String> {
        let what = format!("{} {}", self.method, self.url);
        let shutting_down = self.shutting_down;
        let mut request = Request::builder().method(self.method).uri(&self.url);
        if let Some(headers) = request.headers_mut() {
            headers.extend(self.headers);
        }
        let request = request
            .body(self.body.unwrap_or_else(|| full(Bytes::new())))
            .map_err(|error| error.to_string())?;
        let exchange = async {
            let response = self
                .http
                .client
                .request(request)
                .await
                .map_err(|error| format!("{error:?}"))?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|error| format!("reading the body: {error}"))?
                .to_bytes();
            Ok::<_, String>(Reply {
                what: what.clone(),
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        };
        let reply = tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| format!("no answer within {TIMEOUT:?}"))??;
        if shutting_down && reply.status == 503 {
            assert_eq!(
                reply.media_type(),
                "application/problem+json",
                "{what}: 503 body"
            );
            return Ok(reply);
        }
        assert!(
            reply.status < 500,
            "{what} answered {} (no 5xx allowed): {}",
            reply.status,
            reply.text()
        );
        Ok(reply)
    }
}

pub fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// A streamed body fed through a channel: the test decides when each chunk goes out.
pub fn channel_body() -> (mpsc::Sender<Bytes>, Body) {
    let (sender, receiver) = mpsc::channel(64);
    (sender, ChannelBody(receiver).boxed())
}

struct ChannelBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|bytes| Ok(Frame::data(bytes))))
    }
}

/// A whole response.
#[derive(Debug)]
pub struct Reply {
    pub what: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The media type without parameters, lower case ("" when absent).
    pub fn media_type(&self) -> String {
        self.header(header::CONTENT_TYPE.as_str())
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    }

    pub fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.chars().take(600).collect()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!("{}: body is not JSON ({error}): {}", self.what, self.text())
        })
    }

    pub fn assert_status(&self, status: u16) {
        assert_eq!(
            self.status,
            status,
            "{}: expected {status}, got {}: {}",
            self.what,
            self.status,
            self.text()
        );
    }

    /// Asserts the status and `application/json`, returns the body.
    pub fn ok_json(self, status: u16) -> Value {
        self.assert_status(status);
        assert_eq!(
            self.media_type(),
            "application/json",
            "{}: content type",
            self.what
        );
        self.json()
    }

    /// Asserts an RFC 9457 problem with this status.
    pub fn problem(self, status: u16) -> Value {
        self.assert_status(status);
        self.problem_body()
    }

    /// Asserts some 4xx problem, returns it.
    pub fn client_error(self) -> Value {
        assert!(
            (400..500).contains(&self.status),
            "{}: expected a 4xx, got {}: {}",
            self.what,
            self.status,
            self.text()
        );
        self.problem_body()
    }

    fn problem_body(self) -> Value {
        assert_eq!(
            self.media_type(),
            "application/problem+json",
            "{}: a {} must be problem+json: {}",
            self.what,
            self.status,
            self.text()
        );
        let problem = self.json();
        assert_eq!(
            problem["status"].as_u64(),
            Some(u64::from(self.status)),
            "{}: problem.status: {problem}",
            self.what
        );
        assert!(
            problem["title"].is_string(),
            "{}: problem.title: {problem}",
            self.what
        );
        problem
    }
}
