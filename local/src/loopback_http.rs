//! A minimal HTTP/1 client for talking to servers this crate starts on loopback (moto's admin API).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The outcome of one request: the status and the whole body.
#[derive(Debug)]
pub(crate) struct LoopbackResponse {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
}

/// Sends one JSON request and reads the whole response.
pub(crate) async fn send(
    method: Method,
    url: &str,
    body: Bytes,
) -> Result<LoopbackResponse, String> {
    send_with_headers(method, url, &[("content-type", "application/json")], body).await
}

/// Sends one request with the given headers and reads the whole response.
pub(crate) async fn send_with_headers(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<LoopbackResponse, String> {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(body))
        .map_err(|e| format!("invalid request to {url}: {e}"))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| format!("request to {url} failed: {e}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the response from {url} failed: {e}"))?
        .to_bytes();
    Ok(LoopbackResponse { status, body })
}
