//! The allow-listed fields of an AWS call read from the serialized request: its URI, headers and
//! in-memory body.

use aws_smithy_runtime_api::http::Headers;
use serde_json::{Map, Value};

use super::{
    allow_list::{self, DYNAMODB_ALWAYS, SQS_ALWAYS},
    json_body::{MAX_PARSED_BODY, pick},
};

/// The request-side `aws` fields of `operation` of `service` (the SDK's service name, e.g.
/// `DynamoDB`). Unknown services and unparsable requests give nothing.
pub(super) fn request_fields(
    service: &str,
    operation: &str,
    uri: &str,
    headers: &Headers,
    body: Option<&[u8]>,
) -> Map<String, Value> {
    let mut found = Map::new();
    let allowed = allow_list::operation(service, operation);
    match service.to_ascii_lowercase().as_str() {
        "dynamodb" => {
            if let Some(body) = body {
                pick(body, DYNAMODB_ALWAYS, &mut found);
                pick(body, allowed.request, &mut found);
            }
        }
        "sqs" => {
            if let Some(body) = body {
                pick(body, SQS_ALWAYS, &mut found);
                pick(body, allowed.request, &mut found);
                // The SQS SDKs that still speak the AWS query protocol send a form.
                if found.is_empty()
                    && let Some(url) = body_param(body, "QueueUrl")
                {
                    found.insert("queue_url".into(), url.into());
                }
            }
        }
        "s3" => s3(uri, &mut found),
        "sns" => {
            if let Some(arn) = body.and_then(|body| body_param(body, "TopicArn")) {
                found.insert("topic_arn".into(), arn.into());
            }
        }
        "lambda" => lambda(operation, uri, headers, &mut found),
        _ => {}
    }
    found
}

/// Lambda's `function_name` (the URI path, on every function operation); for Invoke also
/// `invocation_type` and `log_type` (headers) and `qualifier` (query).
fn lambda(operation: &str, uri: &str, headers: &Headers, found: &mut Map<String, Value>) {
    let Ok(parsed) = uri.parse::<http::Uri>() else {
        return;
    };
    let mut segments = parsed.path().split('/');
    while let Some(segment) = segments.next() {
        if segment == "functions" {
            if let Some(name) = segments.next().filter(|name| !name.is_empty()) {
                found.insert("function_name".into(), percent_decode(name, false).into());
            }
            break;
        }
    }
    if operation != "Invoke" {
        return;
    }
    for (header, field) in [
        ("x-amz-invocation-type", "invocation_type"),
        ("x-amz-log-type", "log_type"),
    ] {
        if let Some(value) = headers.get(header) {
            found.insert(field.into(), value.into());
        }
    }
    if let Some(qualifier) = query_param(parsed.query().unwrap_or_default(), "Qualifier") {
        found.insert("qualifier".into(), qualifier.into());
    }
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| percent_decode(value, true))
    })
}

/// A top-level parameter of a form-encoded (AWS query protocol) body.
fn body_param(body: &[u8], name: &str) -> Option<String> {
    if body.len() > MAX_PARSED_BODY {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (percent_decode(key, true) == name).then(|| percent_decode(value, true))
    })
}

