//! A `lambda_runtime` function traced with `lamina-tracing`'s native X-Ray layers.
//!
//! Events (JSON objects):
//! - `{"order": "ID"}`: loads the order inside a `load_order` span (annotated `order_id`) with a
//!   nested `orders-table` span, and answers `{"order": "ID", "total": 42}`.
//! - `{"order": "ID", "fail": true}`: the same, then returns an error `order ID failed`.
//!
//! The X-Ray daemon address comes from `AWS_XRAY_DAEMON_ADDRESS`, as Lambda (and the emulator's
//! `xray_daemon`) set it.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use lamina_tracing::xray::{XrayLambdaLayer, XrayLayer};
use serde_json::{Value, json};
use tracing::Instrument as _;
use tracing_subscriber::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::registry()
        .with(XrayLayer::from_env()?)
        .init();
    let handler = tower::ServiceBuilder::new()
        .layer(XrayLambdaLayer::new().service("traced"))
        .service(service_fn(handle));
    lambda_runtime::run(handler).await
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let order = event.payload["order"].as_str().unwrap_or("none").to_owned();
    let total = load_order(&order).await;
    if event.payload["fail"].as_bool() == Some(true) {
        return Err(format!("order {order} failed").into());
    }
    Ok(json!({ "order": order, "total": total }))
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
