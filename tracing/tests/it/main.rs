//! lamina-tracing's integration tests: one module per capability.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

#[cfg(feature = "aws-sdk")]
mod aws_sdk;
#[cfg(feature = "http")]
mod http;
mod logs;
mod metrics;
mod xray;
