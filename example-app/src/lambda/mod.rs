//! Udagram's Lambda functions: one handler per row of the deployment's function table, each a
//! plain async function over the use cases ([`App`](crate::app::App),
//! [`UploadProcessor`](crate::events::UploadProcessor), [`Realtime`](crate::realtime::Realtime),
//! a [`SearchIndex`](crate::ports::SearchIndex)), so the tests drive them with the embedded
//! adapters and real `aws_lambda_events` shapes, and [`runtime`] wires them to the AWS adapters.
//!
//! | `_HANDLER` | event | handler |
//! |---|---|---|
//! | `api` | API Gateway REST proxy | [`crate::api::service`] in [`api::ApiTraceLayer`] |
//! | `process-upload` | SNS (an S3 event inside) | [`upload::handle_uploads`] |
//! | `index-stream` | DynamoDB stream of the Images table | [`stream::handle_stream`] |
//! | `ws-connect` | WebSocket `$connect` | [`websocket::handle_connect`] |
//! | `ws-disconnect` | WebSocket `$disconnect` | [`websocket::handle_disconnect`] |
//! | `authorizer` | REQUEST authorizer of `$connect` | [`websocket::handle_authorizer`] |
//!
//! Every function logs JSON with the invocation's context (`LogLayer`, `LogContextLayer`),
//! traces to X-Ray (`XrayLayer`, `XrayLambdaLayer`, SDK calls through `XrayInterceptor`) with
//! the annotations `groupId` and `imageId` where an event names them, and writes EMF metrics
//! (`MetricsLayer`: `ImagesProcessed`, `DocumentsIndexed`, `ConnectionsOpened`, ...). Its
//! configuration is read at init from the environment ([`config`]); a missing or malformed
//! variable fails the init with a message naming it.
//!
//! ```
//! use udagram::lambda::Handler;
//!
//! assert_eq!(Handler::from_name("ws-connect"), Some(Handler::WsConnect));
//! assert_eq!(Handler::WsConnect.name(), "ws-connect");
//! assert_eq!(Handler::from_name("main"), None);
//! ```
//!
//! # Packaging: one binary dispatching on `_HANDLER`
//!
//! All six functions ship as one executable, `udagram-lambda` (the `bootstrap` of every
//! function's package), which runs the handler named by `_HANDLER` (the SAM `Handler`
//! property). The choice was measured, not guessed: the dispatcher against a binary with only
//! the `api` function (cargo features `handler-api`, `handler-upload`, `handler-stream`,
//! `handler-websocket`, all on by default; `--no-default-features --features handler-api`
//! builds the single-function binary), both with the release profile (`lto`,
//! `codegen-units = 1`, stripped), x86_64, on the 2-core build machine. Init duration is the
//! `lamina-local` emulator's (spawn to the runtime's first `/next`, which includes loading the
//! AWS configuration, building the clients and, for `api`, the schemas, the router and a JWKS
//! prefetch), median of 7 cold starts, two runs, with the tables on moto. The cold-start bench
//! of `lamina-bench` now measures both (variant 3, and the api-only build as an ablation with
//! `LAMINA_BENCH_PROFILE_ABLATIONS=1`).
//!
//! | binary | size | zipped | init `api` | init `ws-connect` | peak RSS `api` |
//! |---|---|---|---|---|---|
//! | all six handlers | 23,240,624 B (22.2 MiB) | 9.9 MB | 7.2 ms, 6.7 ms | 5.4 ms, 5.6 ms | 19-20 MB |
//! | `api` only | 21,300,224 B (20.3 MiB) | 9.1 MB | 7.1 ms, 8.0 ms | (not in it) | 18 MB |
//!
//! The dispatcher is 1.9 MB (9 %) larger, 0.8 MB zipped, and its init is the same within the
//! run-to-run noise (about 1 ms). The shared dependencies (the AWS SDK, rustls, the image
//! codecs, the JWT and schema code) are most of either binary, and a dispatching binary's init
//! does exactly what the single-function binary's does for the handler it runs: the other
//! handlers' code is mapped, never run. Per-function binaries would buy nothing measurable and
//! cost six release builds (about 11.5 minutes for the first here, then about 3.7 minutes of
//! whole-program LTO for each further variant) and six artifacts to upload instead of one.
//! So: one binary, one build, one place for the wiring.

mod adapters;
pub mod api;
pub mod config;
pub mod runtime;

pub mod stream;
pub mod upload;
pub mod websocket;

use std::fmt;

use lamina_tracing::metrics::{Metrics, Unit};

/// The functions of the deployment, named as in `_HANDLER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Handler {
    /// `api`: the REST API.
    Api,
    /// `process-upload`: thumbnails from the upload notifications.
    ProcessUpload,
    /// `index-stream`: the search index from the Images table's stream.
    IndexStream,
    /// `ws-connect`: WebSocket `$connect`.
    WsConnect,
    /// `ws-disconnect`: WebSocket `$disconnect`.
    WsDisconnect,
    /// `authorizer`: the `$connect` authorizer.
    Authorizer,
}

impl Handler {
    /// Every handler, in the table's order.
    pub const ALL: [Handler; 6] = [
        Handler::Api,
        Handler::ProcessUpload,
        Handler::IndexStream,
        Handler::WsConnect,
        Handler::WsDisconnect,
        Handler::Authorizer,
    ];

    /// The `_HANDLER` value.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Handler::Api => "api",
            Handler::ProcessUpload => "process-upload",
            Handler::IndexStream => "index-stream",
            Handler::WsConnect => "ws-connect",
            Handler::WsDisconnect => "ws-disconnect",
            Handler::Authorizer => "authorizer",
        }
    }

    /// The handler named `name`, exactly.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Handler> {
        Handler::ALL.into_iter().find(|h| h.name() == name)
    }
}

impl fmt::Display for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Adds `value` to the invocation's metric `name`, when metrics are on (the Lambda runtime's
/// `MetricsLayer`); a failure to record is logged, never the handler's failure.
pub(crate) fn record_metric(name: &str, value: usize) {
    if let Some(metrics) = Metrics::current() {
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        if let Err(error) = metrics.add_metric(name, Unit::Count, value as f64) {
            tracing::warn!(%error, name, "metric not recorded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_nothing_else_parses() {
        for handler in Handler::ALL {
            assert_eq!(Handler::from_name(handler.name()), Some(handler));
        }
        for bad in [
            "",
            "API",
            "bootstrap",
            "api ",
            "ws_connect",
            "process-upload\n",
        ] {
            assert_eq!(Handler::from_name(bad), None, "{bad:?}");
        }
    }
}
