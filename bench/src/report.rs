//! The report generator behind `cargo run -p lamina-bench --bin bench-report`: reads criterion's
//! estimates and the benches' own result files, and writes `docs/src/benchmarks.md` with its chart.
//!
//! Every figure in the page comes from the files of one `cargo bench -p lamina-bench` run; a bench
//! that did not run shows as "not run", never as a number.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use crate::cold_start::{Language, Metric, VariantResult};

mod analysis;

/// Criterion's median estimates, in nanoseconds, by benchmark id (`group/function`).
#[derive(Debug, Default, Clone)]
pub struct Estimates {
    medians: BTreeMap<String, f64>,
}

#[derive(Deserialize)]
struct BenchmarkId {
    full_id: String,
}

#[derive(Deserialize)]
struct PointEstimate {
    point_estimate: f64,
}

#[derive(Deserialize)]
struct EstimatesFile {
    median: PointEstimate,
}

impl Estimates {
    /// Reads every `*/new/benchmark.json` and its `estimates.json` under criterion's folder.
    #[must_use]
    pub fn load(criterion_home: &Path) -> Self {
        let mut medians = BTreeMap::new();
        let mut pending = vec![criterion_home.to_path_buf()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if !path.is_dir() {
                    continue;
                }
                if path.file_name().is_some_and(|n| n == "new") {
                    let id = std::fs::read_to_string(path.join("benchmark.json"))
                        .ok()
                        .and_then(|t| serde_json::from_str::<BenchmarkId>(&t).ok());
                    let estimates = std::fs::read_to_string(path.join("estimates.json"))
                        .ok()
                        .and_then(|t| serde_json::from_str::<EstimatesFile>(&t).ok());
                    if let (Some(id), Some(estimates)) = (id, estimates) {
                        medians.insert(id.full_id, estimates.median.point_estimate);
                    }
                } else {
                    pending.push(path);
                }
            }
        }
        Self { medians }
    }

    /// Builds estimates from `(id, median ns)` pairs.
    #[must_use]
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, f64)>) -> Self {
        Self {
            medians: pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }

    /// The median of `id`, in nanoseconds.
    #[must_use]
    pub fn median(&self, id: &str) -> Option<f64> {
        self.medians.get(id).copied()
    }
}

/// The machine the benches ran on, from `/proc`.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    /// `model name` of the first CPU.
    pub cpu: String,
    /// Logical CPUs.
    pub cores: usize,
    /// `MemTotal`, in GiB.
    pub memory_gib: f64,
}

impl Machine {
    /// Reads `/proc/cpuinfo` and `/proc/meminfo`; unknown fields stay empty.
    #[must_use]
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Self::parse(&cpuinfo, &meminfo)
    }

    fn parse(cpuinfo: &str, meminfo: &str) -> Self {
        let field = |line: &str| line.split_once(':').map(|(_, v)| v.trim().to_owned());
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(field)
            .unwrap_or_else(|| "unknown".to_owned());
        let cores = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let memory_kib: f64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal"))
            .and_then(field)
            .and_then(|v| v.trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        Self {
            cpu,
            cores,
            memory_gib: memory_kib / 1024.0 / 1024.0,
        }
    }
}

/// The cold-start bench's saved results (`cold_start.json`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ColdStartFile {
    /// Every variant, run or skipped.
    pub variants: Vec<VariantResult>,
}

/// The Python peers' saved results (`python_peers.json`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PeersFile {
    /// Interpreter and package versions.
    pub versions: BTreeMap<String, String>,
}

/// Everything the page is made from.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Criterion's medians.
    pub estimates: Estimates,
    /// The cold-start variants.
    pub cold_start: Option<ColdStartFile>,
    /// The Python peers' versions.
    pub peers: Option<PeersFile>,
    /// The machine.
    pub machine: Machine,
    /// When the report was written (UTC, `YYYY-MM-DD`).
    pub date: String,
}

