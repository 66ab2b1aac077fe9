//! `udagram-load`: drives a running `udagram serve` with concurrent clients and reports throughput,
//! latency percentiles per route and errors by status. A tool, not a test.
//!
//! ```text
//! udagram-load --url http://127.0.0.1:3000 [--concurrency 32] [--duration 10s] [--mix read|write|mixed]
//! ```
//!
//! Before the clock starts it takes a token from `POST /dev/token` and creates a few groups and
//! images to read. Reads are `GET /groups`, `GET /groups/{id}/images`, `GET /images/{id}` and
//! `GET /images?q=`; writes are `POST /groups` and `POST /groups/{id}/images`; `mixed` is 80 % reads.
//!
//! Exit codes: 0 every request succeeded; 1 some requests failed, or the setup did; 2 bad arguments.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http::{Method, Request, header};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};

/// Words the seeded titles are made of, and what the searches look for.
const WORDS: [&str; 12] = [
    "sunset", "harbour", "mountain", "lake", "city", "night", "forest", "river", "dog", "cat",
    "bridge", "snow",
];
/// Groups and images per group created before the run, for the reads.
const SEED_GROUPS: usize = 10;
const SEED_IMAGES: usize = 5;

/// Drives `udagram serve` with concurrent clients and prints a latency report.
#[derive(Debug, Parser)]
#[command(name = "udagram-load", version)]
struct Args {
    /// The server's base URL, e.g. http://127.0.0.1:3000.
    #[arg(long)]
    url: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// How long to run: `10s`, `500ms`, `2m`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Which requests to send.
    #[arg(long, value_enum, default_value_t = Mix::Mixed)]
    mix: Mix,
}

