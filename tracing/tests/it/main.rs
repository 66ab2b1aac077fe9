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

/// A cold-start source of its own, for an on-demand environment: the first request id a test
/// shows it is cold, whatever other tests of this binary did before.
#[allow(dead_code)]
fn fresh_cold_start() -> lamina_tracing::cold_start::ColdStart {
    lamina_tracing::cold_start::ColdStart::for_initialization_type(Some("on-demand"))
}

/// A request id no other invocation in this test binary has, as Lambda gives each invocation.
#[allow(dead_code)]
fn unique_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("req-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}
