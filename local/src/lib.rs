//! The AWS Lambda platform on loopback: what AWS's Runtime Interface Emulator, the X-Ray daemon and a
//! local AWS endpoint give a Lambda developer, as a library that tests and benchmarks drive.
//!
//! - [`apigw`]: a stand-in for API Gateway's REST API (Lambda proxy integration) in front of emulated
//!   functions, like `sam local start-api`: HTTP requests in, proxy events to the function, its
//!   proxy responses out, with API Gateway's own 502/504/413 answers and the trace header passed on.
//! - [`emulator`]: the Lambda Runtime API. It spawns a function's bootstrap executable with the
//!   environment Lambda gives it, hands it invocations, enforces the timeout and reports what Lambda's
//!   `REPORT` line reports (init duration, duration, billed duration, max memory used).
//! - [`xray`]: a stand-in for the X-Ray daemon. It receives segment documents over UDP, validates them
//!   strictly, assembles them into traces and can forward them to a `PutTraceSegments` endpoint.
//! - [`moto`]: a fixture that runs `moto_server` on 127.0.0.1 and hands out an
//!   [`aws_config::SdkConfig`] pointing at it, so tests use the real AWS SDK without AWS; it also
//!   makes the IAM role and the ZIP package a Lambda function in moto needs.
//! - [`mod@bench`]: cold-start benchmarks of your own functions (init, first response, warm invocation,
//!   peak memory, executable size), round-robin, with a baseline; criterion benchmarks with the
//!   `criterion` feature.
//! - [`opensearch`]: a stand-in for an OpenSearch Service domain (moto has no search engine):
//!   index, document and `match` search APIs over HTTP, every request's SigV4 signature checked.
//!
//! ```no_run
//! use lamina_local::emulator::{Emulator, FunctionConfig};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let emulator = Emulator::start(FunctionConfig::new("target/debug/my-function")).await?;
//! let report = emulator.invoke(br#"{"name":"world"}"#.to_vec()).await?;
//! println!("{}", report.outcome);
//! println!("{report}"); // REPORT RequestId: ... Duration: ... Init Duration: ...
//! # Ok(())
//! # }
//! ```

pub mod apigw;
pub mod bench;
pub mod cargo_build;
pub mod emulator;
mod loopback_http;
pub mod moto;
pub mod opensearch;
pub mod trace_header;
pub mod xray;
