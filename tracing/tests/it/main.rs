//! lamina-tracing's integration tests: one module per capability.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod logs;
mod metrics;
mod xray;
