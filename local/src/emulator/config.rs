//! What the emulator needs to know about a function: its executable and the settings Lambda would have.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::asynchronous::AsyncConfig;

/// The largest payload Lambda accepts for a synchronous invocation or returns as a response: 6 MB.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// How many execution environments a function may run at once unless told otherwise: 10.
///
/// Lambda's own default is the account's unreserved concurrency (1,000 in most regions); 10 lets a test
/// see scale-out and throttling without starting hundreds of processes on a laptop.
pub const DEFAULT_CONCURRENCY: usize = 10;

/// How long an idle execution environment is kept warm unless told otherwise: 10 minutes.
///
/// Lambda does not document how long it keeps an idle environment; set what a test needs with
/// [`FunctionConfig::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// How long a runtime has between SIGTERM and SIGKILL unless told otherwise: 500 ms, what Lambda
/// gives a runtime with an internal extension.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// The log format Lambda announces to the runtime in `AWS_LAMBDA_LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Plain text lines (Lambda's default).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The value Lambda puts in `AWS_LAMBDA_LOG_FORMAT`.
    #[must_use]
    pub fn as_env_value(self) -> &'static str {
        match self {
            Self::Text => "Text",
            Self::Json => "JSON",
        }
    }
}

/// The largest response a function may stream (`Lambda-Runtime-Function-Response-Mode: streaming`): 20 MB.
pub const MAX_STREAMED_RESPONSE_BYTES: usize = 20 * 1024 * 1024;

/// How a function is run: the bootstrap executable and the configuration Lambda would apply to it.
///
/// Builder methods take `self` and return `Self`:
///
/// ```
/// use std::time::Duration;
/// use lamina_local::emulator::FunctionConfig;
///
/// let config = FunctionConfig::new("target/debug/bootstrap")
///     .function_name("orders-api")
///     .memory_mb(512)
///     .timeout(Duration::from_secs(10))
///     .env("TABLE_NAME", "orders");
/// assert_eq!(config.name(), "orders-api");
/// ```
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    pub(crate) executable: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) function_name: String,
    pub(crate) version: String,
    pub(crate) memory_mb: u32,
    pub(crate) timeout: Duration,
    pub(crate) init_timeout: Duration,
    pub(crate) handler: String,
    pub(crate) region: String,
    pub(crate) account_id: String,
    pub(crate) log_format: LogFormat,
    pub(crate) xray_daemon_address: Option<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) echo_logs: bool,
    pub(crate) inherit_env: bool,
    pub(crate) concurrency: usize,
    pub(crate) per_environment_concurrency: usize,
    pub(crate) idle_timeout: Duration,
    pub(crate) shutdown_grace: Duration,
    pub(crate) asynchronous: AsyncConfig,
}

