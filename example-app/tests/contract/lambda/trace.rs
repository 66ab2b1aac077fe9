//! What X-Ray shows for one image: the `api` invocation behind API Gateway and, after the upload,
//! the `process-upload` invocation, with the business annotations `groupId` and `imageId`.
//!
//! The API request is one trace: the caller's `X-Amzn-Trace-Id` goes through the REST API
//! stand-in to the `api` function, whose `AWS::Lambda::Function` segment, `udagram-api`
//! subsegment and DynamoDB subsegments all carry that trace id. The upload is another request
//! (the client's PUT to S3). On AWS, S3 passes the PUT's trace header on to SNS and SQS
//! (`AWSTraceHeader`), so `process-upload` joins the trace of the upload request; moto does not
//! (S3 notifications and SNS-to-SQS deliveries carry no `AWSTraceHeader`). The test follows what
//! it observes: with the attribute, `process-upload` must be in the client's trace; without it,
//! its own trace must hold its DynamoDB and S3 work and the `imageId` annotation, which is what
//! ties the two together in X-Ray's filter expressions (`annotation.imageId = "..."`).

use std::time::{Duration, Instant};

use lamina_local::trace_header::TraceHeader;
use lamina_local::xray::{AnnotationValue, Entity, EntityKind, Trace, XrayCollector};
use serde_json::json;

use super::LambdaStack;
use crate::fixtures::{create_group, picture};
use crate::target::Target;

const WAIT: Duration = Duration::from_secs(15);

/// Waits until the trace holds an entity that `wanted` accepts, and returns the trace.
async fn wait_for(
    xray: &XrayCollector,
    trace_id: &str,
    what: &str,
    wanted: impl Fn(&Entity) -> bool,
) -> Trace {
    let start = Instant::now();
    loop {
        if let Some(trace) = xray.trace(trace_id)
            && trace.is_complete()
            && trace.entities().iter().any(|(_, e)| wanted(e))
        {
            return trace;
        }
        assert!(
            start.elapsed() < WAIT,
            "trace {trace_id}: no {what} within {WAIT:?}; have: {:#?}\nrejections: {:#?}",
            xray.trace(trace_id).map(|t| names(&t)),
            xray.rejections()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn names(trace: &Trace) -> Vec<String> {
    trace
        .entities()
        .iter()
        .map(|(depth, e)| format!("{}{} ({:?})", "  ".repeat(*depth), e.name, e.kind))
        .collect()
}

fn annotation<'a>(trace: &'a Trace, key: &str) -> Vec<&'a str> {
    trace
        .entities()
        .iter()
        .filter_map(|(_, e)| match e.annotations.get(key) {
            Some(AnnotationValue::String(value)) => Some(value.as_str()),
            _ => None,
        })
        .collect()
}

fn is_function_segment(entity: &Entity, function: &str) -> bool {
    entity.kind == EntityKind::Segment
        && entity.origin.as_deref() == Some("AWS::Lambda::Function")
        && entity.name == function
}

fn is_aws_call(entity: &Entity, service: &str) -> bool {
    entity.kind == EntityKind::Subsegment
        && entity.namespace.as_deref() == Some("aws")
        && entity.name == service
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_image_is_traced_from_the_api_to_the_upload_processor() {
    let stack = LambdaStack::start().await;
    let http = stack.http();
    let token = stack.token("tracy").await;
    let group = create_group(http, &token, "Traced").await;
    let group_id = group["id"].as_str().unwrap();

    // The client starts the trace, as a traced web client or an upstream service would.
    let client_trace = TraceHeader::new_sampled();
    let created = http
        .post(&format!("/groups/{group_id}/images"))
        .token(&token)
        .header("x-amzn-trace-id", &client_trace.to_string())
        .json(&json!({ "title": "traced", "contentType": "image/png" }))
        .send()
        .await
        .ok_json(201);
    let image_id = created["newItem"]["imageId"].as_str().unwrap();

    let xray = stack.xray();
    let api = wait_for(xray, &client_trace.root, "DynamoDB subsegment", |e| {
        is_aws_call(e, "DynamoDB")
    })
    .await;
    let function = api
        .entities()
        .into_iter()
        .find(|(_, e)| is_function_segment(e, "udagram-api"))
        .map(|(_, e)| e.clone())
        .unwrap_or_else(|| panic!("no udagram-api function segment: {:#?}", names(&api)));
    assert_eq!(
        function.parent_id.as_deref(),
        client_trace.parent.as_deref(),
        "the function segment hangs under the caller"
    );
    assert_eq!(
        annotation(&api, "groupId"),
        [group_id],
        "{:#?}",
        names(&api)
    );
    let dynamodb_calls = api
        .entities()
        .iter()
        .filter(|(_, e)| is_aws_call(e, "DynamoDB"))
        .count();
    assert!(
        dynamodb_calls >= 2,
        "the group read and the image write: {:#?}",
        names(&api)
    );
    assert!(
        api.entities()
            .iter()
            .all(|(_, e)| e.trace_id == client_trace.root)
    );

    // The upload: the form posted to S3 with the same trace header, as a traced client would.
    let (form_type, form) = udagram::post_policy::form_body(
        crate::fixtures::form_fields(&created["upload"]),
        "image/png",
        &picture(300, 200, "image/png"),
    );
    let upload = http
        .post(created["upload"]["url"].as_str().unwrap())
        .header("x-amzn-trace-id", &client_trace.to_string())
        .bytes(&form_type, form)
        .send()
        .await;
    assert!(
        upload.status == 200 || upload.status == 204,
        "{}",
        upload.status
    );
    stack.settle().await;

    // The invocation that processed this image: the one whose trace names it (the others were
    // S3's test event and the thumbnail's own notification, which the function ignores).
    let start = Instant::now();
    let delivery = loop {
        let found = stack.pump().deliveries().into_iter().find(|d| {
            d.function == "process-upload"
                && TraceHeader::parse(&d.trace_header)
                    .ok()
                    .and_then(|h| xray.trace(&h.root))
                    .is_some_and(|t| annotation(&t, "imageId").contains(&image_id))
        });
        if let Some(delivery) = found {
            break delivery;
        }
        assert!(
            start.elapsed() < WAIT,
            "no process-upload trace annotated with imageId {image_id}: {:#?}",
            stack.pump().deliveries()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let processed_in = TraceHeader::parse(&delivery.trace_header).unwrap();
    let upload_trace = wait_for(xray, &processed_in.root, "S3 subsegment", |e| {
        is_aws_call(e, "S3")
    })
    .await;
    assert!(
        upload_trace
            .entities()
            .iter()
            .any(|(_, e)| is_function_segment(e, "udagram-process-upload")),
        "{:#?}",
        names(&upload_trace)
    );
    assert!(
        upload_trace
            .entities()
            .iter()
            .any(|(_, e)| is_aws_call(e, "DynamoDB")),
        "marking the image ready: {:#?}",
        names(&upload_trace)
    );
    assert!(
        annotation(&upload_trace, "imageId").contains(&image_id),
        "{:#?}",
        names(&upload_trace)
    );
    match &delivery.sqs_trace_header {
        Some(header) => {
            // The message carried a trace header: process-upload joined that trace.
            assert_eq!(TraceHeader::parse(header).unwrap().root, processed_in.root);
            assert_eq!(
                processed_in.root, client_trace.root,
                "S3 -> SNS -> SQS kept the client's trace"
            );
        }
        None => {
            // moto's S3 -> SNS -> SQS delivery carries no trace header: a trace of its own.
            assert_ne!(processed_in.root, client_trace.root);
        }
    }
    stack.stop().await;
}
