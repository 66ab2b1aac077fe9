//! The X-Ray daemon stand-in over real UDP: fed by the official Python SDK, fed a corpus of
//! malformed datagrams, and forwarding to `PutTraceSegments` on a moto server.

use std::{
    error::Error,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use lamina_local::{
    moto::MotoServer,
    xray::{
        AnnotationValue, Cause, CollectorConfig, EntityKind, RejectReason, XrayCollector,
        encode_datagram, send_document,
    },
};
use serde_json::{Value, json};
use tokio::{net::UdpSocket, process::Command};

type TestResult = Result<(), Box<dyn Error>>;

const PYTHON_INSTALL: &str = "python3 -m pip install aws-xray-sdk";
const WAIT: Duration = Duration::from_secs(10);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/xray")
}

async fn collector(config: CollectorConfig) -> Result<XrayCollector, Box<dyn Error>> {
    Ok(XrayCollector::start(config.bind("127.0.0.1:0".parse()?)).await?)
}

/// A trace id whose time part is now, as an SDK would make it.
fn fresh_trace_id() -> Result<String, Box<dyn Error>> {
    let seconds = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)?
        .as_secs();
    let random: u128 = rand::random::<u128>() >> 32;
    Ok(format!("1-{seconds:08x}-{random:024x}"))
}

fn document(value: &Value) -> String {
    value.to_string()
}

