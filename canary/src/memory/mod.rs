//! In-memory ports that enforce what AWS enforces (and what moto does not): `RevisionId`
//! conditions, Lambda's routing rules, that versions exist. Each counts its calls per method and
//! can be told to fail, so tests can prove how many AWS calls a decision makes and what a
//! failure or a crash at any point leaves behind.
//!
//! ```
//! use std::{sync::Arc, time::{Duration, UNIX_EPOCH}};
//! use lamina_canary::{clock::ManualClock, memory::{InMemoryLambda, InMemoryMetrics, TrafficSimulator}};
//!
//! let lambda = Arc::new(InMemoryLambda::new());
//! lambda.add_function("orders");
//! let v1 = lambda.add_version("orders");
//! lambda.add_alias("orders", "live", &v1, "");
//! let metrics = Arc::new(InMemoryMetrics::new());
//! let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
//! let traffic = TrafficSimulator::new(lambda.clone(), metrics.clone(), clock, "orders", "live", 100);
//! traffic.minutes(2);
//! assert_eq!(metrics.datapoints(), 8);
//! ```

mod faults;
mod lambda;
mod metrics;
mod records;
mod traffic;

pub use lambda::InMemoryLambda;
pub use metrics::InMemoryMetrics;
pub use records::InMemoryRecords;
pub use traffic::TrafficSimulator;

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, ignoring poisoning: a panicking test thread must not hide the state.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
