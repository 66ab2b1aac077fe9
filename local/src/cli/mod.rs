//! The command line: argument definitions, shared set-up, and exit codes.

mod bench;
mod invoke;
mod serve;
mod summary;
mod xray;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args as ClapArgs, Parser, Subcommand};
use lamina_local::cargo_build::{BinaryBuild, Profile};
use lamina_local::emulator::{EmulatorError, FunctionConfig, LogFormat};
use lamina_local::xray::{CollectorConfig, XrayCollector};

/// Every invocation succeeded.
pub(crate) const EXIT_OK: u8 = 0;
/// An invocation failed: handler error, crash, timeout or init failure.
pub(crate) const EXIT_FUNCTION_FAILED: u8 = 1;
/// Bad input: arguments, a missing binary, an unreadable or malformed event.
pub(crate) const EXIT_BAD_INPUT: u8 = 2;
/// The machine refused: a port in use, a failed build, a process that could not start.
pub(crate) const EXIT_ENVIRONMENT: u8 = 3;

/// Run AWS Lambda functions on this machine: the Runtime API, Lambda's Invoke API and an X-Ray daemon, on loopback.
#[derive(Debug, Parser)]
#[command(
    name = "lamina-local",
    version,
    about,
    after_help = "Exit codes: 0 success; 1 an invocation failed (handler error, crash, timeout, init failure); \
                  2 bad input (arguments, a missing binary, an unreadable or malformed event); \
                  3 the machine refused (a port in use, a failed build, a process that could not start)."
)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Benchmark functions' cold starts: init, first response, warm invocation and peak memory, with ratios to a baseline.
    Bench(bench::BenchArgs),
    /// Invoke a function with an event and print its response, its REPORT line and its trace.
    Invoke(invoke::InvokeArgs),
    /// Serve Lambda's Invoke API (the Runtime Interface Emulator's path) for a function until Ctrl-C.
    Serve(serve::ServeArgs),
    /// Run the X-Ray daemon stand-in alone: print each trace as it completes and each rejected document.
    Xray(xray::XrayArgs),
}

/// A failure with the exit code it deserves.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: anyhow::Error,
    pub(crate) exit_code: u8,
}

impl Failure {
    pub(crate) fn input(error: anyhow::Error) -> Self {
        Self {
            error,
            exit_code: EXIT_BAD_INPUT,
        }
    }

    pub(crate) fn environment(error: anyhow::Error) -> Self {
        Self {
            error,
            exit_code: EXIT_ENVIRONMENT,
        }
    }

    /// An emulator error is the caller's fault (bad input) or the machine's.
    pub(crate) fn from_emulator(error: EmulatorError) -> Self {
        if error.is_caller_error() {
            Self::input(error.into())
        } else {
            Self::environment(error.into())
        }
    }
}

/// Runs the parsed command and returns its exit code.
pub(crate) async fn run(args: Args) -> Result<u8, Failure> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LAMINA_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    match args.command {
        Command::Bench(args) => bench::run(args).await,
        Command::Invoke(args) => invoke::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Xray(args) => xray::run(args).await,
    }
}

/// Which function to run and how Lambda would configure it.
#[derive(Debug, ClapArgs)]
pub(crate) struct FunctionArgs {
    /// The function's bootstrap executable.
    #[arg(
        long = "bin",
        value_name = "PATH",
        conflicts_with = "package",
        required_unless_present = "package"
    )]
    executable: Option<PathBuf>,
    /// Build this workspace package with cargo and run its binary.
    #[arg(long, value_name = "NAME")]
    package: Option<String>,
    /// With --package: build with the release profile.
    #[arg(long, requires = "package")]
    release: bool,
    /// The function name (default: the executable's file name).
    #[arg(long)]
    function_name: Option<String>,
    /// The function timeout in seconds.
    #[arg(long, default_value_t = 3.0, value_name = "SECONDS")]
    timeout: f64,
    /// The configured memory in MB.
    #[arg(long, default_value_t = 128, value_name = "MB")]
    memory: u32,
    /// Ask the runtime for JSON logs (AWS_LAMBDA_LOG_FORMAT=JSON).
    #[arg(long)]
    json_logs: bool,
    /// Give the function this shell's whole environment too (Lambda gives it only its own variables).
    #[arg(long)]
    inherit_env: bool,
    /// An environment variable for the function, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    env: Vec<(String, String)>,
    /// How many execution environments may run at once; more concurrent requests are throttled
    /// [default: 10]. `invoke` runs this many invocations at a time [default: 1].
    #[arg(long, value_name = "N", value_parser = parse_concurrency)]
    pub(crate) concurrency: Option<usize>,
    /// How many invocations one execution environment may serve at once, as on Lambda Managed
    /// Instances: the runtime is told in AWS_LAMBDA_MAX_CONCURRENCY [default: 1].
    #[arg(long, value_name = "N", value_parser = parse_per_environment_concurrency)]
    per_environment_concurrency: Option<usize>,
    /// How long an idle execution environment is kept before it is shut down, e.g. 30s or 5m.
    #[arg(long, default_value = "10m", value_name = "DURATION", value_parser = humantime::parse_duration)]
    idle_timeout: Duration,
}

