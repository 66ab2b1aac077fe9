//! AWS SDK calls through `XrayInterceptor` against moto, with a recording relay in front of moto
//! to see the trace header the SDK sent, and the subsegments validated by a real `XrayCollector`.

use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::config::{
    ConfigBag, Intercept, RuntimeComponents, interceptors::BeforeTransmitInterceptorContextMut,
};
use aws_sdk_dynamodb::types::AttributeValue;
use lamina_local::{
    moto::MotoServer,
    xray::{CollectorConfig, XrayCollector, send_document},
};
use lamina_tracing::{
    aws_sdk::XrayInterceptor,
    xray::{SegmentId, TraceId, XrayLayer, epoch_seconds},
};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tracing::Instrument as _;
use tracing_subscriber::{Layer as _, filter::filter_fn, prelude::*};

use crate::orders_table::create_orders_table;
use crate::relay::{Relay, header};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const LINEAGE: &str = "Lineage=a87bd80c:1";

/// Sets `X-Amzn-Trace-Id` before signing, as the SDK's recursion-detection interceptor does
/// from `_X_AMZN_TRACE_ID` in Lambda (added after `XrayInterceptor`, so it runs later).
#[derive(Debug)]
struct StaleTraceHeader;

impl Intercept for StaleTraceHeader {
    fn name(&self) -> &'static str {
        "StaleTraceHeader"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        context.request_mut().headers_mut().insert(
            "x-amzn-trace-id",
            "Root=1-00000000-000000000000000000000000;Parent=0000000000000001;Sampled=1",
        );
        Ok(())
    }
}

pub struct Fixture {
    pub moto: MotoServer,
    pub relay: Relay,
    collector: XrayCollector,
    layer: XrayLayer,
}

pub async fn fixture() -> Fixture {
    let moto = MotoServer::start().await.unwrap();
    let relay = Relay::start(moto.endpoint_url()).await;
    let bind = "127.0.0.1:0".parse().unwrap();
    let collector = XrayCollector::start(CollectorConfig::new().bind(bind))
        .await
        .unwrap();
    let layer = XrayLayer::with_daemon_address(&collector.daemon_address()).unwrap();
    Fixture {
        moto,
        relay,
        collector,
        layer,
    }
}

impl Fixture {
    /// Only this test's spans and the interceptor's are traced (not the SDK's own spans).
    pub fn subscriber(&self) -> tracing::subscriber::DefaultGuard {
        let filter = filter_fn(|metadata| {
            metadata.target().starts_with("lamina_tracing") || metadata.target().starts_with("it::")
        });
        tracing::subscriber::set_default(
            tracing_subscriber::registry().with(self.layer.clone().with_filter(filter)),
        )
    }

    fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::config::Builder::from(self.moto.sdk_config())
            .endpoint_url(&self.relay.url)
            .interceptor(XrayInterceptor::new())
            .interceptor(StaleTraceHeader)
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(self.moto.sdk_config())
            .endpoint_url(&self.relay.url)
            .force_path_style(true)
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            )
            .interceptor(XrayInterceptor::new())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// Sends Lambda's function segment and waits for the whole trace; returns every streamed
    /// subsegment document.
    pub async fn finish(
        &self,
        trace_id: &TraceId,
        facade: SegmentId,
        started: SystemTime,
    ) -> Vec<Value> {
        let document = json!({
            "name": "orders-fn",
            "id": facade.to_string(),
            "trace_id": trace_id.to_string(),
            "start_time": epoch_seconds(started),
            "end_time": epoch_seconds(SystemTime::now()),
            "origin": "AWS::Lambda::Function",
        });
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        send_document(&socket, self.collector.local_addr(), &document.to_string())
            .await
            .unwrap();
        let trace = self
            .collector
            .wait_for_trace(trace_id.as_str(), Duration::from_secs(5))
            .await
            .unwrap();
        assert!(
            self.collector.rejections().is_empty(),
            "{:?}",
            self.collector.rejections()
        );
        trace
            .documents()
            .iter()
            .map(|raw| serde_json::from_str::<Value>(raw).unwrap())
            .filter(|document| document["type"] == "subsegment")
            .collect()
    }
}

pub fn root_span(trace_id: &TraceId, facade: SegmentId) -> tracing::Span {
    tracing::info_span!(
        target: "it::aws_sdk",
        "handler",
        "xray.trace_id" = trace_id.as_str(),
        "xray.parent_id" = facade.to_string(),
        "xray.trace_extra" = LINEAGE,
    )
}

pub fn aws_calls(documents: &[Value]) -> Vec<&Value> {
    documents
        .iter()
        .filter(|document| document["namespace"] == "aws")
        .collect()
}

