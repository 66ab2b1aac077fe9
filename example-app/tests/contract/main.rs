//! Udagram's black-box proof: the API contract, bad input, SIGKILL durability and graceful
//! shutdown, all spoken over HTTP to a running `udagram serve` process.
//!
//! The contract cases (`suite/`) take any [`target::Target`]; `against_serve` runs them on
//! [`serve::Serve`], and `against_lambda` on [`lambda::LambdaStack`]: the Lambda handlers under
//! `lamina-local`'s emulator with the AWS adapters on moto.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod client;
mod fixtures;
mod lambda;
mod serve;
mod serve_only;
mod suite;
mod target;

/// The contract against `udagram serve` on a fresh data directory per case.
mod against_serve {
    crate::suite::contract_suite!(crate::serve::Serve::start);
}

/// The same contract against the Lambda functions under `lamina-local`'s emulator, behind the
/// REST API stand-in, with the AWS adapters on moto, one fresh stack per case.
mod against_lambda {
    crate::suite::contract_suite!(crate::lambda::LambdaStack::start);
}