impl FunctionArgs {
    /// Resolves the executable (building it if asked) and the function configuration.
    pub(crate) fn config(&self) -> Result<FunctionConfig, Failure> {
        let executable = match (&self.executable, &self.package) {
            (Some(path), _) => path.clone(),
            (None, Some(package)) => {
                let profile = if self.release {
                    Profile::Release
                } else {
                    Profile::Dev
                };
                eprintln!("building {package} ({profile:?})...");
                BinaryBuild::new(package)
                    .profile(profile)
                    .build()
                    .map_err(|e| Failure::environment(e.into()))?
            }
            (None, None) => {
                return Err(Failure::input(anyhow::anyhow!(
                    "give --bin PATH or --package NAME"
                )));
            }
        };
        if !(self.timeout > 0.0 && self.timeout <= 900.0) {
            return Err(Failure::input(anyhow::anyhow!(
                "--timeout must be between 0 and 900 seconds, got {}",
                self.timeout
            )));
        }
        if !(128..=10_240).contains(&self.memory) {
            return Err(Failure::input(anyhow::anyhow!(
                "--memory must be between 128 and 10240 MB, got {}",
                self.memory
            )));
        }
        let mut config = FunctionConfig::new(executable)
            .timeout(Duration::from_secs_f64(self.timeout))
            .memory_mb(self.memory)
            .envs(self.env.clone())
            .inherit_env(self.inherit_env)
            .concurrency(
                self.concurrency
                    .unwrap_or(lamina_local::emulator::DEFAULT_CONCURRENCY),
            )
            .per_environment_concurrency(self.per_environment_concurrency.unwrap_or(1))
            .idle_timeout(self.idle_timeout)
            .echo_logs(true);
        if let Some(name) = &self.function_name {
            config = config.function_name(name);
        }
        if self.json_logs {
            config = config.log_format(LogFormat::Json);
        }
        Ok(config)
    }
}

/// Where the X-Ray daemon stand-in listens, if it runs.
#[derive(Debug, ClapArgs)]
pub(crate) struct XrayArgs {
    /// Where the X-Ray daemon stand-in listens (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    xray_listen: SocketAddr,
    /// Do not run the X-Ray daemon stand-in or trace invocations.
    #[arg(long)]
    no_xray: bool,
}

impl XrayArgs {
    /// Starts the collector unless tracing is off.
    pub(crate) async fn start(&self) -> Result<Option<XrayCollector>, Failure> {
        if self.no_xray {
            return Ok(None);
        }
        start_collector(CollectorConfig::new().bind(self.xray_listen))
            .await
            .map(Some)
    }
}

pub(crate) async fn start_collector(config: CollectorConfig) -> Result<XrayCollector, Failure> {
    XrayCollector::start(config)
        .await
        .context("the X-Ray daemon stand-in could not start")
        .map_err(Failure::environment)
}

fn parse_concurrency(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=1000).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a number of environments from 1 to 1000, got {text:?}"
        )),
    }
}

fn parse_per_environment_concurrency(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=1000).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a number of invocations per environment from 1 to 1000, got {text:?}"
        )),
    }
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}
