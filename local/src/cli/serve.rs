//! `lamina-local serve`: Lambda's Invoke API for one function, until Ctrl-C.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Args as ClapArgs;
use lamina_local::emulator::{Emulator, InvokeEndpoint};

use super::{EXIT_OK, Failure, FunctionArgs, XrayArgs};

#[derive(Debug, ClapArgs)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    function: FunctionArgs,
    #[command(flatten)]
    xray: XrayArgs,
    /// Where the Invoke API listens.
    #[arg(long, default_value = "127.0.0.1:9000", value_name = "ADDR")]
    listen: SocketAddr,
}

pub(crate) async fn run(args: ServeArgs) -> Result<u8, Failure> {
    let mut config = args.function.config()?;
    let collector = args.xray.start().await?;
    if let Some(collector) = &collector {
        config = config.xray_daemon(collector.daemon_address());
        super::xray::print_completed_traces(collector);
        eprintln!("X-Ray daemon stand-in on {}", collector.daemon_address());
    }
    let emulator = Emulator::start(config)
        .await
        .map_err(Failure::from_emulator)?;
    let endpoint = InvokeEndpoint::bind(emulator.clone(), args.listen)
        .await
        .map_err(Failure::from_emulator)?;
    eprintln!("Invoke API: curl -d '{{}}' {}", endpoint.invocations_url());
    eprintln!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")
        .map_err(Failure::environment)?;
    endpoint.shutdown().await;
    emulator.shutdown().await;
    if let Some(collector) = collector {
        collector.shutdown().await;
    }
    Ok(EXIT_OK)
}
