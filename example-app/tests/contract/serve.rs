//! [`Serve`]: the [`Target`] that runs the `udagram serve` binary on a temporary data directory.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::client::{Http, Reply};
use crate::target::Target;

/// How long `serve` may take to print its listening line (the first start makes a signing key).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How many lines of the server's output are kept to print when a test fails.
const KEPT_LINES: usize = 200;

/// A `udagram serve` process.
#[derive(Debug)]
pub struct Serve {
    child: Child,
    pid: u32,
    data: PathBuf,
    _owned: Option<TempDir>,
    http: Http,
    logs: Arc<Mutex<VecDeque<String>>>,
}

impl Serve {
    /// Starts `serve` on a fresh temporary data directory.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut serve = Self::start_on(dir.path(), 0).await;
        serve._owned = Some(dir);
        serve
    }

    /// Starts `serve` again on the data and port of a stopped one, as a person restarting it would
    /// (stored URLs and token issuers name the port).
    pub async fn restart_of(stopped: &Serve) -> Self {
        let port = stopped
            .http
            .base()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        Self::start_on(&stopped.data, port).await
    }

    async fn start_on(data: &Path, port: u16) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_udagram"))
            .arg("serve")
            .arg("--data")
            .arg(data)
            .args(["--port", &port.to_string()])
            .args(["--cors-origin", crate::suite::CLIENT_ORIGIN])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        let logs = Arc::new(Mutex::new(VecDeque::new()));
        drain(child.stderr.take().unwrap(), Arc::clone(&logs), "stderr");
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let find = async {
            while let Some(line) = stdout.next_line().await.unwrap() {
                keep(&logs, format!("stdout: {line}"));
                if let Some((_, url)) = line.split_once("udagram listening on ") {
                    return Some(url.trim().to_owned());
                }
            }
            None
        };
        let url = match tokio::time::timeout(START_TIMEOUT, find).await {
            Ok(Some(url)) => url,
            outcome => {
                let status = child.try_wait().ok().flatten();
                panic!(
                    "udagram serve printed no listening line ({outcome:?}, exit {status:?}); output:\n{}",
                    logs.lock()
                        .unwrap()
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
        };
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "serve must listen on 127.0.0.1 only, said {url}"
        );
        drain(stdout.into_inner(), Arc::clone(&logs), "stdout");
        Self {
            child,
            pid,
            data: data.to_owned(),
            _owned: None,
            http: Http::new(&url),
            logs,
        }
    }

    pub fn data(&self) -> &Path {
        &self.data
    }

    /// SIGKILL (what `kill -9` sends), then waits for the process.
    pub async fn sigkill(&mut self) -> ExitStatus {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap()
    }

    /// Sends SIGTERM with the `kill` command; does not wait.
    pub fn sigterm(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM {} failed", self.pid);
    }

    /// Waits for the process to exit on its own, failing after `limit`.
    pub async fn wait(&mut self, limit: Duration) -> ExitStatus {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!(
                "udagram serve (pid {}) still running after {limit:?}",
                self.pid
            ),
        }
    }

    /// The server's recent output, for failure messages.
    pub fn output(&self) -> String {
        let lines = self.logs.lock().unwrap();
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- udagram serve (pid {}) output ---\n{}",
                self.pid,
                self.output()
            );
        }
        // kill_on_drop sends SIGKILL to this pid if the process still runs.
    }
}

impl Target for Serve {
    fn http(&self) -> &Http {
        &self.http
    }

    async fn token(&self, user: &str) -> String {
        let body = self
            .http
            .post("/dev/token")
            .json(&json!({ "user": user }))
            .send()
            .await
            .ok_json(200);
        body["token"]
            .as_str()
            .unwrap_or_else(|| panic!("POST /dev/token: no token in {body}"))
            .to_owned()
    }

    async fn upload(&self, upload: &Value, content_type: &str, body: Bytes) -> Reply {
        crate::fixtures::post_form(&self.http, upload, content_type, body).await
    }

    async fn fetch(&self, url: &str) -> Reply {
        self.http.get(url).send().await
    }

    async fn stop(mut self) {
        self.sigkill().await;
    }
}

fn drain(
    stream: impl AsyncRead + Unpin + Send + 'static,
    logs: Arc<Mutex<VecDeque<String>>>,
    name: &'static str,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            keep(&logs, format!("{name}: {line}"));
        }
    });
}

fn keep(logs: &Mutex<VecDeque<String>>, line: String) {
    let mut logs = logs.lock().unwrap();
    if logs.len() == KEPT_LINES {
        logs.pop_front();
    }
    logs.push_back(line);
}
