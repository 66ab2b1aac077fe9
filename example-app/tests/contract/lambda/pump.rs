//! The event sources Lambda would run, as a pump: SNS's subscription of `process-upload` (here:
//! the SQS queue subscribed to the uploads topic, each message an SNS envelope) and the
//! `index-stream` function's event source mapping on the Images table's stream.
//!
//! Each SQS message becomes one `SnsEvent` with one record, as SNS invokes a function; each
//! batch of stream records (up to 100, in shard order) becomes one DynamoDB event. A failed
//! invocation is retried twice, as Lambda retries asynchronous invocations and stream batches
//! (a stream would block on it forever; the pump gives up and records the failure instead). The
//! trace header of an SQS message (`AWSTraceHeader`, when the sender set one) becomes the
//! invocation's, so the function joins that trace; stream batches start traces of their own, as
//! on AWS.

use std::collections::HashMap;
use std::sync::Mutex as StdMutex;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lamina_local::emulator::{Emulator, InvocationRequest};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use super::provision::Resources;

/// How often the background task drains the sources.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long [`Pump::settle`] may take before the test fails.
const SETTLE_WITHIN: Duration = Duration::from_secs(60);
const ATTEMPTS: usize = 3;
const STREAM_BATCH: i32 = 100;

/// The functions the pump invokes.
#[derive(Debug, Clone)]
pub struct EventFunctions {
    pub process_upload: Emulator,
    pub index_stream: Emulator,
}

#[derive(Debug)]
pub struct Pump {
    sqs: aws_sdk_sqs::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    resources: Resources,
    functions: EventFunctions,
    /// Shard id -> the next iterator; one round at a time.
    iterators: Mutex<HashMap<String, Option<String>>>,
    failures: StdMutex<Vec<String>>,
    delivered: StdMutex<Vec<Delivery>>,
}

/// One invocation the pump made.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub function: &'static str,
    pub trace_header: String,
    pub sqs_trace_header: Option<String>,
}

impl Pump {
    pub fn new(config: &SdkConfig, resources: Resources, functions: EventFunctions) -> Self {
        Self {
            sqs: aws_sdk_sqs::Client::new(config),
            streams: aws_sdk_dynamodbstreams::Client::new(config),
            resources,
            functions,
            iterators: Mutex::new(HashMap::new()),
            failures: StdMutex::new(Vec::new()),
            delivered: StdMutex::new(Vec::new()),
        }
    }

    /// Drains both sources once; returns how many messages and records it delivered.
    pub async fn round(&self) -> usize {
        let mut iterators = self.iterators.lock().await;
        self.drain_queue().await + self.drain_stream(&mut iterators).await
    }

    /// Rounds until one finds nothing: every upload processed, every record indexed.
    pub async fn settle(&self) {
        let start = Instant::now();
        while self.round().await > 0 {
            assert!(
                start.elapsed() < SETTLE_WITHIN,
                "the event sources did not settle within {SETTLE_WITHIN:?}"
            );
        }
        let failures = self.failures();
        assert!(failures.is_empty(), "event handlers failed: {failures:#?}");
    }

    /// The invocations that failed every attempt.
    pub fn failures(&self) -> Vec<String> {
        self.failures.lock().unwrap().clone()
    }