/// The allow-listed fields of an `aws` subsegment: its `aws` section without the fields every
/// call has (`operation`, `region`, `request_id`, `retries`).
pub fn allow_listed(call: &Value) -> Value {
    let mut aws = call["aws"].as_object().cloned().unwrap_or_default();
    for common in ["operation", "region", "request_id", "retries"] {
        aws.remove(common);
    }
    Value::Object(aws)
}

/// The recorded request whose trace header names `subsegment` as its parent.
pub fn request_for<'a>(heads: &'a [String], trace_id: &TraceId, subsegment: &Value) -> &'a str {
    let expected = format!(
        "Root={trace_id};Parent={};Sampled=1;{LINEAGE}",
        subsegment["id"].as_str().unwrap()
    );
    heads
        .iter()
        .find(|head| header(head, "x-amzn-trace-id") == Some(expected.as_str()))
        .unwrap_or_else(|| panic!("no request carried {expected}: {heads:#?}"))
}

#[tokio::test]
async fn dynamodb_calls_are_aws_subsegments_and_carry_the_trace() {
    let fixture = fixture().await;
    let _guard = fixture.subscriber();
    let dynamodb = fixture.dynamodb();
    let trace_id = TraceId::generate();
    let facade = SegmentId::generate();
    let started = SystemTime::now();
    let root = root_span(&trace_id, facade);
    async {
        create_orders_table(&dynamodb).await;
        dynamodb
            .put_item()
            .table_name("orders")
            .item("id", AttributeValue::S("1".into()))
            .send()
            .await
            .unwrap();
        let item = dynamodb
            .get_item()
            .table_name("orders")
            .key("id", AttributeValue::S("1".into()))
            .send()
            .await
            .unwrap();
        assert!(item.item().is_some());
        let missing = dynamodb
            .get_item()
            .table_name("missing")
            .key("id", AttributeValue::S("1".into()))
            .send()
            .await;
        assert!(missing.is_err());
    }
    .instrument(root.clone())
    .await;
    drop(root);
    let documents = fixture.finish(&trace_id, facade, started).await;
    let handler = documents
        .iter()
        .find(|document| document["name"] == "handler")
        .unwrap();
    let calls = aws_calls(&documents);
    let operations: Vec<&str> = calls
        .iter()
        .map(|call| call["aws"]["operation"].as_str().unwrap())
        .collect();
    assert_eq!(operations, ["CreateTable", "PutItem", "GetItem", "GetItem"]);
    let heads = fixture.relay.heads();
    assert_eq!(heads.len(), 4);
    for call in &calls {
        assert_eq!(call["name"], "DynamoDB");
        assert_eq!(call["parent_id"], handler["id"]);
        assert_eq!(call["trace_id"], trace_id.as_str());
        assert_eq!(call["aws"]["region"], "us-east-1");
        assert_eq!(call["aws"]["retries"], 0);
        assert!(!call["aws"]["request_id"].as_str().unwrap().is_empty());
        // The stand-in for the recursion-detection header was replaced by ours.
        let head = request_for(&heads, &trace_id, call);
        let target = header(head, "x-amz-target").unwrap();
        assert_eq!(
            target,
            format!(
                "DynamoDB_20120810.{}",
                call["aws"]["operation"].as_str().unwrap()
            )
        );
    }
    for call in &calls[..3] {
        assert_eq!(call["aws"]["table_name"], "orders");
        assert_eq!(call["http"]["response"]["status"], 200);
        assert!(call.get("error").is_none() && call.get("fault").is_none());
    }
    let failed = calls[3];
    assert_eq!(failed["aws"]["table_name"], "missing");
    assert_eq!(failed["http"]["response"]["status"], 400);
    assert_eq!(failed["error"], true);
    assert!(failed.get("fault").is_none() && failed.get("throttle").is_none());
    let exception = &failed["cause"]["exceptions"][0];
    assert_eq!(exception["type"], "ResourceNotFoundException");
    assert!(
        exception["message"]
            .as_str()
            .unwrap()
            .contains("ResourceNotFound"),
        "{exception}"
    );
}

