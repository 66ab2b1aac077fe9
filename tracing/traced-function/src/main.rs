//! A `lambda_runtime` function traced with `lamina-tracing`'s native X-Ray layers.
//!
//! Events (JSON objects):
//! - `{"order": "ID"}`: loads the order inside a `load_order` span (annotated `order_id`) with a
//!   nested `orders-table` span, and answers `{"order": "ID", "total": 42}`.
//! - `{"order": "ID", "fail": true}`: the same, then returns an error `order ID failed`.
//! - `{"order": "ID", "store": true}`: also writes the order to the DynamoDB table `TRACED_TABLE`
//!   and a receipt to the S3 bucket `TRACED_BUCKET`, through SDK clients with `XrayInterceptor`.
//! - `{"order": "ID", "notify": "URL"}`: also GETs the URL through an HTTP client with
//!   `XrayHttpClientLayer`, and reports the status.
//!
//! The X-Ray daemon address comes from `AWS_XRAY_DAEMON_ADDRESS`, as Lambda (and the emulator's
//! `xray_daemon`) set it.

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use lamina_tracing::aws_sdk::XrayInterceptor;
use lamina_tracing::http::XrayHttpClientLayer;
use lamina_tracing::xray::{XrayLambdaLayer, XrayLayer};
use serde_json::{Value, json};
use tower::ServiceExt as _;
use tracing::Instrument as _;
use tracing_subscriber::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::registry()
        .with(XrayLayer::from_env()?)
        .init();
    let sdk_config = aws_config::load_from_env().await;
    let clients = Clients {
        dynamodb: aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk_config)
                .interceptor(XrayInterceptor::new())
                .build(),
        ),
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk_config)
                .interceptor(XrayInterceptor::new())
                .force_path_style(true)
                .build(),
        ),
    };
    let handler = tower::ServiceBuilder::new()
        .layer(XrayLambdaLayer::new().service("traced"))
        .service(service_fn(move |event| handle(event, clients.clone())));
    lambda_runtime::run(handler).await
}

#[derive(Clone)]
struct Clients {
    dynamodb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
}

async fn handle(event: LambdaEvent<Value>, clients: Clients) -> Result<Value, Error> {
    let order = event.payload["order"].as_str().unwrap_or("none").to_owned();
    let total = load_order(&order).await;
    if event.payload["fail"].as_bool() == Some(true) {
        return Err(format!("order {order} failed").into());
    }
    if event.payload["store"].as_bool() == Some(true) {
        store(&clients, &order).await?;
    }
    let mut answer = json!({ "order": order, "total": total });
    if let Some(url) = event.payload["notify"].as_str() {
        answer["notified"] = json!(notify(url).await?);
    }
    Ok(answer)
}

/// Writes the order to DynamoDB and its receipt to S3: two `aws` subsegments.
async fn store(clients: &Clients, order: &str) -> Result<(), Error> {
    let table = std::env::var("TRACED_TABLE")?;
    let bucket = std::env::var("TRACED_BUCKET")?;
    clients
        .dynamodb
        .put_item()
        .table_name(table)
        .item(
            "id",
            aws_sdk_dynamodb::types::AttributeValue::S(order.to_owned()),
        )
        .send()
        .await?;
    clients
        .s3
        .put_object()
        .bucket(bucket)
        .key(format!("receipts/{order}.json"))
        .body(aws_sdk_s3::primitives::ByteStream::from(
            format!("{{\"order\":\"{order}\"}}").into_bytes(),
        ))
        .send()
        .await?;
    Ok(())
}

/// GETs `url` through a traced HTTP client: a `remote` subsegment.
async fn notify(url: &str) -> Result<u16, Error> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let traced = tower::ServiceBuilder::new()
        .layer(XrayHttpClientLayer::new())
        .service(client);
    let request = http::Request::get(url).body(Empty::new())?;
    let response = traced.oneshot(request).await?;
    Ok(response.status().as_u16())
}

#[tracing::instrument(fields(annotation.order_id = %order))]
async fn load_order(order: &str) -> u64 {
    let query = tracing::info_span!(
        "query",
        xray.name = "orders-table",
        http.status_code = 200_u64
    );
    async { tokio::task::yield_now().await }
        .instrument(query)
        .await;
    42
}