/// A duration in nanoseconds as a short human figure.
#[must_use]
pub fn human(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.1} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn ratio(value: Option<f64>, baseline: Option<f64>) -> String {
    match (value, baseline) {
        (Some(v), Some(b)) if b > 0.0 => format!("{:.2}×", v / b),
        _ => "–".to_owned(),
    }
}

fn or_not_run(ns: Option<f64>) -> String {
    ns.map_or_else(|| "not run".to_owned(), human)
}

/// The median of `metric` over a variant's samples (the same processes for every metric).
fn cold(file: &ColdStartFile, metric: Metric, id: &str) -> Option<f64> {
    file.variants
        .iter()
        .find(|v| v.id == id && v.skipped.is_none())?
        .median(metric)
}

/// The page, `docs/src/benchmarks.md`.
#[must_use]
pub fn markdown(inputs: &Inputs) -> String {
    let mut page = String::new();
    let m = &inputs.machine;
    let _ = write!(
        page,
        "# Benchmarks\n\n\
         <!-- Written by `cargo run -p lamina-bench --bin bench-report` from the results of \
         `cargo bench -p lamina-bench`; edit bench/src/report.rs, not this file. -->\n\n\
         All benchmarks are criterion benches in `bench/` (`lamina-bench`). Absolute times on shared \
         build machines are noise; the figures that mean something are the ratios, each measured \
         against a baseline in the same run. The figures of each table come from one run of its \
         bench.\n\n\
         **Machine:** {} ({} logical CPUs), {:.1} GiB memory, report written {}. Other builds shared \
         the machine while it ran.\n\n\
         ## Reproduce\n\n\
         ```sh\n\
         python3 -m pip install awslambdaric 'aws-lambda-powertools[tracer]' aws-xray-sdk boto3 'moto[server]'\n\
         (cd bench/functions/node-middy && npm ci)   # needs cmake, autoconf, automake, libtool\n\
         cargo bench -p lamina-bench                  # every bench: about 6 minutes once built\n\
         cargo run -p lamina-bench --bin bench-report # rewrites this page and its chart\n\
         ```\n\n\
         `LAMINA_BENCH_VARIANTS=rust-hello,rust-lamina` runs only some cold-start variants; \
         `LAMINA_BENCH_SAMPLES=N` sets the number of processes per variant (20 by default, at least 10). The `bench` profile is \
         `release` without whole-program LTO; the cold-start variants are real `release` builds \
         (LTO, one codegen unit, stripped), built by the bench itself.\n\n",
        m.cpu, m.cores, m.memory_gib, inputs.date
    );
    cold_start_section(&mut page, inputs);
    per_request_section(&mut page, inputs);
    page
}

