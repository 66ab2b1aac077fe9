//! The filter to put on [`XrayLayer`](super::XrayLayer): your spans, not your libraries' internals.

use tracing_subscriber::filter::{LevelFilter, Targets};

/// Crates whose spans describe their own internals rather than your function's work. The AWS
/// SDK alone opens about a dozen INFO spans per call (`invoke`, `try_op`, `serialization`,
/// `orchestrate_endpoint`, ...): traced, each would be a subsegment and a UDP datagram, burying
/// the one `aws` subsegment per call that
/// `lamina_tracing::aws_sdk::XrayInterceptor` (feature `aws-sdk`) records.
pub const LIBRARY_TARGETS: [&str; 6] = [
    "aws_smithy",
    "aws_sdk",
    "aws_config",
    "hyper",
    "h2",
    "rustls",
];

/// INFO and above, except the spans of [`LIBRARY_TARGETS`]: put it on the X-Ray layer alone, so
/// other layers (logs) still see everything their own filters let through.
///
/// Spans filtered out this way are invisible to the layer, and their children attach to the
/// nearest traced ancestor, so an SDK call made inside `load_order` stays under `load_order`.
///
/// ```no_run
/// use lamina_tracing::xray::{XrayLayer, recommended_filter};
/// use tracing_subscriber::prelude::*;
///
/// # fn demo() -> Result<(), lamina_tracing::xray::XrayError> {
/// tracing_subscriber::registry()
///     .with(XrayLayer::from_env()?.with_filter(recommended_filter()))
///     .init();
/// # Ok(())
/// # }
/// ```
#[must_use]
pub fn recommended_filter() -> Targets {
    Targets::new()
        .with_default(LevelFilter::INFO)
        .with_targets(LIBRARY_TARGETS.map(|target| (target, LevelFilter::OFF)))
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn library_internals_are_off_and_everything_else_from_info() {
        let filter = recommended_filter();
        for target in [
            "aws_smithy_runtime::client::orchestrator",
            "aws_sdk_dynamodb::operation",
            "aws_config::default_provider",
            "hyper_util::client::legacy",
            "h2::codec",
            "rustls::client",
        ] {
            assert!(!filter.would_enable(target, &Level::ERROR), "{target}");
        }
        for target in ["udagram::lambda", "my_function", "lamina_tracing::xray"] {
            assert!(filter.would_enable(target, &Level::INFO), "{target}");
            assert!(!filter.would_enable(target, &Level::DEBUG), "{target}");
        }
    }
}