#[tokio::test]
async fn s3_calls_record_bucket_key_and_request_id() {
    let fixture = fixture().await;
    let _guard = fixture.subscriber();
    let s3 = fixture.s3();
    let trace_id = TraceId::generate();
    let facade = SegmentId::generate();
    let started = SystemTime::now();
    let root = root_span(&trace_id, facade);
    async {
        s3.create_bucket().bucket("invoices").send().await.unwrap();
        s3.put_object()
            .bucket("invoices")
            .key("2026/nov 28.json")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(
                br#"{"Count":1}"#,
            ))
            .send()
            .await
            .unwrap();
        // A streaming output: the interceptor must leave its body to the caller, untouched.
        let object = s3
            .get_object()
            .bucket("invoices")
            .key("2026/nov 28.json")
            .send()
            .await
            .unwrap();
        let body = object.body.collect().await.unwrap().into_bytes();
        assert_eq!(&body[..], br#"{"Count":1}"#);
    }
    .instrument(root.clone())
    .await;
    drop(root);
    let documents = fixture.finish(&trace_id, facade, started).await;
    let calls = aws_calls(&documents);
    assert_eq!(calls.len(), 3, "{documents:#?}");
    let heads = fixture.relay.heads();
    for (call, operation) in calls.iter().zip(["CreateBucket", "PutObject", "GetObject"]) {
        assert_eq!(call["name"], "S3");
        assert_eq!(call["aws"]["operation"], operation);
        assert_eq!(call["aws"]["bucket_name"], "invoices");
        assert_eq!(call["http"]["response"]["status"], 200);
        assert!(!call["aws"]["request_id"].as_str().unwrap().is_empty());
        request_for(&heads, &trace_id, call);
    }
    assert_eq!(allow_listed(calls[0]), json!({"bucket_name": "invoices"}));
    for call in &calls[1..] {
        assert_eq!(
            allow_listed(call),
            json!({"bucket_name": "invoices", "key": "2026/nov 28.json"})
        );
    }
    // moto sends no `x-amz-id-2`; its mapping is covered by the module's unit tests.
    assert!(calls[1]["aws"].get("id_2").is_none());
}

#[tokio::test]
async fn outside_a_trace_nothing_is_recorded_and_no_header_is_sent() {
    let fixture = fixture().await;
    let _guard = fixture.subscriber();
    let s3 = fixture.s3();
    s3.create_bucket().bucket("untraced").send().await.unwrap();
    async {
        s3.list_buckets().send().await.unwrap();
    }
    .instrument(tracing::info_span!(target: "it::aws_sdk", "not traced"))
    .await;
    let heads = fixture.relay.heads();
    assert_eq!(heads.len(), 2);
    for head in &heads {
        assert_eq!(header(head, "x-amzn-trace-id"), None, "{head}");
    }
    assert_eq!(fixture.layer.stats().sent, 0);
}

#[tokio::test]
async fn an_unsampled_trace_is_passed_on_with_sampled_0_and_its_lineage() {
    let fixture = fixture().await;
    let _guard = fixture.subscriber();
    let dynamodb = fixture.dynamodb();
    let trace_id = TraceId::generate();
    let span = tracing::info_span!(
        target: "it::aws_sdk",
        "lambda.handler",
        "xray.sampled" = false,
        "xray.trace_id" = trace_id.as_str(),
        "xray.trace_extra" = LINEAGE,
    );
    async {
        dynamodb.list_tables().send().await.unwrap();
    }
    .instrument(span)
    .await;
    let heads = fixture.relay.heads();
    assert_eq!(heads.len(), 1);
    let sent = header(&heads[0], "x-amzn-trace-id").expect("a trace header");
    let sent = lamina_tracing::xray::TraceHeader::parse(sent);
    assert_eq!(sent.root.as_ref(), Some(&trace_id), "{sent}");
    assert_eq!(
        sent.sampled,
        Some(lamina_tracing::xray::SamplingDecision::NotSampled),
        "{sent}"
    );
    assert!(
        sent.parent.is_some_and(|parent| parent.as_u64() != 0),
        "{sent}"
    );
    assert_eq!(sent.to_string().rsplit(';').next(), Some(LINEAGE));
    // No subsegment for an unsampled call.
    assert_eq!(fixture.layer.stats().sent, 0);
}

#[tokio::test]
async fn a_call_without_a_response_is_a_fault_with_a_cause_and_counts_retries() {
    let fixture = fixture().await;
    let _guard = fixture.subscriber();
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let retries = aws_sdk_dynamodb::config::retry::RetryConfig::standard()
        .with_max_attempts(2)
        .with_initial_backoff(Duration::from_millis(1));
    let config = aws_sdk_dynamodb::config::Builder::from(fixture.moto.sdk_config())
        .endpoint_url(closed)
        .retry_config(retries)
        .interceptor(XrayInterceptor::new())
        .build();
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(config);
    let trace_id = TraceId::generate();
    let facade = SegmentId::generate();
    let started = SystemTime::now();
    let root = root_span(&trace_id, facade);
    let result = dynamodb
        .describe_table()
        .table_name("orders")
        .send()
        .instrument(root.clone())
        .await;
    assert!(result.is_err());
    drop(root);
    let documents = fixture.finish(&trace_id, facade, started).await;
    let calls = aws_calls(&documents);
    assert_eq!(calls.len(), 1, "{documents:#?}");
    let call = calls[0];
    assert_eq!(call["aws"]["operation"], "DescribeTable");
    assert_eq!(call["aws"]["table_name"], "orders");
    assert_eq!(call["aws"]["retries"], 1);
    assert_eq!(call["fault"], true);
    assert!(
        call.get("error").is_none() && call.get("http").is_none(),
        "{call}"
    );
    assert_eq!(call["cause"]["exceptions"][0]["type"], "DispatchFailure");
}

