//! Lambda's shutdown phase: SIGTERM to the runtime, a grace period, then SIGKILL.

use std::time::{Duration, Instant};

use crate::support::{body_json, echo_config, emulator};

fn pid_of(report: &lamina_local::emulator::InvocationReport) -> u64 {
    body_json(report)["pid"].as_u64().unwrap()
}

fn marker_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn process_exists(pid: u64) -> bool {
    // A reaped process has no /proc entry; the emulator reaps what it stops.
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test]
async fn shutdown_sends_sigterm_and_the_runtime_exits_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("sigterm.log");
    let config = echo_config()
        .env("ECHO_SIGTERM_MARKER", marker.display().to_string())
        .shutdown_grace(Duration::from_secs(5));
    let emulator = emulator(config).await;
    let pid = pid_of(&emulator.invoke("{}").await.unwrap());
    let started = Instant::now();
    emulator.shutdown().await;
    // It exited on SIGTERM, well before the 5 s grace would have ended in SIGKILL.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(marker_lines(&marker), [format!("sigterm {pid}")]);
    assert!(!process_exists(pid));
    assert_eq!(emulator.environments().running, 0);
}

#[tokio::test]
async fn a_runtime_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("sigterm.log");
    let config = echo_config()
        .env("ECHO_SIGTERM_MARKER", marker.display().to_string())
        .env("ECHO_IGNORE_SIGTERM", "1")
        .shutdown_grace(Duration::from_millis(300));
    let emulator = emulator(config).await;
    let pid = pid_of(&emulator.invoke("{}").await.unwrap());
    let started = Instant::now();
    emulator.shutdown().await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(marker_lines(&marker), [format!("sigterm {pid}")]);
    assert!(!process_exists(pid), "SIGKILL should have ended it");
}

#[tokio::test]
async fn a_reclaimed_idle_environment_gets_sigterm_too() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("sigterm.log");
    let config = echo_config()
        .env("ECHO_SIGTERM_MARKER", marker.display().to_string())
        .idle_timeout(Duration::from_millis(200));
    let emulator = emulator(config).await;
    let pid = pid_of(&emulator.invoke("{}").await.unwrap());
    for _ in 0..300 {
        if emulator.environments().running == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(emulator.environments().running, 0);
    assert_eq!(marker_lines(&marker), [format!("sigterm {pid}")]);
}

#[tokio::test]
async fn shutdown_waits_for_a_busy_environment_then_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("sigterm.log");
    let config = echo_config().env("ECHO_SIGTERM_MARKER", marker.display().to_string());
    let emulator = emulator(config).await;
    let busy = {
        let emulator = emulator.clone();
        tokio::spawn(async move { emulator.invoke(r#"{"sleep_ms": 700}"#).await.unwrap() })
    };
    while emulator.environments().running == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    emulator.shutdown().await;
    let report = busy.await.unwrap();
    // The invocation finished normally; only then was its environment told to stop.
    assert!(report.outcome.is_success(), "{report}");
    assert_eq!(
        marker_lines(&marker),
        [format!("sigterm {}", pid_of(&report))]
    );
    assert_eq!(emulator.environments().running, 0);
}
