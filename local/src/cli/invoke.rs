//! `lamina-local invoke`: one or more invocations, with the response on stdout and the REPORT line
//! and trace waterfall on stderr.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use clap::{Args as ClapArgs, ValueEnum};
use lamina_local::emulator::{Emulator, InvocationReport, InvocationRequest};
use lamina_local::trace_header::TraceHeader;
use lamina_local::xray::XrayCollector;
use tokio::task::JoinSet;

use super::summary::Summary;
use super::{EXIT_FUNCTION_FAILED, EXIT_OK, Failure, FunctionArgs, XrayArgs};

/// How long to wait for a trace to complete after its invocation returned.
const TRACE_WAIT: Duration = Duration::from_secs(2);
/// The waterfall's width in columns.
const WATERFALL_WIDTH: usize = 100;

#[derive(Debug, ClapArgs)]
pub(crate) struct InvokeArgs {
    #[command(flatten)]
    function: FunctionArgs,
    #[command(flatten)]
    xray: XrayArgs,
    /// A file holding the event (JSON); `-` reads standard input. Default: `{}`.
    #[arg(long, value_name = "FILE", conflicts_with = "payload")]
    event: Option<PathBuf>,
    /// The event, inline (JSON).
    #[arg(long, value_name = "JSON")]
    payload: Option<String>,
    /// The X-Amzn-Trace-Id to invoke with (default: a fresh sampled one).
    #[arg(long, value_name = "HEADER")]
    trace_header: Option<String>,
    /// The client context to pass (a JSON object).
    #[arg(long, value_name = "JSON")]
    client_context: Option<String>,
    /// Invoke this many times, --concurrency at a time (one at a time: the first is a cold start,
    /// the rest are warm). With more than one, a summary of cold and warm starts and latency
    /// percentiles follows on stderr.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    repeat: u32,
    /// text: the response on stdout, the REPORT line and trace on stderr. json: one report per line on stdout.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

pub(crate) async fn run(args: InvokeArgs) -> Result<u8, Failure> {
    // Read and check the input before anything is built or spawned.
    let payload =
        read_event(args.event.as_ref(), args.payload.as_deref()).map_err(Failure::input)?;
    let mut request = InvocationRequest::new(payload);
    if let Some(header) = &args.trace_header {
        TraceHeader::parse(header)
            .context("--trace-header")
            .map_err(Failure::input)?;
        request = request.trace_header(header.clone());
    }
    if let Some(context) = &args.client_context {
        request = request.client_context(context.clone());
    }
    let mut config = args.function.config()?;
    let collector = args.xray.start().await?;
    if let Some(collector) = &collector {
        config = config.xray_daemon(collector.daemon_address());
    }
    let emulator = Emulator::start(config)
        .await
        .map_err(Failure::from_emulator)?;

    // As many callers as the function's environments can serve at once: a burst that scales out.
    let per_environment = emulator.config().max_invocations_per_environment();
    let callers = args
        .function
        .concurrency
        .unwrap_or(1)
        .saturating_mul(per_environment)
        .min(args.repeat as usize);
    // With several invocations per environment, callers that arrive while an environment is still
    // in init wait for room in it rather than being throttled.
    let wait_for_room = per_environment > 1;
    let mut summary = Summary::new(callers);
    let mut in_flight = JoinSet::new();
    let mut exit = EXIT_OK;
    for started in 0..args.repeat {
        let emulator = emulator.clone();
        let request = request.clone();
        in_flight.spawn(async move {
            let called = Instant::now();
            let report = if wait_for_room {
                emulator.invoke_queued(request).await
            } else {
                emulator.invoke(request).await
            };
            (report, called.elapsed())
        });
        // Keep `callers` invocations in flight; collect one before starting another.
        if in_flight.len() < callers && started + 1 < args.repeat {
            continue;
        }
        while let Some(joined) = in_flight.join_next().await {
            let (report, latency) = joined
                .context("an invocation task failed")
                .map_err(Failure::environment)?;
            let report = report.map_err(Failure::from_emulator)?;
            if !report.outcome.is_success() {
                exit = EXIT_FUNCTION_FAILED;
            }
            summary.add(&report, latency);
            print_report(&report, args.output)?;
            if let (Some(collector), Output::Text, 1) = (&collector, args.output, callers) {
                print_trace(collector, &report).await;
            }
            if started + 1 < args.repeat {
                break;
            }
        }
    }
    if args.repeat > 1 {
        eprint!("{summary}");
    }
    emulator.shutdown().await;
    if let Some(collector) = collector {
        for rejection in collector.rejections() {
            eprintln!("X-Ray rejected a document: {rejection}");
        }
        collector.shutdown().await;
    }
    Ok(exit)
}

fn read_event(file: Option<&PathBuf>, inline: Option<&str>) -> anyhow::Result<Vec<u8>> {
    let (bytes, source) = match (file, inline) {
        (Some(path), _) if path.as_os_str() == "-" => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
                .context("cannot read the event from stdin")?;
            (bytes, "the event on stdin".to_owned())
        }
        (Some(path), _) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read the event file {}", path.display()))?;
            (bytes, format!("the event file {}", path.display()))
        }
        (None, Some(text)) => (text.as_bytes().to_vec(), "--payload".to_owned()),
        (None, None) => (b"{}".to_vec(), String::new()),
    };
    if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
        return Err(anyhow!("{source} is not valid JSON: {error}"));
    }
    Ok(bytes)
}

fn print_report(report: &InvocationReport, output: Output) -> Result<(), Failure> {
    match output {
        Output::Json => {
            let line = serde_json::to_string(report)
                .context("serialising the report")
                .map_err(Failure::environment)?;
            println!("{line}");
        }
        Output::Text => {
            match report.outcome.error_body(&report.request_id) {
                None => println!("{}", report.outcome),
                Some(error) => println!("{error}"),
            }
            eprintln!("{report}");
        }
    }
    Ok(())
}

async fn print_trace(collector: &XrayCollector, report: &InvocationReport) {
    let Ok(header) = TraceHeader::parse(&report.trace_header) else {
        return;
    };
    if !header.is_sampled() {
        return;
    }
    match collector.wait_for_trace(&header.root, TRACE_WAIT).await {
        Ok(trace) => eprintln!("{}", trace.render_waterfall(WATERFALL_WIDTH)),
        Err(error) => eprintln!("trace {}: {error}", header.root),
    }
}
