//! Cold-start variant 1: the bare `lambda_runtime` + `lambda_http` function every Lamina variant is
//! compared with. It answers every API Gateway request with the benchmarks' JSON body.

use lambda_http::{Body, Error, Request, Response, service_fn};

/// The body every cold-start variant answers with (`lamina_bench::cold_start::EXPECTED_BODY`).
const BODY: &str = r#"{"message":"hello from lamina-bench"}"#;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_request: Request| async {
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(BODY))
            .map_err(Error::from)
    }))
    .await
}
