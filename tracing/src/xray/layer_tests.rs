use std::{net::UdpSocket, time::Duration};

use serde_json::{Value, json};
use tracing_subscriber::prelude::*;

use super::*;

/// Runs `body` with an `XrayLayer` sending to a local socket, and returns the complete documents
/// sent (not the `in_progress` copies of trace roots) and the layer's counters.
fn capture(body: impl FnOnce(&str, &str)) -> (Vec<Value>, XrayStats) {
    capture_with(std::convert::identity, body)
}

/// [`capture`] with the layer configured by `configure`.
fn capture_with(
    configure: impl FnOnce(XrayLayer) -> XrayLayer,
    body: impl FnOnce(&str, &str),
) -> (Vec<Value>, XrayStats) {
    let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind");
    receiver
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let layer = configure(XrayLayer::new(receiver.local_addr().expect("address")));
    let trace_id = TraceId::generate();
    let parent = SegmentId::generate();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer.clone()), || {
        body(trace_id.as_str(), &parent.to_string());
    });
    let mut documents = Vec::new();
    let mut buffer = vec![0; 70_000];
    while let Ok(len) = receiver.recv(&mut buffer) {
        let text = std::str::from_utf8(&buffer[..len]).expect("utf8");
        let body = text
            .strip_prefix(super::super::DATAGRAM_HEADER)
            .expect("header");
        if let Err(rejection) =
            lamina_local::xray::validate_document(body, std::time::SystemTime::now())
        {
            panic!("{rejection}: {body}");
        }
        let document: Value = serde_json::from_str(body).expect("json");
        if document.get("in_progress").is_none() {
            documents.push(document);
        }
    }
    (documents, layer.stats())
}

fn root<'a>(trace_id: &'a str, parent: &'a str) -> tracing::Span {
    tracing::info_span!("root", xray.trace_id = trace_id, xray.parent_id = parent)
}

#[test]
fn names_nesting_and_parents() {
    let (documents, stats) = capture(|trace_id, parent| {
        let root = root(trace_id, parent);
        let _root = root.enter();
        let outer = tracing::info_span!("outer", otel.name = "GET /orders?(all)");
        let _outer = outer.enter();
        let inner = tracing::info_span!("inner", xray.name = tracing::field::Empty);
        inner.record("xray.name", "renamed");
        drop(inner);
    });
    // The root's `in_progress` copy, sent before its first child, and the three spans.
    assert_eq!(stats.sent, 4);
    let names: Vec<&str> = documents
        .iter()
        .map(|d| d["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, vec!["renamed", "GET /ordersall", "root"]);
    assert_eq!(documents[0]["parent_id"], documents[1]["id"]);
    assert_eq!(documents[1]["parent_id"], documents[2]["id"]);
    for document in &documents {
        assert_eq!(document["trace_id"], documents[2]["trace_id"]);
        assert_eq!(document["type"], "subsegment");
    }
}

#[test]
fn root_parent_is_the_facade() {
    let mut expected = (String::new(), String::new());
    let (documents, _) = capture(|trace_id, parent| {
        expected = (trace_id.to_owned(), parent.to_owned());
        drop(root(trace_id, parent));
    });
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0]["trace_id"], json!(expected.0));
    assert_eq!(documents[0]["parent_id"], json!(expected.1));
}

#[test]
fn fields_follow_the_conventions() {
    let (documents, stats) = capture(|trace_id, parent| {
        let span = tracing::info_span!(
            "root",
            xray.trace_id = trace_id,
            xray.parent_id = parent,
            annotation.user.id = "u-1",
            annotation.count = 3_i64,
            annotation.ratio = f64::NAN,
            annotation.late = tracing::field::Empty,
            metadata.payload = ?vec![1, 2],
            plain = true,
            status = "not a number",
        );
        span.record("annotation.late", 1.5);
        span.record("annotation.count", 4_i64);
        drop(span);
    });
    let document = &documents[0];
    assert_eq!(
        document["annotations"],
        json!({"user_id": "u-1", "count": 4, "late": 1.5})
    );
    assert_eq!(
        document["metadata"],
        json!({"default": {"payload": "[1, 2]", "plain": true, "status": "not a number"}})
    );
    assert!(document.get("fault").is_none() && document.get("error").is_none());
    assert_eq!(stats.annotations_dropped, 1);
}

