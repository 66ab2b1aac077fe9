//! Init work run concurrently, with the time each task took.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Task = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

/// Independent init work (fetching secrets, a JWKS, warming a connection) run concurrently during
/// Lambda's init phase, so init costs the slowest task rather than the sum of all.
///
/// ```
/// use std::time::Duration;
/// use lamina_middleware::init::Prefetch;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), lamina_middleware::init::PrefetchError> {
/// let report = Prefetch::new()
///     .task("secrets", async { tokio::time::sleep(Duration::from_millis(20)).await; Ok(()) })
///     .task("jwks", async { tokio::time::sleep(Duration::from_millis(20)).await; Ok(()) })
///     .run()
///     .await?;
/// for (task, took) in &report.tasks {
///     println!("{task}: {took:?}");
/// }
/// # Ok(())
/// # }
/// ```
#[must_use]
#[derive(Default)]
pub struct Prefetch {
    tasks: Vec<(String, Task)>,
}

impl std::fmt::Debug for Prefetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.tasks.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Prefetch").field("tasks", &names).finish()
    }
}

/// How long prefetching took, in all and per task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefetchReport {
    /// From the start of [`Prefetch::run`] to the end of the last task.
    pub total: Duration,
    /// Each task's name and duration, in the order they were added.
    pub tasks: Vec<(String, Duration)>,
}

/// A prefetch task failed. The other tasks were still run to their end.
#[derive(Debug, thiserror::Error)]
#[error("prefetch task {task:?} failed")]
pub struct PrefetchError {
    /// The failed task's name.
    pub task: String,
    /// Why it failed.
    #[source]
    pub source: BoxError,
}

impl Prefetch {
    /// No tasks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a named task.
    pub fn task<F>(mut self, name: impl Into<String>, work: F) -> Self
    where
        F: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.tasks.push((name.into(), Box::pin(work)));
        self
    }

    /// Runs every task concurrently and waits for all of them.
    ///
    /// # Errors
    /// The first task (in the order added) that failed.
    pub async fn run(self) -> Result<PrefetchReport, PrefetchError> {
        let started = Instant::now();
        let mut handles = Vec::with_capacity(self.tasks.len());
        for (name, task) in self.tasks {
            let handle = tokio::spawn(async move {
                let begun = Instant::now();
                let result = task.await;
                (result, begun.elapsed())
            });
            handles.push((name, handle));
        }
        let mut report = PrefetchReport {
            total: Duration::ZERO,
            tasks: Vec::new(),
        };
        let mut first_error = None;
        for (name, handle) in handles {
            let (result, took) = match handle.await {
                Ok(outcome) => outcome,
                Err(join) => (
                    Err(format!("the task panicked or was cancelled: {join}").into()),
                    Duration::ZERO,
                ),
            };
            if let Err(source) = result {
                first_error.get_or_insert(PrefetchError {
                    task: name.clone(),
                    source,
                });
            }
            report.tasks.push((name, took));
        }
        report.total = started.elapsed();
        match first_error {
            Some(error) => Err(error),
            None => Ok(report),
        }
    }

    /// Starts every task concurrently in the background and returns at once: Lambda's init ends
    /// (the runtime's first `/next`) while the fetches are still in flight.
    ///
    /// The work still happens before the first request needs it as long as the caches it fills
    /// share an in-flight fetch with their callers, as `SecretCache` and the JWT verifier's JWKS
    /// cache do: a request that arrives before a task is done waits for that task's fetch instead
    /// of starting its own. Whether this beats [`run`](Self::run) depends on the function: with
    /// on-demand concurrency, the fetches overlap the runtime's first `/next` and the event's
    /// delivery; with provisioned concurrency or SnapStart, init is paid before any request, and
    /// Lambda freezes the process after it, in-flight fetches included, so `run` is the better
    /// choice there. The cold-start bench measures both (`docs/src/benchmarks.md`).
    ///
    /// A failed task is logged at `warn` (its name and error) and reported by the handle's
    /// [`wait`](PrefetchHandle::wait); the caches then fetch again on their own terms (the JWKS
    /// cache after its cool-down, the secret cache on the next call).
    ///
    /// Needs a Tokio runtime (it spawns a task).
    pub fn spawn(self) -> PrefetchHandle {
        PrefetchHandle {
            task: tokio::spawn(async move {
                let outcome = self.run().await;
                if let Err(error) = &outcome {
                    tracing::warn!(
                        task = %error.task,
                        error = %error.source,
                        "background prefetch failed; the first request that needs it fetches again"
                    );
                }
                outcome
            }),
        }
    }

    /// Runs the tasks one after another: the baseline that [`run`](Self::run) is measured against.
    ///
    /// # Errors
    /// The first task that failed; the tasks after it are not run.
    pub async fn run_sequentially(self) -> Result<PrefetchReport, PrefetchError> {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (name, task) in self.tasks {
            let begun = Instant::now();
            if let Err(source) = task.await {
                return Err(PrefetchError { task: name, source });
            }
            tasks.push((name, begun.elapsed()));
        }
        Ok(PrefetchReport {
            total: started.elapsed(),
            tasks,
        })
    }
}

