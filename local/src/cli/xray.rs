//! `lamina-local xray`: the X-Ray daemon stand-in on its own.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use aws_config::BehaviorVersion;
use clap::Args as ClapArgs;
use lamina_local::xray::{CollectorConfig, DEFAULT_DAEMON_ADDRESS, XrayCollector};

use super::{EXIT_OK, Failure, start_collector};

const WATERFALL_WIDTH: usize = 100;
const REJECTION_POLL: Duration = Duration::from_millis(200);

#[derive(Debug, ClapArgs)]
pub(crate) struct XrayArgs {
    /// Where to listen for segment documents (UDP).
    #[arg(long, default_value_t = DEFAULT_DAEMON_ADDRESS, value_name = "ADDR")]
    listen: SocketAddr,
    /// Forward accepted documents to this PutTraceSegments endpoint (for example a moto server),
    /// with credentials and region from the standard AWS configuration chain.
    #[arg(long, value_name = "URL")]
    forward_endpoint: Option<String>,
}

pub(crate) async fn run(args: XrayArgs) -> Result<u8, Failure> {
    let mut config = CollectorConfig::new().bind(args.listen);
    if let Some(endpoint) = &args.forward_endpoint {
        let sdk_config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .load()
            .await;
        config = config.forward_to(&sdk_config);
    }
    let collector = start_collector(config).await?;
    eprintln!(
        "X-Ray daemon stand-in listening on {} (set AWS_XRAY_DAEMON_ADDRESS={}); Ctrl-C to stop.",
        collector.local_addr(),
        collector.daemon_address()
    );
    print_completed_traces(&collector);
    let mut shown = 0;
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            signal = &mut stop => {
                signal.context("waiting for Ctrl-C").map_err(Failure::environment)?;
                break;
            }
            () = tokio::time::sleep(REJECTION_POLL) => {
                let rejections = collector.rejections();
                for rejection in rejections.iter().skip(shown) {
                    eprintln!("rejected: {rejection}");
                }
                shown = rejections.len();
            }
        }
    }
    collector.shutdown().await;
    let stats = collector.stats();
    eprintln!(
        "received {}, accepted {}, rejected {}, forwarded {}, forward failures {}",
        stats.received, stats.accepted, stats.rejected, stats.forwarded, stats.forward_failed
    );
    Ok(EXIT_OK)
}

/// Prints each trace's waterfall to stderr as it completes.
pub(crate) fn print_completed_traces(collector: &XrayCollector) {
    let mut completed = collector.subscribe();
    tokio::spawn(async move {
        loop {
            match completed.recv().await {
                Ok(trace) => eprintln!("{}", trace.render_waterfall(WATERFALL_WIDTH)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    eprintln!("({missed} traces completed faster than they could be printed)");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}
