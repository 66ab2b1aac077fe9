//! One execution environment: the runtime process, its Runtime API server, its logs and its memory.

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use time::macros::format_description;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::config::FunctionConfig;
use super::error::EmulatorError;
use super::report::LogLine;
use super::runtime_api::{InitSignals, RuntimeApi};

/// How often the peak resident set size is read while the process lives.
const MEMORY_SAMPLE_INTERVAL: Duration = Duration::from_millis(25);
/// How long to wait for the last lines of a process that has exited.
const LOG_DRAIN_TIMEOUT: Duration = Duration::from_millis(500);

/// The lines a process wrote, in arrival order.
#[derive(Debug, Default)]
pub(crate) struct LogBuffer {
    lines: SyncMutex<Vec<LogLine>>,
}

impl LogBuffer {
    fn push(&self, line: LogLine) {
        self.lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(line);
    }

    /// Takes every line written so far.
    pub(crate) fn drain(&self) -> Vec<LogLine> {
        std::mem::take(
            &mut *self
                .lines
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// A signal for the runtime process, sent through its supervisor.
#[derive(Debug, Clone, Copy)]
enum Signal {
    Terminate,
    Kill,
}

/// A running runtime process and everything attached to it. Dropping it kills the process.
///
/// Shared (behind an `Arc`) by every invocation it serves at once: the process itself is owned by
/// a supervisor task, which reaps it and publishes how it ended, so that any number of invocations
/// can watch for a crash and any of them can have it killed, without a pid that could be reused.
#[derive(Debug)]
pub(crate) struct ExecutionEnvironment {
    /// Which of the emulator's environments this is: 1 for the first one started, then 2, 3...
    pub(crate) id: u64,
    /// Its log stream (`AWS_LAMBDA_LOG_STREAM_NAME`): one per environment, as in CloudWatch Logs.
    pub(crate) log_stream: String,
    pub(crate) api: RuntimeApi,
    pub(crate) spawned_at: Instant,
    init_signals: SyncMutex<Option<InitSignals>>,
    pub(crate) logs: Arc<LogBuffer>,
    log_readers: SyncMutex<Vec<JoinHandle<()>>>,
    peak_rss_kb: Arc<AtomicU64>,
    sampler: JoinHandle<()>,
    pid: Option<u32>,
    /// How the process ended (`exit status: 3`), once it has.
    exit: watch::Receiver<Option<String>>,
    signals: mpsc::UnboundedSender<Signal>,
    supervisor: JoinHandle<()>,
}

impl ExecutionEnvironment {
    /// Starts a Runtime API server and spawns the bootstrap with Lambda's environment pointing at it.
    pub(crate) async fn spawn(config: &FunctionConfig, id: u64) -> Result<Self, EmulatorError> {
        let (api, init_signals) = RuntimeApi::start()
            .await
            .map_err(EmulatorError::RuntimeApi)?;
        let log_stream = log_stream_name(&config.version);
        let mut command = Command::new(&config.executable);
        if !config.inherit_env {
            command.env_clear();
        }
        command
            .args(&config.args)
            .envs(lambda_environment(
                config,
                &api.address().to_string(),
                &log_stream,
            ))
            .envs(config.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(dir) = config
            .executable
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            command.current_dir(dir);
        }
        let spawned_at = Instant::now();
        let mut child = command.spawn().map_err(|source| EmulatorError::Spawn {
            executable: config.executable.clone(),
            source,
        })?;
        let logs = Arc::new(LogBuffer::default());
        let mut log_readers = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            log_readers.push(tokio::spawn(read_lines(
                stdout,
                "stdout",
                Arc::clone(&logs),
                config.echo_logs,
            )));
        }
        if let Some(stderr) = child.stderr.take() {
            log_readers.push(tokio::spawn(read_lines(
                stderr,
                "stderr",
                Arc::clone(&logs),
                config.echo_logs,
            )));
        }
        let pid = child.id();
        let peak_rss_kb = Arc::new(AtomicU64::new(0));
        let sampler = tokio::spawn(sample_memory(pid, Arc::clone(&peak_rss_kb)));
        let (exit_tx, exit) = watch::channel(None);
        let (signals, signals_rx) = mpsc::unbounded_channel();
        let supervisor = tokio::spawn(supervise(child, signals_rx, exit_tx));
        Ok(Self {
            id,
            log_stream,
            api,
            spawned_at,
            init_signals: SyncMutex::new(Some(init_signals)),
            logs,
            log_readers: SyncMutex::new(log_readers),
            peak_rss_kb,
            sampler,
            pid,
            exit,
            signals,
            supervisor,
        })
    }

    /// Takes the init-phase signals; only the invocation that started the environment gets them.
    pub(crate) fn take_init_signals(&self) -> Option<InitSignals> {
        lock(&self.init_signals).take()
    }

    /// Whether the process still runs (as far as its supervisor has seen).
    pub(crate) fn is_alive(&self) -> bool {
        self.exit.borrow().is_none()
    }

    /// Waits until the process has ended, and says how (`exit status: 3`, `signal: 9 (SIGKILL)`).
    pub(crate) async fn exited(&self) -> String {
        let mut exit = self.exit.clone();
        match exit.wait_for(Option::is_some).await {
            Ok(ended) => ended.clone().unwrap_or_default(),
            // The supervisor only goes away after publishing the exit, or when the environment drops.
            Err(_) => "the runtime process was lost".to_owned(),
        }
    }

    /// The process's peak resident set size so far, in MB rounded up.
    pub(crate) fn max_memory_used_mb(&self) -> u64 {
        if let Some(kb) = self.pid.and_then(read_peak_rss_kb) {
            self.peak_rss_kb.fetch_max(kb, Ordering::Relaxed);
        }
        self.peak_rss_kb.load(Ordering::Relaxed).div_ceil(1024)
    }

    /// Waits (briefly) for the output of a process that has exited, so its last words are in the logs.
    pub(crate) async fn drain_logs_after_exit(&self) {
        let readers = std::mem::take(&mut *lock(&self.log_readers));
        for reader in readers {
            let _ = tokio::time::timeout(LOG_DRAIN_TIMEOUT, reader).await;
        }
    }

    /// Kills the process and waits for it, so that no zombie or stray process is left.
    pub(crate) async fn kill(&self) -> String {
        let _ = self.signals.send(Signal::Kill);
        let exit = self.exited().await;
        self.drain_logs_after_exit().await;
        exit
    }

    /// Lambda's shutdown phase: SIGTERM, then up to `grace` for the runtime to exit on its own
    /// (flushing what it buffered), then SIGKILL. Returns how the process ended.
    pub(crate) async fn stop(&self, grace: Duration) -> String {
        if !self.is_alive() {
            self.drain_logs_after_exit().await;
            return self.exited().await;
        }
        let _ = self.signals.send(Signal::Terminate);
        if let Ok(exit) = tokio::time::timeout(grace, self.exited()).await {
            self.drain_logs_after_exit().await;
            return exit;
        }
        self.kill().await
    }
}

/// Owns the runtime process: reaps it and publishes how it ended, and passes signals on while it
/// runs (`Child::id` is `None` once the process is reaped, so a signal never reaches a reused pid).
async fn supervise(
    mut child: Child,
    mut signals: mpsc::UnboundedReceiver<Signal>,
    exit: watch::Sender<Option<String>>,
) {
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            Some(signal) = signals.recv() => match signal {
                Signal::Kill => {
                    let _ = child.start_kill();
                }
                Signal::Terminate => {
                    let terminated = child
                        .id()
                        .and_then(|pid| i32::try_from(pid).ok())
                        .and_then(rustix::process::Pid::from_raw)
                        .is_some_and(|pid| {
                            rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_ok()
                        });
                    if !terminated {
                        let _ = child.start_kill();
                    }
                }
            },
        }
    };
    let description = match status {
        Ok(status) => status.to_string(),
        Err(error) => format!("the runtime process could not be waited for: {error}"),
    };
    let _ = exit.send(Some(description));
}

