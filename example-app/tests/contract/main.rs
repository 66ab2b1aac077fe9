//! Udagram's black-box proof: the API contract, bad input, SIGKILL durability and graceful
//! shutdown, all spoken over HTTP to a running `udagram serve` process.
//!
//! The contract cases (`suite/`) take any [`target::Target`]; `against_serve` runs them on
//! [`serve::Serve`], and the Lambda handlers under `lamina-local` will run the very same list.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod client;
mod fixtures;
mod serve;
mod serve_only;
mod suite;
mod target;

/// The contract against `udagram serve` on a fresh data directory per case.
mod against_serve {
    crate::suite::contract_suite!(crate::serve::Serve::start);
}