/// The request mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mix {
    /// Only reads.
    Read,
    /// Only writes.
    Write,
    /// 80 % reads, 20 % writes.
    Mixed,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number and a unit, e.g. 10s"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" | "" => number,
        "m" => number * 60.0,
        _ => return Err(format!("{text:?}: the unit is ms, s or m")),
    };
    if !(seconds > 0.0 && seconds < 86_400.0) {
        return Err(format!("{text:?}: out of range"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// The HTTP client and what the workers read and write.
#[derive(Debug)]
struct Plan {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    token: String,
    groups: Vec<String>,
    images: Vec<String>,
    mix: Mix,
}

/// One finished request.
#[derive(Debug)]
struct Sample {
    route: &'static str,
    micros: u64,
    /// The status, or `None` when no response arrived.
    status: Option<u16>,
}

impl Plan {
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Bytes)> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        let body = match body {
            Some(value) => {
                request = request
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::AUTHORIZATION, format!("Bearer {}", self.token));
                Full::new(Bytes::from(value.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        let response = self.client.request(request.body(body)?).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }

    /// Sends one request of the mix and times it.
    async fn one(&self, rng: &mut StdRng) -> Sample {
        let write = match self.mix {
            Mix::Read => false,
            Mix::Write => true,
            Mix::Mixed => rng.random_ratio(1, 5),
        };
        let group = &self.groups[rng.random_range(0..self.groups.len())];
        let word = WORDS[rng.random_range(0..WORDS.len())];
        let (route, method, path, body) = if write {
            if rng.random_bool(0.5) {
                let body = json!({ "name": format!("load {word}"), "description": "udagram-load" });
                (
                    "POST /groups",
                    Method::POST,
                    "/groups".to_owned(),
                    Some(body),
                )
            } else {
                let body = json!({ "title": format!("load {word} {}", rng.random::<u16>()) });
                let path = format!("/groups/{group}/images");
                ("POST /groups/{id}/images", Method::POST, path, Some(body))
            }
        } else {
            match rng.random_range(0..4) {
                0 => (
                    "GET /groups",
                    Method::GET,
                    "/groups?limit=20".to_owned(),
                    None,
                ),
                1 => {
                    let path = format!("/groups/{group}/images?limit=20");
                    ("GET /groups/{id}/images", Method::GET, path, None)
                }
                2 => {
                    let image = &self.images[rng.random_range(0..self.images.len())];
                    (
                        "GET /images/{id}",
                        Method::GET,
                        format!("/images/{image}"),
                        None,
                    )
                }
                _ => (
                    "GET /images?q=",
                    Method::GET,
                    format!("/images?q={word}&limit=20"),
                    None,
                ),
            }
        };
        let start = Instant::now();
        let status = self
            .send(method, &path, body)
            .await
            .ok()
            .map(|(status, _)| status);
        Sample {
            route,
            micros: u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX),
            status,
        }
    }
}

/// Token, groups and images for the reads.
async fn prepare(args: &Args) -> anyhow::Result<Plan> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(args.concurrency)
        .build(connector);
    let mut plan = Plan {
        client,
        base: args.url.trim_end_matches('/').to_owned(),
        token: String::new(),
        groups: Vec::new(),
        images: Vec::new(),
        mix: args.mix,
    };
    let request = Request::post(format!("{}/dev/token", plan.base))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(
            json!({ "user": "udagram-load" }).to_string(),
        )))?;
    let response = plan
        .client
        .request(request)
        .await
        .context("POST /dev/token")?;
    let answer: Value = serde_json::from_slice(&response.into_body().collect().await?.to_bytes())
        .context("POST /dev/token answered something that is not JSON")?;
    plan.token = answer["token"]
        .as_str()
        .context("POST /dev/token answered no token")?
        .to_owned();
    for n in 0..SEED_GROUPS {
        let body = json!({ "name": format!("seed {n}"), "description": "udagram-load seed" });
        let (status, bytes) = plan.send(Method::POST, "/groups", Some(body)).await?;
        if status != 201 {
            bail!(
                "POST /groups answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        let created: Value = serde_json::from_slice(&bytes)?;
        let group = created["newItem"]["id"]
            .as_str()
            .context("no newItem.id")?
            .to_owned();
        for i in 0..SEED_IMAGES {
            let title = format!(
                "{} {} seed",
                WORDS[(n + i) % WORDS.len()],
                WORDS[i % WORDS.len()]
            );
            let path = format!("/groups/{group}/images");
            let (status, bytes) = plan
                .send(Method::POST, &path, Some(json!({ "title": title })))
                .await?;
            if status != 201 {
                bail!(
                    "POST {path} answered {status}: {}",
                    String::from_utf8_lossy(&bytes)
                );
            }
            let created: Value = serde_json::from_slice(&bytes)?;
            let image = created["newItem"]["imageId"]
                .as_str()
                .context("no newItem.imageId")?;
            plan.images.push(image.to_owned());
        }
        plan.groups.push(group);
    }
    Ok(plan)
}

/// Latency statistics of one route (or all of them).
#[derive(Debug)]
struct Stats {
    requests: usize,
    p50: u64,
    p90: u64,
    p99: u64,
    max: u64,
    errors: usize,
}

fn stats(mut micros: Vec<u64>, errors: usize) -> Stats {
    micros.sort_unstable();
    let at = |p: f64| {
        let rank = (p * micros.len() as f64).ceil() as usize;
        micros.get(rank.saturating_sub(1)).copied().unwrap_or(0)
    };
    Stats {
        requests: micros.len(),
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: micros.last().copied().unwrap_or(0),
        errors,
    }
}

fn ms(micros: u64) -> String {
    format!("{:.2}", micros as f64 / 1000.0)
}

fn row(name: &str, stats: &Stats, elapsed: f64) -> String {
    format!(
        "{name:<26} {:>9} {:>10.0} {:>8} {:>8} {:>8} {:>8} {:>7}",
        stats.requests,
        stats.requests as f64 / elapsed,
        ms(stats.p50),
        ms(stats.p90),
        ms(stats.p99),
        ms(stats.max),
        stats.errors
    )
}

/// Prints the report; returns how many requests failed.
fn report(args: &Args, samples: Vec<Sample>, elapsed: f64) -> usize {
    let mut per_route: BTreeMap<&str, (Vec<u64>, usize)> = BTreeMap::new();
    let mut errors: BTreeMap<(String, &str), usize> = BTreeMap::new();
    let mut all = Vec::with_capacity(samples.len());
    let mut failed = 0;
    for sample in samples {
        let entry = per_route.entry(sample.route).or_default();
        entry.0.push(sample.micros);
        all.push(sample.micros);
        let error = match sample.status {
            Some(status) if status < 400 => None,
            Some(status) => Some(status.to_string()),
            None => Some("no response".to_owned()),
        };
        if let Some(error) = error {
            entry.1 += 1;
            failed += 1;
            *errors.entry((error, sample.route)).or_default() += 1;
        }
    }
    println!(
        "udagram-load: {} clients, {elapsed:.1} s, mix {:?}, {}",
        args.concurrency, args.mix, args.url
    );
    println!(
        "{:<26} {:>9} {:>10} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "route", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
    );
    for (route, (micros, errors)) in per_route {
        println!("{}", row(route, &stats(micros, errors), elapsed));
    }
    println!("{}", row("overall", &stats(all, failed), elapsed));
    if errors.is_empty() {
        println!("errors by status: none");
    } else {
        println!("errors by status:");
        for ((status, route), count) in errors {
            println!("  {status:<12} {route:<26} {count}");
        }
    }
    failed
}

async fn run(args: &Args) -> anyhow::Result<usize> {
    let plan = Arc::new(prepare(args).await?);
    let start = Instant::now();
    let deadline = start + args.duration;
    let workers: Vec<_> = (0..args.concurrency)
        .map(|worker| {
            let plan = Arc::clone(&plan);
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(worker as u64);
                let mut samples = Vec::new();
                while Instant::now() < deadline {
                    samples.push(plan.one(&mut rng).await);
                }
                samples
            })
        })
        .collect();
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(worker.await.context("a client task failed")?);
    }
    Ok(report(args, samples, start.elapsed().as_secs_f64()))
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if args.concurrency == 0 {
        eprintln!("error: --concurrency must be at least 1");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let table: [(&str, Option<u64>); 9] = [
            ("10s", Some(10_000)),
            ("500ms", Some(500)),
            ("2m", Some(120_000)),
            ("1.5s", Some(1500)),
            ("7", Some(7000)),
            ("0s", None),
            ("s", None),
            ("10h", None),
            ("-1s", None),
        ];
        for (text, millis) in table {
            let parsed = parse_duration(text).ok().map(|d| d.as_millis());
            assert_eq!(parsed, millis.map(u128::from), "{text}");
        }
    }

    #[test]
    fn percentiles() {
        let stats = stats((1..=100).collect(), 0);
        assert_eq!(
            (stats.p50, stats.p90, stats.p99, stats.max),
            (50, 90, 99, 100)
        );
        assert_eq!(super::stats(Vec::new(), 0).max, 0);
    }
}
