//! The real `udagram-lambda` binary under `lamina-local`'s Lambda emulator, with DynamoDB on
//! moto: proof that the runtime loop, the `_HANDLER` dispatch, the configuration from the
//! environment and the AWS wiring work end to end (the API itself is proven by the contract
//! suite's Lambda target).

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use std::time::Duration;

use lamina_local::emulator::{Emulator, FunctionConfig, InvocationRequest, Outcome};
use lamina_local::moto::MotoServer;
use lamina_local::xray::{AnnotationValue, CollectorConfig, XrayCollector};
use lamina_tracing::xray::{SegmentId, TraceId};
use serde_json::{Value, json};
use udagram::aws::{
    DynamoDbConnections, DynamoDbGroups, DynamoDbImages, TableNames, create_tables,
};
use udagram::ports::ConnectionStore as _;

const BINARY: &str = env!("CARGO_BIN_EXE_udagram-lambda");

/// A `$connect`/`$disconnect` event as API Gateway sends it.
fn websocket_event(route: &str, connection_id: &str) -> String {
    let mut event = json!({
        "headers": {"Host": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Host": ["a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"]},
        "requestContext": {
            "routeKey": route,
            "eventType": if route == "$connect" { "CONNECT" } else { "DISCONNECT" },
            "extendedRequestId": "Ia1ObHbMoAMFbGg=",
            "requestTime": "28/Nov/2026:20:00:00 +0000",
            "messageDirection": "IN",
            "stage": "dev",
            "connectedAt": 1_764_360_000_000_i64,
            "requestTimeEpoch": 1_764_360_000_000_i64,
            "identity": {"sourceIp": "203.0.113.9"},
            "requestId": "Ia1ObHbMoAMFbGg=",
            "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "connectionId": connection_id,
            "apiId": "a1b2c3d4e5",
        },
        "isBase64Encoded": false,
    });
    if route == "$connect" {
        // The authorizer's context: the token's claims.
        event["requestContext"]["authorizer"] =
            json!({"principalId": "auth0|alice", "sub": "auth0|alice", "exp": TOKEN_EXP});
    }
    event.to_string()
}

/// The `exp` of the token `$connect` events were authorized with.
const TOKEN_EXP: u64 = 4_102_444_800;

fn tables() -> TableNames {
    TableNames {
        groups: "udagram-groups".into(),
        images: "udagram-images".into(),
        connections: "udagram-connections".into(),
    }
}

fn function(moto: &MotoServer, handler: &str) -> FunctionConfig {
    FunctionConfig::new(BINARY)
        .function_name(format!("udagram-{handler}"))
        .handler(handler)
        .timeout(Duration::from_secs(10))
        .envs(moto.environment())
        .env("CONNECTIONS_TABLE", tables().connections)
}

fn body(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Success { body } => serde_json::from_slice(body).unwrap(),
        other => panic!("the invocation failed: {other}"),
    }
}

