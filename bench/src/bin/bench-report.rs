//! Writes `docs/src/benchmarks.md` and `docs/src/benchmarks/cold-start.svg` from the results of the
//! last `cargo bench -p lamina-bench` (criterion's estimates and the benches' own JSON files).
//!
//! Usage: `cargo run -p lamina-bench --bin bench-report [DOCS_SRC]` (default: the workspace's
//! `docs/src`).

use std::path::PathBuf;

use lamina_bench::report::{Estimates, Inputs, Machine, markdown, svg};
use lamina_bench::results;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let docs = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/src"),
        PathBuf::from,
    );
    let home = results::criterion_home();
    let inputs = Inputs {
        estimates: Estimates::load(&home),
        cold_start: results::load("cold_start"),
        peers: results::load("python_peers"),
        machine: Machine::detect(),
        date: today()?,
    };
    std::fs::create_dir_all(docs.join("benchmarks"))?;
    let page = docs.join("benchmarks.md");
    std::fs::write(&page, markdown(&inputs))?;
    let chart = docs.join("benchmarks").join("cold-start.svg");
    std::fs::write(&chart, svg(&inputs))?;
    println!(
        "read {}\nwrote {}\nwrote {}",
        home.display(),
        page.display(),
        chart.display()
    );
    Ok(())
}

/// Today's UTC date from `date`, as the report's timestamp.
fn today() -> Result<String, std::io::Error> {
    let output = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
