//! A `moto_server` on 127.0.0.1 for tests that use the real AWS SDK without AWS.
//!
//! [`MotoServer::start`] runs `moto_server` on a free loopback port, waits until it answers, and hands
//! out an [`aws_config::SdkConfig`] pointing at it: region `us-east-1`, dummy static credentials, and
//! an IP-literal endpoint, for which the S3 endpoint rules use path-style addressing. The server is
//! stopped when the value is dropped. What moto can and cannot stand in for is listed in the guide
//! (`docs/src/local.md`).
//!
//! For Lambda, [`MotoServer::create_iam_role`] makes the execution role `CreateFunction` insists on,
//! and [`stored_zip`] packs a one-file deployment package.
//!
//! ```no_run
//! use lamina_local::moto::MotoServer;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let moto = MotoServer::start().await?;
//! let dynamodb = aws_sdk_dynamodb::Client::new(moto.sdk_config());
//! # let _ = dynamodb;
//! moto.reset().await?; // wipe all state between tests
//! # Ok(())
//! # }
//! ```

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use bytes::Bytes;
use hyper::Method;

use crate::loopback_http;

mod lambda;

pub use lambda::stored_zip;

/// The command that installs `moto_server`, quoted in errors.
pub const INSTALL_COMMAND: &str = "python3 -m pip install 'moto[server]'";

/// The environment variable that names the `moto_server` executable to run instead of the one on `PATH`.
pub const MOTO_SERVER_ENV: &str = "LAMINA_MOTO_SERVER";

const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const START_ATTEMPTS: usize = 3;