#[tokio::test]
async fn websocket_connect_and_disconnect_keep_the_dynamodb_table() {
    let moto = MotoServer::start().await.unwrap();
    let client = aws_sdk_dynamodb::Client::new(moto.sdk_config());
    create_tables(&client, &tables()).await.unwrap();
    let connections = DynamoDbConnections::new(client, tables().connections);

    let collector =
        XrayCollector::start(CollectorConfig::new().bind("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
    let connect =
        Emulator::start(function(&moto, "ws-connect").xray_daemon(collector.daemon_address()))
            .await
            .unwrap();
    let root = TraceId::generate().to_string();
    let header = format!("Root={root};Parent={};Sampled=1", SegmentId::generate());
    let first = connect
        .invoke(
            InvocationRequest::new(websocket_event("$connect", "L0SM9cOFvHcCIhw="))
                .trace_header(header),
        )
        .await
        .unwrap();
    // One subsegment per SDK call (XrayInterceptor), none for the SDK's internal spans.
    let trace = collector
        .wait_for_trace(&root, Duration::from_secs(10))
        .await
        .unwrap();
    let names: Vec<&str> = trace
        .entities()
        .iter()
        .map(|(_, e)| e.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "udagram-ws-connect",
            "Initialization",
            "Invocation",
            "udagram-ws-connect",
            "websocket",
            "DynamoDB"
        ]
    );
    assert!(first.cold_start && first.init_duration.is_some());
    assert_eq!(body(&first.outcome)["statusCode"], 200);
    let warm = connect
        .invoke(websocket_event("$connect", "QmFyQmF6UXV4MTI="))
        .await
        .unwrap();
    assert!(!warm.cold_start);
    assert_eq!(body(&warm.outcome)["statusCode"], 200);
    let bad = connect
        .invoke(websocket_event("$connect", "has space"))
        .await
        .unwrap();
    assert_eq!(body(&bad.outcome)["statusCode"], 400);

    let stored = connections.list_connections().await.unwrap();
    assert!(
        stored.iter().all(|c| c.expires_at == Some(TOKEN_EXP)),
        "the token's exp is kept: {stored:?}"
    );
    let mut ids: Vec<String> = stored.into_iter().map(|c| c.id).collect();
    ids.sort();
    assert_eq!(ids, ["L0SM9cOFvHcCIhw=", "QmFyQmF6UXV4MTI="]);

    let disconnect = Emulator::start(function(&moto, "ws-disconnect"))
        .await
        .unwrap();
    let gone = disconnect
        .invoke(websocket_event("$disconnect", "L0SM9cOFvHcCIhw="))
        .await
        .unwrap();
    assert_eq!(body(&gone.outcome)["statusCode"], 200);
    let left: Vec<String> = connections
        .list_connections()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(left, ["QmFyQmF6UXV4MTI="]);

    // Every function writes its EMF metric and JSON logs with the invocation's request id.
    let emf = first
        .logs
        .iter()
        .find(|line| line.text.contains("\"ConnectionsOpened\""))
        .unwrap_or_else(|| panic!("no EMF document in {:#?}", first.logs));
    let document: Value = serde_json::from_str(&emf.text).unwrap();
    assert_eq!(document["ConnectionsOpened"], 1.0);
    assert_eq!(document["handler"], "ws-connect");
    connect.shutdown().await;
    disconnect.shutdown().await;
}

/// Every variable of every function, for moto (no search domain, no reachable JWKS: the
/// requests used here need neither).
fn full_environment(moto: &MotoServer, config: FunctionConfig) -> FunctionConfig {
    config
        .envs(moto.environment())
        .env("CONNECTIONS_TABLE", tables().connections)
        .env("GROUPS_TABLE", tables().groups)
        .env("IMAGES_TABLE", tables().images)
        .env("IMAGES_BUCKET", "udagram-images")
        .env(
            "IMAGES_PUBLIC_URL",
            format!("{}/udagram-images", moto.endpoint_url()),
        )
        .env("S3_FORCE_PATH_STYLE", "true")
        .env("SEARCH_ENDPOINT", "http://127.0.0.1:9")
        .env("WEBSOCKET_ENDPOINT", moto.endpoint_url())
        // A closed port: the JWKS prefetch at init fails at once instead of waiting.
        .env("JWKS_URL", "http://127.0.0.1:9/.well-known/jwks.json")
        .env("JWT_ISSUER", "https://tenant.example.com/")
        .env("JWT_AUDIENCE", "udagram")
        .env("LAMINA_CORS_ALLOWED_ORIGINS", "https://photos.example.com")
}

/// `GET /groups` through API Gateway's REST proxy integration.
fn list_groups_event() -> String {
    json!({
        "resource": "/groups", "path": "/groups", "httpMethod": "GET",
        "headers": {"Host": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Host": ["a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"]},
        "queryStringParameters": {"limit": "5"},
        "multiValueQueryStringParameters": {"limit": ["5"]},
        "pathParameters": null, "stageVariables": null,
        "requestContext": {"resourcePath": "/groups", "httpMethod": "GET", "path": "/dev/groups",
            "stage": "dev", "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "accountId": "123456789012", "apiId": "a1b2c3d4e5",
            "identity": {"sourceIp": "203.0.113.9"}},
        "body": null, "isBase64Encoded": false,
    })
    .to_string()
}

#[cfg(feature = "handler-api")]
#[tokio::test]
async fn the_api_answers_through_the_runtime() {
    let moto = MotoServer::start().await.unwrap();
    let client = aws_sdk_dynamodb::Client::new(moto.sdk_config());
    create_tables(&client, &tables()).await.unwrap();
    let config = full_environment(&moto, FunctionConfig::new(BINARY).handler("api"))
        .timeout(Duration::from_secs(10));
    let emulator = Emulator::start(config).await.unwrap();
    let report = emulator.invoke(list_groups_event()).await.unwrap();
    let response = body(&report.outcome);
    assert_eq!(response["statusCode"], 200, "{response}");
    let groups: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(groups["items"], json!([]));
    // A POST without a token is refused before anything is stored.
    let mut post: Value = serde_json::from_str(&list_groups_event()).unwrap();
    post["httpMethod"] = json!("POST");
    post["body"] = json!(r#"{"name":"n","description":"d"}"#);
    let report = emulator.invoke(post.to_string()).await.unwrap();
    assert_eq!(body(&report.outcome)["statusCode"], 401);
    emulator.shutdown().await;
}

/// A small PNG.
fn png() -> Vec<u8> {
    let image = image::RgbImage::from_fn(300, 200, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 7])
    });
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

/// An SNS notification carrying S3's `ObjectCreated:Put` for `key` (already URL-encoded).
fn upload_event(key: &str, size: usize) -> String {
    let s3 = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-28T20:00:00.123Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AROAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.9"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "uploads",
            "bucket": {"name": "udagram-images", "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": "arn:aws:s3:::udagram-images"},
            "object": {"key": key, "size": size, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0055AED6DCD90281E5"}}
    }]});
    json!({"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:udagram-uploads:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
        "Sns": {"Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:udagram-uploads",
            "Subject": "Amazon S3 Notification", "Message": s3.to_string(),
            "Timestamp": "2026-11-28T20:00:00.456Z", "SignatureVersion": "1", "Signature": "EXAMPLE",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
            "MessageAttributes": {}}
    }]})
    .to_string()
}

