//! The moto fixture used through the real AWS SDK for Rust.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime};
use lamina_local::moto::{INSTALL_COMMAND, MotoError, MotoServer, stored_zip};

#[tokio::test]
async fn a_dynamodb_table_round_trip_through_the_real_sdk() {
    let moto = MotoServer::start().await.unwrap();
    assert!(moto.endpoint_url().starts_with("http://127.0.0.1:"));
    let dynamodb = aws_sdk_dynamodb::Client::new(moto.sdk_config());
    dynamodb
        .create_table()
        .table_name("images")
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    dynamodb
        .put_item()
        .table_name("images")
        .item("id", AttributeValue::S("img-1".into()))
        .item("title", AttributeValue::S("a cat".into()))
        .send()
        .await
        .unwrap();
    let item = dynamodb
        .get_item()
        .table_name("images")
        .key("id", AttributeValue::S("img-1".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["title"], AttributeValue::S("a cat".into()));

    // A conditional write that must fail does fail: moto enforces it, and the SDK surfaces it.
    let conflict = dynamodb
        .put_item()
        .table_name("images")
        .item("id", AttributeValue::S("img-1".into()))
        .condition_expression("attribute_not_exists(id)")
        .send()
        .await;
    assert!(conflict.is_err());

    moto.reset().await.unwrap();
    let tables = dynamodb.list_tables().send().await.unwrap();
    assert!(
        tables.table_names().is_empty(),
        "reset should wipe every table: {tables:?}"
    );
}

#[tokio::test]
async fn the_server_stops_when_dropped() {
    let moto = MotoServer::start().await.unwrap();
    let address = moto.endpoint_url().trim_start_matches("http://").to_owned();
    drop(moto);
    assert!(
        tokio::net::TcpStream::connect(&address).await.is_err(),
        "moto still answers on {address}"
    );
}

#[tokio::test]
async fn a_missing_moto_names_the_install_command() {
    let error = MotoServer::start_program("/nonexistent/moto_server")
        .await
        .unwrap_err();
    assert!(matches!(error, MotoError::NotInstalled { .. }), "{error:?}");
    assert!(error.to_string().contains(INSTALL_COMMAND), "{error}");
    assert!(INSTALL_COMMAND.contains("moto[server]"));
}

#[tokio::test]
async fn s3_uses_path_style_addressing_against_the_loopback_endpoint() {
    // Virtual-hosted addressing would send `bucket.127.0.0.1`, which does not resolve: a round trip
    // proves the shared SdkConfig gives path-style requests without any S3-specific setting.
    let moto = MotoServer::start().await.unwrap();
    let s3 = aws_sdk_s3::Client::new(moto.sdk_config());
    s3.create_bucket().bucket("uploads").send().await.unwrap();
    s3.put_object()
        .bucket("uploads")
        .key("cats/1.jpg")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(
            b"not really a jpeg",
        ))
        .send()
        .await
        .unwrap();
    let object = s3
        .get_object()
        .bucket("uploads")
        .key("cats/1.jpg")
        .send()
        .await
        .unwrap();
    let bytes = object.body.collect().await.unwrap().into_bytes();
    assert_eq!(&bytes[..], b"not really a jpeg");
}

#[tokio::test]
async fn a_lambda_function_is_created_from_a_stored_zip_with_a_created_role() {
    let moto = MotoServer::start().await.unwrap();
    moto.disable_lambda_docker().await.unwrap();
    let role = moto.create_iam_role("lambda-role").await.unwrap();
    assert_eq!(role, "arn:aws:iam::123456789012:role/lambda-role");

    let lambda = aws_sdk_lambda::Client::new(moto.sdk_config());
    let code = stored_zip(
        "index.py",
        b"def handler(event, context):\n    return event\n",
    );
    let created = lambda
        .create_function()
        .function_name("echo")
        .runtime(Runtime::Python312)
        .role(&role)
        .handler("index.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(code)).build())
        .send()
        .await
        .unwrap();
    assert_eq!(created.role(), Some(role.as_str()));
    let function = lambda
        .get_function()
        .function_name("echo")
        .send()
        .await
        .unwrap();
    let configuration = function.configuration().unwrap();
    assert_eq!(configuration.handler(), Some("index.handler"));
    assert_eq!(configuration.role(), Some(role.as_str()));

    // Without Docker, moto echoes the payload: the function exists and is invocable.
    let invoked = lambda
        .invoke()
        .function_name("echo")
        .payload(Blob::new(&br#"{"order":"1"}"#[..]))
        .send()
        .await
        .unwrap();
    assert_eq!(invoked.status_code(), 200);
    assert_eq!(invoked.payload().unwrap().as_ref(), br#"{"order":"1"}"#);
}

#[tokio::test]
async fn a_refused_role_is_an_error_carrying_motos_answer() {
    let moto = MotoServer::start().await.unwrap();
    moto.create_iam_role("taken").await.unwrap();
    let error = moto.create_iam_role("taken").await.unwrap_err();
    assert!(matches!(error, MotoError::Service { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("iam:CreateRole"), "{message}");
    assert!(message.contains("EntityAlreadyExists"), "{message}");
}
