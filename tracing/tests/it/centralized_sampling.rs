//! Centralized sampling: an `XrayHttpServerLayer` with a `CentralizedSampler` on 127.0.0.1,
//! against the sampling proxy of a real `XrayCollector` (and against daemons that answer
//! garbage or are down), and the proxy against the official Python SDK's centralized sampler.

use std::{
    collections::BTreeMap, convert::Infallible, future::Future, net::SocketAddr, sync::Arc,
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{Empty, Full};
use hyper::{Request, Response, body::Incoming};
use hyper_util::{
    client::legacy::Client,
    rt::{TokioExecutor, TokioIo},
};
use lamina_local::xray::{CollectorConfig, SamplingRule, XrayCollector};
use lamina_tracing::{
    http::{CentralizedSampler, Sampler, SamplingRules, XrayHttpServerLayer},
    xray::{TraceId, XrayLayer},
};
use serde_json::Value;
use tower::{ServiceBuilder, ServiceExt as _, service_fn};
use tracing_subscriber::prelude::*;

const WAIT: Duration = Duration::from_secs(10);

fn rules() -> Vec<SamplingRule> {
    let mut rules = vec![
        SamplingRule {
            url_path: "/health".into(),
            fixed_rate: 0.0,
            reservoir_size: 0,
            ..SamplingRule::new("health", 1)
        },
        SamplingRule {
            url_path: "/orders/*".into(),
            service_name: "orders-*".into(),
            fixed_rate: 1.0,
            reservoir_size: 0,
            ..SamplingRule::new("orders", 5)
        },
        // Unusable by SDKs: a rule for other resources, and one with attributes.
        SamplingRule {
            resource_arn: "arn:aws:ecs:*".into(),
            ..SamplingRule::new("ecs-only", 0)
        },
        SamplingRule {
            attributes: serde_json::from_str(r#"{"team":"a"}"#).unwrap(),
            ..SamplingRule::new("with-attributes", 0)
        },
        SamplingRule {
            fixed_rate: 0.0,
            ..SamplingRule::aws_default()
        },
    ];
    // Enough rules for a second page of `GetSamplingRules`.
    rules.extend((0..10).map(|i| SamplingRule {
        url_path: format!("/filler/{i}"),
        ..SamplingRule::new(format!("filler-{i:02}"), 100 + i)
    }));
    rules
}

async fn collector(rules: Vec<SamplingRule>) -> XrayCollector {
    let config = CollectorConfig::new()
        .bind("127.0.0.1:0".parse().unwrap())
        .sampling_rules(rules)
        .sampling_interval(Duration::from_secs(1));
    XrayCollector::start(config).await.unwrap()
}

/// Serves an `XrayHttpServerLayer` over a handler answering 200 on 127.0.0.1.
async fn serve(layer: XrayHttpServerLayer) -> SocketAddr {
    let handler = service_fn(|_request: Request<Incoming>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    let service = ServiceBuilder::new().layer(layer).service(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _peer)) = listener.accept().await {
            let service = service.clone();
            let hyper_service = hyper::service::service_fn(move |request: Request<Incoming>| {
                service.clone().oneshot(request)
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper_service),
            );
        }
    });
    addr
}

/// Sends `GET path` asking for a decision (`Sampled=?`); the trace id and whether it was
/// sampled. The request itself must succeed.
async fn request(server: SocketAddr, path: &str) -> (TraceId, bool) {
    let trace_id = TraceId::generate();
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = Request::get(format!("http://{server}{path}"))
        .header("x-amzn-trace-id", format!("Root={trace_id};Sampled=?"))
        .body(Empty::new())
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert!(response.status().is_success());
    let reply = response.headers()["x-amzn-trace-id"].to_str().unwrap();
    let sampled = match reply.rsplit_once("Sampled=") {
        Some((_, "1")) => true,
        Some((_, "0")) => false,
        _ => panic!("no decision in {reply}"),
    };
    (trace_id, sampled)
}

/// The segment document of a sampled request's trace.
async fn segment(collector: &XrayCollector, trace_id: &TraceId) -> Value {
    let trace = collector
        .wait_for_trace(trace_id.as_str(), WAIT)
        .await
        .unwrap();
    assert!(
        collector.rejections().is_empty(),
        "{:?}",
        collector.rejections()
    );
    serde_json::from_str(&trace.documents()[0]).unwrap()
}

async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `(RequestCount, SampledCount)` per rule, summed over every report the proxy received.
fn reported(collector: &XrayCollector) -> BTreeMap<String, (u64, u64)> {
    let mut sums = BTreeMap::new();
    for document in collector.sampling_statistics() {
        let sum = sums.entry(document.rule_name).or_insert((0, 0));
        sum.0 += document.request_count;
        sum.1 += document.sampled_count;
    }
    sums
}