#[cfg(feature = "handler-upload")]
#[tokio::test]
async fn an_upload_becomes_ready_on_s3_and_dynamodb() {
    use udagram::domain::{Connection, Group, Image, ImageStatus};
    use udagram::ports::{GroupStore as _, ImageCatalog as _, ImageStore as _};

    let moto = MotoServer::start().await.unwrap();
    let client = aws_sdk_dynamodb::Client::new(moto.sdk_config());
    create_tables(&client, &tables()).await.unwrap();
    let groups = DynamoDbGroups::new(client.clone(), tables().groups);
    let images =
        DynamoDbImages::new(client.clone(), tables().images).with_groups_table(tables().groups);
    let connections = DynamoDbConnections::new(client, tables().connections);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(moto.sdk_config())
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket("udagram-images")
        .send()
        .await
        .unwrap();
    let public = format!("{}/udagram-images", moto.endpoint_url());
    let group_id = uuid::Uuid::new_v4().to_string();
    groups
        .create_group(&Group {
            id: group_id.clone(),
            user_id: "auth0|alice".into(),
            name: "harbours".into(),
            description: String::new(),
            timestamp: "2026-11-28T19:00:00.000Z".into(),
        })
        .await
        .unwrap();
    let image_id = uuid::Uuid::new_v4().to_string();
    images
        .create_image(&Image {
            image_id: image_id.clone(),
            group_id,
            user_id: "auth0|bob".into(),
            title: "harbour".into(),
            timestamp: "2026-11-28T20:00:00.000Z".into(),
            status: ImageStatus::Pending,
            image_url: format!("{public}/{image_id}"),
            thumbnail_url: None,
        })
        .await
        .unwrap();
    let bytes = png();
    s3.put_object()
        .bucket("udagram-images")
        .key(&image_id)
        .content_type("image/png")
        .body(bytes.clone().into())
        .send()
        .await
        .unwrap();
    connections
        .add_connection(&Connection {
            id: "L0SM9cOFvHcCIhw=".into(),
            timestamp: "2026-11-28T20:00:00.000Z".into(),
            expires_at: Some(4_102_444_800),
        })
        .await
        .unwrap();
    // Its token expired: no notice, closed with DeleteConnection, forgotten.
    connections
        .add_connection(&Connection {
            id: "Ex9iRedT0kenAbc=".into(),
            timestamp: "2026-11-28T20:00:00.000Z".into(),
            expires_at: Some(1_764_360_000),
        })
        .await
        .unwrap();

    let config = full_environment(&moto, FunctionConfig::new(BINARY).handler("process-upload"))
        .timeout(Duration::from_secs(10));
    let emulator = Emulator::start(config).await.unwrap();
    let first = emulator
        .invoke(upload_event(&image_id, bytes.len()))
        .await
        .unwrap();
    assert_eq!(body(&first.outcome)["ready"], 1, "{:#?}", first.logs);
    let left: Vec<String> = connections
        .list_connections()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(left, ["L0SM9cOFvHcCIhw="], "{:#?}", first.logs);
    let stored = images.get_image(&image_id).await.unwrap().unwrap();
    assert_eq!(stored.status, ImageStatus::Ready);
    let thumb_key = format!("{image_id}.thumb.png");
    assert_eq!(stored.thumbnail_url, Some(format!("{public}/{thumb_key}")));
    let thumb = s3
        .get_object()
        .bucket("udagram-images")
        .key(&thumb_key)
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.content_type(), Some("image/png"));
    // A redelivery changes nothing; a thumbnail's own notification is ignored.
    let again = emulator
        .invoke(upload_event(&image_id, bytes.len()))
        .await
        .unwrap();
    assert_eq!(body(&again.outcome)["alreadyReady"], 1);
    let thumb_event = emulator
        .invoke(upload_event(&thumb_key, 100))
        .await
        .unwrap();
    assert_eq!(body(&thumb_event.outcome)["ignored"], 1);
    emulator.shutdown().await;
}