    /// Every invocation made, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.delivered.lock().unwrap().clone()
    }

    async fn drain_queue(&self) -> usize {
        let mut delivered = 0;
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.resources.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .message_system_attribute_names(MessageSystemAttributeName::AwsTraceHeader)
                .send()
                .await
                .unwrap();
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                return delivered;
            }
            for message in messages {
                let trace = message
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::AwsTraceHeader))
                    .cloned();
                let body = message.body().unwrap_or_default();
                match sns_event(body, &self.resources.subscription_arn) {
                    Ok(event) => {
                        self.invoke(
                            "process-upload",
                            &self.functions.process_upload,
                            event,
                            trace,
                        )
                        .await;
                    }
                    Err(error) => self.fail(format!("SQS message {body}: {error}")),
                }
                if let Some(receipt) = message.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.resources.queue_url)
                        .receipt_handle(receipt)
                        .send()
                        .await
                        .unwrap();
                }
                delivered += 1;
            }
        }
    }

    async fn drain_stream(&self, iterators: &mut HashMap<String, Option<String>>) -> usize {
        let described = self
            .streams
            .describe_stream()
            .stream_arn(&self.resources.stream_arn)
            .send()
            .await
            .unwrap();
        let shards: Vec<String> = described
            .stream_description()
            .map(|d| {
                d.shards()
                    .iter()
                    .filter_map(|s| s.shard_id())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let mut delivered = 0;
        for shard in shards {
            if !iterators.contains_key(&shard) {
                let iterator = self
                    .streams
                    .get_shard_iterator()
                    .stream_arn(&self.resources.stream_arn)
                    .shard_id(&shard)
                    .shard_iterator_type(ShardIteratorType::TrimHorizon)
                    .send()
                    .await
                    .unwrap()
                    .shard_iterator
                    .clone();
                iterators.insert(shard.clone(), iterator);
            }
            while let Some(Some(iterator)) = iterators.get(&shard).cloned() {
                let page = self
                    .streams
                    .get_records()
                    .shard_iterator(iterator)
                    .limit(STREAM_BATCH)
                    .send()
                    .await
                    .unwrap();
                iterators.insert(shard.clone(), page.next_shard_iterator.clone());
                let records = page.records.unwrap_or_default();
                if records.is_empty() {
                    break;
                }
                delivered += records.len();
                let event = dynamodb_event(&records, &self.resources.stream_arn);
                self.invoke("index-stream", &self.functions.index_stream, event, None)
                    .await;
            }
        }
        delivered
    }

    async fn invoke(
        &self,
        name: &'static str,
        function: &Emulator,
        event: Value,
        sqs_trace_header: Option<String>,
    ) {
        let mut last = String::new();
        for _ in 0..ATTEMPTS {
            let mut request = InvocationRequest::new(event.to_string());
            if let Some(header) = &sqs_trace_header {
                request = request.trace_header(header.clone());
            }
            let report = function.invoke(request).await.unwrap();
            self.delivered.lock().unwrap().push(Delivery {
                function: name,
                trace_header: report.trace_header.clone(),
                sqs_trace_header: sqs_trace_header.clone(),
            });
            if report.outcome.is_success() {
                return;
            }
            last = format!("{report} {}", report.outcome);
        }
        self.fail(format!("{name}: {last}; event {event}"));
    }

    fn fail(&self, failure: String) {
        eprintln!("pump: {failure}");
        self.failures.lock().unwrap().push(failure);
    }
}

/// The SNS event Lambda receives for one message of the topic, from the envelope SNS put in SQS.
///
/// The envelope and the Lambda record carry the same fields, but the record spells two of them
/// `SigningCertUrl` and `UnsubscribeUrl`.
fn sns_event(body: &str, subscription_arn: &str) -> Result<Value, String> {
    let envelope: Map<String, Value> =
        serde_json::from_str(body).map_err(|e| format!("not an SNS envelope: {e}"))?;
    let mut message = Map::new();
    for (key, value) in envelope {
        let (key, value) = match (key.as_str(), value) {
            ("SigningCertURL", value) => ("SigningCertUrl".to_owned(), value),
            ("UnsubscribeURL", value) => ("UnsubscribeUrl".to_owned(), value),
            ("Message", Value::String(text)) => (key, Value::String(as_s3_sends(&text))),
            (_, value) => (key, value),
        };
        message.insert(key, value);
    }
    message
        .entry("MessageAttributes")
        .or_insert_with(|| json!({}));
    let event = json!({
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": subscription_arn,
            "Sns": message,
        }]
    });
    serde_json::from_value::<aws_lambda_events::sns::SnsEvent>(event.clone())
        .map_err(|e| format!("not an SnsEvent: {e}"))?;
    Ok(event)
}

/// An S3 event as S3 writes it, from the one moto writes: moto gives `eventTime` without a zone
/// (`2026-11-28T20:21:58.180265`, S3 writes UTC with a `Z`) and leaves out `userIdentity`,
/// `requestParameters` and `responseElements`, which S3 always sends and `aws_lambda_events`
/// requires. The pump adds what is missing (the `Z`, the uploader as a placeholder principal, the
/// loopback source address), so the function sees the shape S3 sends. Any other message (S3's
/// `s3:TestEvent`, anything that is not JSON) passes unchanged.
fn as_s3_sends(message: &str) -> String {
    let Ok(mut event) = serde_json::from_str::<Value>(message) else {
        return message.to_owned();
    };
    let Some(records) = event.get_mut("Records").and_then(Value::as_array_mut) else {
        return message.to_owned();
    };
    for record in records.iter_mut().filter_map(Value::as_object_mut) {
        if let Some(Value::String(time)) = record.get_mut("eventTime") {
            let zoned = time.ends_with('Z')
                || time
                    .rsplit_once('T')
                    .is_some_and(|(_, t)| t.contains(['+', '-']));
            if !zoned {
                time.push('Z');
            }
        }
        record
            .entry("userIdentity")
            .or_insert_with(|| json!({ "principalId": "AWS:AIDACKCEVSQ6C2EXAMPLE" }));
        record
            .entry("requestParameters")
            .or_insert_with(|| json!({ "sourceIPAddress": "127.0.0.1" }));
        record
            .entry("responseElements")
            .or_insert_with(|| json!({}));
    }
    event.to_string()
}