#[tokio::test]
async fn sdk_spans_enabled_for_another_layer_do_not_hide_the_trace() {
    let fixture = fixture().await;
    let xray_only_ours = filter_fn(|metadata| {
        metadata.target().starts_with("lamina_tracing") || metadata.target().starts_with("it::")
    });
    // A second layer that wants everything, so the SDK's own debug spans exist and are current
    // when the interceptor runs, while XrayLayer filters them out.
    let verbose = tracing_subscriber::fmt::layer()
        .with_writer(std::io::sink)
        .with_filter(tracing_subscriber::filter::LevelFilter::TRACE);
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::registry()
            .with(fixture.layer.clone().with_filter(xray_only_ours))
            .with(verbose),
    );
    let s3 = fixture.s3();
    let trace_id = TraceId::generate();
    let facade = SegmentId::generate();
    let started = SystemTime::now();
    let root = root_span(&trace_id, facade);
    s3.create_bucket()
        .bucket("verbose")
        .send()
        .instrument(root.clone())
        .await
        .unwrap();
    drop(root);
    let documents = fixture.finish(&trace_id, facade, started).await;
    let handler = documents
        .iter()
        .find(|document| document["name"] == "handler")
        .unwrap();
    let calls = aws_calls(&documents);
    assert_eq!(calls.len(), 1, "{documents:#?}");
    assert_eq!(calls[0]["parent_id"], handler["id"]);
    assert_eq!(calls[0]["aws"]["bucket_name"], "verbose");
    request_for(&fixture.relay.heads(), &trace_id, calls[0]);
}

#[tokio::test]
async fn dynamodb_query_scan_and_list_tables_record_their_allow_list() {
    use aws_sdk_dynamodb::types::{ReturnConsumedCapacity, Select};

    let fixture = fixture().await;
    let _guard = fixture.subscriber();
    let dynamodb = fixture.dynamodb();
    create_orders_table(&dynamodb).await;
    for id in ["1", "2"] {
        dynamodb
            .put_item()
            .table_name("orders")
            .item("id", AttributeValue::S(id.into()))
            .item("secret", AttributeValue::S("card 4111".into()))
            .send()
            .await
            .unwrap();
    }
    let trace_id = TraceId::generate();
    let facade = SegmentId::generate();
    let started = SystemTime::now();
    let root = root_span(&trace_id, facade);
    async {
        let scan = dynamodb
            .scan()
            .table_name("orders")
            .limit(10)
            .consistent_read(true)
            .select(Select::SpecificAttributes)
            .projection_expression("id")
            .segment(0)
            .total_segments(1)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .unwrap();
        assert_eq!((scan.count(), scan.scanned_count()), (2, 2));
        let query = dynamodb
            .query()
            .table_name("orders")
            .key_condition_expression("id = :id")
            .expression_attribute_values(":id", AttributeValue::S("1".into()))
            .limit(5)
            .scan_index_forward(false)
            .select(Select::AllAttributes)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .unwrap();
        assert_eq!(query.count(), 1);
        let tables = dynamodb.list_tables().limit(10).send().await.unwrap();
        assert_eq!(tables.table_names(), ["orders"]);
    }
    .instrument(root.clone())
    .await;
    drop(root);
    let documents = fixture.finish(&trace_id, facade, started).await;
    let calls = aws_calls(&documents);
    let operations: Vec<&str> = calls
        .iter()
        .map(|call| call["aws"]["operation"].as_str().unwrap())
        .collect();
    assert_eq!(operations, ["Scan", "Query", "ListTables"]);
    // moto answers `ReturnConsumedCapacity=TOTAL` with one read unit per call.
    let consumed = json!({"TableName": "orders", "CapacityUnits": 1.0});
    assert_eq!(
        allow_listed(calls[0]),
        json!({
            "table_name": "orders",
            "limit": 10,
            "consistent_read": true,
            "select": "SPECIFIC_ATTRIBUTES",
            "projection_expression": "id",
            "segment": 0,
            "total_segments": 1,
            "consumed_capacity": consumed,
            "count": 2,
            "scanned_count": 2,
        })
    );
    assert_eq!(
        allow_listed(calls[1]),
        json!({
            "table_name": "orders",
            "limit": 5,
            "scan_index_forward": false,
            "select": "ALL_ATTRIBUTES",
            "consumed_capacity": consumed,
            "count": 1,
            "scanned_count": 1,
        })
    );
    assert_eq!(
        allow_listed(calls[2]),
        json!({"limit": 10, "table_count": 1})
    );
    let heads = fixture.relay.heads();
    for call in &calls {
        assert_eq!(call["http"]["response"]["status"], 200);
        request_for(&heads, &trace_id, call);
    }
}
