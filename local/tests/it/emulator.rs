//! The Runtime API emulator driving the real `lambda_runtime` loop of the echo function.

use std::time::Duration;

use lamina_local::emulator::{Emulator, EmulatorError, FunctionConfig, InvocationRequest, Outcome};
use lamina_local::trace_header::TraceHeader;
use serde_json::json;

use crate::support::{body_json, echo_config, emulator};

#[tokio::test]
async fn two_hundred_invocations_return_their_own_bodies() {
    let emulator = emulator(echo_config()).await;
    for i in 0..200 {
        let payload = json!({"echo": {"n": i, "text": format!("payload {i}")}}).to_string();
        let report = emulator
            .invoke(InvocationRequest::new(payload))
            .await
            .unwrap();
        let body = body_json(&report);
        assert_eq!(
            body["echo"],
            json!({"n": i, "text": format!("payload {i}")})
        );
        assert_eq!(body["request_id"], report.request_id.as_str());
        // The header the emulator sent is the one the handler saw, in its Context and in the env var.
        assert_eq!(body["trace_id"], report.trace_header.as_str());
        assert_eq!(body["env_trace_id"], report.trace_header.as_str());
        assert!(
            TraceHeader::parse(&report.trace_header)
                .unwrap()
                .is_sampled()
        );
        // Init is reported on the cold start only.
        assert_eq!(report.cold_start, i == 0, "invocation {i}");
        assert_eq!(report.init_duration.is_some(), i == 0, "invocation {i}");
        assert!(report.billed_duration >= report.duration);
        assert!(report.max_memory_used_mb > 0);
    }
}