/// The DynamoDB event Lambda's event source mapping hands the function for these records.
fn dynamodb_event(records: &[Record], stream_arn: &str) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|record| {
            let stream = record.dynamodb();
            let image = |map: Option<&HashMap<String, AttributeValue>>| map.map(item);
            let mut dynamodb = Map::new();
            if let Some(stream) = stream {
                if let Some(time) = stream.approximate_creation_date_time() {
                    dynamodb.insert(
                        "ApproximateCreationDateTime".to_owned(),
                        json!(time.as_secs_f64().floor()),
                    );
                }
                for (name, value) in [
                    ("Keys", image(stream.keys.as_ref())),
                    ("NewImage", image(stream.new_image.as_ref())),
                    ("OldImage", image(stream.old_image.as_ref())),
                ] {
                    if let Some(value) = value {
                        dynamodb.insert(name.to_owned(), value);
                    }
                }
                dynamodb.insert("SequenceNumber".to_owned(), json!(stream.sequence_number()));
                dynamodb.insert("SizeBytes".to_owned(), json!(stream.size_bytes()));
                dynamodb.insert(
                    "StreamViewType".to_owned(),
                    json!(stream.stream_view_type().map(|t| t.as_str())),
                );
            }
            json!({
                "eventID": record.event_id(),
                "eventName": record.event_name().map(|n| n.as_str()),
                "eventVersion": record.event_version(),
                "eventSource": record.event_source().unwrap_or("aws:dynamodb"),
                "awsRegion": record.aws_region().unwrap_or("us-east-1"),
                "dynamodb": dynamodb,
                "eventSourceARN": stream_arn,
            })
        })
        .collect();
    json!({ "Records": records })
}

fn item(map: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        map.iter()
            .map(|(name, value)| (name.clone(), attribute(value)))
            .collect(),
    )
}

/// An attribute value in DynamoDB's JSON form (`{"S": "x"}`, `{"N": "1"}`, ...).
fn attribute(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": BASE64.encode(b.as_ref()) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(n) => json!({ "NULL": n }),
        AttributeValue::Ss(list) => json!({ "SS": list }),
        AttributeValue::Ns(list) => json!({ "NS": list }),
        AttributeValue::Bs(list) => {
            json!({ "BS": list.iter().map(|b| BASE64.encode(b.as_ref())).collect::<Vec<_>>() })
        }
        AttributeValue::L(list) => json!({ "L": list.iter().map(attribute).collect::<Vec<_>>() }),
        AttributeValue::M(map) => json!({ "M": item(map) }),
        other => panic!("an attribute type this harness does not know: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sns_envelope_becomes_a_lambda_sns_event() {
        let envelope = json!({
            "Type": "Notification",
            "MessageId": "m-1",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:udagram-uploads",
            "Subject": "Amazon S3 Notification",
            "Message": "{\"Records\":[]}",
            "Timestamp": "2026-11-28T20:00:00.000Z",
            "SignatureVersion": "1",
            "Signature": "c2ln",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        });
        let event = sns_event(&envelope.to_string(), "arn:sub").unwrap();
        let typed: aws_lambda_events::sns::SnsEvent = serde_json::from_value(event).unwrap();
        assert_eq!(typed.records[0].sns.message, "{\"Records\":[]}");
        assert_eq!(typed.records[0].event_subscription_arn, "arn:sub");
        assert!(sns_event("not json", "arn:sub").is_err());
    }

    #[test]
    fn motos_s3_events_get_what_s3_sends() {
        let moto = json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-28T20:21:58.180265", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "u",
                   "bucket": {"name": "b", "arn": "arn:aws:s3:::b"},
                   "object": {"key": "k+1", "size": 3, "eTag": "900150983cd24fb0d6963f7d28e17f72"}}
        }]});
        let fixed = as_s3_sends(&moto.to_string());
        let typed: aws_lambda_events::s3::S3Event = serde_json::from_str(&fixed).unwrap();
        let record = &typed.records[0];
        assert_eq!(record.event_time.timestamp_millis(), 1_795_897_318_180);
        assert_eq!(record.s3.object.key.as_deref(), Some("k+1"));
        assert!(serde_json::from_value::<aws_lambda_events::s3::S3Event>(moto).is_err());

        for unchanged in [
            r#"{"Records":[{"eventTime":"2026-11-28T20:21:58+01:00","userIdentity":{},"requestParameters":{},"responseElements":{}}]}"#,
            r#"{"Service":"Amazon S3","Event":"s3:TestEvent"}"#,
            "not json",
        ] {
            let output = as_s3_sends(unchanged);
            let same = match (
                serde_json::from_str::<Value>(&output),
                serde_json::from_str::<Value>(unchanged),
            ) {
                (Ok(a), Ok(b)) => a == b,
                _ => output == unchanged,
            };
            assert!(same, "{unchanged} -> {output}");
        }
    }

    #[test]
    fn attribute_values_keep_dynamodbs_json_form() {
        let value = AttributeValue::M(HashMap::from([
            ("s".to_owned(), AttributeValue::S("x".to_owned())),
            ("n".to_owned(), AttributeValue::N("1".to_owned())),
            (
                "l".to_owned(),
                AttributeValue::L(vec![AttributeValue::Bool(true), AttributeValue::Null(true)]),
            ),
        ]));
        assert_eq!(
            attribute(&value),
            json!({"M": {"s": {"S": "x"}, "n": {"N": "1"}, "l": {"L": [{"BOOL": true}, {"NULL": true}]}}})
        );
    }
}