fn cold_start_section(page: &mut String, inputs: &Inputs) {
    page.push_str(
        "## Cold start (`benches/cold_start.rs`)\n\n\
         Each sample is a fresh process started by the `lamina-local` emulator, as Lambda starts an \
         execution environment: **init** is spawn to the runtime's first `/next` (Lambda's Init \
         Duration), **first response** is the invoke call, spawn included, to the answer, **warm** is \
         the next invocation of the same process. Peak RSS is the process's `VmHWM` after the warm \
         invocation (Lambda's Max Memory Used, in whole MB). Every variant answers the same API \
         Gateway REST proxy request (`GET /hello` with an `Origin` and a bearer token) with the same \
         JSON body, except variant 3, which answers Udagram's `GET /groups?limit=5` (same headers) \
         with its empty first page; every variant runs with active tracing, its X-Ray documents going to \
         `lamina-local`'s collector; the secret comes from moto on loopback. The processes are \
         started round-robin over the variants (after one discarded round), so that load from \
         other work on the machine falls on all alike; the figures are medians over those \
         processes, the same processes for the three columns, and the ratios are against variant 1 \
         of the same run. Criterion prints its own estimates from the same samples.\n\n\
         The variants: (1) `bench/functions/hello`, bare `lambda_runtime` + `lambda_http`; \
         (2) `bench/functions/stack`, the same with JSON logs, EMF metrics, the X-Ray layers, CORS, \
         problem+json errors, the invocation context and deadline, JWT auth with the JWKS fetched at \
         init from a loopback server, and one Secrets Manager secret fetched at init (both fetches \
         concurrent); (4a) `python-hello`, a hello on `awslambdaric`; (4b) `python-powertools`, \
         Powertools' Logger, Tracer, Metrics, Parameters (the secret fetched at init) and the REST \
         Event Handler with CORS; (5) `node-middy`, `aws-lambda-ric` with middy (`http-cors`, \
         `http-error-handler`, `secrets-manager`, which prefetches at init) and the X-Ray SDK \
         capturing the SDK client. The Python and Node.js variants start through a `bootstrap` \
         script that `exec`s the interpreter, as a custom runtime would. Variant 2 also verifies the \
         token's RS256 signature on the first request; the peers do no JWT auth at all. \
         (3) is Udagram's API function: the example app's `udagram-lambda` binary (every handler \
         compiled in) with `_HANDLER=api`, its DynamoDB tables on moto (created by \
         `udagram::aws::create_tables`, empty), its search domain on `lamina-local`'s OpenSearch \
         stand-in and its JWKS prefetched at init from the same loopback server; `GET /groups` is \
         one DynamoDB query on the first request, and public, so the token is not checked.\n\n",
    );
    let Some(file) = &inputs.cold_start else {
        page.push_str("*The cold-start bench has not run: no `cold_start.json`.*\n\n");
        return;
    };
    let main: Vec<&VariantResult> = file.variants.iter().filter(|v| !v.ablation).collect();
    let base_id = "rust-hello";
    let base = |group| cold(file, group, base_id);
    let base_rss = file
        .variants
        .iter()
        .find(|v| v.id == base_id)
        .and_then(VariantResult::median_memory_mb);
    page.push_str(
        "| variant | init | × 1 | first response | × 1 | warm invocation | peak RSS | RSS − 1 | size |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for v in &main {
        if let Some(reason) = &v.skipped {
            let _ = writeln!(
                page,
                "| {} | not run: {} | | | | | | | |",
                v.label,
                reason.replace('|', "/").replace('\n', " ")
            );
            continue;
        }
        let (init, first, warm) = (
            cold(file, Metric::Init, &v.id),
            cold(file, Metric::FirstResponse, &v.id),
            cold(file, Metric::Warm, &v.id),
        );
        let rss = v.median_memory_mb();
        let _ = writeln!(
            page,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            v.label,
            or_not_run(init),
            ratio(init, base(Metric::Init)),
            or_not_run(first),
            ratio(first, base(Metric::FirstResponse)),
            or_not_run(warm),
            rss.map_or_else(|| "–".to_owned(), |mb| format!("{mb} MB")),
            match (rss, base_rss) {
                (Some(r), Some(b)) => format!("{:+} MB", i128::from(r) - i128::from(b)),
                _ => "–".to_owned(),
            },
            v.binary_bytes
                .map_or_else(|| "–".to_owned(), |b| format!("{:.2} MB", b as f64 / 1e6)),
        );
    }
    let runtimes: Vec<String> = main
        .iter()
        .filter(|v| v.skipped.is_none() && v.language != Language::Rust)
        .map(|v| format!("{}: {}", v.id, v.runtime))
        .collect();
    if !runtimes.is_empty() {
        let _ = writeln!(page, "\nRuntimes: {}.", runtimes.join("; "));
    }
    page.push_str(
        "\n![Cold start: init and first response, median per variant](benchmarks/cold-start.svg)\n\n\
         For reference, the [lambda-perf](https://maxday.github.io/lambda-perf/) daily figures \
         measured on AWS (hello functions, arm64, 128 MB) put init at about **14 ms for Rust**, \
         **80 ms for Python** and **125 ms for Node.js**. They are from AWS's machines, not this \
         one; compare their ratios with ours, not their values.\n\n",
    );
    goals(page, file);
    analysis::where_it_goes(page, file);
    ablations(page, file);
    analysis::choices(page);
}

