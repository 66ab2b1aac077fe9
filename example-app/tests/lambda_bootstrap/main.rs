//! The real `udagram-lambda` binary under `lamina-local`'s Lambda emulator, with DynamoDB on
//! moto: proof that the runtime loop, the `_HANDLER` dispatch, the configuration from the
//! environment and the AWS wiring work end to end (the API itself is proven by the contract
//! suite's Lambda target).

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use std::time::Duration;

use lamina_local::emulator::{Emulator, FunctionConfig, Outcome};
use lamina_local::moto::MotoServer;
use serde_json::{Value, json};
use udagram::aws::{DynamoDbStore, TableNames, create_tables};
use udagram::ports::ConnectionStore as _;

const BINARY: &str = env!("CARGO_BIN_EXE_udagram-lambda");

/// A `$connect`/`$disconnect` event as API Gateway sends it.
fn websocket_event(route: &str, connection_id: &str) -> String {
    json!({
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
    })
    .to_string()
}

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
    let store = DynamoDbStore::new(client, tables());

    let connect = Emulator::start(function(&moto, "ws-connect"))
        .await
        .unwrap();
    let first = connect
        .invoke(websocket_event("$connect", "L0SM9cOFvHcCIhw="))
        .await
        .unwrap();
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

    let mut ids: Vec<String> = store
        .list_connections()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
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
    let left: Vec<String> = store
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

/// The packaging measurement behind `udagram::lambda`'s docs, not a test: cold starts of the
/// release binaries named by `UDAGRAM_LAMBDA_BINARIES` (comma-separated paths), 7 each per
/// handler, median init duration printed. Run it by hand:
/// `UDAGRAM_LAMBDA_BINARIES=all/udagram-lambda,api-only/udagram-lambda cargo test -p udagram
/// --all-features --test lambda-bootstrap -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, run by hand with release binaries"]
async fn measure_cold_starts() {
    const COLD_STARTS: usize = 7;
    let binaries = std::env::var("UDAGRAM_LAMBDA_BINARIES").unwrap();
    let moto = MotoServer::start().await.unwrap();
    let client = aws_sdk_dynamodb::Client::new(moto.sdk_config());
    create_tables(&client, &tables()).await.unwrap();
    let api_event = list_groups_event();
    for binary in binaries.split(',') {
        let size = std::fs::metadata(binary).unwrap().len();
        for handler in ["ws-connect", "api"] {
            let config = full_environment(&moto, FunctionConfig::new(binary).handler(handler))
                .timeout(Duration::from_secs(10));
            let event = if handler == "api" {
                api_event.clone()
            } else {
                websocket_event("$connect", "L0SM9cOFvHcCIhw=")
            };
            let mut inits = Vec::new();
            let mut rss = 0;
            for _ in 0..COLD_STARTS {
                let emulator = Emulator::start(config.clone()).await.unwrap();
                let report = emulator.invoke(event.clone()).await.unwrap();
                if let Outcome::InitFailed { error_type, .. } = &report.outcome {
                    assert_eq!(error_type, "Runtime.UnknownHandler", "{handler}");
                    break; // a single-function binary without this handler
                }
                assert!(report.outcome.is_success(), "{handler}: {}", report.outcome);
                inits.push(report.init_duration.unwrap());
                rss = rss.max(report.max_memory_used_mb);
                emulator.shutdown().await;
            }
            if inits.is_empty() {
                println!("{binary}\t{size} bytes\t{handler}\tnot in this binary");
                continue;
            }
            inits.sort();
            println!(
                "{binary}\t{size} bytes\t{handler}\tinit median {:.1} ms (min {:.1}, max {:.1}) over {COLD_STARTS}\tmax RSS {rss} MB",
                inits[inits.len() / 2].as_secs_f64() * 1000.0,
                inits[0].as_secs_f64() * 1000.0,
                inits[inits.len() - 1].as_secs_f64() * 1000.0,
            );
        }
    }
}