#[tokio::test]
async fn the_context_carries_lambdas_fields() {
    let config = echo_config()
        .function_name("orders")
        .memory_mb(512)
        .timeout(Duration::from_secs(7));
    let emulator = emulator(config).await;
    let before_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let request = InvocationRequest::new(r#"{"echo": 1}"#)
        .client_context(r#"{"client":{"installation_id":"i-1","app_title":"demo","app_version_name":"1.0","app_version_code":"1","app_package_name":"com.example"},"custom":{"tenant":"t1"},"env":{}}"#)
        .cognito_identity(r#"{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}"#);
    let report = emulator.invoke(request).await.unwrap();
    let body = body_json(&report);
    assert_eq!(body["function_name"], "orders");
    assert_eq!(body["memory_mb"], 512);
    assert_eq!(
        body["function_arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:orders"
    );
    assert_eq!(
        body["client_context"],
        json!({"app_title": "demo", "custom": {"tenant": "t1"}})
    );
    assert_eq!(
        body["identity"],
        json!({"identity_id": "id-1", "identity_pool_id": "pool-1"})
    );
    let deadline = body["deadline_ms"].as_u64().unwrap();
    assert!(
        deadline >= before_ms + 7000 && deadline < before_ms + 8000,
        "deadline {deadline}, now {before_ms}"
    );
    assert_eq!(report.memory_size_mb, 512);
}

#[tokio::test]
async fn a_callers_trace_header_reaches_the_handler_unchanged() {
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1";
    let emulator = emulator(echo_config()).await;
    let report = emulator
        .invoke(InvocationRequest::new("{}").trace_header(header))
        .await
        .unwrap();
    assert_eq!(report.trace_header, header);
    assert_eq!(body_json(&report)["trace_id"], header);
}

#[tokio::test]
async fn a_handler_error_arrives_as_error_type_and_message() {
    let emulator = emulator(echo_config()).await;
    let report = emulator
        .invoke(r#"{"error": "the order is gone"}"#)
        .await
        .unwrap();
    assert_eq!(
        report.outcome,
        Outcome::HandlerError {
            error_type: "EchoError".to_owned(),
            error_message: "the order is gone".to_owned()
        }
    );
    assert_eq!(
        report.outcome.error_body(&report.request_id),
        Some(json!({"errorType": "EchoError", "errorMessage": "the order is gone"}))
    );
    // A handler error does not end the execution environment.
    let next = emulator.invoke(r#"{"echo": 2}"#).await.unwrap();
    assert!(!next.cold_start);
    assert_eq!(body_json(&next)["echo"], 2);
}

#[tokio::test]
async fn a_panic_is_reported_by_the_runtime_and_the_environment_survives() {
    let emulator = emulator(echo_config()).await;
    let report = emulator
        .invoke(r#"{"panic": "index out of bounds in the basket"}"#)
        .await
        .unwrap();
    match &report.outcome {
        Outcome::HandlerError { error_message, .. } => {
            assert!(
                error_message.contains("index out of bounds in the basket"),
                "{error_message}"
            );
        }
        other => panic!("expected a handler error, got {other:?}"),
    }
    assert!(!emulator.invoke("{}").await.unwrap().cold_start);
}

#[tokio::test]
async fn an_exit_is_a_crash_and_the_next_invocation_is_a_cold_start() {
    let emulator = emulator(echo_config()).await;
    assert!(emulator.invoke("{}").await.unwrap().cold_start);
    let report = emulator.invoke(r#"{"exit": 3}"#).await.unwrap();
    assert_eq!(
        report.outcome,
        Outcome::Crashed {
            exit: "exit status: 3".to_owned()
        }
    );
    assert_eq!(report.outcome.error_type(), Some("Runtime.ExitError"));
    assert!(!emulator.is_warm().await);
    let next = emulator.invoke(r#"{"echo": "again"}"#).await.unwrap();
    assert!(next.cold_start && next.init_duration.is_some());
    assert_eq!(body_json(&next)["echo"], "again");
}

#[tokio::test]
async fn a_runtime_that_died_between_invocations_is_replaced_by_a_cold_start() {
    let emulator = emulator(echo_config()).await;
    let report = emulator.invoke(r#"{"exit_after_ms": 20}"#).await.unwrap();
    assert!(report.outcome.is_success());
    for _ in 0..200 {
        if !emulator.is_warm().await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(!emulator.is_warm().await, "the runtime should have exited");
    let next = emulator.invoke(r#"{"echo": "fresh"}"#).await.unwrap();
    assert!(next.cold_start, "{next}");
    assert_eq!(body_json(&next)["echo"], "fresh");
}

#[tokio::test]
async fn a_timeout_kills_the_process_and_the_next_invocation_is_a_cold_start() {
    let config = echo_config().timeout(Duration::from_millis(400));
    let emulator = emulator(config).await;
    let report = emulator.invoke(r#"{"sleep_ms": 20000}"#).await.unwrap();
    assert_eq!(
        report.outcome,
        Outcome::TimedOut {
            timeout: Duration::from_millis(400)
        }
    );
    assert!(report.duration >= Duration::from_millis(400), "{report}");
    assert!(report.duration < Duration::from_secs(10), "{report}");
    assert!(
        report.to_string().contains("\tStatus: timeout\t"),
        "{report}"
    );
    assert!(!emulator.is_warm().await);
    let next = emulator.invoke(r#"{"echo": 1}"#).await.unwrap();
    assert!(next.cold_start);
    assert!(next.outcome.is_success());
}

#[tokio::test]
async fn an_exit_during_init_is_an_init_failure_with_its_output() {
    let emulator = emulator(echo_config().env("ECHO_FAIL_INIT", "no table name")).await;
    let report = emulator.invoke("{}").await.unwrap();
    match &report.outcome {
        Outcome::InitFailed {
            error_type,
            error_message,
        } => {
            assert_eq!(error_type, "Runtime.ExitError");
            assert!(error_message.contains("exit status: 1"), "{error_message}");
        }
        other => panic!("expected an init failure, got {other:?}"),
    }
    assert!(report.init_duration.is_some());
    assert!(
        report
            .logs
            .iter()
            .any(|l| l.stream == "stderr" && l.text.contains("init failed: no table name")),
        "{:?}",
        report.logs
    );
    assert!(!emulator.is_warm().await);
}

#[tokio::test]
async fn an_init_error_report_is_an_init_failure_with_its_type() {
    let emulator =
        emulator(echo_config().env("ECHO_REPORT_INIT_ERROR", "cannot reach the database")).await;
    let report = emulator.invoke("{}").await.unwrap();
    assert_eq!(
        report.outcome,
        Outcome::InitFailed {
            error_type: "EchoInitError".to_owned(),
            error_message: "cannot reach the database".to_owned()
        }
    );
}

#[tokio::test]
async fn a_slow_init_times_out() {
    let config = echo_config()
        .env("ECHO_INIT_SLEEP_MS", "20000")
        .init_timeout(Duration::from_millis(300));
    let report = emulator(config).await.invoke("{}").await.unwrap();
    assert_eq!(report.outcome.error_type(), Some("Sandbox.Timedout"));
    assert!(matches!(report.outcome, Outcome::InitFailed { .. }));
}

#[tokio::test]
async fn max_memory_used_follows_what_the_function_touches() {
    let emulator = emulator(echo_config().memory_mb(256)).await;
    let small = emulator.invoke("{}").await.unwrap();
    let large = emulator.invoke(r#"{"allocate_mb": 64}"#).await.unwrap();
    assert_eq!(body_json(&large)["ballast_bytes"], 64 * 1024 * 1024);
    assert!(
        large.max_memory_used_mb >= small.max_memory_used_mb + 60,
        "{small} / {large}"
    );
}

#[tokio::test]
async fn concurrent_callers_each_get_their_own_answer() {
    let emulator = emulator(echo_config()).await;
    let calls = (0..8).map(|i| {
        let emulator = emulator.clone();
        tokio::spawn(async move {
            emulator
                .invoke(InvocationRequest::new(json!({"echo": i}).to_string()))
                .await
        })
    });
    let mut seen = Vec::new();
    for call in calls {
        let report = call.await.unwrap().unwrap();
        seen.push(body_json(&report)["echo"].as_i64().unwrap());
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..8).collect::<Vec<_>>());
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_spawns_nothing() {
    let missing = Emulator::start(FunctionConfig::new("/nonexistent/bootstrap")).await;
    assert!(
        matches!(missing, Err(EmulatorError::MissingExecutable(_))),
        "{missing:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let not_executable = dir.path().join("bootstrap");
    std::fs::write(&not_executable, "#!/bin/sh\n").unwrap();
    let refused = Emulator::start(FunctionConfig::new(&not_executable)).await;
    assert!(
        matches!(refused, Err(EmulatorError::NotExecutable(_))),
        "{refused:?}"
    );
    let refused = Emulator::start(FunctionConfig::new(dir.path())).await;
    assert!(
        matches!(refused, Err(EmulatorError::NotExecutable(_))),
        "{refused:?}"
    );

    let emulator = emulator(echo_config()).await;
    let error = emulator.invoke("{\"unterminated").await.unwrap_err();
    assert!(error.to_string().contains("not valid JSON"), "{error}");
    let error = emulator
        .invoke(InvocationRequest::new("{}").trace_header("Root=garbage"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, EmulatorError::InvalidTraceHeader(_)),
        "{error}"
    );
    assert!(
        !emulator.is_warm().await,
        "nothing should have been spawned for bad input"
    );
}

#[tokio::test]
async fn active_tracing_sends_the_function_segment_as_lambda_does() {
    use lamina_local::xray::{CollectorConfig, XrayCollector};
    let collector =
        XrayCollector::start(CollectorConfig::new().bind("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
    let emulator = emulator(
        echo_config()
            .function_name("traced")
            .xray_daemon(collector.daemon_address()),
    )
    .await;
    let upstream = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    // A fresh trace id: the validator refuses ids older than 30 days.
    let fresh = TraceHeader::new_sampled();
    let upstream = upstream.replace("1-5759e988-bd862e3fe1be46a994272793", &fresh.root);
    let report = emulator
        .invoke(InvocationRequest::new("{}").trace_header(upstream.clone()))
        .await
        .unwrap();

    let seen = TraceHeader::parse(body_json(&report)["trace_id"].as_str().unwrap()).unwrap();
    assert_eq!(seen.root, fresh.root);
    assert_ne!(
        seen.parent.as_deref(),
        Some("53995c3f42cd8ad8"),
        "the function's parent is Lambda's segment"
    );

    let trace = collector
        .wait_for_trace(&fresh.root, Duration::from_secs(5))
        .await
        .unwrap();
    let function = trace.find("traced").unwrap();
    assert_eq!(Some(function.id.as_str()), seen.parent.as_deref());
    assert_eq!(function.parent_id.as_deref(), Some("53995c3f42cd8ad8"));
    assert_eq!(function.child_names(), ["Initialization", "Invocation"]);
    assert!(!function.fault);
    assert!(
        collector.rejections().is_empty(),
        "{:?}",
        collector.rejections()
    );

    // A failed invocation marks the function segment as a fault.
    let failed = emulator.invoke(r#"{"error": "boom"}"#).await.unwrap();
    let root = TraceHeader::parse(&failed.trace_header).unwrap().root;
    let trace = collector
        .wait_for_trace(&root, Duration::from_secs(5))
        .await
        .unwrap();
    let function = trace.find("traced").unwrap();
    assert!(function.fault);
    assert_eq!(function.child_names(), ["Invocation"]);
    collector.shutdown().await;
}

#[tokio::test]
async fn a_caller_that_gives_up_does_not_stop_the_invocation() {
    let emulator = emulator(echo_config().timeout(Duration::from_millis(400))).await;
    // The caller stops waiting long before the function would answer...
    let abandoned = tokio::time::timeout(
        Duration::from_millis(100),
        emulator.invoke(r#"{"sleep_ms": 20000}"#),
    )
    .await;
    assert!(
        abandoned.is_err(),
        "the slow invocation should still be running"
    );
    // ...and the invocation still runs to its end: the timeout is enforced and the process killed.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        !emulator.is_warm().await,
        "the abandoned invocation's timeout was not enforced"
    );
    let next = emulator.invoke(r#"{"echo": "mine"}"#).await.unwrap();
    assert_eq!(body_json(&next)["echo"], "mine");
    assert!(next.cold_start);
}