fn goals(page: &mut String, file: &ColdStartFile) {
    let rss = |id: &str| {
        file.variants
            .iter()
            .find(|v| v.id == id)
            .and_then(VariantResult::median_memory_mb)
    };
    page.push_str("### Goals (issue 7), from this run\n\n");
    let verdict = |met: bool| if met { "met" } else { "**missed**" };
    match (
        cold(file, Metric::Init, "rust-lamina"),
        cold(file, Metric::Init, "rust-hello"),
    ) {
        (Some(stack), Some(hello)) => {
            let _ = writeln!(
                page,
                "- Variant 2's init within 1.10× variant 1's: {:.2}× ({} against {}), {}.",
                stack / hello,
                human(stack),
                human(hello),
                verdict(stack / hello <= 1.10)
            );
        }
        _ => page.push_str("- Variant 2's init within 1.10× variant 1's: not measured.\n"),
    }
    match (
        cold(file, Metric::FirstResponse, "python-powertools"),
        cold(file, Metric::FirstResponse, "rust-lamina"),
    ) {
        (Some(python), Some(stack)) => {
            let _ = writeln!(
                page,
                "- First response at least 10× faster than Powertools: {:.1}× ({} against {}), {}.",
                python / stack,
                human(stack),
                human(python),
                verdict(python / stack >= 10.0)
            );
        }
        _ => page.push_str("- First response at least 10× faster than Powertools: not measured.\n"),
    }
    match (rss("rust-lamina"), rss("rust-hello")) {
        (Some(stack), Some(hello)) => {
            let delta = i128::from(stack) - i128::from(hello);
            let _ = writeln!(
                page,
                "- Peak RSS within 5 MB of variant 1's: {delta:+} MB ({stack} MB against {hello} MB), {}.",
                verdict(delta <= 5)
            );
        }
        _ => page.push_str("- Peak RSS within 5 MB of variant 1's: not measured.\n"),
    }
    page.push('\n');
}

fn ablations(page: &mut String, file: &ColdStartFile) {
    let rows: Vec<&VariantResult> = file.variants.iter().filter(|v| v.ablation).collect();
    page.push_str(
        "### Ablations against variants 2 and 3\n\n\
         Rows starting with 2 are variant 2's binary with one setting changed through its \
         environment (`BENCH_PREFETCH`, `BENCH_EXTRA_CLIENT`, see \
         `bench/functions/stack/src/main.rs`), or built with one release-profile setting changed \
         through cargo's `CARGO_PROFILE_RELEASE_*` variables (`bench/src/profiles.rs`) against \
         the workspace's release profile (`lto = true`, `codegen-units = 1`, `strip = true`, \
         `opt-level = 3`, `panic = \"unwind\"`), or built with `--features ring` instead of the \
         default aws-lc-rs (`lamina-middleware`'s crypto backend); the row starting with 3 is \
         Udagram's packaging choice, the dispatching `udagram-lambda` against a \
         binary built with `--no-default-features --features handler-api`. The rebuilt ones run \
         only with `LAMINA_BENCH_PROFILE_ABLATIONS=1`. Ratios are against the variant the row \
         starts with. The init fetches go to servers on loopback here (moto, a local JWKS \
         server); on AWS they are network round trips, which the concurrent prefetch \
         overlaps.\n\n",
    );
    if rows.is_empty() {
        page.push_str("*No ablation ran.*\n\n");
    } else {
        page.push_str(
            "| ablation | init | × base | first response | × base | peak RSS | size |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for v in rows {
            let base_id = if v.id.starts_with("udagram-") {
                "udagram-api"
            } else {
                "rust-lamina"
            };
            let base = |group| cold(file, group, base_id);
            if let Some(reason) = &v.skipped {
                let _ = writeln!(page, "| {} | not run: {reason} | | | | | |", v.label);
                continue;
            }
            let (init, first) = (
                cold(file, Metric::Init, &v.id),
                cold(file, Metric::FirstResponse, &v.id),
            );
            let _ = writeln!(
                page,
                "| {} | {} | {} | {} | {} | {} | {} |",
                v.label,
                or_not_run(init),
                ratio(init, base(Metric::Init)),
                or_not_run(first),
                ratio(first, base(Metric::FirstResponse)),
                v.median_memory_mb()
                    .map_or_else(|| "–".to_owned(), |mb| format!("{mb} MB")),
                v.binary_bytes
                    .map_or_else(|| "–".to_owned(), |b| format!("{:.2} MB", b as f64 / 1e6)),
            );
        }
        let left_out = crate::cold_start::VARIANTS
            .iter()
            .filter(|v| v.ablation && !file.variants.iter().any(|r| r.id == v.id));
        for v in left_out {
            let _ = writeln!(
                page,
                "| {} | not in this run (left out with `LAMINA_BENCH_VARIANTS`) | | | | | |",
                v.label
            );
        }
        page.push('\n');
    }
}

