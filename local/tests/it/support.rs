//! Shared fixtures: the echo function's binary, built once per test run.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use lamina_local::cargo_build::BinaryBuild;
use lamina_local::emulator::{Emulator, FunctionConfig, InvocationReport};

/// The `lamina-echo-function` executable, built with cargo on first use.
pub fn echo_function() -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(|| {
        BinaryBuild::new("lamina-echo-function")
            .build()
            .map_err(|e| e.to_string())
    }) {
        Ok(path) => path.clone(),
        Err(error) => panic!("building the echo function failed: {error}"),
    }
}

/// The echo function's configuration with a short timeout, so failures show quickly.
pub fn echo_config() -> FunctionConfig {
    FunctionConfig::new(echo_function()).timeout(Duration::from_secs(10))
}

/// An emulator for `config`.
pub async fn emulator(config: FunctionConfig) -> Emulator {
    Emulator::start(config).await.unwrap()
}

/// The JSON body of a successful invocation; panics with the outcome otherwise.
pub fn body_json(report: &InvocationReport) -> serde_json::Value {
    let body = report
        .outcome
        .body()
        .unwrap_or_else(|| panic!("expected a response, got {} ({report})", report.outcome));
    serde_json::from_slice(body).unwrap()
}

/// A response read whole.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: String,
}

/// POSTs `body` to `url` with `headers`, over plain HTTP/1.
pub async fn post(url: &str, headers: &[(&str, &str)], body: &str) -> HttpResponse {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let mut request = hyper::Request::post(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(
            request
                .body(Full::new(bytes::Bytes::from(body.to_owned())))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}
