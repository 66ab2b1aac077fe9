//! The allow-listed resource fields of an AWS call, read from the serialized request.

use serde_json::Value;

/// One allow-listed field: its `aws.<key>` name and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Resource {
    /// `table_name` (DynamoDB).
    TableName(String),
    /// `table_names` (DynamoDB BatchGetItem and BatchWriteItem), as a JSON array.
    TableNames(Vec<String>),
    /// `bucket_name` (S3).
    BucketName(String),
    /// `key` (S3).
    Key(String),
    /// `prefix` (S3 listings).
    Prefix(String),
    /// `version_id` (S3).
    VersionId(String),
    /// `topic_arn` (SNS).
    TopicArn(String),
    /// `queue_url` (SQS).
    QueueUrl(String),
    /// `function_name` (Lambda).
    FunctionName(String),
}

/// The resource fields of a call to `service` (the SDK's service name, e.g. `DynamoDB`), from
/// its request URI and in-memory body. Unknown services and unparsable requests give nothing.
pub(super) fn resources(service: &str, uri: &str, body: Option<&[u8]>) -> Vec<Resource> {
    let mut found = Vec::new();
    match service.to_ascii_lowercase().as_str() {
        "dynamodb" => {
            let Some(Value::Object(body)) = body.and_then(json_body) else {
                return found;
            };
            if let Some(Value::String(table)) = body.get("TableName") {
                found.push(Resource::TableName(table.clone()));
            }
            if let Some(Value::Object(items)) = body.get("RequestItems") {
                found.push(Resource::TableNames(items.keys().cloned().collect()));
            }
        }
        "s3" => s3(uri, &mut found),
        "sns" => {
            if let Some(arn) = body.and_then(|body| body_param(body, "TopicArn")) {
                found.push(Resource::TopicArn(arn));
            }
        }
        "sqs" => {
            if let Some(url) = body.and_then(|body| body_param(body, "QueueUrl")) {
                found.push(Resource::QueueUrl(url));
            }
        }
        "lambda" => {
            let path = path_of(uri);
            let mut segments = path.split('/');
            while let Some(segment) = segments.next() {
                if segment == "functions" {
                    if let Some(name) = segments.next().filter(|name| !name.is_empty()) {
                        found.push(Resource::FunctionName(percent_decode(name, false)));
                    }
                    break;
                }
            }
        }
        _ => {}
    }
    found
}

fn json_body(body: &[u8]) -> Option<Value> {
    serde_json::from_slice(body).ok()
}

/// A top-level string parameter of a JSON body, or of a form-encoded (AWS query) body.
fn body_param(body: &[u8], name: &str) -> Option<String> {
    if let Some(Value::Object(object)) = json_body(body) {
        return object.get(name).and_then(Value::as_str).map(str::to_owned);
    }
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (percent_decode(key, true) == name).then(|| percent_decode(value, true))
    })
}

/// S3's bucket and key: from a virtual-hosted `<bucket>.s3.<region>.amazonaws.com` host and the
/// path, or from a path-style `/<bucket>/<key>` path; `prefix` and `versionId` from the query.
fn s3(uri: &str, found: &mut Vec<Resource>) {
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
        found.push(Resource::BucketName(bucket));
    }
    if !key.is_empty() {
        found.push(Resource::Key(percent_decode(key, false)));
    }
    for pair in parsed.query().unwrap_or_default().split('&') {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        let value = percent_decode(value, true);
        match name {
            "prefix" => found.push(Resource::Prefix(value)),
            "versionId" => found.push(Resource::VersionId(value)),
            _ => {}
        }
    }
}

fn path_of(uri: &str) -> String {
    uri.parse::<http::Uri>()
        .map(|uri| uri.path().to_owned())
        .unwrap_or_default()
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
    use super::*;

    #[test]
    fn dynamodb_tables() {
        let body = br#"{"TableName":"orders","Key":{"id":{"S":"1"}}}"#;
        assert_eq!(
            resources("DynamoDB", "http://localhost/", Some(body)),
            vec![Resource::TableName("orders".into())]
        );
        let batch = br#"{"RequestItems":{"a":{},"b":{}}}"#;
        assert_eq!(
            resources("DynamoDB", "http://localhost/", Some(batch)),
            vec![Resource::TableNames(vec!["a".into(), "b".into()])]
        );
        assert!(resources("DynamoDB", "http://localhost/", Some(b"not json")).is_empty());
        assert!(resources("DynamoDB", "http://localhost/", None).is_empty());
    }

    #[test]
    fn s3_path_and_virtual_host() {
        assert_eq!(
            resources(
                "S3",
                "http://127.0.0.1:5000/my-bucket/a/b%20c.txt?x-id=PutObject",
                None
            ),
            vec![
                Resource::BucketName("my-bucket".into()),
                Resource::Key("a/b c.txt".into())
            ]
        );
        assert_eq!(
            resources(
                "S3",
                "https://my.bucket.s3.eu-west-1.amazonaws.com/k?versionId=v1",
                None
            ),
            vec![
                Resource::BucketName("my.bucket".into()),
                Resource::Key("k".into()),
                Resource::VersionId("v1".into())
            ]
        );
        assert_eq!(
            resources(
                "S3",
                "http://localhost:5000/b?list-type=2&prefix=logs%2F",
                None
            ),
            vec![
                Resource::BucketName("b".into()),
                Resource::Prefix("logs/".into())
            ]
        );
        assert!(resources("S3", "https://s3.amazonaws.com/", None).is_empty());
    }

    #[test]
    fn sns_sqs_lambda() {
        let form = b"Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At&Message=hi+there";
        assert_eq!(
            resources("SNS", "https://sns.us-east-1.amazonaws.com/", Some(form)),
            vec![Resource::TopicArn("arn:aws:sns:us-east-1:1:t".into())]
        );
        let json = br#"{"QueueUrl":"https://sqs/1/q","MessageBody":"x"}"#;
        assert_eq!(
            resources("SQS", "https://sqs/", Some(json)),
            vec![Resource::QueueUrl("https://sqs/1/q".into())]
        );
        assert_eq!(
            resources(
                "Lambda",
                "https://lambda/2015-03-31/functions/my-fn/invocations",
                None
            ),
            vec![Resource::FunctionName("my-fn".into())]
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
            uri in ".*",
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
        ) {
            let _ = resources(&service, &uri, Some(&body));
            let _ = percent_decode(&uri, true);
        }
    }
}
