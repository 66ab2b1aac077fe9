//! `udagram-lambda`: the `bootstrap` of every Udagram Lambda function. It runs the handler named
//! by `_HANDLER` (the SAM `Handler` property): `api`, `process-upload`, `index-stream`,
//! `ws-connect`, `ws-disconnect` or `authorizer`; see `udagram::lambda`.
//!
//! Only the handlers whose cargo feature is on are compiled in (`handler-api`,
//! `handler-upload`, `handler-stream`, `handler-websocket`; all by default).
//!
//! Exit codes: 0 when the runtime loop ends cleanly (it does not, on Lambda); 1 when init fails
//! (an unknown or missing `_HANDLER`, which lists the valid names; a missing or malformed
//! environment variable, which names it), reported to the Runtime API's `/init/error` first,
//! or when the runtime loop stops.

use std::process::ExitCode;

use udagram::lambda::Handler;
use udagram::lambda::runtime::{self, RunError, exit_code};

/// The handlers compiled into this binary.
fn enabled() -> Vec<Handler> {
    Handler::ALL
        .into_iter()
        .filter(|handler| match handler {
            Handler::Api => cfg!(feature = "handler-api"),
            Handler::ProcessUpload => cfg!(feature = "handler-upload"),
            Handler::IndexStream => cfg!(feature = "handler-stream"),
            _ => cfg!(feature = "handler-websocket"),
        })
        .collect()
}

async fn run(name: &str) -> Result<(), RunError> {
    let handler = Handler::from_name(name)
        .filter(|h| enabled().contains(h))
        .ok_or_else(|| RunError::unknown_handler(name, &enabled()))?;
    match handler {
        #[cfg(feature = "handler-api")]
        Handler::Api => runtime::run_api().await,
        #[cfg(feature = "handler-upload")]
        Handler::ProcessUpload => runtime::run_process_upload().await,
        #[cfg(feature = "handler-stream")]
        Handler::IndexStream => runtime::run_index_stream().await,
        #[cfg(feature = "handler-websocket")]
        Handler::WsConnect => runtime::run_ws_connect().await,
        #[cfg(feature = "handler-websocket")]
        Handler::WsDisconnect => runtime::run_ws_disconnect().await,
        #[cfg(feature = "handler-websocket")]
        Handler::Authorizer => runtime::run_authorizer().await,
        #[allow(unreachable_patterns)] // unreachable with every feature on
        other => Err(RunError::unknown_handler(other.name(), &enabled())),
    }
}

fn main() -> ExitCode {
    let name = std::env::var("_HANDLER").unwrap_or_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("udagram-lambda: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async { exit_code(run(&name).await).await })
}
