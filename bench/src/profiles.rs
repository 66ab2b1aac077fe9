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

/// A release build with something changed: cargo's `CARGO_PROFILE_RELEASE_*` variables, or extra
/// `cargo build` arguments (features).
#[derive(Debug, Clone, Copy)]
pub struct AblationBuild<'a> {
    /// The package.
    pub package: &'a str,
    /// Its binary target (the package's name when `None`).
    pub bin: Option<&'a str>,
    /// `CARGO_PROFILE_RELEASE_*` variables.
    pub overrides: &'a [(&'a str, &'a str)],
    /// Extra arguments, e.g. `--no-default-features --features handler-api`.
    pub args: &'a [&'a str],
}

/// Builds as `ablation` says and copies the executable to its own folder for ablation `id`.
///
/// # Errors
/// cargo fails, produces no binary, or the copy fails.
pub fn build_with(id: &str, ablation: AblationBuild<'_>) -> Result<(PathBuf, Option<u64>), String> {
    let AblationBuild {
        package,
        bin,
        overrides,
        args,
    } = ablation;
    let bin = bin.unwrap_or(package);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
            "-p",
            package,
            "--bin",
            bin,
        ])
        .args(args)
        .envs(overrides.iter().copied())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cargo: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        return Err(format!(
            "the release build with {overrides:?} {args:?} failed: {}",
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
                .is_some_and(|t| t.name == bin && t.kind.iter().any(|k| k == "bin"))
        })
        .find_map(|m| m.executable)
        .ok_or_else(|| format!("{package} built no binary {bin}"))?;
    keep(id, &built)
}

/// Copies a built executable to `criterion_home()/lamina/bin/<id>/bootstrap`: the next release
/// build of the same binary with other settings replaces the one in the target directory, and
/// each variant must run the binary it was built as.
///
/// # Errors
/// The folder cannot be created or the copy fails.
pub fn keep(id: &str, built: &std::path::Path) -> Result<(PathBuf, Option<u64>), String> {
    let dir = criterion_home().join("lamina").join("bin").join(id);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let copy = dir.join("bootstrap");
    std::fs::copy(built, &copy).map_err(|e| format!("{}: {e}", copy.display()))?;
    let size = std::fs::metadata(&copy).map(|m| m.len()).ok();
    Ok((copy, size))
}