fn lock<T>(mutex: &SyncMutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section is a single take: a panic elsewhere cannot leave it half done.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Drop for ExecutionEnvironment {
    fn drop(&mut self) {
        self.sampler.abort();
        for reader in lock(&self.log_readers).iter() {
            reader.abort();
        }
        // Aborting the supervisor drops the child, and kill_on_drop(true) kills the process.
        self.supervisor.abort();
    }
}

/// The variables Lambda sets for a custom runtime (provided.al2023), pointing at `runtime_api`.
fn lambda_environment(
    config: &FunctionConfig,
    runtime_api: &str,
    log_stream: &str,
) -> Vec<(String, String)> {
    let task_root = config
        .executable
        .parent()
        .map(|p| p.display().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| ".".to_owned());
    let mut vars = vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", config.function_name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION", config.version.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            config.memory_mb.to_string(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", config.function_name),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", log_stream.to_owned()),
        (
            "AWS_LAMBDA_LOG_FORMAT",
            config.log_format.as_env_value().to_owned(),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("_HANDLER", config.handler.clone()),
        ("AWS_REGION", config.region.clone()),
        ("AWS_DEFAULT_REGION", config.region.clone()),
        ("LAMBDA_TASK_ROOT", task_root.clone()),
        ("LAMBDA_RUNTIME_DIR", task_root),
        ("TZ", ":UTC".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        // The host's PATH, so that interpreters (a Python or Node peer's bootstrap) are found.
        (
            "PATH",
            std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ),
    ];
    if config.per_environment_concurrency > 1 {
        // Lambda Managed Instances tell the runtime how many invocations it may take at once.
        vars.push((
            "AWS_LAMBDA_MAX_CONCURRENCY",
            config.per_environment_concurrency.to_string(),
        ));
    }
    if let Some(daemon) = &config.xray_daemon_address {
        let (host, port) = daemon.rsplit_once(':').unwrap_or((daemon.as_str(), "2000"));
        vars.extend([
            ("AWS_XRAY_DAEMON_ADDRESS", daemon.clone()),
            ("_AWS_XRAY_DAEMON_ADDRESS", host.to_owned()),
            ("_AWS_XRAY_DAEMON_PORT", port.to_owned()),
            ("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".to_owned()),
        ]);
    }
    vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// A log stream name in Lambda's shape: `YYYY/MM/DD/[$LATEST]{32 hex}`.
fn log_stream_name(version: &str) -> String {
    let date = OffsetDateTime::now_utc()
        .format(format_description!("[year]/[month]/[day]"))
        .unwrap_or_default();
    let suffix = crate::trace_header::new_segment_id() + &crate::trace_header::new_segment_id();
    format!("{date}/[{version}]{suffix}")
}

async fn read_lines(
    stream: impl AsyncRead + Unpin,
    name: &'static str,
    logs: Arc<LogBuffer>,
    echo: bool,
) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(text)) = lines.next_line().await {
        if echo {
            eprintln!("{text}");
        }
        logs.push(LogLine { stream: name, text });
    }
}

async fn sample_memory(pid: Option<u32>, peak_kb: Arc<AtomicU64>) {
    let Some(pid) = pid else { return };
    let mut interval = tokio::time::interval(MEMORY_SAMPLE_INTERVAL);
    loop {
        interval.tick().await;
        match read_peak_rss_kb(pid) {
            Some(kb) => {
                peak_kb.fetch_max(kb, Ordering::Relaxed);
            }
            None => return,
        }
    }
}

/// `VmHWM` (peak resident set size, in kB) from `/proc/{pid}/status`.
fn read_peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_hwm(&status)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_peak_rss_from_proc_status() {
        let status =
            "Name:\tbootstrap\nVmPeak:\t  20000 kB\nVmHWM:\t    9876 kB\nVmRSS:\t    9000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(9876));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\tlots kB\n"), None);
    }

    #[test]
    fn our_own_peak_rss_is_readable() {
        let kb = read_peak_rss_kb(std::process::id());
        assert!(kb.is_some_and(|kb| kb > 100), "{kb:?}");
    }

    #[test]
    fn log_stream_names_have_lambdas_shape() {
        let name = log_stream_name("$LATEST");
        let (date, rest) = name.split_at(10);
        let today = OffsetDateTime::now_utc();
        assert_eq!(
            date,
            format!(
                "{:04}/{:02}/{:02}",
                today.year(),
                u8::from(today.month()),
                today.day()
            )
        );
        let suffix = rest.strip_prefix("/[$LATEST]").unwrap();
        assert_eq!(suffix.len(), 32);
        assert!(suffix.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
    }

    #[test]
    fn the_environment_is_lambdas() {
        let config = FunctionConfig::new("/opt/fn/bootstrap").xray_daemon("127.0.0.1:2999");
        let vars: std::collections::HashMap<_, _> =
            lambda_environment(&config, "127.0.0.1:9001", &log_stream_name("$LATEST"))
                .into_iter()
                .collect();
        assert_eq!(vars["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
        assert_eq!(vars["AWS_LAMBDA_FUNCTION_NAME"], "bootstrap");
        assert_eq!(vars["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
        assert_eq!(vars["LAMBDA_TASK_ROOT"], "/opt/fn");
        assert_eq!(vars["AWS_XRAY_DAEMON_ADDRESS"], "127.0.0.1:2999");
        assert_eq!(vars["_AWS_XRAY_DAEMON_PORT"], "2999");
        assert!(vars["AWS_LAMBDA_LOG_STREAM_NAME"].contains("/[$LATEST]"));
        assert!(!vars.contains_key("AWS_LAMBDA_MAX_CONCURRENCY"));
    }

    #[test]
    fn a_multi_concurrent_environment_announces_its_concurrency() {
        let config = FunctionConfig::new("/opt/fn/bootstrap").per_environment_concurrency(8);
        let vars: std::collections::HashMap<_, _> =
            lambda_environment(&config, "127.0.0.1:9001", &log_stream_name("$LATEST"))
                .into_iter()
                .collect();
        assert_eq!(vars["AWS_LAMBDA_MAX_CONCURRENCY"], "8");
    }
}
