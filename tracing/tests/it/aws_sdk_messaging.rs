//! SQS, SNS and Lambda calls through `XrayInterceptor` against moto: the allow-listed request
//! and response fields of each `aws` subsegment, and the trace header each request carried.

use std::time::SystemTime;

use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName, SendMessageBatchRequestEntry};
use lamina_local::moto::stored_zip;
use lamina_tracing::{
    aws_sdk::XrayInterceptor,
    xray::{SegmentId, TraceId},
};
use serde_json::{Value, json};
use tracing::Instrument as _;

use crate::aws_sdk::{Fixture, allow_listed, aws_calls, fixture, request_for, root_span};

fn sqs(fixture: &Fixture) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::config::Builder::from(fixture.moto.sdk_config())
        .endpoint_url(&fixture.relay.url)
        .interceptor(XrayInterceptor::new())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

fn sns(fixture: &Fixture) -> aws_sdk_sns::Client {
    let config = aws_sdk_sns::config::Builder::from(fixture.moto.sdk_config())
        .endpoint_url(&fixture.relay.url)
        .interceptor(XrayInterceptor::new())
        .build();
    aws_sdk_sns::Client::from_conf(config)
}

fn lambda(fixture: &Fixture) -> aws_sdk_lambda::Client {
    let config = aws_sdk_lambda::config::Builder::from(fixture.moto.sdk_config())
        .endpoint_url(&fixture.relay.url)
        .interceptor(XrayInterceptor::new())
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

/// Checks every call's status and that its request carried the call's own subsegment id.
fn assert_traced(fixture: &Fixture, trace_id: &TraceId, calls: &[&Value]) {
    let heads = fixture.relay.heads();
    for call in calls {
        request_for(&heads, trace_id, call);
    }
}

#[tokio::test]
async fn sqs_calls_record_queue_message_and_batch_fields() {
    let fixture = fixture().await;
    let _guard = fixture.subscriber();
    let sqs = sqs(&fixture);
    let created = sqs
        .create_queue()
        .queue_name("orders")
        .send()
        .await
        .unwrap();
    let queue_url = created.queue_url().unwrap().to_owned();
    let trace_id = TraceId::generate();
    let facade = SegmentId::generate();
    let started = SystemTime::now();
    let root = root_span(&trace_id, facade);
    let (message_id, missing) = async {
        let found = sqs
            .get_queue_url()
            .queue_name("orders")
            .send()
            .await
            .unwrap();
        assert_eq!(found.queue_url(), Some(queue_url.as_str()));
        let sent = sqs
            .send_message()
            .queue_url(&queue_url)
            .message_body("secret order body")
            .delay_seconds(0)
            .message_attributes(
                "kind",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("order")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let entries = ["a", "b", "c"].map(|id| {
            SendMessageBatchRequestEntry::builder()
                .id(id)
                .message_body(format!("body {id}"))
                .build()
                .unwrap()
        });
        let batch = sqs
            .send_message_batch()
            .queue_url(&queue_url)
            .set_entries(Some(entries.to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(batch.successful().len(), 3);
        #[allow(deprecated)]
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(30)
            .attribute_names(QueueAttributeName::All)
            .message_attribute_names("kind")
            .send()
            .await
            .unwrap();
        assert_eq!(received.messages().len(), 4);
        let missing = sqs.get_queue_url().queue_name("no-such-queue").send().await;
        assert!(missing.is_err());
        (sent.message_id().unwrap().to_owned(), missing)
    }
    .instrument(root.clone())
    .await;
    drop(missing);
    drop(root);
    let documents = fixture.finish(&trace_id, facade, started).await;
    let calls = aws_calls(&documents);
    let operations: Vec<&str> = calls
        .iter()
        .map(|call| call["aws"]["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        operations,
        [
            "GetQueueUrl",
            "SendMessage",
            "SendMessageBatch",
            "ReceiveMessage",
            "GetQueueUrl"
        ]
    );
    for call in &calls {
        assert_eq!(call["name"], "SQS");
        assert!(!call["aws"]["request_id"].as_str().unwrap().is_empty());
    }
    assert_eq!(
        allow_listed(calls[0]),
        json!({"queue_name": "orders", "queue_url": queue_url})
    );
    assert_eq!(
        allow_listed(calls[1]),
        json!({
            "queue_url": queue_url,
            "delay_seconds": 0,
            "message_attribute_names": ["kind"],
            "message_id": message_id,
        })
    );
    assert_eq!(
        allow_listed(calls[2]),
        json!({
            "queue_url": queue_url,
            "message_count": 3,
            "successful_count": 3,
            "failed_count": 0,
        })
    );
    assert_eq!(
        allow_listed(calls[3]),
        json!({
            "queue_url": queue_url,
            "max_number_of_messages": 10,
            "wait_time_seconds": 1,
            "visibility_timeout": 30,
            "attribute_names": ["All"],
            "message_attribute_names": ["kind"],
            "message_count": 4,
        })
    );
    for call in &calls[..4] {
        assert_eq!(call["http"]["response"]["status"], 200);
        assert!(call.get("error").is_none() && call.get("fault").is_none());
    }
    // A queue that does not exist: an error with its cause, and no response fields.
    let failed = calls[4];
    assert_eq!(allow_listed(failed), json!({"queue_name": "no-such-queue"}));
    assert_eq!(failed["http"]["response"]["status"], 400);
    assert_eq!(failed["error"], true);
    assert!(failed.get("fault").is_none(), "{failed}");
    let exception = &failed["cause"]["exceptions"][0];
    // SQS's JSON protocol names the error `com.amazonaws.sqs#QueueDoesNotExist`.
    assert_eq!(exception["type"], "QueueDoesNotExist");
    assert!(
        exception["message"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{exception}"
    );
    assert_traced(&fixture, &trace_id, &calls);
}

#[tokio::test]
async fn sns_publish_and_publish_batch_record_the_topic() {
    let fixture = fixture().await;
    let _guard = fixture.subscriber();
    let sns = sns(&fixture);
    let topic = sns.create_topic().name("orders").send().await.unwrap();
    let topic_arn = topic.topic_arn().unwrap().to_owned();
    let trace_id = TraceId::generate();
    let facade = SegmentId::generate();
    let started = SystemTime::now();
    let root = root_span(&trace_id, facade);
    async {
        sns.publish()
            .topic_arn(&topic_arn)
            .message("secret message")
            .send()
            .await
            .unwrap();
        let entry = aws_sdk_sns::types::PublishBatchRequestEntry::builder()
            .id("1")
            .message("secret batch message")
            .build()
            .unwrap();
        let batch = sns
            .publish_batch()
            .topic_arn(&topic_arn)
            .publish_batch_request_entries(entry)
            .send()
            .await
            .unwrap();
        assert_eq!(batch.successful().len(), 1);
    }
    .instrument(root.clone())
    .await;
    drop(root);
    let documents = fixture.finish(&trace_id, facade, started).await;
    let calls = aws_calls(&documents);
    assert_eq!(calls.len(), 2, "{documents:#?}");
    for (call, operation) in calls.iter().zip(["Publish", "PublishBatch"]) {
        assert_eq!(call["name"], "SNS");
        assert_eq!(call["aws"]["operation"], operation);
        assert_eq!(allow_listed(call), json!({"topic_arn": topic_arn}));
        assert_eq!(call["http"]["response"]["status"], 200);
    }
    assert_traced(&fixture, &trace_id, &calls);
}

#[tokio::test]
async fn lambda_invoke_records_invocation_fields_and_status() {
    let fixture = fixture().await;
    fixture.moto.disable_lambda_docker().await.unwrap();
    let role = fixture.moto.create_iam_role("lambda-role").await.unwrap();
    let _guard = fixture.subscriber();
    let lambda = lambda(&fixture);
    lambda
        .create_function()
        .function_name("echo")
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .role(role)
        .handler("lambda_function.lambda_handler")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(stored_zip(
                    "lambda_function.py",
                    b"def lambda_handler(event, context):\n    return event\n",
                )))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let trace_id = TraceId::generate();
    let facade = SegmentId::generate();
    let started = SystemTime::now();
    let root = root_span(&trace_id, facade);
    async {
        let payload = br#"{"order":"1"}"#;
        let sync = lambda
            .invoke()
            .function_name("echo")
            .invocation_type(aws_sdk_lambda::types::InvocationType::RequestResponse)
            .log_type(aws_sdk_lambda::types::LogType::Tail)
            .qualifier("$LATEST")
            .payload(aws_sdk_lambda::primitives::Blob::new(&payload[..]))
            .send()
            .await
            .unwrap();
        assert_eq!(sync.status_code(), 200);
        assert_eq!(
            serde_json::from_slice::<Value>(sync.payload().unwrap().as_ref()).unwrap(),
            json!({"order": "1"})
        );
        let event = lambda
            .invoke()
            .function_name("echo")
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_sdk_lambda::primitives::Blob::new(&payload[..]))
            .send()
            .await
            .unwrap();
        assert_eq!(event.status_code(), 202);
        #[allow(deprecated)]
        let queued = lambda
            .invoke_async()
            .function_name("echo")
            .invoke_args(aws_sdk_lambda::primitives::ByteStream::from_static(payload))
            .send()
            .await
            .unwrap();
        assert_eq!(queued.status(), 202);
    }
    .instrument(root.clone())
    .await;
    drop(root);
    let documents = fixture.finish(&trace_id, facade, started).await;
    let calls = aws_calls(&documents);
    assert_eq!(calls.len(), 3, "{documents:#?}");
    for call in &calls {
        assert_eq!(call["name"], "Lambda");
    }
    assert_eq!(calls[0]["aws"]["operation"], "Invoke");
    assert_eq!(
        allow_listed(calls[0]),
        json!({
            "function_name": "echo",
            "invocation_type": "RequestResponse",
            "log_type": "Tail",
            "qualifier": "$LATEST",
            "status_code": 200,
        })
    );
    assert_eq!(
        allow_listed(calls[1]),
        json!({"function_name": "echo", "invocation_type": "Event", "status_code": 202})
    );
    assert_eq!(calls[2]["aws"]["operation"], "InvokeAsync");
    assert_eq!(
        allow_listed(calls[2]),
        json!({"function_name": "echo", "status": 202})
    );
    assert_traced(&fixture, &trace_id, &calls);
}