#[test]
fn error_events_and_statuses_set_flags() {
    let (documents, _) = capture(|trace_id, parent| {
        let _root = root(trace_id, parent).entered();
        for status in [200_u64, 404, 429, 503] {
            let _span = tracing::info_span!("call", http.status_code = status).entered();
            tracing::error!(error.type = "Timeout", "took too long");
        }
        let _plain = tracing::info_span!("plain").entered();
        for index in 0..12 {
            tracing::error!(error = index, "failed");
        }
        tracing::warn!("not an error");
    });
    let flags = |document: &Value| {
        ["error", "throttle", "fault"].map(|flag| document.get(flag) == Some(&json!(true)))
    };
    assert_eq!(flags(&documents[0]), [false, false, true]);
    assert_eq!(flags(&documents[1]), [true, false, false]);
    assert_eq!(flags(&documents[2]), [true, true, false]);
    assert_eq!(flags(&documents[3]), [false, false, true]);
    let exception = &documents[0]["cause"]["exceptions"][0];
    assert_eq!(exception["message"], "took too long");
    assert_eq!(exception["type"], "Timeout");
    let plain = &documents[4];
    assert_eq!(flags(plain), [false, false, true]);
    let exceptions = plain["cause"]["exceptions"].as_array().expect("exceptions");
    assert_eq!(exceptions.len(), MAX_EXCEPTIONS_PER_SPAN);
    assert_eq!(exceptions[0]["message"], "0");
    assert_eq!(exceptions[0]["type"], "error");
    assert_eq!(flags(&documents[5]), [false, false, false]);
}

#[test]
fn an_application_field_named_status_is_metadata_not_an_http_status() {
    let (documents, _) = capture(|trace_id, parent| {
        let _root = root(trace_id, parent).entered();
        drop(tracing::info_span!(
            "order",
            status = 404_u64,
            order_id = "o-1"
        ));
        drop(tracing::info_span!(
            "call",
            http.response.status_code = 404_u64
        ));
    });
    let order = &documents[0];
    assert_eq!(order["name"], "order");
    assert!(
        ["error", "throttle", "fault"]
            .iter()
            .all(|flag| order.get(*flag).is_none()),
        "{order}"
    );
    assert_eq!(order["metadata"]["default"]["status"], 404);
    assert_eq!(documents[1]["error"], true);
}

#[test]
fn spans_outside_a_trace_or_suppressed_send_nothing() {
    let (documents, stats) = capture(|trace_id, parent| {
        drop(tracing::info_span!("alone", annotation.a = 1_i64));
        let _suppressed = tracing::info_span!("lambda.handler", xray.sampled = false).entered();
        drop(tracing::info_span!("inner"));
        drop(tracing::info_span!(
            "bad root",
            xray.trace_id = "nope",
            xray.parent_id = parent
        ));
        let _ = trace_id;
    });
    assert!(documents.is_empty());
    assert_eq!(stats, XrayStats::default());
}

/// What the AWS SDK opens around each call: spans of its own crates' targets.
fn sdk_internals() {
    let _invoke =
        tracing::info_span!(target: "aws_smithy_runtime::client::orchestrator", "invoke").entered();
    let _try_op = tracing::info_span!(target: "aws_sdk_dynamodb::operation", "try_op").entered();
    let call = tracing::info_span!("my call inside the sdk");
    drop(call);
    tracing::error!(target: "aws_smithy_runtime::client::retries", "attempt failed, retrying");
}

