//! The end-to-end proof: `lamina-traced-function` under the emulator calls DynamoDB and S3
//! on moto and makes an HTTP call. The collector gets one valid tree under the `Parent` the emulator
//! sent, the requests carried the right headers on the wire (a recording relay in front of moto),
//! the collector forwards the documents to moto's `PutTraceSegments` and `BatchGetTraces` returns
//! them. Unsampled invocations send nothing; an unreachable daemon changes nothing for the handler.

use std::time::Duration;

use lamina_local::emulator::{Emulator, FunctionConfig, InvocationRequest};
use lamina_local::moto::MotoServer;
use lamina_local::xray::{CollectorConfig, Entity, Trace, XrayCollector};
use lamina_tracing::xray::{SegmentId, TraceHeader, TraceId};
use serde_json::{Value, json};

use crate::orders_table::create_orders_table;
use crate::relay::{Relay, header};
use crate::xray::emulator::traced_function;

const LINEAGE: &str = "Lineage=a87bd80c:1";

struct World {
    moto: MotoServer,
    relay: Relay,
    collector: XrayCollector,
    emulator: Emulator,
}

async fn world() -> World {
    let executable = tokio::task::spawn_blocking(traced_function).await.unwrap();
    let moto = MotoServer::start().await.unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(moto.sdk_config());
    create_orders_table(&dynamodb).await;
    aws_sdk_s3::Client::new(moto.sdk_config())
        .create_bucket()
        .bucket("receipts")
        .send()
        .await
        .unwrap();
    let relay = Relay::start(moto.endpoint_url()).await;
    let collector = XrayCollector::start(
        CollectorConfig::new()
            .bind("127.0.0.1:0".parse().unwrap())
            .forward_to(moto.sdk_config())
            .forward_idle(Duration::from_millis(100)),
    )
    .await
    .unwrap();
    let config = FunctionConfig::new(executable)
        .function_name("traced")
        .timeout(Duration::from_secs(20))
        .envs(moto.environment())
        // The function's SDK calls and its HTTP call go through the recording relay.
        .env("AWS_ENDPOINT_URL", relay.url.clone())
        .env("TRACED_TABLE", "orders")
        .env("TRACED_BUCKET", "receipts")
        .xray_daemon(collector.daemon_address());
    let emulator = Emulator::start(config).await.unwrap();
    World {
        moto,
        relay,
        collector,
        emulator,
    }
}

fn payload(world: &World, order: &str) -> String {
    json!({"order": order, "store": true, "notify": format!("{}/moto-api/data.json", world.relay.url)}).to_string()
}

fn named<'a>(trace: &'a Trace, name: &str) -> &'a Entity {
    trace
        .find(name)
        .unwrap_or_else(|| panic!("no {name} in {:#?}", trace.entities()))
}

/// The `X-Amzn-Trace-Id` the relay saw on the request whose head contains `marker`.
fn sent_header(relay: &Relay, root: &str, marker: &str) -> String {
    relay
        .heads()
        .into_iter()
        .filter(|head| head.contains(marker))
        .filter_map(|head| header(&head, "x-amzn-trace-id").map(str::to_owned))
        .find(|value| value.contains(root))
        .unwrap_or_else(|| {
            panic!(
                "no request with {marker} carried trace {root}: {:#?}",
                relay.heads()
            )
        })
}

