//! Structured logs: the log layer and the invocation context layer, driven through real
//! `LambdaEvent`s.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_runtime::{Config, Context, LambdaEvent};
use lamina_tracing::logs::{LogBuffer, LogConfig, LogConfigError, LogContextLayer, LogLayer};
use serde_json::{Value, json};
use tower::{Layer as _, ServiceExt as _};
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

const TRACE_ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    }
}

fn config_from(pairs: &[(&str, &str)]) -> LogConfig {
    match LogConfig::from_lookup(vars(pairs)) {
        Ok(config) => config,
        Err(error) => panic!("config: {error}"),
    }
}

fn context(request_id: &str) -> Context {
    let mut context = Context::default();
    context.request_id = request_id.to_owned();
    context.invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:orders".into();
    context.xray_trace_id = Some(format!(
        "Root={TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1"
    ));
    context.env_config = Arc::new(Config {
        function_name: "orders".into(),
        memory: 256,
        version: "7".into(),
        log_stream: "stream".into(),
        log_group: "/aws/lambda/orders".into(),
    });
    context
}

/// One invocation through `LogContextLayer`; the handler logs at every level inside a span.
async fn invoke(request_id: &str, payload: Value) -> Value {
    let handler = tower::service_fn(|event: LambdaEvent<Value>| async move {
        let span = tracing::info_span!("handle", order_id = 42_u64, stage = "start");
        let _entered = span.enter();
        span.record("stage", "running");
        tracing::trace!("trace line");
        tracing::debug!(detail = "x", "debug line");
        tracing::info!(items = 3, "info line");
        tracing::warn!("warn line");
        tracing::error!(error_code = "E1", "error line");
        Ok::<_, Infallible>(event.payload)
    });
    let service = LogContextLayer::new().layer(handler);
    match service
        .oneshot(LambdaEvent::new(payload, context(request_id)))
        .await
    {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

fn json_lines(buffer: &LogBuffer) -> Vec<Value> {
    match buffer.json_lines() {
        Ok(lines) => lines,
        Err(line) => panic!("not JSON: {line}"),
    }
}

fn messages(lines: &[Value]) -> Vec<&str> {
    lines
        .iter()
        .map(|line| line["message"].as_str().unwrap_or("<none>"))
        .collect()
}

fn is_rfc3339_millis(stamp: &str) -> bool {
    let bytes = stamp.as_bytes();
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22];
    bytes.len() == 24
        && digits.iter().all(|&i| bytes[i].is_ascii_digit())
        && &stamp[4..5] == "-"
        && &stamp[7..8] == "-"
        && &stamp[10..11] == "T"
        && &stamp[13..14] == ":"
        && &stamp[16..17] == ":"
        && &stamp[19..20] == "."
        && stamp.ends_with('Z')
}

#[tokio::test]
async fn json_lines_carry_the_lambda_context_across_invocations() {
    let buffer = LogBuffer::new();
    let config = config_from(&[
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("POWERTOOLS_SERVICE_NAME", "shop"),
        ("AWS_LAMBDA_FUNCTION_NAME", "orders"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "7"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
    ]);
    let _guard = tracing_subscriber::registry()
        .with(
            LogLayer::new(config)
                .with_writer(buffer.clone())
                .cold_start(crate::fresh_cold_start()),
        )
        .set_default();

    tracing::info!(phase = "init", "starting");
    assert_eq!(invoke("req-1", json!({"n": 1})).await, json!({"n": 1}));
    assert_eq!(invoke("req-2", json!({"n": 2})).await, json!({"n": 2}));
    tracing::info!("between");

    let lines = json_lines(&buffer);
    assert_eq!(
        messages(&lines),
        [
            "starting",
            "info line",
            "warn line",
            "error line",
            "info line",
            "warn line",
            "error line",
            "between"
        ]
    );
    for line in &lines {
        let stamp = line["timestamp"].as_str().unwrap_or("");
        assert!(is_rfc3339_millis(stamp), "{stamp}");
        assert_eq!(line["target"], module_path!());
        assert_eq!(line["service"], "shop");
        assert_eq!(line["function_name"], "orders");
        assert_eq!(line["function_version"], "7");
        assert_eq!(line["function_memory_size"], 256);
        assert!(line.get("sampling_rate").is_none());
    }

    // Init: context from the environment only, still the cold start.
    let init = &lines[0];
    assert_eq!(init["level"], "INFO");
    assert_eq!(init["cold_start"], true);
    assert_eq!(init["phase"], "init");
    assert!(init.get("function_request_id").is_none());
    assert!(init.get("xray_trace_id").is_none());

    for (lines, request_id, cold) in [
        (&lines[1..4], "req-1", true),
        (&lines[4..7], "req-2", false),
    ] {
        for line in lines {
            assert_eq!(line["function_request_id"], request_id, "{line}");
            assert_eq!(line["xray_trace_id"], TRACE_ROOT);
            assert_eq!(line["cold_start"], cold);
            assert_eq!(
                line["function_arn"],
                "arn:aws:lambda:eu-west-1:123456789012:function:orders"
            );
            // Span fields, with the recorded value replacing the initial one.
            assert_eq!(line["order_id"], 42);
            assert_eq!(line["stage"], "running");
        }
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[0]["items"], 3);
        assert_eq!(lines[1]["level"], "WARN");
        assert_eq!(lines[2]["level"], "ERROR");
        assert_eq!(lines[2]["error_code"], "E1");
    }

    let after = &lines[7];
    assert_eq!(after["cold_start"], false);
    assert!(after.get("function_request_id").is_none());
}

/// `lambda_runtime::run` wraps every invocation in its own span (`requestId`, `xrayTraceId`); it
/// becomes the context rather than fields, and one invocation counts once for the cold start.
#[tokio::test]
async fn the_runtime_invocation_span_is_context_not_fields() {
    let buffer = LogBuffer::new();
    let config = config_from(&[("AWS_LAMBDA_FUNCTION_NAME", "orders-env")]);
    let _guard = tracing_subscriber::registry()
        .with(
            LogLayer::new(config)
                .with_writer(buffer.clone())
                .cold_start(crate::fresh_cold_start()),
        )
        .set_default();
    let header = format!("Root={TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1");
    let runtime_span = |request_id: &str| {
        tracing::info_span!(
            target: "lambda_runtime::layers::trace",
            "Lambda runtime invoke",
            requestId = request_id,
            xrayTraceId = header.as_str()
        )
    };
    // LogContextLayer inside the runtime's span, as with `lambda_runtime::run`.
    for request_id in ["req-1", "req-2"] {
        invoke(request_id, Value::Null)
            .instrument(runtime_span(request_id))
            .await;
    }
    // The runtime's span alone: no LogContextLayer.
    async { tracing::info!("bare handler") }
        .instrument(runtime_span("req-3"))
        .await;

    let lines = json_lines(&buffer);
    assert_eq!(lines.len(), 7);
    let expected = [
        ("req-1", true, "orders"),
        ("req-1", true, "orders"),
        ("req-1", true, "orders"),
        ("req-2", false, "orders"),
        ("req-2", false, "orders"),
        ("req-2", false, "orders"),
        ("req-3", false, "orders-env"),
    ];
    for (line, (request_id, cold, function)) in lines.iter().zip(expected) {
        assert_eq!(line["function_request_id"], request_id, "{line}");
        assert_eq!(line["cold_start"], cold, "{line}");
        assert_eq!(line["function_name"], function, "{line}");
        assert_eq!(line["xray_trace_id"], TRACE_ROOT, "{line}");
        assert!(line.get("requestId").is_none(), "{line}");
        assert!(line.get("xrayTraceId").is_none(), "{line}");
    }
}

#[tokio::test]
async fn the_level_comes_from_aws_lambda_log_level() {
    for (level, expected) in [
        (
            "TRACE",
            &[
                "trace line",
                "debug line",
                "info line",
                "warn line",
                "error line",
            ][..],
        ),
        (
            "DEBUG",
            &["debug line", "info line", "warn line", "error line"][..],
        ),
        ("WARN", &["warn line", "error line"][..]),
        ("FATAL", &["error line"][..]),
    ] {
        let buffer = LogBuffer::new();
        let config = config_from(&[("AWS_LAMBDA_LOG_LEVEL", level)]);
        let _guard = tracing_subscriber::registry()
            .with(
                LogLayer::new(config)
                    .with_writer(buffer.clone())
                    .cold_start(crate::fresh_cold_start()),
            )
            .set_default();
        invoke("req", Value::Null).await;
        let lines = json_lines(&buffer);
        assert_eq!(messages(&lines), expected, "{level}");
        if level == "DEBUG" {
            assert_eq!(lines[0]["level"], "DEBUG");
            assert_eq!(lines[0]["detail"], "x");
        }
    }
}

#[tokio::test]
async fn sampled_invocations_log_debug() {
    // Rate 1: every invocation logs DEBUG though the level is INFO; init lines do not.
    let buffer = LogBuffer::new();
    let config = config_from(&[("POWERTOOLS_LOGGER_SAMPLE_RATE", "1.0")]);
    let _guard = tracing_subscriber::registry()
        .with(
            LogLayer::new(config)
                .with_writer(buffer.clone())
                .cold_start(crate::fresh_cold_start()),
        )
        .set_default();
    tracing::debug!("init debug");
    invoke("req", Value::Null).await;
    let lines = json_lines(&buffer);
    assert_eq!(
        messages(&lines),
        ["debug line", "info line", "warn line", "error line"]
    );
    assert_eq!(lines[0]["sampling_rate"], 1.0);
    drop(_guard);

    // Rate 0: never.
    let buffer = LogBuffer::new();
    let config = config_from(&[("POWERTOOLS_LOGGER_SAMPLE_RATE", "0")]);
    let _guard = tracing_subscriber::registry()
        .with(
            LogLayer::new(config)
                .with_writer(buffer.clone())
                .cold_start(crate::fresh_cold_start()),
        )
        .set_default();
    invoke("req", Value::Null).await;
    assert_eq!(
        messages(&json_lines(&buffer)),
        ["info line", "warn line", "error line"]
    );
}

/// Which of `count` invocations were debug-sampled at rate one half, with `seed`.
async fn sampled_pattern(seed: u64, count: usize) -> Vec<bool> {
    let buffer = LogBuffer::new();
    let layer = LogLayer::new(LogConfig::new().sample_rate(0.5))
        .with_sample_seed(seed)
        .with_writer(buffer.clone());
    let _guard = tracing_subscriber::registry().with(layer).set_default();
    let mut pattern = Vec::new();
    for i in 0..count {
        buffer.clear();
        invoke(&format!("req-{i}"), Value::Null).await;
        let lines = json_lines(&buffer);
        let debug = lines.iter().filter(|line| line["level"] == "DEBUG").count();
        // Sampling is per invocation: all of its debug lines or none.
        assert!(debug <= 1, "{debug}");
        assert_eq!(lines.len(), 3 + debug);
        pattern.push(debug == 1);
    }
    pattern
}

#[tokio::test]
async fn sampling_is_per_invocation_and_seedable() {
    let first = sampled_pattern(7, 64).await;
    let sampled = first.iter().filter(|&&s| s).count();
    assert!(
        (10..=54).contains(&sampled),
        "{sampled} of 64 sampled at 0.5"
    );
    assert_eq!(sampled_pattern(7, 64).await, first);
}

#[tokio::test]
async fn configured_fields_are_redacted() {
    let buffer = LogBuffer::new();
    let config = config_from(&[]).redact_field("SSN");
    let _guard = tracing_subscriber::registry()
        .with(
            LogLayer::new(config)
                .with_writer(buffer.clone())
                .cold_start(crate::fresh_cold_start()),
        )
        .set_default();
    let span = tracing::info_span!("login", token = "tok-SECRET-1", user = "ann");
    let _entered = span.enter();
    tracing::info!(
        password = "hunter2-SECRET-2",
        Authorization = "Bearer SECRET-3",
        ssn = 123_456_789_u64,
        user.password = ?"SECRET-4",
        body = r#"{"user":"ann","credentials":{"PASSWORD":"SECRET-5"},"list":[{"token":"SECRET-6"}]}"#,
        "login attempt"
    );
    drop(_entered);

    let contents = buffer.contents();
    assert!(!contents.contains("SECRET"), "{contents}");
    assert!(!contents.contains("123456789"), "{contents}");
    let lines = json_lines(&buffer);
    let line = &lines[0];
    for key in ["token", "password", "Authorization", "ssn", "user.password"] {
        assert_eq!(line[key], "[REDACTED]", "{key}");
    }
    assert_eq!(line["user"], "ann");
    let body: Value = serde_json::from_str(line["body"].as_str().unwrap_or("")).unwrap_or_default();
    assert_eq!(body["user"], "ann");
    assert_eq!(body["credentials"]["PASSWORD"], "[REDACTED]");
    assert_eq!(body["list"][0]["token"], "[REDACTED]");
}

#[tokio::test]
async fn text_format_writes_lambda_text_lines() {
    let buffer = LogBuffer::new();
    let config = config_from(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]);
    let _guard = tracing_subscriber::registry()
        .with(
            LogLayer::new(config)
                .with_writer(buffer.clone())
                .cold_start(crate::fresh_cold_start()),
        )
        .set_default();
    tracing::info!(password = "SECRET", "two\nlines");
    invoke("req-9", Value::Null).await;

    let lines = buffer.lines();
    assert_eq!(lines.len(), 4, "{lines:?}");
    let target = module_path!();
    let init: Vec<&str> = lines[0].split('\t').collect();
    assert!(is_rfc3339_millis(init[0]), "{}", init[0]);
    assert_eq!(
        init[1..],
        [
            "-",
            "INFO",
            &format!("{target}: two\\nlines password=[REDACTED]")
        ]
    );
    let info: Vec<&str> = lines[1].split('\t').collect();
    assert_eq!(
        info[1..],
        [
            "req-9",
            "INFO",
            &format!("{target}: info line order_id=42 stage=running items=3")
        ]
    );
    assert!(lines[3].contains("\tERROR\t"), "{}", lines[3]);
}