impl FunctionConfig {
    /// A function whose bootstrap is `executable`, with Lambda's defaults: 128 MB, a 3 s timeout, a
    /// 10 s init limit, `us-east-1`, text logs, and a name taken from the executable's file name.
    #[must_use]
    pub fn new(executable: impl Into<PathBuf>) -> Self {
        let executable = executable.into();
        let function_name = executable
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| !s.is_empty())
            .unwrap_or("function")
            .to_owned();
        Self {
            executable,
            args: Vec::new(),
            function_name,
            version: "$LATEST".to_owned(),
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            init_timeout: Duration::from_secs(10),
            handler: "bootstrap".to_owned(),
            region: "us-east-1".to_owned(),
            account_id: "123456789012".to_owned(),
            log_format: LogFormat::Text,
            xray_daemon_address: None,
            env: Vec::new(),
            echo_logs: false,
            inherit_env: false,
            concurrency: DEFAULT_CONCURRENCY,
            per_environment_concurrency: 1,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            asynchronous: AsyncConfig::new(),
        }
    }

    /// How asynchronous invocations ([`Emulator::invoke_async`](super::Emulator::invoke_async)) are
    /// retried and where the ones that fail for good go.
    #[must_use]
    pub fn asynchronous(mut self, config: AsyncConfig) -> Self {
        self.asynchronous = config;
        self
    }

    /// How many execution environments may run at once (the function's reserved concurrency),
    /// [`DEFAULT_CONCURRENCY`] by default; at least 1. A synchronous invocation that finds them all
    /// busy is throttled ([`EmulatorError::TooManyRequests`](super::EmulatorError::TooManyRequests)).
    #[must_use]
    pub fn concurrency(mut self, environments: usize) -> Self {
        self.concurrency = environments.max(1);
        self
    }

    /// How many invocations one execution environment may serve at once, 1 by default (Lambda's
    /// classic model). Above 1, environments work as on Lambda Managed Instances: the runtime finds
    /// the figure in `AWS_LAMBDA_MAX_CONCURRENCY` and may keep that many `/next` long polls open,
    /// and an invocation joins a busy environment with room before a new one is started. A runtime
    /// that asks for one event at a time still serves them one by one (the others wait in its queue).
    /// At least 1.
    #[must_use]
    pub fn per_environment_concurrency(mut self, invocations: usize) -> Self {
        self.per_environment_concurrency = invocations.max(1);
        self
    }

    /// How long an execution environment may sit idle before it is shut down (SIGTERM, then SIGKILL
    /// after the [grace period](Self::shutdown_grace)); the next invocation is a cold start.
    #[must_use]
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// How long a runtime has to exit after SIGTERM before it gets SIGKILL, [`DEFAULT_SHUTDOWN_GRACE`]
    /// by default.
    #[must_use]
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Arguments passed to the executable (a script interpreter's script, for example).
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// The function name (`AWS_LAMBDA_FUNCTION_NAME`, and part of the invoked ARN).
    #[must_use]
    pub fn function_name(mut self, name: impl Into<String>) -> Self {
        self.function_name = name.into();
        self
    }

    /// The function version (`AWS_LAMBDA_FUNCTION_VERSION`), `$LATEST` by default.
    #[must_use]
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// The configured memory in MB (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`), reported as "Memory Size".
    #[must_use]
    pub fn memory_mb(mut self, memory_mb: u32) -> Self {
        self.memory_mb = memory_mb;
        self
    }

    /// The invocation timeout. When it passes, the process is killed and the next invocation is a cold start.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long the runtime may take from spawn to its first `/next` (Lambda allows 10 s).
    #[must_use]
    pub fn init_timeout(mut self, timeout: Duration) -> Self {
        self.init_timeout = timeout;
        self
    }

    /// The handler string (`_HANDLER`), `bootstrap` by default.
    #[must_use]
    pub fn handler(mut self, handler: impl Into<String>) -> Self {
        self.handler = handler.into();
        self
    }

    /// The region (`AWS_REGION`, `AWS_DEFAULT_REGION`, and part of the invoked ARN).
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// The log format announced in `AWS_LAMBDA_LOG_FORMAT`.
    #[must_use]
    pub fn log_format(mut self, format: LogFormat) -> Self {
        self.log_format = format;
        self
    }

    /// Turns on active tracing: the function gets `AWS_XRAY_DAEMON_ADDRESS` set to `address`
    /// (`host:port`), and the emulator sends the `AWS::Lambda::Function` segment of each sampled
    /// invocation there, as Lambda does, so the function's own subsegments have a parent.
    #[must_use]
    pub fn xray_daemon(mut self, address: impl Into<String>) -> Self {
        self.xray_daemon_address = Some(address.into());
        self
    }

    /// Adds an environment variable; it overrides any that the emulator sets itself.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Adds several environment variables (for example [`crate::moto::MotoServer::environment`]).
    #[must_use]
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Starts the function with this process's whole environment underneath Lambda's variables
    /// (which still win). Off by default: Lambda gives a function only its own variables and `PATH`.
    /// Useful for interpreters that find their installation through variables such as `HOME`.
    #[must_use]
    pub fn inherit_env(mut self, inherit: bool) -> Self {
        self.inherit_env = inherit;
        self
    }

    /// Also copies each line the function writes to this process's stderr as it arrives.
    #[must_use]
    pub fn echo_logs(mut self, echo: bool) -> Self {
        self.echo_logs = echo;
        self
    }

    /// The function name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.function_name
    }

    /// The bootstrap executable.
    #[must_use]
    pub fn executable(&self) -> &Path {
        &self.executable
    }

    /// The invocation timeout.
    #[must_use]
    pub fn invocation_timeout(&self) -> Duration {
        self.timeout
    }

    /// The configured memory in MB.
    #[must_use]
    pub fn memory(&self) -> u32 {
        self.memory_mb
    }

    /// How many execution environments may run at once.
    #[must_use]
    pub fn max_environments(&self) -> usize {
        self.concurrency
    }

    /// How many invocations one execution environment may serve at once.
    #[must_use]
    pub fn max_invocations_per_environment(&self) -> usize {
        self.per_environment_concurrency
    }

    /// The ARN the function is invoked by, `arn:aws:lambda:{region}:{account}:function:{name}`.
    #[must_use]
    pub fn function_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.function_name
        )
    }
}
