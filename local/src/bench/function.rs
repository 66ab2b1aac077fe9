//! One function under benchmark: where its executable comes from, how it is labelled, and what it is
//! given beside the benchmark's own event and environment.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Checks a successful answer's body; an `Err` fails the sample with that reason.
pub(crate) type AnswerCheck = Arc<dyn Fn(&[u8]) -> Result<(), String> + Send + Sync>;

/// Where a function's executable comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A file: a release binary, or a `bootstrap` script that starts Python, Node.js or anything else.
    Path(PathBuf),
    /// A binary of a package of the current cargo workspace, built in release by the harness.
    Package {
        /// The package.
        package: String,
        /// Its binary target, when it has more than one.
        bin: Option<String>,
    },
}

/// One function of a cold-start benchmark.
///
/// ```
/// use lamina_local::bench::BenchFunction;
///
/// let rust = BenchFunction::package("orders-api").baseline();
/// let python = BenchFunction::path("python/bootstrap")
///     .label("orders-api-python")
///     .handler("handler.handler");
/// assert_eq!(rust.name(), "orders-api");
/// assert_eq!(python.name(), "orders-api-python");
/// ```
#[derive(Clone)]
pub struct BenchFunction {
    pub(crate) source: Source,
    pub(crate) label: String,
    pub(crate) handler: String,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) event: Option<Vec<u8>>,
    pub(crate) baseline: bool,
    pub(crate) check: Option<AnswerCheck>,
}

impl fmt::Debug for BenchFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BenchFunction")
            .field("source", &self.source)
            .field("label", &self.label)
            .field("handler", &self.handler)
            .field("env", &self.env)
            .field("own_event", &self.event.is_some())
            .field("baseline", &self.baseline)
            .field("checked", &self.check.is_some())
            .finish()
    }
}

impl BenchFunction {
    fn new(source: Source, label: String) -> Self {
        Self {
            source,
            label,
            handler: "bootstrap".to_owned(),
            env: Vec::new(),
            event: None,
            baseline: false,
            check: None,
        }
    }

    /// A function whose executable is this file: a release binary or a `bootstrap` script. Its
    /// label is the file's name, or its folder's name when the file is called `bootstrap`.
    #[must_use]
    pub fn path(executable: impl Into<PathBuf>) -> Self {
        let executable = executable.into();
        let label = label_of(&executable);
        Self::new(Source::Path(executable), label)
    }

    /// A function whose executable is the only binary of `package`, a package of the cargo workspace
    /// the benchmark runs in, built with the release profile before any sample is taken.
    #[must_use]
    pub fn package(package: impl Into<String>) -> Self {
        let package = package.into();
        Self::new(
            Source::Package {
                package: package.clone(),
                bin: None,
            },
            package,
        )
    }

    /// With [`BenchFunction::package`]: builds this binary target of the package.
    #[must_use]
    pub fn bin(mut self, name: impl Into<String>) -> Self {
        if let Source::Package { bin, .. } = &mut self.source {
            *bin = Some(name.into());
        }
        self
    }

    /// The name of the function in benchmark ids, the table and the JSON results.
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// `_HANDLER`, as Lambda's handler setting (`handler.handler` for Python's `awslambdaric`);
    /// `bootstrap` by default.
    #[must_use]
    pub fn handler(mut self, handler: impl Into<String>) -> Self {
        self.handler = handler.into();
        self
    }

    /// An environment variable for this function only (after the benchmark's own).
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// This function's own event, instead of the benchmark's (JSON).
    #[must_use]
    pub fn event(mut self, json: impl Into<Vec<u8>>) -> Self {
        self.event = Some(json.into());
        self
    }

    /// Marks this function as the baseline: every other one's figures are also shown as ratios to its.
    #[must_use]
    pub fn baseline(mut self) -> Self {
        self.baseline = true;
        self
    }

    /// Checks each successful answer's body (the cold and the warm one): a sample whose answer the
    /// check refuses fails the benchmark with the reason returned, so that an error path is never
    /// measured as if it were the function's work.
    #[must_use]
    pub fn check(
        mut self,
        check: impl Fn(&[u8]) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.check = Some(Arc::new(check));
        self
    }

    /// The function's label.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.label
    }
}

/// `bench/functions/python-hello/bootstrap` is `python-hello`; `target/release/orders` is `orders`.
fn label_of(executable: &Path) -> String {
    let file = executable
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("function");
    if file == "bootstrap"
        && let Some(folder) = executable
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
    {
        return folder.to_owned();
    }
    file.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_the_file_or_its_folder() {
        let cases = [
            ("target/release/orders", "orders"),
            ("functions/python-hello/bootstrap", "python-hello"),
            ("bootstrap", "bootstrap"),
            ("/abs/hello.sh", "hello.sh"),
        ];
        for (path, label) in cases {
            assert_eq!(BenchFunction::path(path).name(), label, "{path}");
        }
        assert_eq!(BenchFunction::package("p").bin("b").name(), "p");
        assert_eq!(
            BenchFunction::package("p").bin("b").source,
            Source::Package {
                package: "p".to_owned(),
                bin: Some("b".to_owned())
            }
        );
    }
}
