//! Builds a workspace package's binary with cargo and returns the executable's path, so tests,
//! benchmarks and the CLI can run a function crate under the emulator by package name.
//!
//! ```no_run
//! use lamina_local::cargo_build::{BinaryBuild, Profile};
//!
//! let executable = BinaryBuild::new("lamina-echo-function").profile(Profile::Dev).build()?;
//! println!("{}", executable.display());
//! # Ok::<(), lamina_local::cargo_build::BuildError>(())
//! ```

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::Deserialize;

/// Why a build did not produce an executable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// cargo could not be run.
    #[error("could not run `{cargo}`")]
    Cargo {
        /// The cargo executable that was run.
        cargo: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// cargo ran and the build failed.
    #[error("`cargo build -p {package}` failed ({status}); cargo said:\n{stderr}")]
    Failed {
        /// The package.
        package: String,
        /// cargo's exit status.
        status: String,
        /// What cargo printed on stderr.
        stderr: String,
    },
    /// The build succeeded but produced no binary of that name.
    #[error("package {package} has no binary target{}", .bin.as_ref().map(|b| format!(" named {b}")).unwrap_or_default())]
    NoBinary {
        /// The package.
        package: String,
        /// The binary asked for, if any.
        bin: Option<String>,
    },
}

/// The cargo profile to build with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// `dev` (the default): fast to build.
    #[default]
    Dev,
    /// `release`: what a deployment would ship.
    Release,
}

/// A request to build one binary of one package.
#[derive(Debug, Clone)]
pub struct BinaryBuild {
    package: String,
    bin: Option<String>,
    profile: Profile,
}

#[derive(Debug, Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    executable: Option<PathBuf>,
    #[serde(default)]
    target: Option<Target>,
    #[serde(default)]
    package_id: String,
}

#[derive(Debug, Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

impl BinaryBuild {
    /// Builds `package`'s only (or first) binary target.
    #[must_use]
    pub fn new(package: impl Into<String>) -> Self {
        Self {
            package: package.into(),
            bin: None,
            profile: Profile::Dev,
        }
    }

    /// Builds this binary target of the package.
    #[must_use]
    pub fn bin(mut self, name: impl Into<String>) -> Self {
        self.bin = Some(name.into());
        self
    }

    /// Builds with this profile.
    #[must_use]
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Runs `cargo build` (the `CARGO` this process was started by, or `cargo`) and returns the executable.
    ///
    /// # Errors
    /// cargo cannot be run, the build fails, or the package has no such binary.
    pub fn build(&self) -> Result<PathBuf, BuildError> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut command = Command::new(&cargo);
        command.args([
            "build",
            "--message-format=json-render-diagnostics",
            "-p",
            &self.package,
        ]);
        match &self.bin {
            Some(bin) => command.args(["--bin", bin]),
            None => command.arg("--bins"),
        };
        if self.profile == Profile::Release {
            command.arg("--release");
        }
        let output = command
            .stdin(Stdio::null())
            .output()
            .map_err(|source| BuildError::Cargo { cargo, source })?;
        if !output.status.success() {
            return Err(BuildError::Failed {
                package: self.package.clone(),
                status: output.status.to_string(),
                stderr: tail(&String::from_utf8_lossy(&output.stderr), 40),
            });
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        find_executable(&stdout, &self.package, self.bin.as_deref()).ok_or_else(|| {
            BuildError::NoBinary {
                package: self.package.clone(),
                bin: self.bin.clone(),
            }
        })
    }
}

/// Picks the executable of the wanted binary from cargo's JSON messages.
fn find_executable(messages: &str, package: &str, bin: Option<&str>) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<Message>(line).ok())
        .filter(|m| m.reason == "compiler-artifact" && package_matches(&m.package_id, package))
        .filter(|m| {
            m.target.as_ref().is_some_and(|t| {
                t.kind.iter().any(|k| k == "bin") && bin.is_none_or(|wanted| t.name == wanted)
            })
        })
        .find_map(|m| m.executable)
}

/// cargo's package ids look like `path+file:///…/echo-function#lamina-echo-function@0.1.0`, or
/// `path+file:///…/name#0.1.0` when the folder is named after the package.
fn package_matches(package_id: &str, package: &str) -> bool {
    let Some((location, fragment)) = package_id.rsplit_once('#') else {
        return false;
    };
    match fragment.split_once('@') {
        Some((name, _version)) => name == package,
        None => location.rsplit('/').next() == Some(package),
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_binary_in_cargos_messages() {
        let messages = concat!(
            r#"{"reason":"compiler-artifact","package_id":"registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0","target":{"name":"serde","kind":["lib"]},"executable":null}"#,
            "\n",
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/local/echo-function#lamina-echo-function@0.1.0","target":{"name":"lamina-echo-function","kind":["bin"]},"executable":"/t/debug/lamina-echo-function"}"#,
            "\n",
            r#"{"reason":"build-finished","success":true}"#,
        );
        let found = find_executable(messages, "lamina-echo-function", None);
        assert_eq!(found, Some(PathBuf::from("/t/debug/lamina-echo-function")));
        assert_eq!(
            find_executable(messages, "lamina-echo-function", Some("other")),
            None
        );
        assert_eq!(find_executable(messages, "serde", None), None);
        assert_eq!(find_executable("not json\n", "x", None), None);
        assert!(package_matches("path+file:///w/udagram#0.1.0", "udagram"));
        assert!(!package_matches("path+file:///w/udagram#0.1.0", "gram"));
    }
}