#[tokio::test]
async fn segments_carry_the_matching_rule_and_statistics_reach_the_proxy() {
    let collector = collector(rules()).await;
    let xray = XrayLayer::with_daemon_address(&collector.daemon_address()).unwrap();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(xray));
    let address = format!("tcp:{0} udp:{0}", collector.daemon_address());
    let sampler = Arc::new(
        CentralizedSampler::builder_from_lookup(|_| Some(address.clone()))
            .unwrap()
            .with_random(|| 0.5)
            .target_interval(Duration::from_millis(200))
            .start()
            .unwrap(),
    );
    eventually("the first rule fetch", || async {
        sampler.stats().rule_fetches > 0
    })
    .await;
    let names = sampler.rule_names();
    assert_eq!(names.len(), 13, "{names:?}");
    assert_eq!(
        names[..3],
        ["health".to_owned(), "orders".into(), "filler-00".into()]
    );
    assert_eq!(names.last().map(String::as_str), Some("Default"));

    let server = serve(XrayHttpServerLayer::new("orders-api").sampler(Arc::clone(&sampler))).await;
    for _ in 0..3 {
        let (trace_id, sampled) = request(server, "/orders/7").await;
        assert!(sampled);
        let segment = segment(&collector, &trace_id).await;
        assert_eq!(segment["name"], "orders-api");
        assert_eq!(segment["aws"]["xray"]["sampling_rule_name"], "orders");
    }
    for _ in 0..4 {
        assert!(!request(server, "/health").await.1);
    }
    eventually("the statistics at the proxy", || async {
        let sums = reported(&collector);
        sums.get("orders") == Some(&(3, 3)) && sums.get("health") == Some(&(4, 0))
    })
    .await;
    for document in collector.sampling_statistics() {
        assert_eq!(document.client_id.len(), 24);
        assert_eq!(document.borrow_count, 0);
    }
    assert_eq!(sampler.stats().rule_fetch_failures, 0);
    assert_eq!(sampler.stats().target_report_failures, 0);

    // The rules change: the next report sees a newer `LastRuleModification` and refetches.
    collector.set_sampling_rules(vec![SamplingRule {
        fixed_rate: 1.0,
        reservoir_size: 0,
        ..SamplingRule::new("everything", 1)
    }]);
    let fetches = sampler.stats().rule_fetches;
    let _ = request(server, "/health").await;
    eventually("a refetch of the changed rules", || async {
        sampler.stats().rule_fetches > fetches
    })
    .await;
    assert_eq!(sampler.rule_names(), ["everything"]);
    let (trace_id, sampled) = request(server, "/health").await;
    assert!(sampled);
    let segment = segment(&collector, &trace_id).await;
    assert_eq!(segment["aws"]["xray"]["sampling_rule_name"], "everything");
    collector.shutdown().await;
}

/// A "daemon" that answers every request with 200 and a body that is not JSON.
async fn garbage_daemon() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = hyper::service::service_fn(|_request: Request<Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"<html>"))))
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    addr
}

#[tokio::test]
async fn a_daemon_answering_garbage_or_down_leaves_the_local_rules_in_charge() {
    let collector = collector(Vec::new()).await;
    let xray = XrayLayer::with_daemon_address(&collector.daemon_address()).unwrap();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(xray));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = closed.local_addr().unwrap();
    drop(closed);
    for daemon in [garbage_daemon().await, down] {
        let always =
            SamplingRules::parse(r#"{"version":2,"default":{"fixed_target":0,"rate":1}}"#).unwrap();
        let sampler = Arc::new(
            CentralizedSampler::builder(daemon)
                .fallback(Sampler::new(always))
                .target_interval(Duration::from_millis(100))
                .start()
                .unwrap(),
        );
        eventually("a failed rule fetch", || async {
            sampler.stats().rule_fetch_failures > 0
        })
        .await;
        let server = serve(XrayHttpServerLayer::new("local").sampler(Arc::clone(&sampler))).await;
        let (trace_id, sampled) = request(server, "/orders/1").await;
        assert!(sampled, "the local rules sample everything");
        let segment = segment(&collector, &trace_id).await;
        assert!(segment.get("aws").is_none(), "{segment}");
        assert_eq!(sampler.stats().rule_fetches, 0);
        assert!(sampler.rule_names().is_empty());
    }
    assert!(collector.sampling_statistics().is_empty());
    collector.shutdown().await;
}

/// The official Python SDK's centralized sampler (`DefaultSampler`) against the proxy: it
/// fetches the rules (only the first page: the SDK does not follow `NextToken`) and decides
/// by them.
#[tokio::test]
async fn the_python_sdk_sampler_uses_the_proxy() {
    let probe = tokio::process::Command::new("python3")
        .args(["-c", "import aws_xray_sdk"])
        .output()
        .await;
    if !probe.is_ok_and(|output| output.status.success()) {
        panic!("python3 with aws-xray-sdk is needed: `python3 -m pip install aws-xray-sdk`");
    }
    let collector = collector(rules()).await;
    let script = r#"
import sys, time
from aws_xray_sdk.core.context import Context
from aws_xray_sdk.core.daemon_config import DaemonConfig
from aws_xray_sdk.core.sampling.sampler import DefaultSampler
sampler = DefaultSampler()
sampler.load_settings(DaemonConfig(sys.argv[1]), Context())
sampler.start()
deadline = time.time() + 10
while not sampler._cache.rules and time.time() < deadline:
    time.sleep(0.05)
print(",".join(rule.name for rule in sampler._cache.rules))
for path in ["/orders/1", "/health"]:
    print(sampler.should_trace({"host": "h", "method": "GET", "path": path, "service": "orders-api"}))
"#;
    let output = tokio::process::Command::new("python3")
        .args(["-c", script, &collector.daemon_address()])
        .env_remove("AWS_XRAY_DAEMON_ADDRESS")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    // The first page's usable rules, in the SDK's order.
    let names: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(
        names,
        [
            "health",
            "orders",
            "filler-00",
            "filler-01",
            "filler-02",
            "filler-03",
            "filler-04",
            "Default"
        ]
    );
    assert_eq!(lines[1..], ["orders", "False"]);
    collector.shutdown().await;
}