/// The per-request rows: (label, benchmark id, baseline id, what the ratio means).
const PER_REQUEST: &[(&str, &str, Option<&str>)] = &[
    ("bare handler", "request/bare handler", None),
    (
        "whole stack, token in the verification cache",
        "request/whole stack, cached token",
        Some("request/bare handler"),
    ),
    (
        "JWT RS256 verification, signature checked",
        "jwt/verify RS256, signature checked",
        None,
    ),
    (
        "JWT RS256 verification, cached",
        "jwt/verify RS256, cached",
        Some("jwt/verify RS256, signature checked"),
    ),
    ("secret cache hit", "secret cache hit", None),
    ("EMF flush, 5 metrics", "EMF flush, 5 metrics", None),
    ("JSON log line, 2 fields", "JSON log line, 2 fields", None),
];

/// The Python peers: (what, Python id, Rust id).
const PEERS: &[(&str, &str, &str)] = &[
    (
        "one request through the middleware (Powertools: Event Handler with CORS; Lamina: the whole stack, cached token)",
        "python peers/Event Handler with CORS, one request",
        "request/whole stack, cached token",
    ),
    (
        "one subsegment sent to the daemon (Powertools Tracer; lamina-tracing)",
        "python peers/Tracer subsegment sent",
        "X-Ray subsegment sent/Rust, lamina-tracing",
    ),
    (
        "X-Ray subsegment sent, plain aws-xray-sdk (one document each); lamina-tracing",
        "X-Ray subsegment sent/Python, aws-xray-sdk",
        "X-Ray subsegment sent/Rust, lamina-tracing",
    ),
    (
        "secret cache hit (Powertools Parameters; SecretCache)",
        "python peers/Parameters cache hit",
        "secret cache hit",
    ),
];

