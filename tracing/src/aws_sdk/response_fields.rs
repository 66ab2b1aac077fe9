//! The allow-listed fields of an AWS call read from a successful response: its status, headers
//! and (for DynamoDB and SQS) its in-memory JSON body.

use aws_smithy_runtime_api::http::Headers;
use serde_json::{Map, Value};

use super::{allow_list, json_body::pick};

/// The response-side `aws` fields of `operation` of `service` (the SDK's service name). `body`
/// is `None` when the response body is not in memory (a streaming output such as S3
/// GetObject's), and is then not read; Lambda's response body (the function's result) is never
/// read.
pub(super) fn response_fields(
    service: &str,
    operation: &str,
    status: u16,
    headers: &Headers,
    body: Option<&[u8]>,
) -> Map<String, Value> {
    let mut found = Map::new();
    if service.eq_ignore_ascii_case("lambda") {
        match operation {
            "Invoke" => {
                found.insert("status_code".into(), status.into());
                if let Some(error) = headers.get("x-amz-function-error") {
                    found.insert("function_error".into(), error.into());
                }
            }
            "InvokeAsync" => {
                found.insert("status".into(), status.into());
            }
            _ => {}
        }
    } else if let Some(body) = body {
        pick(
            body,
            allow_list::operation(service, operation).response,
            &mut found,
        );
    }
    found
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::aws_sdk::json_body::MAX_PARSED_BODY;

    fn fields(service: &str, operation: &str, body: &[u8]) -> Value {
        Value::Object(response_fields(
            service,
            operation,
            200,
            &Headers::new(),
            Some(body),
        ))
    }

    #[test]
    fn dynamodb_responses() {
        // As moto answers a Scan with ReturnConsumedCapacity=TOTAL.
        let scan = br#"{"Count": 2, "Items": [{"id": {"S": "1"}}, {"id": {"S": "2"}}], "ScannedCount": 2, "ConsumedCapacity": {"TableName": "orders", "CapacityUnits": 1.0}}"#;
        assert_eq!(
            fields("DynamoDB", "Scan", scan),
            json!({"count": 2, "scanned_count": 2,
                   "consumed_capacity": {"TableName": "orders", "CapacityUnits": 1.0}})
        );
        assert_eq!(
            fields(
                "DynamoDB",
                "Query",
                br#"{"Count":0,"Items":[],"ScannedCount":0}"#
            ),
            json!({"count": 0, "scanned_count": 0})
        );
        assert_eq!(
            fields("DynamoDB", "ListTables", br#"{"TableNames":["a","b","c"]}"#),
            json!({"table_count": 3})
        );
        let put = br#"{"ConsumedCapacity":{"TableName":"t","CapacityUnits":1.0},
            "ItemCollectionMetrics":{"ItemCollectionKey":{"pk":{"S":"k"}},"SizeEstimateRangeGB":[0.0,1.0]},
            "Attributes":{"secret":{"S":"x"}}}"#;
        assert_eq!(
            fields("DynamoDB", "PutItem", put),
            json!({"consumed_capacity": {"TableName": "t", "CapacityUnits": 1.0},
                   "item_collection_metrics": {"ItemCollectionKey": {"pk": {"S": "k"}},
                                               "SizeEstimateRangeGB": [0.0, 1.0]}})
        );
        // Item contents are never recorded.
        assert_eq!(
            fields("DynamoDB", "GetItem", br#"{"Item":{"id":{"S":"1"}}}"#),
            json!({})
        );
    }

    #[test]
    fn sqs_responses() {
        assert_eq!(
            fields(
                "SQS",
                "SendMessage",
                br#"{"MD5OfMessageBody":"x","MessageId":"m-1"}"#
            ),
            json!({"message_id": "m-1"})
        );
        assert_eq!(
            fields(
                "SQS",
                "ReceiveMessage",
                br#"{"Messages":[{"MessageId":"1","Body":"secret"},{"MessageId":"2","Body":""}]}"#
            ),
            json!({"message_count": 2})
        );
        assert_eq!(
            fields("SQS", "ReceiveMessage", b"{}"),
            json!({}),
            "an empty receive has no `Messages` member, as Python records nothing"
        );
        assert_eq!(
            fields(
                "SQS",
                "SendMessageBatch",
                br#"{"Successful":[{"Id":"a"},{"Id":"b"}],"Failed":[{"Id":"c","Code":"x","SenderFault":true}]}"#
            ),
            json!({"successful_count": 2, "failed_count": 1})
        );
        assert_eq!(
            fields(
                "SQS",
                "GetQueueUrl",
                br#"{"QueueUrl":"http://localhost/1/q"}"#
            ),
            json!({"queue_url": "http://localhost/1/q"})
        );
    }

    #[test]
    fn lambda_responses_come_from_status_and_headers() {
        let mut headers = Headers::new();
        headers.insert("X-Amz-Function-Error", "Unhandled");
        let invoke = response_fields(
            "Lambda",
            "Invoke",
            200,
            &headers,
            Some(br#"{"FunctionError":"not read"}"#),
        );
        assert_eq!(
            Value::Object(invoke),
            json!({"status_code": 200, "function_error": "Unhandled"})
        );
        let event = response_fields("Lambda", "Invoke", 202, &Headers::new(), None);
        assert_eq!(Value::Object(event), json!({"status_code": 202}));
        let invoke_async = response_fields("Lambda", "InvokeAsync", 202, &Headers::new(), None);
        assert_eq!(Value::Object(invoke_async), json!({"status": 202}));
        let other = response_fields("Lambda", "GetFunction", 200, &headers, None);
        assert!(other.is_empty());
    }

    #[test]
    fn streaming_malformed_and_huge_bodies_give_nothing() {
        let none = response_fields("DynamoDB", "Scan", 200, &Headers::new(), None);
        assert!(none.is_empty());
        assert_eq!(fields("DynamoDB", "Scan", b"<html>500</html>"), json!({}));
        assert_eq!(fields("SQS", "SendMessage", br#"{"MessageId":"#), json!({}));
        let mut huge = br#"{"Count":1,"Items":[""#.to_vec();
        huge.resize(MAX_PARSED_BODY + 1, b'x');
        huge.extend(br#""]}"#);
        assert_eq!(fields("DynamoDB", "Scan", &huge), json!({}));
        // Services without a response allow-list never read the body.
        assert_eq!(fields("S3", "GetObject", br#"{"Count":1}"#), json!({}));
        assert_eq!(fields("SNS", "Publish", b"<PublishResponse/>"), json!({}));
    }
}