/// The prefetch started by [`Prefetch::spawn`].
#[derive(Debug)]
pub struct PrefetchHandle {
    task: tokio::task::JoinHandle<Result<PrefetchReport, PrefetchError>>,
}

impl PrefetchHandle {
    /// Waits for every task, as [`Prefetch::run`] would have.
    ///
    /// # Errors
    /// The first task (in the order added) that failed, or a task that panicked.
    pub async fn wait(self) -> Result<PrefetchReport, PrefetchError> {
        match self.task.await {
            Ok(outcome) => outcome,
            Err(join) => Err(PrefetchError {
                task: "prefetch".to_owned(),
                source: format!("the prefetch panicked or was cancelled: {join}").into(),
            }),
        }
    }

    /// Whether every task has finished (successfully or not).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sleeper(ms: u64) -> Result<(), BoxError> {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(())
    }

    #[tokio::test]
    async fn tasks_run_concurrently_and_are_timed() {
        // Each task waits for all three to arrive: run one after another, they would never finish.
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(3));
        let meet = |barrier: std::sync::Arc<tokio::sync::Barrier>| async move {
            tokio::time::timeout(Duration::from_secs(10), barrier.wait())
                .await
                .map(|_| ())
                .map_err(|_| BoxError::from("the tasks did not run concurrently"))
        };
        let report = Prefetch::new()
            .task("a", meet(barrier.clone()))
            .task("b", meet(barrier.clone()))
            .task("c", meet(barrier))
            .run()
            .await;
        let Ok(report) = report else {
            panic!("prefetch failed: {report:?}");
        };
        let names: Vec<&str> = report.tasks.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert!(report.tasks.iter().all(|(_, took)| *took <= report.total));
    }

    #[tokio::test]
    async fn a_failure_names_its_task_and_the_rest_still_run() {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let result = Prefetch::new()
            .task("jwks", async {
                Err::<(), BoxError>("connection refused".into())
            })
            .task("secret", async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = done_tx.send(());
                Ok(())
            })
            .run()
            .await;
        let error = result.err().map(|e| (e.task.clone(), e.source.to_string()));
        assert_eq!(
            error,
            Some(("jwks".to_owned(), "connection refused".to_owned()))
        );
        assert!(done_rx.await.is_ok(), "the other task should have finished");
    }

    #[tokio::test]
    async fn spawn_returns_before_the_tasks_finish_and_wait_reports_them() {
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let handle = Prefetch::new()
            .task("held", async move {
                release_rx
                    .await
                    .map_err(|_| BoxError::from("never released"))
            })
            .task("failing", async { Err::<(), BoxError>("refused".into()) })
            .spawn();
        tokio::task::yield_now().await;
        assert!(!handle.is_finished(), "spawn must not wait for the tasks");
        assert!(release_tx.send(()).is_ok());
        let error = handle.wait().await.err().map(|e| e.task);
        assert_eq!(error.as_deref(), Some("failing"));
    }

    #[tokio::test]
    async fn sequential_runs_add_up() {
        let report = Prefetch::new()
            .task("a", sleeper(30))
            .task("b", sleeper(30))
            .run_sequentially()
            .await;
        assert!(report.is_ok_and(|r| r.total >= Duration::from_millis(60)));
    }
}
