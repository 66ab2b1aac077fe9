//! tower layers for AWS Lambda HTTP functions (in progress).

#[cfg(feature = "auth")]
pub mod auth;
#[cfg(feature = "context")]
pub mod context;
#[cfg(feature = "cors")]
pub mod cors;
#[cfg(feature = "errors")]
pub mod errors;
#[cfg(feature = "init")]
pub mod init;
#[cfg(feature = "secrets")]
pub mod secrets;
#[cfg(feature = "validation")]
pub mod validation;
