//! Where the benches keep what criterion does not: the cold-start samples, sizes and skip reasons,
//! and the Python peers' timings. The report generator (`bench-report`) reads them back.

use std::path::PathBuf;
use std::process::Command;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Criterion's output folder, found as criterion finds it: `CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else the target directory `cargo metadata` names, else
/// `target/criterion`.
#[must_use]
pub fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .ok()
        .and_then(|output| serde_json::from_slice::<serde_json::Value>(&output.stdout).ok())
        .and_then(|metadata| metadata["target_directory"].as_str().map(PathBuf::from))
        .map_or_else(
            || PathBuf::from("target/criterion"),
            |t| t.join("criterion"),
        )
}

/// `criterion_home()/lamina/<name>.json`, the file a bench saves its extra results in.
#[must_use]
pub fn results_path(name: &str) -> PathBuf {
    criterion_home().join("lamina").join(format!("{name}.json"))
}

/// Whether criterion is measuring (`cargo bench`) rather than checking that each bench runs once
/// (`cargo test --benches`): results are saved only when it measures.
#[must_use]
pub fn measuring() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// Saves `value` as `results_path(name)`.
///
/// # Errors
/// The folder cannot be created or the file written.
pub fn save<T: Serialize>(name: &str, value: &T) -> std::io::Result<PathBuf> {
    let path = results_path(name);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Reads `results_path(name)` back, `None` when the file is missing or unreadable.
#[must_use]
pub fn load<T: DeserializeOwned>(name: &str) -> Option<T> {
    let text = std::fs::read_to_string(results_path(name)).ok()?;
    serde_json::from_str(&text).ok()
}
