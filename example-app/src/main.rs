//! The `udagram` command.
//!
//! - `udagram serve [--data DIR] [--port N] [--token-lifetime D] [--session-lifetime D]
//!   [--cors-origin ORIGIN]...`: the whole app, web client included, on `127.0.0.1:N` (default
//!   3000; 0 picks a free port) with its data in `DIR` (default `./udagram-data`). Prints
//!   `udagram listening on http://127.0.0.1:PORT` once ready; SIGINT or SIGTERM shut it down
//!   gracefully. Logs go to stderr (`RUST_LOG` filters them).
//! - `udagram token --user NAME [--url URL]`: asks a running `serve` (default
//!   `http://127.0.0.1:3000`) for a development token and prints it.
//!
//! Exit codes: 0 success; 1 a runtime failure (cannot bind, data directory unusable, server not
//! reachable); 2 bad arguments.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use bytes::Bytes;
use clap::{Parser, Subcommand};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;
use udagram::dev_issuer::Lifetimes;
use udagram::serve::{ServeOptions, run};

/// Udagram: the image-sharing app built with Lamina.
#[derive(Debug, Parser)]
#[command(name = "udagram", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the app on 127.0.0.1 with the embedded store.
    Serve {
        /// The data directory (SQLite database, image files, keys).
        #[arg(long, default_value = "udagram-data")]
        data: PathBuf,
        /// The port; 0 picks a free one.
        #[arg(long, default_value_t = 3000)]
        port: u16,
        /// How long the development issuer's access and ID tokens last (`90s`, `1h`).
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        token_lifetime: Duration,
        /// How long a sign-in session lasts: refresh tokens end with it (`8h`, `30m`).
        #[arg(long, default_value = "8h", value_parser = humantime::parse_duration)]
        session_lifetime: Duration,
        /// An origin besides the server's own that may call the API from a browser, such as a
        /// web client's development server (`http://localhost:5173`); repeatable; `*` for any.
        #[arg(long = "cors-origin", value_name = "ORIGIN")]
        cors_origins: Vec<String>,
    },
    /// Prints a development token from a running `udagram serve`.
    Token {
        /// The user the token is for (its `sub`).
        #[arg(long)]
        user: String,
        /// The server's URL.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve {
                data,
                port,
                token_lifetime,
                session_lifetime,
                cors_origins,
            } => {
                let options = ServeOptions {
                    lifetimes: Lifetimes {
                        access_secs: token_lifetime.as_secs().max(1),
                        session_secs: session_lifetime.as_secs().max(1),
                    },
                    cors_origins,
                    ..ServeOptions::new(data, port)
                };
                run(options, shutdown_signal()).await
            }
            Command::Token { user, url } => token(&user, &url).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `udagram token`: POST /dev/token and print the token.
async fn token(user: &str, url: &str) -> anyhow::Result<()> {
    let endpoint = format!("{}/dev/token", url.trim_end_matches('/'));
    let body = serde_json::json!({ "user": user }).to_string();
    let request = http::Request::post(&endpoint)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .with_context(|| format!("invalid server URL {url}"))?;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client
        .request(request)
        .await
        .with_context(|| format!("cannot reach {endpoint}"))?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .context("cannot read the answer")?
        .to_bytes();
    let answer: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{endpoint} answered {status} with a body that is not JSON"))?;
    match answer.get("token").and_then(serde_json::Value::as_str) {
        Some(token) if status.is_success() => {
            println!("{token}");
            Ok(())
        }
        _ => {
            let detail = answer.get("detail").and_then(serde_json::Value::as_str);
            anyhow::bail!(
                "{endpoint} answered {status}: {}",
                detail.unwrap_or("no token")
            )
        }
    }
}
