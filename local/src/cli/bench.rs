//! `lamina-local bench`: the cold-start benchmark of [`lamina_local::bench`] without writing Rust.
//! Samples round-robin over the functions, then the table (or JSON) on stdout.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args as ClapArgs, ValueEnum};
use lamina_local::bench::{BenchError, BenchFunction, ColdStartBench, Fixture, MIN_SAMPLES};

use super::{
    EXIT_BAD_INPUT, EXIT_ENVIRONMENT, EXIT_FUNCTION_FAILED, EXIT_OK, Failure, parse_key_value,
};

#[derive(Debug, ClapArgs)]
pub(crate) struct BenchArgs {
    /// A function's bootstrap executable: a binary or a script (repeatable; labelled by its file
    /// name, or its folder's name for a file called `bootstrap`).
    #[arg(
        long = "bin",
        value_name = "PATH",
        required_unless_present = "packages"
    )]
    bins: Vec<PathBuf>,
    /// A workspace package whose binary is built in release and benchmarked (repeatable).
    #[arg(long = "package", value_name = "NAME")]
    packages: Vec<String>,
    /// A file holding the event (JSON) every function is sent. Default: `{}`.
    #[arg(long, value_name = "FILE")]
    event: Option<PathBuf>,
    /// Fresh processes per function, started round-robin after one discarded round.
    #[arg(long, default_value_t = 20, value_name = "N", value_parser = parse_samples)]
    samples: usize,
    /// The function every other one is compared with (its label: file name, folder name or package).
    #[arg(long, value_name = "LABEL")]
    baseline: Option<String>,
    /// `_HANDLER` for every function (for example `handler.handler` for Python's awslambdaric).
    #[arg(long, value_name = "HANDLER")]
    handler: Option<String>,
    /// An environment variable for every function, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    env: Vec<(String, String)>,
    /// Start moto_server on loopback and point the functions' AWS SDK at it.
    #[arg(long)]
    moto: bool,
    /// Start the X-Ray daemon stand-in and turn active tracing on.
    #[arg(long)]
    xray: bool,
    /// Serve a JWKS document and give its URL to the functions: VARIABLE=FILE.
    #[arg(long, value_name = "VARIABLE=FILE", value_parser = parse_key_value)]
    jwks: Option<(String, String)>,
    /// The memory configured for each function, in MB.
    #[arg(long, default_value_t = 1024, value_name = "MB")]
    memory: u32,
    /// The init and invocation timeout, in seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    timeout: f64,
    /// text: the table. json: the results with every sample (the format `--save` writes).
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Also write the JSON results to this file.
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

pub(crate) async fn run(args: BenchArgs) -> Result<u8, Failure> {
    if !(args.timeout > 0.0 && args.timeout <= 900.0) {
        return Err(Failure::input(anyhow::anyhow!(
            "--timeout must be between 0 and 900 seconds, got {}",
            args.timeout
        )));
    }
    if !(128..=10_240).contains(&args.memory) {
        return Err(Failure::input(anyhow::anyhow!(
            "--memory must be between 128 and 10240 MB, got {}",
            args.memory
        )));
    }
    let mut bench = ColdStartBench::new("lamina-local bench")
        .samples(args.samples)
        .memory_mb(args.memory)
        .timeout(Duration::from_secs_f64(args.timeout))
        .envs(args.env.iter().cloned());
    let functions = args
        .bins
        .iter()
        .map(BenchFunction::path)
        .chain(args.packages.iter().map(BenchFunction::package));
    for mut function in functions {
        if let Some(handler) = &args.handler {
            function = function.handler(handler);
        }
        bench = bench.function(function);
    }
    if let Some(event) = &args.event {
        bench = bench.event_file(event);
    }
    if let Some(baseline) = &args.baseline {
        bench = bench.baseline(baseline);
    }
    if args.moto {
        bench = bench.fixture(Fixture::moto());
    }
    if args.xray {
        bench = bench.fixture(Fixture::xray_daemon());
    }
    if let Some((variable, file)) = &args.jwks {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("could not read the JWKS file {file}"))
            .map_err(Failure::input)?;
        let document = serde_json::from_str(&text)
            .with_context(|| format!("the JWKS file {file} is not valid JSON"))
            .map_err(Failure::input)?;
        bench = bench.fixture(Fixture::jwks(variable, document));
    }

    let prepared = bench.prepare().await.map_err(failure)?;
    eprintln!(
        "taking {} samples of {} function(s), round-robin, after one discarded round...",
        prepared.samples(),
        prepared.labels().len()
    );
    let outcome = prepared.run_rounds(prepared.samples(), true).await;
    prepared.shutdown().await;
    let results = outcome.map_err(failure)?;
    if let Some(path) = &args.save {
        results.save(path).map_err(failure)?;
    }
    match args.output {
        Output::Text => print!("{results}"),
        Output::Json => println!("{:#}", results.to_json()),
    }
    Ok(EXIT_OK)
}

fn failure(error: BenchError) -> Failure {
    let exit_code = if error.is_function_failure() {
        EXIT_FUNCTION_FAILED
    } else if error.is_input_error() {
        EXIT_BAD_INPUT
    } else {
        EXIT_ENVIRONMENT
    };
    Failure {
        error: error.into(),
        exit_code,
    }
}

fn parse_samples(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (MIN_SAMPLES..=10_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a number of samples from {MIN_SAMPLES} to 10000, got {text:?}"
        )),
    }
}
