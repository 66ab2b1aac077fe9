//! The REST API stand-in in front of real functions under the emulator: a Python runtime that
//! answers with the event it received (so every field of the proxy event can be checked), and the
//! Rust echo function, whose answers are not proxy responses.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lamina_local::apigw::{MAX_REQUEST_BYTES, RestApi, RestApiConfig};
use lamina_local::emulator::{Emulator, FunctionConfig};
use lamina_local::trace_header::TraceHeader;
use serde_json::{Value, json};

use crate::support::echo_config;

/// A custom runtime in Python: by path it crashes, errors, sleeps, answers a malformed document or
/// a binary body; otherwise it answers 200 with `{"event": EVENT, "trace": TRACE_HEADER}`.
const MIRROR_RUNTIME: &str = r#"#!/usr/bin/env python3
import base64, json, os, time, urllib.request

base = "http://%s/2018-06-01/runtime/invocation" % os.environ["AWS_LAMBDA_RUNTIME_API"]

def post(url, document):
    data = json.dumps(document).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    urllib.request.urlopen(request).read()

while True:
    with urllib.request.urlopen(base + "/next") as answer:
        request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
        trace = answer.headers.get("Lambda-Runtime-Trace-Id")
        event = json.loads(answer.read())
    path = event.get("path")
    if path == "/crash":
        os._exit(3)
    if path == "/error":
        post("%s/%s/error" % (base, request_id), {"errorType": "Boom", "errorMessage": "boom"})
        continue
    if path == "/sleep":
        time.sleep(float(event["queryStringParameters"]["s"]))
    if path == "/malformed":
        reply = {"statusCode": 200, "body": "x", "unexpected": True}
    elif path == "/binary":
        reply = {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                 "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
    else:
        reply = {"statusCode": 200,
                 "headers": {"content-type": "application/json", "x-single": "one"},
                 "multiValueHeaders": {"x-multi": ["a", "b"]},
                 "body": json.dumps({"event": event, "trace": trace})}
    post("%s/%s/response" % (base, request_id), reply)
"#;

/// The mirror runtime written to an executable file in a temporary folder.
fn mirror_runtime() -> (tempfile::TempDir, PathBuf) {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bootstrap");
    std::fs::write(&path, MIRROR_RUNTIME).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, path)
}

struct Api {
    api: RestApi,
    functions: Vec<Emulator>,
    _dir: Option<tempfile::TempDir>,
}

async fn mirror_api(pool: usize, config: RestApiConfig) -> Api {
    let (dir, path) = mirror_runtime();
    let mut functions = Vec::new();
    for _ in 0..pool {
        let function = FunctionConfig::new(&path).timeout(Duration::from_secs(10));
        functions.push(Emulator::start(function).await.unwrap());
    }
    let api = RestApi::bind(functions.clone(), config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    Api {
        api,
        functions,
        _dir: Some(dir),
    }
}

struct Reply {
    status: u16,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }
}

async fn send(method: &str, url: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Full::new(body.into())).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