#[test]
fn fields_named_like_context_keys_cannot_forge_them() {
    let buffer = LogBuffer::new();
    let layer = LogLayer::new(LogConfig::new())
        .with_writer(buffer.clone())
        .cold_start(crate::fresh_cold_start());
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::warn!(level = "INFO", cold_start = false, "real warning");
    });
    let lines = json_lines(&buffer);
    assert_eq!(lines[0]["level"], "WARN");
    assert_eq!(lines[0]["cold_start"], true);
    assert_eq!(lines[0]["field_level"], "INFO");
    assert_eq!(lines[0]["field_cold_start"], false);
}

#[test]
fn lines_from_many_threads_stay_whole() {
    let buffer = LogBuffer::new();
    let layer = LogLayer::new(LogConfig::new())
        .with_writer(buffer.clone())
        .cold_start(crate::fresh_cold_start());
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let threads: Vec<_> = (0..8)
        .map(|thread| {
            let dispatch = dispatch.clone();
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for i in 0..200 {
                        tracing::info!(thread, i, padding = "x".repeat(300), "line");
                    }
                });
            })
        })
        .collect();
    for thread in threads {
        assert!(thread.join().is_ok());
    }
    assert_eq!(json_lines(&buffer).len(), 1600);
}

#[test]
fn bad_environment_is_an_error() {
    let result = LogConfig::from_lookup(vars(&[("AWS_LAMBDA_LOG_LEVEL", "VERBOSE")]));
    assert_eq!(
        result.err(),
        Some(LogConfigError::InvalidLevel {
            variable: "AWS_LAMBDA_LOG_LEVEL",
            value: "VERBOSE".into()
        })
    );
    let result = LogConfig::from_lookup(vars(&[("AWS_LAMBDA_LOG_FORMAT", "yaml")]));
    assert!(matches!(result, Err(LogConfigError::InvalidFormat { .. })));
}
