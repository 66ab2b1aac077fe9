//! lamina-local's integration tests: one module per behaviour, all against real processes, real
//! sockets and a real moto server on loopback.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod apigw;
mod asynchronous;
mod bench;
mod cli;
mod cli_cases;
mod emulator;
mod invoke_endpoint;
mod moto;
mod multi_concurrency;
mod scale_out;
mod shutdown;
mod support;
mod xray;
