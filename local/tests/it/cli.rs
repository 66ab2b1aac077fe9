//! The `lamina-local` command line: outputs and documented exit codes.

use std::process::{Command, Output};

use serde_json::Value;

use crate::support::echo_function;

const CLI: &str = env!("CARGO_BIN_EXE_lamina-local");

fn run(args: &[&str]) -> Output {
    Command::new(CLI)
        .args(args)
        .env("LAMINA_LOG", "warn")
        .output()
        .unwrap()
}

/// Runs `lamina-local invoke --bin <echo function>` with `extra` arguments.
fn invoke_echo(extra: &[&str]) -> Output {
    let bin = echo_function();
    let mut args = vec!["invoke", "--bin", bin.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn invoke_prints_the_response_the_report_and_the_trace() {
    let output = invoke_echo(&["--payload", r#"{"echo": "cli"}"#]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let body: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(body["echo"], "cli");
    assert!(stderr.contains("REPORT RequestId: "), "{stderr}");
    assert!(stderr.contains("Init Duration: "), "{stderr}");
    assert!(
        stderr.contains("AWS::Lambda::Function") && stderr.contains("Initialization"),
        "{stderr}"
    );
}

#[test]
fn a_relative_binary_path_is_resolved_from_the_working_directory() {
    let bin = echo_function();
    let (Some(dir), Some(name)) = (bin.parent(), bin.file_name()) else {
        panic!("unexpected binary path {}", bin.display());
    };
    let parent = dir.parent().unwrap();
    let relative = std::path::Path::new(dir.file_name().unwrap()).join(name);
    let output = Command::new(CLI)
        .current_dir(parent)
        .args([
            "invoke",
            "--bin",
            relative.to_str().unwrap(),
            "--payload",
            r#"{"echo": "relative"}"#,
            "--no-xray",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains(r#""echo":"relative""#));
}

#[test]
fn an_event_file_and_json_output() {
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(&event, r#"{"echo": [1, 2, 3]}"#).unwrap();
    let output = invoke_echo(&[
        "--event",
        event.to_str().unwrap(),
        "--repeat",
        "3",
        "--output",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let reports: Vec<Value> = text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 3);
    let cold: Vec<bool> = reports
        .iter()
        .map(|r| r["cold_start"].as_bool().unwrap())
        .collect();
    assert_eq!(cold, [true, false, false]);
    assert!(reports[0]["init_duration"].as_f64().is_some());
    assert!(reports[1]["init_duration"].is_null());
    assert_eq!(reports[2]["outcome"]["status"], "success");
}

#[test]
fn a_failed_invocation_exits_1() {
    let output = invoke_echo(&["--payload", r#"{"error": "bad"}"#, "--no-xray"]);
    assert_eq!(output.status.code(), Some(1));
    let body: Value = serde_json::from_str(text(&output.stdout).trim()).unwrap();
    assert_eq!(body["errorType"], "EchoError");
    assert!(text(&output.stderr).contains("Status: error"));
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let malformed = dir.path().join("bad.json");
    std::fs::write(&malformed, "{\"echo\": ").unwrap();
    let bin = echo_function();
    let bin = bin.to_str().unwrap();
    let missing_event = dir.path().join("missing.json");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["invoke", "--bin", "/nonexistent/bootstrap"],
            "does not exist",
        ),
        (
            vec![
                "invoke",
                "--bin",
                bin,
                "--event",
                malformed.to_str().unwrap(),
            ],
            "is not valid JSON",
        ),
        (
            vec![
                "invoke",
                "--bin",
                bin,
                "--event",
                missing_event.to_str().unwrap(),
            ],
            "cannot read the event file",
        ),
        (
            vec!["invoke", "--bin", bin, "--payload", "nope"],
            "--payload is not valid JSON",
        ),
        (
            vec!["invoke", "--bin", bin, "--trace-header", "Root=x"],
            "--trace-header",
        ),
        (
            vec!["invoke", "--bin", bin, "--timeout", "0"],
            "--timeout must be",
        ),
        (
            vec!["invoke", "--bin", bin, "--env", "NOEQUALS"],
            "KEY=VALUE",
        ),
        (vec!["invoke"], "--bin"),
    ];
    for (args, expected) in cases {
        let output = run(&args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_port_in_use_exits_3() {
    let bin = echo_function();
    let taken_tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp = taken_tcp.local_addr().unwrap().to_string();
    let output = run(&[
        "serve",
        "--bin",
        bin.to_str().unwrap(),
        "--listen",
        &tcp,
        "--no-xray",
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains(&tcp));

    let taken_udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp = taken_udp.local_addr().unwrap().to_string();
    let output = run(&["xray", "--listen", &udp]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains(&udp),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test]
async fn serve_answers_curl_style_requests_until_interrupted() {
    let bin = echo_function();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(CLI)
        .args([
            "serve",
            "--bin",
            bin.to_str().unwrap(),
            "--listen",
            &listen,
            "--no-xray",
        ])
        .env("LAMINA_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://{listen}/2015-03-31/functions/function/invocations");
    let mut answered = None;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&listen).await.is_ok() {
            answered = Some(crate::support::post(&url, &[], r#"{"echo": "served"}"#).await);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let response = answered.expect("serve never listened");
    assert_eq!(response.status, 200);
    assert!(response.body.contains("served"), "{}", response.body);
    // Ctrl-C stops it cleanly, with exit code 0.
    let pid = child.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn invoke_with_concurrency_scales_out_and_summarises_cold_and_warm_starts() {
    let output = invoke_echo(&[
        "--payload",
        r#"{"sleep_ms": 500}"#,
        "--concurrency",
        "3",
        "--repeat",
        "6",
        "--no-xray",
        "--output",
        "json",
    ]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let reports: Vec<Value> = text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 6);
    // The first three ran at once, each in an environment of its own; the next three reused them.
    let cold = reports.iter().filter(|r| r["cold_start"] == true).count();
    assert_eq!(cold, 3, "{reports:#?}");
    let environments: std::collections::BTreeSet<u64> = reports
        .iter()
        .map(|r| r["environment"].as_u64().unwrap())
        .collect();
    assert_eq!(environments, [1, 2, 3].into());
    assert!(
        stderr.contains(
            "6 invocations, 3 at a time: 3 cold starts, 3 warm, 3 environments, 0 failed"
        ),
        "{stderr}"
    );
    for line in ["latency ", "duration ", "init duration "] {
        assert!(
            stderr.contains(line) && stderr.contains(" p99 "),
            "{stderr}"
        );
    }
}
