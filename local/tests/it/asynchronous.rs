//! Asynchronous invocations: retried twice with a growing delay, then sent to the on-failure destination.

use std::time::Duration;

use lamina_local::emulator::{AsyncConfig, FailedEvent, OnFailure};
use serde_json::{Value, json};

use crate::support::{echo_config, emulator};

/// Waits (up to 60 s) until the emulator has no asynchronous event left.
async fn wait_until_settled(emulator: &lamina_local::emulator::Emulator) {
    for _ in 0..1200 {
        if emulator.pending_events() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} events still pending", emulator.pending_events());
}

#[tokio::test]
async fn a_failing_event_is_tried_three_times_and_lands_in_the_destination() {
    let (failed_tx, mut failed_rx) = tokio::sync::mpsc::unbounded_channel::<FailedEvent>();
    let settings = AsyncConfig::new()
        .retry_delay(Duration::from_millis(100))
        .on_failure(OnFailure::callback(move |failed| {
            let _ = failed_tx.send(failed);
        }));
    let emulator = emulator(echo_config().asynchronous(settings)).await;
    let event = json!({"error": "the bucket is gone", "order": 7});
    let request_id = emulator.invoke_async(event.to_string()).unwrap();
    assert_eq!(emulator.pending_events(), 1);

    let failed = tokio::time::timeout(Duration::from_secs(60), failed_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.request_id, request_id);
    assert_eq!(failed.attempts.len(), 3, "{:#?}", failed.attempts);
    assert!(failed.attempts.iter().all(|a| a.request_id == request_id));
    assert!(
        failed
            .attempts
            .iter()
            .all(|a| a.outcome.error_type() == Some("EchoError"))
    );
    // Two waits, 100 ms then 200 ms, came between the attempts.
    assert!(failed.age >= Duration::from_millis(300), "{:?}", failed.age);
    let record = &failed.record;
    assert_eq!(record["version"], "1.0");
    assert_eq!(record["requestContext"]["requestId"], request_id.as_str());
    assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 3);
    assert_eq!(
        record["requestContext"]["functionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:lamina-echo-function:$LATEST"
    );
    assert_eq!(record["requestPayload"], event);
    assert_eq!(record["responseContext"]["functionError"], "Unhandled");
    assert_eq!(
        record["responsePayload"],
        json!({"errorType": "EchoError", "errorMessage": "the bucket is gone"})
    );
    wait_until_settled(&emulator).await;
}

#[tokio::test]
async fn a_file_destination_gets_one_json_line_per_failed_event_and_successes_stay_out() {
    let dir = tempfile::tempdir().unwrap();
    let destination = dir.path().join("failed.jsonl");
    let settings = AsyncConfig::new()
        .max_retry_attempts(0)
        .on_failure(OnFailure::file(&destination));
    let emulator = emulator(echo_config().asynchronous(settings)).await;
    let failing = emulator.invoke_async(r#"{"exit": 2}"#).unwrap();
    let fine = emulator.invoke_async(r#"{"echo": "fine"}"#).unwrap();
    assert_ne!(failing, fine);
    wait_until_settled(&emulator).await;

    let text = std::fs::read_to_string(&destination).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(records.len(), 1, "{text}");
    assert_eq!(records[0]["requestContext"]["requestId"], failing.as_str());
    assert_eq!(records[0]["requestContext"]["approximateInvokeCount"], 1);
    assert_eq!(
        records[0]["responsePayload"]["errorType"],
        "Runtime.ExitError"
    );
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_queued() {
    let emulator = emulator(echo_config()).await;
    assert!(emulator.invoke_async("not json").is_err());
    assert_eq!(emulator.pending_events(), 0);
    assert_eq!(emulator.environments().running, 0);
}

/// Lambda's SQS on-failure destination, on moto through the real SDK: the record arrives as the
/// body of one message, and a success sends nothing.
#[cfg(feature = "sqs")]
#[tokio::test]
async fn an_sqs_destination_receives_the_record_as_lambda_sends_it() {
    let moto = lamina_local::moto::MotoServer::start().await.unwrap();
    let sqs = aws_sdk_sqs::Client::new(moto.sdk_config());
    let queue_url = sqs
        .create_queue()
        .queue_name("udagram-failed-events")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let settings = AsyncConfig::new()
        .retry_delay(Duration::from_millis(50))
        .on_failure(OnFailure::sqs(sqs.clone(), &queue_url));
    let emulator = emulator(echo_config().asynchronous(settings)).await;
    let event = json!({"error": "the table is gone", "order": 8});
    let request_id = emulator.invoke_async(event.to_string()).unwrap();
    emulator.invoke_async(r#"{"echo": "fine"}"#).unwrap();
    wait_until_settled(&emulator).await;

    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let messages = received.messages.unwrap_or_default();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let record: Value = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(record["requestContext"]["requestId"], request_id.as_str());
    assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 3);
    assert_eq!(record["requestPayload"], event);
    assert_eq!(
        record["responsePayload"],
        json!({"errorType": "EchoError", "errorMessage": "the table is gone"})
    );
}

/// A queue that does not exist loses the event with an error in the log, and nothing else breaks:
/// the emulator keeps serving.
#[cfg(feature = "sqs")]
#[tokio::test]
async fn a_missing_sqs_destination_loses_the_event_without_breaking_the_emulator() {
    let moto = lamina_local::moto::MotoServer::start().await.unwrap();
    let sqs = aws_sdk_sqs::Client::new(moto.sdk_config());
    let missing = format!("{}/123456789012/no-such-queue", moto.endpoint_url());
    let settings = AsyncConfig::new()
        .max_retry_attempts(0)
        .on_failure(OnFailure::sqs(sqs, missing));
    let emulator = emulator(echo_config().asynchronous(settings)).await;
    emulator.invoke_async(r#"{"error": "boom"}"#).unwrap();
    wait_until_settled(&emulator).await;
    let report = emulator.invoke(r#"{"echo": "still here"}"#).await.unwrap();
    assert!(report.outcome.is_success(), "{report}");
}
