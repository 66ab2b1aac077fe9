//! lamina-tracing's integration tests: one module per capability, each behind its feature.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

#[cfg(feature = "aws-sdk")]
mod aws_sdk;
#[cfg(feature = "aws-sdk")]
mod aws_sdk_messaging;
#[cfg(feature = "http")]
mod centralized_sampling;
#[cfg(all(feature = "aws-sdk", feature = "http"))]
mod end_to_end;
#[cfg(feature = "http")]
mod http;
#[cfg(feature = "logs")]
mod logs;
#[cfg(feature = "metrics")]
mod metrics;
#[cfg(feature = "aws-sdk")]
mod orders_table;
#[cfg(all(feature = "otel", feature = "xray"))]
mod otel;
#[cfg(all(feature = "otel", feature = "xray"))]
mod otel_otlp;
#[cfg(feature = "aws-sdk")]
mod relay;
#[cfg(feature = "xray")]
mod xray;
