//! lamina-middleware's integration tests: one module per middleware, each behind its feature,
//! driven with real requests.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

#[cfg(feature = "auth")]
mod auth;
#[cfg(feature = "context")]
mod context;
#[cfg(feature = "cors")]
mod cors;
#[cfg(feature = "errors")]
mod errors;
#[cfg(all(feature = "init", feature = "context"))]
mod init;
#[cfg(feature = "secrets")]
mod secrets;
#[cfg(all(
    feature = "auth",
    feature = "cors",
    feature = "secrets",
    feature = "init",
    feature = "validation"
))]
mod stack;
#[cfg(feature = "validation")]
mod validation;