#[tokio::test]
async fn a_traced_invocation_reaches_the_collector_moto_and_the_wire() {
    let world = world().await;
    let root = TraceId::generate().to_string();
    let upstream = SegmentId::generate();
    let incoming = format!("Root={root};Parent={upstream};Sampled=1;{LINEAGE}");
    let report = world
        .emulator
        .invoke(InvocationRequest::new(payload(&world, "o-1")).trace_header(incoming))
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(
        report
            .outcome
            .body()
            .unwrap_or_else(|| panic!("{report}: {:?}", report.logs)),
    )
    .unwrap();
    assert_eq!(body, json!({"order": "o-1", "total": 42, "notified": 200}));
    let sent = TraceHeader::parse(&report.trace_header);

    let trace = world
        .collector
        .wait_for_trace(&root, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        world.collector.rejections().is_empty(),
        "{:#?}",
        world.collector.rejections()
    );
    // The function's subsegments hang off the Parent the emulator sent: its AWS::Lambda::Function segment.
    let function = trace
        .entities()
        .into_iter()
        .map(|(_, e)| e)
        .find(|e| e.origin.as_deref() == Some("AWS::Lambda::Function"))
        .unwrap();
    assert_eq!(
        Some(function.id.clone()),
        sent.parent.as_ref().map(ToString::to_string)
    );
    assert_eq!(
        function.parent_id.as_deref(),
        Some(upstream.to_string().as_str())
    );
    let handler = function
        .subsegments
        .iter()
        .find(|s| s.name == "traced" && s.origin.is_none())
        .unwrap_or_else(|| {
            panic!(
                "no handler subsegment under the function segment: {:#?}",
                function.child_names()
            )
        });
    let under_handler: Vec<&str> = handler
        .descendants()
        .into_iter()
        .map(|(_, e)| e.name.as_str())
        .collect();
    for name in ["DynamoDB", "S3", "127.0.0.1"] {
        assert!(
            under_handler.contains(&name),
            "{name} not under the handler: {under_handler:?}"
        );
    }

    let dynamodb = named(&trace, "DynamoDB");
    assert_eq!(dynamodb.namespace.as_deref(), Some("aws"));
    let s3 = named(&trace, "S3");
    assert_eq!(s3.namespace.as_deref(), Some("aws"));
    let http = named(&trace, "127.0.0.1");
    assert_eq!(http.namespace.as_deref(), Some("remote"));
    assert!(!dynamodb.error && !dynamodb.fault && !s3.fault && !http.fault);
    let documents: Vec<Value> = trace
        .documents()
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let doc = |id: &str| documents.iter().find(|d| d["id"] == id).cloned().unwrap();
    assert_eq!(doc(&dynamodb.id)["aws"]["operation"], "PutItem");
    assert_eq!(doc(&dynamodb.id)["aws"]["table_name"], "orders");
    assert_eq!(doc(&s3.id)["aws"]["operation"], "PutObject");
    assert_eq!(doc(&s3.id)["aws"]["bucket_name"], "receipts");
    assert_eq!(doc(&s3.id)["aws"]["key"], "receipts/o-1.json");
    assert_eq!(doc(&http.id)["http"]["response"]["status"], 200);

    // On the wire: each request carried its own subsegment as Parent, and kept Lineage.
    for (marker, entity) in [
        ("DynamoDB_20120810.PutItem", dynamodb),
        ("PUT /receipts/", s3),
        ("GET /moto-api/data.json", http),
    ] {
        let value = sent_header(&world.relay, &root, marker);
        assert_eq!(
            value,
            format!("Root={root};Parent={};Sampled=1;{LINEAGE}", entity.id),
            "{marker}"
        );
    }

    // The stand-in forwards what it accepted to moto's PutTraceSegments; BatchGetTraces returns it.
    world.collector.shutdown().await;
    let stats = world.collector.stats();
    assert_eq!(stats.forward_failed, 0, "{stats:?}");
    assert_eq!(stats.forwarded, stats.accepted, "{stats:?}");
    let xray = aws_sdk_xray::Client::new(world.moto.sdk_config());
    let stored = xray
        .batch_get_traces()
        .trace_ids(&root)
        .send()
        .await
        .unwrap();
    assert!(stored.unprocessed_trace_ids().is_empty());
    let segments = stored
        .traces()
        .first()
        .map(|t| t.segments().len())
        .unwrap_or(0);
    // moto stores every document it is given, never deduplicating: the handler's in-progress copy
    // as well as the complete document that replaced it in the collector.
    assert_eq!(segments, trace.documents().len() + 1);
}

#[tokio::test]
async fn unsampled_invocations_send_nothing_and_a_dead_daemon_changes_nothing() {
    let world = world().await;
    let root = TraceId::generate().to_string();
    let unsampled = format!("Root={root};Parent={};Sampled=0", SegmentId::generate());
    let report = world
        .emulator
        .invoke(InvocationRequest::new(payload(&world, "o-2")).trace_header(unsampled))
        .await
        .unwrap();
    assert!(report.outcome.is_success(), "{report}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        world.collector.trace(&root).is_none(),
        "an unsampled invocation sent documents"
    );

    // The same function with its daemon address pointing where nothing listens.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let config = world
        .emulator
        .config()
        .clone()
        .env("AWS_XRAY_DAEMON_ADDRESS", closed);
    let deaf = Emulator::start(config).await.unwrap();
    let report = deaf.invoke(payload(&world, "o-3")).await.unwrap();
    let body: Value =
        serde_json::from_slice(report.outcome.body().unwrap_or_else(|| panic!("{report}")))
            .unwrap();
    assert_eq!(body["notified"], 200);
    assert_eq!(body["order"], "o-3");
}