/// Why the moto fixture failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MotoError {
    /// `moto_server` is not installed (not on `PATH`, and `LAMINA_MOTO_SERVER` is unset).
    #[error("`{program}` was not found; install it with: {INSTALL_COMMAND}")]
    NotInstalled {
        /// The program that was looked for.
        program: String,
    },
    /// The server process could not be started.
    #[error("could not start `{program}`")]
    Spawn {
        /// The program that was run.
        program: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The server exited before it answered.
    #[error("`moto_server` exited before it answered ({status}); its last output:\n{output}")]
    Exited {
        /// How the process ended.
        status: String,
        /// The end of what it wrote to stderr.
        output: String,
    },
    /// The server did not answer within the startup timeout.
    #[error("`moto_server` on {endpoint} did not answer within {timeout:?}")]
    StartTimeout {
        /// The endpoint that was polled.
        endpoint: String,
        /// How long the fixture waited.
        timeout: Duration,
    },
    /// A request to moto's admin API failed.
    #[error("moto admin request {what} failed: {detail}")]
    Admin {
        /// Which admin call failed.
        what: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// A request to one of moto's AWS service APIs (not its admin API) failed or was refused.
    #[error("moto {operation} request failed: {detail}")]
    Service {
        /// The service and action, `iam:CreateRole`.
        operation: &'static str,
        /// What went wrong, with moto's answer when there was one.
        detail: String,
    },
    /// A local I/O operation (finding a free port, creating the log file) failed.
    #[error("moto fixture I/O error")]
    Io(#[from] std::io::Error),
}

/// A running `moto_server` bound to 127.0.0.1, stopped (by its process id) when dropped.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    endpoint_url: String,
    sdk_config: SdkConfig,
    log_path: PathBuf,
}

impl MotoServer {
    /// Starts `moto_server` on a free loopback port and waits until it answers.
    ///
    /// # Errors
    /// [`MotoError::NotInstalled`] with the install command when `moto_server` is missing; otherwise
    /// the reason the server did not come up.
    pub async fn start() -> Result<Self, MotoError> {
        let program = std::env::var(MOTO_SERVER_ENV).unwrap_or_else(|_| "moto_server".to_owned());
        Self::start_program(&program).await
    }

    /// Like [`MotoServer::start`], running `program` instead of `moto_server` from `PATH`.
    ///
    /// # Errors
    /// As for [`MotoServer::start`].
    pub async fn start_program(program: &str) -> Result<Self, MotoError> {
        let mut last_error = None;
        // Another process may take the port between our probe and moto's bind: try a few ports.
        for _ in 0..START_ATTEMPTS {
            match Self::start_on_free_port(program).await {
                Ok(server) => return Ok(server),
                Err(error @ (MotoError::NotInstalled { .. } | MotoError::Spawn { .. })) => {
                    return Err(error);
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or(MotoError::StartTimeout {
            endpoint: "127.0.0.1".to_owned(),
            timeout: STARTUP_TIMEOUT,
        }))
    }

    async fn start_on_free_port(program: &str) -> Result<Self, MotoError> {
        let port = free_port()?;
        let log_path =
            std::env::temp_dir().join(format!("lamina-moto-{}-{port}.log", std::process::id()));
        let log = File::create(&log_path)?;
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|source| {
                if source.kind() == std::io::ErrorKind::NotFound {
                    MotoError::NotInstalled {
                        program: program.to_owned(),
                    }
                } else {
                    MotoError::Spawn {
                        program: program.to_owned(),
                        source,
                    }
                }
            })?;
        let endpoint_url = format!("http://127.0.0.1:{port}");
        let sdk_config = sdk_config_for(&endpoint_url).await;
        let mut server = Self {
            child,
            endpoint_url,
            sdk_config,
            log_path,
        };
        server.wait_until_ready().await?;
        Ok(server)
    }

    async fn wait_until_ready(&mut self) -> Result<(), MotoError> {
        let started = Instant::now();
        let probe = format!("{}/moto-api/data.json", self.endpoint_url);
        while started.elapsed() < STARTUP_TIMEOUT {
            if let Some(status) = self.child.try_wait()? {
                let output = std::fs::read_to_string(&self.log_path).unwrap_or_default();
                let tail: Vec<&str> = output.lines().rev().take(20).collect();
                return Err(MotoError::Exited {
                    status: status.to_string(),
                    output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
                });
            }
            if let Ok(response) = loopback_http::send(Method::GET, &probe, Bytes::new()).await
                && response.status.is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(MotoError::StartTimeout {
            endpoint: self.endpoint_url.clone(),
            timeout: STARTUP_TIMEOUT,
        })
    }

    /// The server's base URL, `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }

    /// An SDK configuration for this server: its endpoint, region `us-east-1` and dummy credentials.
    #[must_use]
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk_config
    }

    /// Environment variables that point a child process (a function under the emulator, a Python
    /// script using boto3) at this server.
    #[must_use]
    pub fn environment(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".to_owned(), self.endpoint_url.clone()),
            ("AWS_ACCESS_KEY_ID".to_owned(), "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "testing".to_owned()),
            ("AWS_SESSION_TOKEN".to_owned(), "testing".to_owned()),
            ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
            ("AWS_DEFAULT_REGION".to_owned(), "us-east-1".to_owned()),
        ]
    }

    /// Wipes every resource moto holds (`POST /moto-api/reset`).
    ///
    /// # Errors
    /// [`MotoError::Admin`] when moto does not confirm the reset.
    pub async fn reset(&self) -> Result<(), MotoError> {
        self.admin_post("reset", "/moto-api/reset", Bytes::new())
            .await
    }

    /// Makes moto run Lambda invocations without Docker (it then echoes the payload). Must be called
    /// before functions are created.
    ///
    /// # Errors
    /// [`MotoError::Admin`] when moto refuses the configuration.
    pub async fn disable_lambda_docker(&self) -> Result<(), MotoError> {
        let body = Bytes::from_static(br#"{"lambda":{"use_docker":false}}"#);
        self.admin_post("config", "/moto-api/config", body).await
    }

    async fn admin_post(
        &self,
        what: &'static str,
        path: &str,
        body: Bytes,
    ) -> Result<(), MotoError> {
        let url = format!("{}{path}", self.endpoint_url);
        let response = loopback_http::send(Method::POST, &url, body)
            .await
            .map_err(|detail| MotoError::Admin { what, detail })?;
        if response.status.is_success() {
            Ok(())
        } else {
            Err(MotoError::Admin {
                what,
                detail: format!(
                    "HTTP {}: {}",
                    response.status,
                    String::from_utf8_lossy(&response.body)
                ),
            })
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // Stop the server by its own process id; errors mean it is already gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    Ok(listener.local_addr()?.port())
}

async fn sdk_config_for(endpoint_url: &str) -> SdkConfig {
    // Everything that matters is set explicitly, so nothing in the caller's environment or profile
    // files can point a test at real AWS.
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint_url)
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            Some("testing".to_owned()),
            None,
            "lamina-moto",
        ))
        .load()
        .await
}
