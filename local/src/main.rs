//! `lamina-local`: run a Lambda function binary on this machine under the Runtime API emulator, with
//! an X-Ray daemon stand-in that prints each invocation's trace.
//!
//! Exit codes: 0 success; 1 an invocation failed (handler error, crash, timeout, init failure);
//! 2 bad input (arguments, a missing binary, an unreadable or malformed event); 3 the machine refused
//! (a port in use, a build that failed, a process that could not start).

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
            return ExitCode::from(cli::EXIT_ENVIRONMENT);
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("error: {:#}", failure.error);
            ExitCode::from(failure.exit_code)
        }
    }
}