#[tokio::test]
async fn a_request_round_trips_through_the_proxy_event() {
    let api = mirror_api(1, RestApiConfig::new().stage("test")).await;
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let binary: Vec<u8> = (0..=255).collect();
    let reply = send(
        "PUT",
        &format!("{}/groups/a%20b/items?x=1&x=2&slash=%2F", api.api.url()),
        &[
            ("content-type", "application/octet-stream"),
            ("accept", "text/html"),
            ("accept", "application/json"),
            ("x-custom", "value"),
            ("x-amzn-trace-id", trace),
        ],
        binary.clone(),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(reply.header("x-single"), "one");
    let multi: Vec<&str> = reply
        .headers
        .get_all("x-multi")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(multi, ["a", "b"]);

    let body = reply.json();
    let event = &body["event"];
    assert_eq!(event["httpMethod"], "PUT");
    assert_eq!(event["resource"], "/{proxy+}");
    assert_eq!(event["path"], "/groups/a%20b/items");
    assert_eq!(
        event["pathParameters"],
        json!({"proxy": "groups/a b/items"})
    );
    assert_eq!(
        event["multiValueQueryStringParameters"],
        json!({"x": ["1", "2"], "slash": ["/"]})
    );
    assert_eq!(
        event["queryStringParameters"],
        json!({"x": "2", "slash": "/"})
    );
    assert_eq!(event["headers"]["x-custom"], "value");
    assert_eq!(
        event["multiValueHeaders"]["accept"],
        json!(["text/html", "application/json"])
    );
    assert_eq!(event["isBase64Encoded"], true);
    assert_eq!(
        BASE64.decode(event["body"].as_str().unwrap()).unwrap(),
        binary
    );
    let context = &event["requestContext"];
    assert_eq!(context["stage"], "test");
    assert_eq!(context["path"], "/test/groups/a%20b/items");
    assert_eq!(context["protocol"], "HTTP/1.1");
    assert_eq!(context["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(context["requestId"], reply.header("x-amzn-requestid"));
    let epoch = context["requestTimeEpoch"].as_u64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(now >= epoch && now - epoch < 60_000, "{epoch} vs {now}");

    // The function joined the caller's trace, and so did the event's header.
    let seen = TraceHeader::parse(body["trace"].as_str().unwrap()).unwrap();
    assert_eq!(seen.root, "1-5759e988-bd862e3fe1be46a994272793");
    assert!(seen.is_sampled());
    assert_eq!(event["headers"]["x-amzn-trace-id"], body["trace"]);
    assert_eq!(reply.header("x-amzn-trace-id"), body["trace"]);
    api.api.shutdown().await;
}

#[tokio::test]
async fn text_bodies_binary_answers_and_fresh_traces() {
    let api = mirror_api(1, RestApiConfig::new()).await;
    let reply = send(
        "POST",
        &format!("{}/", api.api.url()),
        &[("content-type", "application/json")],
        r#"{"title":"ünïcode"}"#,
    )
    .await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["event"]["body"], r#"{"title":"ünïcode"}"#);
    assert_eq!(body["event"]["isBase64Encoded"], false);
    assert_eq!(body["event"]["resource"], "/");
    assert_eq!(body["event"]["queryStringParameters"], Value::Null);
    // Without a trace header the request starts a sampled trace, and the answer names it.
    let made = TraceHeader::parse(reply.header("x-amzn-trace-id")).unwrap();
    assert!(made.is_sampled());
    assert_eq!(
        TraceHeader::parse(body["trace"].as_str().unwrap())
            .unwrap()
            .root,
        made.root
    );

    let binary = send("GET", &format!("{}/binary", api.api.url()), &[], "").await;
    assert_eq!(binary.status, 200);
    assert_eq!(binary.header("content-type"), "application/octet-stream");
    assert_eq!(binary.body.to_vec(), (0..=255).collect::<Vec<u8>>());
}

fn assert_internal_error(reply: &Reply, what: &str) {
    assert_eq!(
        reply.status,
        502,
        "{what}: {}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(
        reply.json(),
        json!({"message": "Internal server error"}),
        "{what}"
    );
}

#[tokio::test]
async fn failing_functions_are_502_and_the_api_keeps_serving() {
    let api = mirror_api(1, RestApiConfig::new()).await;
    for path in ["/error", "/crash", "/malformed"] {
        let reply = send("GET", &format!("{}{path}", api.api.url()), &[], "").await;
        assert_internal_error(&reply, path);
        let after = send("GET", &format!("{}/fine", api.api.url()), &[], "").await;
        assert_eq!(after.status, 200, "after {path}");
    }
}

#[tokio::test]
async fn answers_that_are_not_proxy_responses_and_failed_inits_are_502() {
    // The echo function answers {"echo": ...}: valid JSON, not a proxy response.
    let echo = Emulator::start(echo_config()).await.unwrap();
    let api = RestApi::bind([echo], RestApiConfig::new(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let reply = send("GET", &format!("{}/anything", api.url()), &[], "").await;
    assert_internal_error(&reply, "echo function");

    let failing = Emulator::start(echo_config().env("ECHO_FAIL_INIT", "no config"))
        .await
        .unwrap();
    let api = RestApi::bind(
        [failing],
        RestApiConfig::new(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let reply = send("GET", &format!("{}/anything", api.url()), &[], "").await;
    assert_internal_error(&reply, "failed init");
}

#[tokio::test]
async fn a_slow_function_is_504_and_its_environment_finishes_first() {
    let config = RestApiConfig::new().integration_timeout(Duration::from_millis(500));
    let api = mirror_api(1, config).await;
    let start = Instant::now();
    let reply = send("GET", &format!("{}/sleep?s=1.5", api.api.url()), &[], "").await;
    assert_eq!(reply.status, 504);
    assert_eq!(
        reply.json(),
        json!({"message": "Endpoint request timed out"})
    );
    assert!(
        start.elapsed() < Duration::from_millis(1400),
        "{:?}",
        start.elapsed()
    );
    // The execution environment is still busy with the slow event: it is not interrupted, and when
    // the event is done the environment is warm and idle again, and serves the next request.
    let function = &api.functions[0];
    assert_eq!(function.environments().running, 1);
    for _ in 0..200 {
        if function.is_warm().await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(function.is_warm().await, "{:?}", function.environments());
    let after = send("GET", &format!("{}/fine", api.api.url()), &[], "").await;
    assert_eq!(after.status, 200);
    assert_eq!(function.environments().running, 1);
}

#[tokio::test]
async fn a_pool_serves_requests_at_once() {
    let api = mirror_api(2, RestApiConfig::new()).await;
    let url = format!("{}/sleep?s=1", api.api.url());
    // Warm both environments so the timing measures the invocations only.
    let (a, b) = tokio::join!(send("GET", &url, &[], ""), send("GET", &url, &[], ""));
    assert_eq!((a.status, b.status), (200, 200));
    let start = Instant::now();
    let (a, b) = tokio::join!(send("GET", &url, &[], ""), send("GET", &url, &[], ""));
    assert_eq!((a.status, b.status), (200, 200));
    assert!(
        start.elapsed() < Duration::from_millis(1900),
        "two 1 s requests took {:?} on a pool of two",
        start.elapsed()
    );
}

#[tokio::test]
async fn bodies_over_the_limits_are_413() {
    let api = mirror_api(1, RestApiConfig::new()).await;
    let url = format!("{}/upload", api.api.url());
    for (what, size) in [
        ("over API Gateway's 10 MB", MAX_REQUEST_BYTES + 1),
        ("over Lambda's 6 MB event", 7 * 1024 * 1024),
    ] {
        let reply = send(
            "POST",
            &url,
            &[("content-type", "text/plain")],
            vec![b'x'; size],
        )
        .await;
        assert_eq!(reply.status, 413, "{what}");
        assert_eq!(
            reply.json(),
            json!({"message": "Request Too Long"}),
            "{what}"
        );
    }
    let fine = send(
        "POST",
        &url,
        &[("content-type", "text/plain")],
        vec![b'x'; 1024 * 1024],
    )
    .await;
    assert_eq!(fine.status, 200);
    assert_eq!(
        fine.json()["event"]["body"].as_str().map(str::len),
        Some(1024 * 1024)
    );
}

#[tokio::test]
async fn a_chunked_body_over_10_mb_is_413_too() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let api = mirror_api(1, RestApiConfig::new()).await;
    let mut stream = tokio::net::TcpStream::connect(api.api.local_addr())
        .await
        .unwrap();
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n",
        api.api.local_addr()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'x'; 1024 * 1024];
    // No Content-Length: the limit is found while reading. The server may answer and close
    // before the client finishes sending, so write errors are expected.
    for _ in 0..11 {
        let framed = [
            format!("{:x}\r\n", chunk.len()).into_bytes(),
            chunk.clone(),
            b"\r\n".to_vec(),
        ]
        .concat();
        if stream.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains(r#"{"message":"Request Too Long"}"#),
        "{answer}"
    );
}

/// With tracing on, the stage records API Gateway's segment and the trace is one tree rooted on it:
/// the stage, then Lambda's function segment (whose parent is the stage), as in AWS.
#[tokio::test]
async fn a_traced_stage_roots_the_trace_on_its_own_segment() {
    use lamina_local::xray::{CollectorConfig, XrayCollector};
    let collector = XrayCollector::start(CollectorConfig::new().bind("[::1]:0".parse().unwrap()))
        .await
        .unwrap();
    let daemon = collector.daemon_address();
    let (_dir, path) = mirror_runtime();
    let function = FunctionConfig::new(&path)
        .function_name("orders-fn")
        .xray_daemon(&daemon);
    let function = Emulator::start(function).await.unwrap();
    let config = RestApiConfig::new()
        .api_name("orders")
        .stage("test")
        .xray_daemon(&daemon);
    let api = RestApi::bind([function], config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let fresh = TraceHeader::new_sampled();
    let caller = format!("Root={};Parent=53995c3f42cd8ad8;Sampled=1", fresh.root);
    let reply = send(
        "GET",
        &format!("{}/items?secret=1", api.url()),
        &[("x-amzn-trace-id", &caller), ("user-agent", "lamina-test")],
        "",
    )
    .await;
    assert_eq!(reply.status, 200);
    let seen = TraceHeader::parse(reply.json()["trace"].as_str().unwrap()).unwrap();

    let deadline = Instant::now() + Duration::from_secs(5);
    let trace = loop {
        let trace = collector
            .wait_for_trace(&fresh.root, Duration::from_secs(5))
            .await;
        match trace {
            Ok(trace) if trace.find("orders/test").is_some() => break trace,
            other if Instant::now() > deadline => panic!("no stage segment: {other:?}"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    assert!(
        collector.rejections().is_empty(),
        "{:?}",
        collector.rejections()
    );
    let stage = trace.find("orders/test").unwrap();
    assert_eq!(stage.origin.as_deref(), Some("AWS::ApiGateway::Stage"));
    assert_eq!(stage.parent_id.as_deref(), Some("53995c3f42cd8ad8"));
    let function = trace.find("orders-fn").unwrap();
    assert_eq!(function.parent_id.as_deref(), Some(stage.id.as_str()));
    assert_eq!(seen.parent.as_deref(), Some(function.id.as_str()));
    assert!(stage.start_time <= function.start_time);
    assert!(stage.end_time >= function.end_time);
    let document = trace
        .documents()
        .iter()
        .find(|doc| doc.contains("AWS::ApiGateway::Stage"))
        .unwrap();
    let document: Value = serde_json::from_str(document).unwrap();
    assert_eq!(document["http"]["request"]["method"], "GET");
    assert_eq!(
        document["http"]["request"]["url"],
        "https://local00api.execute-api.us-east-1.amazonaws.com/test/items"
    );
    assert_eq!(document["http"]["request"]["user_agent"], "lamina-test");
    assert_eq!(document["http"]["response"]["status"], 200);
    assert_eq!(
        document["http"]["response"]["content_length"],
        reply.body.len()
    );
    api.shutdown().await;
    collector.shutdown().await;
}
