//! lamina-middleware's integration tests: one module per middleware, driven with real requests.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod auth;
mod context;
mod cors;
mod errors;
mod init;
mod secrets;
mod stack;
mod validation;
