//! The Python peers of the per-request benches, measured by the same `cargo bench`: Powertools for
//! AWS Lambda's Event Handler with CORS (peer of `request/whole stack, cached token`), its Tracer
//! subsegment (peer of `X-Ray subsegment sent/Rust, lamina-tracing`) and its Parameters cache hit
//! (peer of `secret cache hit`).
//!
//! One Python worker (`peers/powertools_peers.py`) starts once and runs each loop on request; it
//! times the loop with `time.perf_counter`, so neither interpreter start-up nor the pipe is counted.
//! Criterion prints its usual lines and saves its estimates; the versions go to `python_peers.json`.

#![allow(missing_docs)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use lamina_bench::cold_start::{Fixtures, ORIGIN, Route, SECRET_ID};
use lamina_bench::results;

struct Worker {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    fn run(&mut self, bench: &str, iterations: u64) -> Duration {
        writeln!(self.stdin, "{bench} {iterations}")
            .and_then(|()| self.stdin.flush())
            .unwrap_or_else(|e| panic!("the Python worker stopped: {e}"));
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("the Python worker stopped: {e}"));
        let seconds: f64 = line
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("the Python worker answered {line:?}: {e}"));
        Duration::from_secs_f64(seconds)
    }
}

fn python_peers(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let fixtures = rt
        .block_on(Fixtures::start())
        .unwrap_or_else(|e| panic!("the fixtures did not start: {e}"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/powertools_peers.py");
    let mut child = Command::new("python3")
        .arg(script)
        .envs(fixtures.moto_environment())
        .env("BENCH_EVENT", fixtures.event(Route::Hello))
        .env("BENCH_ORIGIN", ORIGIN)
        .env("BENCH_SECRET_ID", SECRET_ID)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3: {e}"));
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        panic!("the Python worker has no pipes");
    };
    let mut worker = Worker {
        stdin,
        stdout: BufReader::new(stdout),
    };
    let mut ready = String::new();
    worker
        .stdout
        .read_line(&mut ready)
        .unwrap_or_else(|e| panic!("the Python worker: {e}"));
    let Some(versions) = ready.trim().strip_prefix("ready ") else {
        panic!(
            "the Python worker did not start (python3 -m pip install 'aws-lambda-powertools[tracer]' boto3): {ready:?}"
        );
    };
    let versions: serde_json::Value =
        serde_json::from_str(versions).unwrap_or_else(|e| panic!("versions: {e}"));

    let mut group = c.benchmark_group("python peers");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (id, bench) in [
        ("Event Handler with CORS, one request", "event-handler"),
        ("Tracer subsegment sent", "tracer-subsegment"),
        ("Parameters cache hit", "parameters-cache-hit"),
    ] {
        group.bench_function(id, |b| {
            b.iter_custom(|iterations| worker.run(bench, iterations));
        });
    }
    group.finish();
    drop(worker);
    let _ = child.wait();
    if results::measuring() {
        let saved = results::save("python_peers", &serde_json::json!({"versions": versions}))
            .unwrap_or_else(|e| panic!("saving the Python peers' versions: {e}"));
        println!("saved {}", saved.display());
    }
    rt.block_on(fixtures.shutdown());
}

criterion_group!(benches, python_peers);
criterion_main!(benches);