#[tokio::test]
async fn python_sdk_trace_assembles() -> TestResult {
    let probe = Command::new("python3")
        .args(["-c", "import aws_xray_sdk"])
        .output()
        .await;
    match probe {
        Ok(output) if output.status.success() => {}
        Ok(output) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(format!(
                "the Python X-Ray SDK is not installed; run `{PYTHON_INSTALL}` ({stderr})"
            )
            .into());
        }
        Err(error) => {
            return Err(format!(
                "python3 is not available ({error}); install Python 3, then run `{PYTHON_INSTALL}`"
            )
            .into());
        }
    }
    let collector = collector(CollectorConfig::new()).await?;
    let output = Command::new("python3")
        .arg(fixtures().join("traced_app.py"))
        .env("AWS_XRAY_DAEMON_ADDRESS", collector.daemon_address())
        .env_remove("LAMBDA_TASK_ROOT")
        .env_remove("_X_AMZN_TRACE_ID")
        .env_remove("AWS_XRAY_SDK_ENABLED")
        .env_remove("AWS_XRAY_TRACING_NAME")
        .output()
        .await?;
    if !output.status.success() {
        return Err(format!(
            "traced_app.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let trace_id = String::from_utf8(output.stdout)?.trim().to_owned();

    let trace = collector.wait_for_trace(&trace_id, WAIT).await?;
    assert_eq!(collector.rejections(), vec![]);
    let stats = collector.stats();
    assert_eq!((stats.received, stats.accepted, stats.rejected), (3, 3, 0));

    // Two subsegments were streamed as their own documents (before the segment), one nested.
    let documents: Vec<Value> = trace
        .documents()
        .iter()
        .map(|raw| serde_json::from_str(raw))
        .collect::<Result<_, _>>()?;
    let streamed: Vec<&str> = documents
        .iter()
        .filter(|document| document["type"] == "subsegment")
        .filter_map(|document| document["name"].as_str())
        .collect();
    assert_eq!(streamed, ["load-config", "call-api"]);
    assert_eq!(
        documents.last().map(|document| &document["name"]),
        Some(&json!("fixture-handler"))
    );

    let [root] = trace.roots() else {
        return Err(format!("expected one root: {:?}", trace.roots()).into());
    };
    assert_eq!(
        (root.name.as_str(), root.kind),
        ("fixture-handler", EntityKind::Segment)
    );
    assert_eq!(
        root.child_names(),
        ["load-config", "call-api", "charge-card"]
    );
    assert_eq!(
        root.annotations.get("customer_id"),
        Some(&AnnotationValue::String("c-42".into()))
    );
    assert_eq!(
        root.annotations.get("retries"),
        Some(&AnnotationValue::Number(3.into()))
    );
    assert_eq!(
        root.metadata.get("app"),
        Some(&json!({"payload": {"items": [1, 2]}}))
    );

    let load = root.find("load-config").ok_or("no load-config")?;
    assert_eq!(load.child_names(), ["read-file", "parse-config"]);
    assert_eq!(load.parent_id.as_deref(), Some(root.id.as_str()));
    assert_eq!(
        load.annotations.get("cached"),
        Some(&AnnotationValue::Bool(true))
    );
    assert_eq!(load.namespace.as_deref(), Some("local"));

    let call = root.find("call-api").ok_or("no call-api")?;
    assert_eq!((call.error, call.throttle, call.fault), (true, true, false));

    let charge = root.find("charge-card").ok_or("no charge-card")?;
    assert_eq!((charge.error, charge.fault), (false, true));
    let Some(Cause::Exceptions { exceptions, .. }) = &charge.cause else {
        return Err(format!("charge-card has no exceptions: {:?}", charge.cause).into());
    };
    assert_eq!(exceptions[0].message.as_deref(), Some("card declined"));
    assert_eq!(exceptions[0].kind.as_deref(), Some("ValueError"));

    let waterfall = trace.render_waterfall(100);
    let rows: Vec<&str> = waterfall
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(
        rows,
        [
            "fixture-handler",
            "load-config",
            "read-file",
            "parse-config",
            "call-api",
            "charge-card",
            "flags:"
        ]
    );
    collector.shutdown().await;
    Ok(())
}

/// What each file of `fixtures/xray/malformed/` must be rejected for.
fn expected_reason(file: &str, reason: &RejectReason) -> Option<bool> {
    use RejectReason as R;
    let field = |name: &str, expected: &str| name == expected;
    Some(match file {
        "not-utf8" => matches!(reason, R::NotUtf8),
        "no-newline" => matches!(reason, R::MissingHeader),
        "header-format-xml" => {
            matches!(reason, R::InvalidHeader { detail } if detail == "format is not \"json\"")
        }
        "header-version-2" => {
            matches!(reason, R::InvalidHeader { detail } if detail == "version is not 1")
        }
        "header-not-json" => {
            matches!(reason, R::InvalidHeader { detail } if detail.starts_with("not JSON"))
        }
        "empty-body" => matches!(reason, R::EmptyBody),
        "body-not-json" => matches!(reason, R::InvalidJson { .. }),
        "body-not-object" => matches!(reason, R::NotAnObject { field: f } if field(f, "document")),
        "missing-name" => matches!(reason, R::MissingField { field: f } if field(f, "name")),
        "uppercase-id" => {
            matches!(reason, R::InvalidId { field: f, value } if field(f, "id") && value == "00000000000000A1")
        }
        "garbage-trace-id" => {
            matches!(reason, R::InvalidTraceId { value, .. } if value == "garbage")
        }
        "old-trace-id" => matches!(reason, R::TraceIdTooOld { .. }),
        "future-trace-id" => matches!(reason, R::TraceIdInFuture { .. }),
        "name-with-question-mark" => {
            matches!(reason, R::InvalidName { detail, .. } if detail == "character '?' is not allowed")
        }
        "missing-end-time" => {
            matches!(reason, R::MissingEndTime { field: f } if field(f, "document"))
        }
        "in-progress-string" => {
            matches!(reason, R::WrongType { field: f, .. } if field(f, "in_progress"))
        }
        "end-before-start" => matches!(reason, R::EndBeforeStart { .. }),
        "annotation-key-dash" => {
            matches!(reason, R::InvalidAnnotationKey { key } if key == "user-id")
        }
        "annotation-value-object" => {
            matches!(reason, R::InvalidAnnotationValue { key } if key == "tags")
        }
        "fault-string" => {
            matches!(reason, R::WrongType { field: f, expected } if field(f, "fault") && *expected == "a boolean")
        }
        "cause-exception-without-id" => {
            matches!(reason, R::InvalidCause { detail } if detail == "exception id is missing")
        }
        "subsegment-without-parent" => {
            matches!(reason, R::MissingField { field: f } if field(f, "parent_id"))
        }
        "nested-missing-start-time" => {
            matches!(reason, R::MissingField { field: f } if field(f, "subsegments[0].start_time"))
        }
        _ => return None,
    })
}

#[tokio::test]
async fn malformed_corpus_is_rejected_with_reasons_and_the_collector_keeps_working() -> TestResult {
    let collector = collector(CollectorConfig::new()).await?;
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let trace_id = fresh_trace_id()?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join("malformed"))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    assert!(files.len() >= 20, "corpus has only {} files", files.len());

    for (index, path) in files.iter().enumerate() {
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .ok_or("bad file name")?
            .to_owned();
        let mut datagram = std::fs::read(path)?;
        if let Ok(text) = std::str::from_utf8(&datagram) {
            datagram = text.replace("{{TRACE_ID}}", &trace_id).into_bytes();
        }
        socket.send_to(&datagram, collector.local_addr()).await?;
        let rejections = wait_for_rejections(&collector, index + 1).await?;
        let rejection = &rejections[index];
        let matched = expected_reason(&name, &rejection.reason)
            .ok_or_else(|| format!("no expected reason listed for corpus file {name}"))?;
        assert!(matched, "{name}: unexpected rejection: {rejection}");
        assert!(!rejection.to_string().is_empty());
    }

    // A valid segment is still accepted; the same complete segment again is a duplicate.
    let segment = json!({"name": "after-the-corpus", "id": "00000000000000a1", "trace_id": trace_id,
                         "start_time": 1_700_000_000.0, "end_time": 1_700_000_000.5});
    send_document(&socket, collector.local_addr(), &document(&segment)).await?;
    let trace = collector.wait_for_trace(&trace_id, WAIT).await?;
    assert_eq!(trace.roots()[0].name, "after-the-corpus");
    socket
        .send_to(
            &encode_datagram(&document(&segment)),
            collector.local_addr(),
        )
        .await?;
    let rejections = wait_for_rejections(&collector, files.len() + 1).await?;
    let duplicate = rejections.last().ok_or("no rejection")?;
    assert_eq!(
        duplicate.reason,
        RejectReason::DuplicateId {
            id: "00000000000000a1".into()
        }
    );
    assert_eq!(duplicate.trace_id.as_deref(), Some(trace_id.as_str()));

    let stats = collector.stats();
    let sent = files.len() as u64 + 2;
    assert_eq!(
        (stats.received, stats.accepted, stats.rejected),
        (sent, 1, sent - 1)
    );
    collector.shutdown().await;
    Ok(())
}

async fn wait_for_rejections(
    collector: &XrayCollector,
    count: usize,
) -> Result<Vec<lamina_local::xray::Rejection>, Box<dyn Error>> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let rejections = collector.rejections();
        if rejections.len() >= count {
            return Ok(rejections);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("expected {count} rejections, got {rejections:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn forwards_batches_to_put_trace_segments_on_moto() -> TestResult {
    let moto = MotoServer::start().await?;
    let config = CollectorConfig::new()
        .forward_to(moto.sdk_config())
        .forward_idle(Duration::from_millis(100));
    let collector = collector(config).await?;
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let trace_id = fresh_trace_id()?;
    let start = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)?
        .as_secs_f64()
        - 1.0;
    let child = document(
        &json!({"type": "subsegment", "name": "dynamodb", "id": "00000000000000b1",
        "parent_id": "00000000000000a1", "trace_id": trace_id, "start_time": start + 0.1, "end_time": start + 0.2,
        "namespace": "aws"}),
    );
    let segment = document(
        &json!({"name": "forwarded", "id": "00000000000000a1", "trace_id": trace_id,
        "start_time": start, "end_time": start + 0.5}),
    );
    let invalid = document(
        &json!({"name": "never-forwarded", "id": "00000000000000c1", "trace_id": trace_id, "start_time": start}),
    );
    for document in [&child, &invalid, &segment] {
        send_document(&socket, collector.local_addr(), document).await?;
    }
    collector.wait_for_trace(&trace_id, WAIT).await?;
    collector.shutdown().await;
    let stats = collector.stats();
    assert_eq!(
        (
            stats.accepted,
            stats.rejected,
            stats.forwarded,
            stats.forward_failed
        ),
        (2, 1, 2, 0)
    );

    let xray = aws_sdk_xray::Client::new(moto.sdk_config());
    let output = xray.batch_get_traces().trace_ids(&trace_id).send().await?;
    let [stored] = output.traces() else {
        return Err(format!("moto returned {:?}", output.traces()).into());
    };
    let mut documents: Vec<(&str, &str)> = stored
        .segments()
        .iter()
        .map(|segment| (segment.id().unwrap_or(""), segment.document().unwrap_or("")))
        .collect();
    documents.sort_unstable();
    assert_eq!(
        documents,
        [
            ("00000000000000a1", segment.as_str()),
            ("00000000000000b1", child.as_str())
        ]
    );
    assert_eq!(stored.id(), Some(trace_id.as_str()));
    Ok(())
}