fn per_request_section(page: &mut String, inputs: &Inputs) {
    let e = &inputs.estimates;
    page.push_str(
        "## Per-request cost (`benches/middleware.rs`, `observability.rs`, `xray.rs`)\n\n\
         The same trivial handler is called through `tower::ServiceExt::oneshot` with a request as \
         API Gateway hands it over, bare and inside the whole stack in its documented order (CORS, \
         `ProblemLayer`, `InvocationContextLayer`, `DeadlineLayer`, `JwtAuthLayer`, `SecretsLayer`), \
         caches warm as for every request after the first. The X-Ray bench sends one span as a \
         subsegment (a real UDP datagram to a loopback socket that a thread drains).\n\n\
         | benchmark | median | against its baseline |\n|---|---|---|\n",
    );
    for (label, id, baseline) in PER_REQUEST {
        let value = e.median(id);
        let against = match baseline {
            None => "baseline".to_owned(),
            Some(b) => match (value, e.median(b)) {
                (Some(v), Some(b)) if v >= b => format!("{:.1}× the baseline", v / b),
                (Some(v), Some(b)) if v > 0.0 => format!("{:.1}× faster", b / v),
                _ => "–".to_owned(),
            },
        };
        let _ = writeln!(page, "| {label} | {} | {against} |", or_not_run(value));
    }
    page.push_str(
        "\n### Against Powertools for AWS Lambda (Python) (`benches/peers.rs`, `benches/xray.rs`)\n\n\
         The Python side runs in one long-lived worker (`bench/peers/powertools_peers.py`) and is \
         timed with `time.perf_counter` around the loop only: interpreter start-up and imports are \
         not counted against it. The Event Handler resolves the cold-start benches' REST event \
         (already a `dict`, as the runtime hands it over) with CORS and nothing else; Lamina's \
         stack also checks the (cached) JWT, the deadline and the secret. The Tracer keeps \
         Powertools' defaults inside a sampled Lambda trace; the worker checks that its \
         subsegments reach the daemon before timing.\n\n\
         | what | Python | Rust | Python ÷ Rust |\n|---|---|---|---|\n",
    );
    for (label, python, rust) in PEERS {
        let (p, r) = (e.median(python), e.median(rust));
        let _ = writeln!(
            page,
            "| {label} | {} | {} | {} |",
            or_not_run(p),
            or_not_run(r),
            ratio(p, r)
        );
    }
    if let Some(peers) = &inputs.peers {
        let versions: Vec<String> = peers
            .versions
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(page, "\nVersions: {}.", versions.join(", "));
    }
    page.push('\n');
}