#[test]
fn library_spans_are_left_out_by_default_and_their_children_attach_above() {
    let (documents, stats) = capture(|trace_id, parent| {
        let _root = root(trace_id, parent).entered();
        sdk_internals();
        drop(tracing::debug_span!("debug detail"));
    });
    let names: Vec<&str> = documents
        .iter()
        .map(|d| d["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["my call inside the sdk", "root"]);
    assert_eq!(documents[0]["parent_id"], documents[1]["id"]);
    // The SDK's own error event (a retried attempt) does not mark the handler as a fault.
    assert!(documents[1].get("fault").is_none(), "{}", documents[1]);
    assert_eq!(stats.sent, 3, "with the root's in-progress copy");
}

#[test]
fn the_span_filter_can_be_turned_off_or_replaced() {
    let (documents, _) = capture_with(XrayLayer::without_span_filter, |trace_id, parent| {
        let _root = root(trace_id, parent).entered();
        sdk_internals();
    });
    assert_eq!(documents.len(), 4);
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(tracing::Level::TRACE)
        .with_target("aws_sdk_dynamodb", tracing::Level::ERROR);
    let (documents, _) = capture_with(
        |layer| layer.span_filter(filter),
        |trace_id, parent| {
            let _root = root(trace_id, parent).entered();
            sdk_internals();
            drop(tracing::debug_span!("debug detail"));
        },
    );
    assert_eq!(documents.len(), 4, "invoke, my call, debug detail, root");
}

#[tracing::instrument(fields(metadata.api_key = "k-123", annotation.token = "t-1"))]
fn log_in(user: &str, password: &str) {
    let _ = (user, password);
}

#[test]
fn secrets_in_span_fields_never_reach_x_ray() {
    let (documents, _) = capture(|trace_id, parent| {
        let _root = root(trace_id, parent).entered();
        log_in("ann", "hunter2");
        let span = tracing::info_span!(
            "request",
            authorization = %"Bearer abc.def",
            body = r#"{"user":"ann","nested":{"Password":"hunter2"}}"#,
            xray.json.response = r#"{"ok":true,"session":{"token":"s3cr3t"}}"#,
            order_id = "o-1",
        );
        drop(span);
    });
    let text = serde_json::to_string(&documents).expect("json");
    for secret in ["hunter2", "k-123", "t-1", "abc.def", "s3cr3t"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let log_in = &documents[0];
    assert_eq!(log_in["metadata"]["default"]["user"], "ann");
    assert_eq!(log_in["metadata"]["default"]["password"], "[REDACTED]");
    assert_eq!(log_in["metadata"]["default"]["api_key"], "[REDACTED]");
    assert_eq!(log_in["annotations"]["token"], "[REDACTED]");
    let request = &documents[1]["metadata"]["default"];
    assert_eq!(request["authorization"], "[REDACTED]");
    assert_eq!(request["order_id"], "o-1");
    assert_eq!(request["response"]["session"]["token"], "[REDACTED]");
    assert_eq!(request["response"]["ok"], true);
    let body: Value = serde_json::from_str(request["body"].as_str().expect("text")).expect("json");
    assert_eq!(body["nested"]["Password"], "[REDACTED]");
    // Another list replaces the default one.
    let (documents, _) = capture_with(
        |layer| layer.redacted_fields(["order_id"]),
        |trace_id, parent| {
            let _root = root(trace_id, parent).entered();
            drop(tracing::info_span!(
                "request",
                order_id = "o-1",
                password = "p"
            ));
        },
    );
    assert_eq!(
        documents[0]["metadata"]["default"]["order_id"],
        "[REDACTED]"
    );
    assert_eq!(documents[0]["metadata"]["default"]["password"], "p");
}

#[test]
fn the_root_is_sent_in_progress_before_its_first_child_and_only_once() {
    let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind");
    receiver
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let layer = XrayLayer::new(receiver.local_addr().expect("address"));
    let trace_id = TraceId::generate();
    let parent = SegmentId::generate();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let _root = root(trace_id.as_str(), &parent.to_string()).entered();
        drop(tracing::info_span!("first"));
        drop(tracing::info_span!("second"));
    });
    let mut documents = Vec::new();
    let mut buffer = vec![0; 70_000];
    while let Ok(len) = receiver.recv(&mut buffer) {
        let text = std::str::from_utf8(&buffer[..len]).expect("utf8");
        let body = text
            .strip_prefix(super::super::DATAGRAM_HEADER)
            .expect("header");
        lamina_local::xray::validate_document(body, std::time::SystemTime::now())
            .unwrap_or_else(|rejection| panic!("{rejection}: {body}"));
        documents.push(serde_json::from_str::<Value>(body).expect("json"));
    }
    let summary: Vec<(&str, bool)> = documents
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap_or(""),
                d.get("in_progress").is_some(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("root", true),
            ("first", false),
            ("second", false),
            ("root", false)
        ]
    );
    assert_eq!(documents[0]["id"], documents[3]["id"]);
    assert_eq!(documents[0]["in_progress"], true);
    assert!(documents[0].get("end_time").is_none());
    assert_eq!(documents[1]["parent_id"], documents[0]["id"]);
}
