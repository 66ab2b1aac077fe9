//! Release-profile ablations: the same package built with one `[profile.release]` setting changed
//! through cargo's `CARGO_PROFILE_RELEASE_*` variables, so that no `Cargo.toml` is edited.
//!
//! Each build recompiles the whole dependency tree (the AWS SDK included) under the changed
//! profile, several minutes each, so they run only when `LAMINA_BENCH_PROFILE_ABLATIONS=1`. The
//! executable is copied out of the target directory (the next plain release build would replace
//! it) to `criterion_home()/lamina/bin/<id>/bootstrap`.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::results::criterion_home;

/// The variable that turns the profile ablations on.
pub const ENABLE_ENV: &str = "LAMINA_BENCH_PROFILE_ABLATIONS";

/// Whether the profile ablations were asked for.
#[must_use]
pub fn enabled() -> bool {
    std::env::var(ENABLE_ENV).is_ok_and(|v| v == "1")
}

#[derive(Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    executable: Option<PathBuf>,
    #[serde(default)]
    target: Option<Target>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

/// Builds `package`'s binary in release with `overrides` (`CARGO_PROFILE_RELEASE_*` variables) and
/// copies it to its own folder for ablation `id`.
///
/// # Errors
/// cargo fails, produces no binary, or the copy fails.
pub fn build(
    id: &str,
    package: &str,
    overrides: &[(&str, &str)],
) -> Result<(PathBuf, Option<u64>), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
            "-p",
            package,
            "--bins",
        ])
        .envs(overrides.iter().copied())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cargo: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        return Err(format!(
            "the release build with {overrides:?} failed: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    let built = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Message>(line).ok())
        .filter(|m| m.reason == "compiler-artifact")
        .filter(|m| {
            m.target
                .as_ref()
                .is_some_and(|t| t.name == package && t.kind.iter().any(|k| k == "bin"))
        })
        .find_map(|m| m.executable)
        .ok_or_else(|| format!("{package} built no binary"))?;
    let dir = criterion_home().join("lamina").join("bin").join(id);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let copy = dir.join("bootstrap");
    std::fs::copy(&built, &copy).map_err(|e| format!("{}: {e}", copy.display()))?;
    let size = std::fs::metadata(&copy).map(|m| m.len()).ok();
    Ok((copy, size))
}