/// The cold-start chart: init and first response per variant, horizontal bars, as SVG text.
#[must_use]
pub fn svg(inputs: &Inputs) -> String {
    let rows: Vec<(String, Option<f64>, Option<f64>)> = inputs
        .cold_start
        .iter()
        .flat_map(|file| file.variants.iter().map(move |v| (file, v)))
        .filter(|(_, v)| v.skipped.is_none() && !v.ablation)
        .map(|(file, v)| {
            (
                v.label.clone(),
                cold(file, Metric::Init, &v.id),
                cold(file, Metric::FirstResponse, &v.id),
            )
        })
        .collect();
    let max = rows
        .iter()
        .flat_map(|(_, a, b)| [*a, *b])
        .flatten()
        .fold(1.0_f64, f64::max);
    let (left, bar_width, row_height) = (330.0, 520.0, 46.0);
    let height = 60.0 + row_height * rows.len() as f64 + 30.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="960" height="{height:.0}" viewBox="0 0 960 {height:.0}" font-family="sans-serif" font-size="13">"##
    );
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#ffffff"/><text x="10" y="22" font-size="15" font-weight="bold">Cold start, median per variant (one run on {} CPUs)</text>"##,
        inputs.machine.cores
    );
    let _ = writeln!(
        out,
        r##"<rect x="{left}" y="34" width="12" height="12" fill="#4e79a7"/><text x="{}" y="45">init (spawn to first /next)</text><rect x="{}" y="34" width="12" height="12" fill="#f28e2b"/><text x="{}" y="45">first response</text>"##,
        left + 16.0,
        left + 220.0,
        left + 236.0
    );
    for (i, (label, init, first)) in rows.iter().enumerate() {
        let y = 60.0 + row_height * i as f64;
        let _ = writeln!(
            out,
            r##"<text x="{:.0}" y="{:.0}" text-anchor="end">{}</text>"##,
            left - 8.0,
            y + 24.0,
            escape(label)
        );
        for (j, (value, colour)) in [(init, "#4e79a7"), (first, "#f28e2b")].iter().enumerate() {
            let Some(ns) = value else { continue };
            let bar_y = y + 4.0 + 18.0 * j as f64;
            let width = (ns / max * bar_width).max(1.0);
            let _ = writeln!(
                out,
                r##"<rect x="{left}" y="{bar_y:.0}" width="{width:.1}" height="16" fill="{colour}"/><text x="{:.1}" y="{:.0}">{}</text>"##,
                left + width + 6.0,
                bar_y + 13.0,
                human(*ns)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cold_start::Sample;
    use std::time::Duration;

    fn variant(
        id: &str,
        label: &str,
        init_ms: u64,
        mb: u64,
        skipped: Option<&str>,
    ) -> VariantResult {
        let sample = |extra_ms: u64| Sample {
            init: Duration::from_millis(init_ms + extra_ms),
            first_response: Duration::from_millis(2 * init_ms + extra_ms),
            warm: Duration::from_millis(1),
            max_memory_mb: mb,
        };
        VariantResult {
            id: id.to_owned(),
            label: label.to_owned(),
            language: Language::Rust,
            ablation: false,
            runtime: String::new(),
            binary_bytes: Some(1_200_000),
            samples: if skipped.is_some() {
                Vec::new()
            } else {
                vec![sample(0), sample(1), sample(100)]
            },
            skipped: skipped.map(str::to_owned),
        }
    }

    fn inputs() -> Inputs {
        Inputs {
            estimates: Estimates::from_pairs([
                ("request/bare handler", 500.0),
                ("request/whole stack, cached token", 3000.0),
            ]),
            cold_start: Some(ColdStartFile {
                variants: vec![
                    variant("rust-hello", "1. hello", 5, 4, None),
                    variant("rust-lamina", "2. stack", 6, 12, None),
                    variant("python-powertools", "4b. powertools", 300, 60, None),
                    variant("node-middy", "5. node", 0, 0, Some("npm | missing")),
                ],
            }),
            peers: None,
            machine: Machine::parse(
                "processor\t: 0\nmodel name\t: Test CPU\nprocessor\t: 1\n",
                "MemTotal:       2097152 kB\n",
            ),
            date: "2026-11-28".to_owned(),
        }
    }

    #[test]
    fn the_page_has_ratios_goals_and_the_machine() {
        let page = markdown(&inputs());
        assert!(
            page.contains("Test CPU (2 logical CPUs), 2.0 GiB"),
            "{page}"
        );
        assert!(
            // Medians of the samples: init 7 ms against 6 ms, first 13 ms against 11 ms.
            page.contains("| 2. stack | 7.0 ms | 1.17× | 13.0 ms | 1.18× |"),
            "{page}"
        );
        assert!(page.contains("not run: npm / missing"), "{page}");
        assert!(page.contains("within 1.10× variant 1's: 1.17×"), "{page}");
        assert!(page.contains("**missed**"), "{page}");
        assert!(page.contains("Powertools: 46.2×"), "{page}");
        assert!(page.contains("+8 MB"), "{page}");
        assert!(
            page.contains(
                "| whole stack, token in the verification cache | 3.00 µs | 6.0× the baseline |"
            ),
            "{page}"
        );
        assert!(
            page.contains("| secret cache hit | not run | baseline |"),
            "{page}"
        );
    }

    #[test]
    fn the_chart_draws_a_bar_per_measured_figure() {
        let chart = svg(&inputs());
        assert!(chart.starts_with("<svg"));
        assert_eq!(chart.matches("<rect x=\"330\" y=").count(), 3 * 2 + 1);
        assert!(chart.contains("13.0 ms"));
        assert!(!chart.contains("5. node"));
    }

    #[test]
    fn estimates_are_read_from_criterions_folders() {
        let dir = std::env::temp_dir().join(format!("lamina-bench-report-{}", std::process::id()));
        let new = dir.join("group/function/new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(
            new.join("benchmark.json"),
            r#"{"full_id":"group/function"}"#,
        )
        .unwrap();
        std::fs::write(
            new.join("estimates.json"),
            r#"{"median":{"point_estimate":1234.5},"mean":{"point_estimate":1.0}}"#,
        )
        .unwrap();
        let estimates = Estimates::load(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(estimates.median("group/function"), Some(1234.5));
        assert_eq!(human(1234.5), "1.23 µs");
        assert_eq!(human(2.5e9), "2.50 s");
    }
}