/// S3's bucket and key: from a virtual-hosted `<bucket>.s3.<region>.amazonaws.com` host and the
/// path, or from a path-style `/<bucket>/<key>` path; `prefix` and `versionId` from the query.
fn s3(uri: &str, found: &mut Map<String, Value>) {
    let Ok(parsed) = uri.parse::<http::Uri>() else {
        return;
    };
    let host = parsed.host().unwrap_or_default().to_ascii_lowercase();
    let virtual_bucket = (host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn"))
        .then(|| {
            let at = host
                .rfind(".s3.")
                .into_iter()
                .chain(host.rfind(".s3-"))
                .max()?;
            Some(host[..at].to_owned())
        })
        .flatten()
        .filter(|bucket| !bucket.is_empty());
    let path = parsed.path().strip_prefix('/').unwrap_or(parsed.path());
    let (bucket, key) = match virtual_bucket {
        Some(bucket) => (Some(bucket), path),
        None => match path.split_once('/') {
            Some((bucket, key)) => (Some(percent_decode(bucket, false)), key),
            None => ((!path.is_empty()).then(|| percent_decode(path, false)), ""),
        },
    };
    if let Some(bucket) = bucket {
        found.insert("bucket_name".into(), bucket.into());
    }
    if !key.is_empty() {
        found.insert("key".into(), percent_decode(key, false).into());
    }
    for pair in parsed.query().unwrap_or_default().split('&') {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        let field = match name {
            "prefix" => "prefix",
            "versionId" => "version_id",
            _ => continue,
        };
        found.insert(field.into(), percent_decode(value, true).into());
    }
}

/// Decodes `%XX` escapes (and `+` as a space in form encoding); invalid escapes stay as they are
/// and invalid UTF-8 becomes U+FFFD.
fn percent_decode(text: &str, form: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        let hex = |at: usize| {
            bytes
                .get(at)
                .and_then(|digit| char::from(*digit).to_digit(16))
        };
        match byte {
            b'%' => {
                if let (Some(high), Some(low)) = (hex(index + 1), hex(index + 2)) {
                    // Two hex digits are below 256.
                    out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                    index += 3;
                    continue;
                }
                out.push(byte);
            }
            b'+' if form => out.push(b' '),
            _ => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(service: &str, operation: &str, uri: &str, body: Option<&[u8]>) -> Value {
        Value::Object(request_fields(
            service,
            operation,
            uri,
            &Headers::new(),
            body,
        ))
    }

    #[test]
    fn dynamodb_tables_and_query_parameters() {
        let body = br#"{"TableName":"orders","Key":{"id":{"S":"1"}},"ConsistentRead":true}"#;
        assert_eq!(
            fields("DynamoDB", "GetItem", "http://localhost/", Some(body)),
            json!({"table_name": "orders", "consistent_read": true})
        );
        let batch = br#"{"RequestItems":{"a":{},"b":{}}}"#;
        assert_eq!(
            fields("DynamoDB", "BatchGetItem", "http://localhost/", Some(batch)),
            json!({"table_names": ["a", "b"]})
        );
        let query = br#"{"TableName":"orders","IndexName":"by-customer","Limit":10,
            "Select":"COUNT","ConsistentRead":false,"ProjectionExpression":"id, #s",
            "ScanIndexForward":false,"KeyConditionExpression":"customer = :c",
            "ExpressionAttributeValues":{":c":{"S":"secret"}},"ReturnConsumedCapacity":"TOTAL"}"#;
        assert_eq!(
            fields("DynamoDB", "Query", "http://localhost/", Some(query)),
            json!({"table_name": "orders", "index_name": "by-customer", "limit": 10,
                   "select": "COUNT", "consistent_read": false,
                   "projection_expression": "id, #s", "scan_index_forward": false})
        );
        let scan = br#"{"TableName":"t","Segment":1,"TotalSegments":4,"AttributesToGet":["a"]}"#;
        assert_eq!(
            fields("DynamoDB", "Scan", "http://localhost/", Some(scan)),
            json!({"table_name": "t", "segment": 1, "total_segments": 4,
                   "attributes_to_get": ["a"]})
        );
        // Query parameters only on the operations that list them.
        let put = br#"{"TableName":"t","Limit":3,"Item":{}}"#;
        assert_eq!(
            fields("DynamoDB", "PutItem", "http://localhost/", Some(put)),
            json!({"table_name": "t"})
        );
        assert_eq!(
            fields(
                "DynamoDB",
                "GetItem",
                "http://localhost/",
                Some(b"not json")
            ),
            json!({})
        );
        assert_eq!(
            fields("DynamoDB", "GetItem", "http://localhost/", None),
            json!({})
        );
    }

    #[test]
    fn sqs_json_and_query_protocols() {
        let send = br#"{"QueueUrl":"https://sqs/1/q","MessageBody":"x","DelaySeconds":0,
            "MessageAttributes":{"kind":{"DataType":"String","StringValue":"order"}}}"#;
        assert_eq!(
            fields("SQS", "SendMessage", "https://sqs/", Some(send)),
            json!({"queue_url": "https://sqs/1/q", "delay_seconds": 0,
                   "message_attribute_names": ["kind"]})
        );
        let receive = br#"{"QueueUrl":"u","MaxNumberOfMessages":10,"WaitTimeSeconds":1,
            "VisibilityTimeout":30,"AttributeNames":["All"],"MessageAttributeNames":["kind"]}"#;
        assert_eq!(
            fields("SQS", "ReceiveMessage", "https://sqs/", Some(receive)),
            json!({"queue_url": "u", "max_number_of_messages": 10, "wait_time_seconds": 1,
                   "visibility_timeout": 30, "attribute_names": ["All"],
                   "message_attribute_names": ["kind"]})
        );
        assert_eq!(
            fields(
                "SQS",
                "GetQueueUrl",
                "https://sqs/",
                Some(br#"{"QueueName":"q"}"#)
            ),
            json!({"queue_name": "q"})
        );
        let form = b"Action=SendMessage&QueueUrl=https%3A%2F%2Fsqs%2F1%2Fq&MessageBody=x";
        assert_eq!(
            fields("SQS", "SendMessage", "https://sqs/", Some(form)),
            json!({"queue_url": "https://sqs/1/q"})
        );
    }

    #[test]
    fn s3_path_and_virtual_host() {
        assert_eq!(
            fields(
                "S3",
                "PutObject",
                "http://127.0.0.1:5000/my-bucket/a/b%20c.txt?x-id=PutObject",
                None
            ),
            json!({"bucket_name": "my-bucket", "key": "a/b c.txt"})
        );
        assert_eq!(
            fields(
                "S3",
                "GetObject",
                "https://my.bucket.s3.eu-west-1.amazonaws.com/k?versionId=v1",
                None
            ),
            json!({"bucket_name": "my.bucket", "key": "k", "version_id": "v1"})
        );
        assert_eq!(
            fields(
                "S3",
                "ListObjectsV2",
                "http://localhost:5000/b?list-type=2&prefix=logs%2F",
                None
            ),
            json!({"bucket_name": "b", "prefix": "logs/"})
        );
        assert_eq!(
            fields("S3", "ListBuckets", "https://s3.amazonaws.com/", None),
            json!({})
        );
    }

    #[test]
    fn sns_form() {
        let form = b"Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At&Message=hi+there";
        assert_eq!(
            fields(
                "SNS",
                "Publish",
                "https://sns.us-east-1.amazonaws.com/",
                Some(form)
            ),
            json!({"topic_arn": "arn:aws:sns:us-east-1:1:t"})
        );
    }

    #[test]
    fn lambda_invoke() {
        let mut headers = Headers::new();
        headers.insert("X-Amz-Invocation-Type", "Event");
        headers.insert("X-Amz-Log-Type", "Tail");
        let invoke = request_fields(
            "Lambda",
            "Invoke",
            "https://lambda/2015-03-31/functions/my-fn/invocations?Qualifier=live%241",
            &headers,
            Some(br#"{"secret":"payload"}"#),
        );
        assert_eq!(
            Value::Object(invoke),
            json!({"function_name": "my-fn", "invocation_type": "Event", "log_type": "Tail",
                   "qualifier": "live$1"})
        );
        // Invoke's headers are not read on other operations.
        let other = request_fields(
            "Lambda",
            "GetFunction",
            "https://lambda/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af",
            &headers,
            None,
        );
        assert_eq!(
            Value::Object(other),
            json!({"function_name": "arn:aws:lambda:us-east-1:1:function:f"})
        );
        assert_eq!(
            fields(
                "Lambda",
                "InvokeAsync",
                "https://lambda/2014-11-13/functions/f/invoke-async",
                None
            ),
            json!({"function_name": "f"})
        );
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%2Fb%zz%4", false), "a/b%zz%4");
        assert_eq!(percent_decode("a+b", true), "a b");
        assert_eq!(percent_decode("%FF", false), "\u{FFFD}");
    }

    proptest::proptest! {
        #[test]
        fn any_request_is_parsed_without_panicking(
            service in "(DynamoDB|S3|SNS|SQS|Lambda|x)",
            operation in "(Invoke|Query|Scan|SendMessage|x)",
            uri in ".*",
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
        ) {
            let _ = request_fields(&service, &operation, &uri, &Headers::new(), Some(&body));
            let _ = percent_decode(&uri, true);
        }
    }
}