#[cfg(feature = "handler-stream")]
#[tokio::test]
async fn the_stream_keeps_the_search_domain() {
    use lamina_local::opensearch::OpenSearchServer;

    let moto = MotoServer::start().await.unwrap();
    let search = OpenSearchServer::start_for(moto.sdk_config())
        .await
        .unwrap();
    let image_id = uuid::Uuid::new_v4().to_string();
    let created_key = format!("2026-11-28T20:00:00.000Z#{image_id}");
    let keys = json!({"groupId": {"S": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"}, "createdKey": {"S": created_key}});
    let record = |name: &str, sequence: &str| {
        let mut change = json!({"ApproximateCreationDateTime": 1_764_360_000, "Keys": keys,
            "SequenceNumber": sequence, "SizeBytes": 300, "StreamViewType": "NEW_IMAGE"});
        if name != "REMOVE" {
            change["NewImage"] = json!({
                "groupId": {"S": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"}, "createdKey": {"S": created_key},
                "imageId": {"S": image_id}, "userId": {"S": "auth0|bob"}, "title": {"S": "harbour at dusk"},
                "timestamp": {"S": "2026-11-28T20:00:00.000Z"}, "status": {"S": "pending"},
                "imageUrl": {"S": format!("https://udagram-images.s3.amazonaws.com/{image_id}")},
            });
        }
        json!({"eventID": format!("e{sequence}"), "eventName": name, "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": "us-east-1", "dynamodb": change,
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/udagram-images/stream/2026-11-28T00:00:00.000"})
    };
    let collector =
        XrayCollector::start(CollectorConfig::new().bind("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
    let config = full_environment(&moto, FunctionConfig::new(BINARY).handler("index-stream"))
        .env("SEARCH_ENDPOINT", search.endpoint_url())
        .xray_daemon(collector.daemon_address())
        .timeout(Duration::from_secs(10));
    let emulator = Emulator::start(config).await.unwrap();
    let insert = json!({"Records": [record("INSERT", "100")]}).to_string();
    let root = TraceId::generate().to_string();
    let header = format!("Root={root};Parent={};Sampled=1", SegmentId::generate());
    let report = emulator
        .invoke(InvocationRequest::new(insert).trace_header(header))
        .await
        .unwrap();
    assert_eq!(body(&report.outcome)["batchItemFailures"], json!([]));
    let document = search.document("images", &image_id).unwrap();
    assert_eq!(document["title"], "harbour at dusk");

    // The trace carries the business annotations, and only our spans, not the SDK's internals.
    let trace = collector
        .wait_for_trace(&root, Duration::from_secs(10))
        .await
        .unwrap();
    let indexed = trace
        .find("index_image")
        .unwrap_or_else(|| panic!("no index_image in {:#?}", trace.entities()));
    assert_eq!(
        indexed.annotations.get("imageId"),
        Some(&AnnotationValue::String(image_id.clone()))
    );
    assert_eq!(
        indexed.annotations.get("groupId"),
        Some(&AnnotationValue::String(
            "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f".into()
        ))
    );
    let names: Vec<&str> = trace
        .entities()
        .iter()
        .map(|(_, e)| e.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "udagram-lambda",
            "Initialization",
            "Invocation",
            "udagram-lambda",
            "index_image"
        ]
    );
    collector.shutdown().await;

    let remove = json!({"Records": [record("REMOVE", "101")]}).to_string();
    let report = emulator.invoke(remove).await.unwrap();
    assert_eq!(body(&report.outcome)["batchItemFailures"], json!([]));
    assert!(search.document("images", &image_id).is_none());
    assert_eq!(search.requests_refused(), 0);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_missing_variable_or_unknown_handler_fails_init_naming_it() {
    let moto = MotoServer::start().await.unwrap();
    let no_table = FunctionConfig::new(BINARY)
        .handler("ws-connect")
        .envs(moto.environment());
    let emulator = Emulator::start(no_table).await.unwrap();
    let report = emulator
        .invoke(websocket_event("$connect", "L0SM9cOFvHcCIhw="))
        .await
        .unwrap();
    match &report.outcome {
        Outcome::InitFailed {
            error_type,
            error_message,
        } => {
            assert_eq!(error_type, "Runtime.InvalidConfiguration");
            assert!(
                error_message.contains("CONNECTIONS_TABLE"),
                "{error_message}"
            );
        }
        other => panic!("expected an init failure, got {other}"),
    }

    for handler in ["bootstrap", "API", ""] {
        let emulator = Emulator::start(function(&moto, handler)).await.unwrap();
        let report = emulator.invoke("{}").await.unwrap();
        match &report.outcome {
            Outcome::InitFailed {
                error_type,
                error_message,
            } => {
                assert_eq!(error_type, "Runtime.UnknownHandler");
                let all = cfg!(all(
                    feature = "handler-api",
                    feature = "handler-upload",
                    feature = "handler-stream"
                ));
                let valid = if all {
                    "api, process-upload, index-stream, ws-connect, ws-disconnect, authorizer"
                } else {
                    "ws-connect, ws-disconnect, authorizer"
                };
                assert!(error_message.ends_with(valid), "{error_message}");
            }
            other => panic!("expected an init failure for {handler:?}, got {other}"),
        }
    }
}
