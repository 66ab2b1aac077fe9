//! `canary`: progressive delivery for AWS Lambda aliases.
//!
//! Exit codes: 0 the command did what was asked; 1 a rollout was rolled back or a promotion was
//! refused by its gates; 2 bad input (arguments, an unknown function, alias or version);
//! 3 AWS could not be reached or refused the call; 4 the alias's state forbids it (a rollout is
//! already in progress, none is, another controller won, or the alias was edited by hand).

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return ExitCode::from(cli::exit::AWS);
        }
    };
    ExitCode::from(runtime.block_on(cli::run(args)))
}
