//! A function's execution environments: the idle ones, how many exist, and when one may start.
//!
//! Lambda keeps a set of environments per function. A request takes a warm idle one or, while fewer
//! than the function's concurrency exist, starts a new one; beyond that it is throttled. An idle
//! environment is shut down after a while, and one that crashed or timed out is thrown away.

use std::sync::Mutex as SyncMutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::environment::ExecutionEnvironment;

/// What a request got from the pool.
#[derive(Debug)]
pub(super) enum Checkout {
    /// A warm environment, idle until now.
    Warm(Box<ExecutionEnvironment>),
    /// Room for a new environment, with the id it is to have.
    Cold(u64),
    /// Every environment the function may have is busy.
    Throttled,
}

#[derive(Debug)]
struct Idle {
    environment: ExecutionEnvironment,
    since: Instant,
}

#[derive(Debug, Default)]
struct State {
    /// Most recently used last: a request takes the warmest.
    idle: Vec<Idle>,
    /// Environments that exist or are being started, busy or idle.
    live: usize,
    /// Ids handed out so far.
    started: u64,
    /// Bumped by [`Pool::retire_all`]: an environment checked out before then is not kept when it
    /// comes back.
    generation: u64,
}

/// The execution environments of one function.
#[derive(Debug)]
pub(super) struct Pool {
    concurrency: usize,
    state: SyncMutex<State>,
    /// Woken whenever an environment becomes idle or stops existing.
    changed: Notify,
}

/// A checked-out environment's ticket back: the generation it left in.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ticket(u64);

impl Pool {
    pub(super) fn new(concurrency: usize) -> Self {
        Self {
            concurrency: concurrency.max(1),
            state: SyncMutex::new(State::default()),
            changed: Notify::new(),
        }
    }

    /// Takes the warmest idle environment whose process is alive, or room for a new one.
    pub(super) fn checkout(&self) -> (Checkout, Ticket) {
        let mut state = self.lock();
        let ticket = Ticket(state.generation);
        while let Some(mut idle) = state.idle.pop() {
            if matches!(idle.environment.child.try_wait(), Ok(None)) {
                return (Checkout::Warm(Box::new(idle.environment)), ticket);
            }
            // Died while idle: it no longer counts, and dropping it reaps it.
            state.live -= 1;
            self.changed.notify_waiters();
        }
        if state.live < self.concurrency {
            state.live += 1;
            state.started += 1;
            return (Checkout::Cold(state.started), ticket);
        }
        (Checkout::Throttled, ticket)
    }

    /// Like [`Pool::checkout`], but waits for an environment instead of being throttled, as
    /// Lambda's asynchronous queue and event source pollers do.
    pub(super) async fn checkout_waiting(&self) -> (Checkout, Ticket) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the attempt, so a release in between is not missed.
            changed.as_mut().enable();
            match self.checkout() {
                (Checkout::Throttled, _) => changed.await,
                taken => return taken,
            }
        }
    }

    /// Gives back what a checkout took. An environment that still runs is idle again, unless the
    /// pool was retired since it left: then it is handed back to be shut down, and counts until
    /// [`Pool::gone`].
    pub(super) fn release(
        &self,
        environment: Option<ExecutionEnvironment>,
        ticket: Ticket,
    ) -> Option<ExecutionEnvironment> {
        let mut state = self.lock();
        let retired = match environment {
            Some(environment) if ticket.0 == state.generation => {
                state.idle.push(Idle {
                    environment,
                    since: Instant::now(),
                });
                None
            }
            Some(environment) => Some(environment),
            None => {
                state.live -= 1;
                None
            }
        };
        self.changed.notify_waiters();
        retired
    }

    /// Says that an environment handed out to be shut down has stopped.
    pub(super) fn gone(&self) {
        self.lock().live -= 1;
        self.changed.notify_waiters();
    }

    /// Takes out the environments idle for `idle_timeout` or longer, for the caller to shut down
    /// (each counts until [`Pool::gone`]).
    pub(super) fn take_expired(&self, idle_timeout: Duration) -> Vec<ExecutionEnvironment> {
        let mut state = self.lock();
        let now = Instant::now();
        let (expired, kept): (Vec<Idle>, Vec<Idle>) = std::mem::take(&mut state.idle)
            .into_iter()
            .partition(|idle| now.saturating_duration_since(idle.since) >= idle_timeout);
        state.idle = kept;
        expired.into_iter().map(|idle| idle.environment).collect()
    }

    /// Takes out every idle environment (each counts until [`Pool::gone`]) and marks the busy ones
    /// to be shut down when they finish.
    pub(super) fn retire_all(&self) -> Vec<ExecutionEnvironment> {
        let mut state = self.lock();
        state.generation += 1;
        std::mem::take(&mut state.idle)
            .into_iter()
            .map(|idle| idle.environment)
            .collect()
    }

    /// Waits until no environment exists any more.
    pub(super) async fn wait_until_empty(&self) {
        loop {
            let released = self.changed.notified();
            tokio::pin!(released);
            // Registered before the check, so a release between the check and the await is not missed.
            released.as_mut().enable();
            if self.lock().live == 0 {
                return;
            }
            released.await;
        }
    }

    /// How many environments exist (busy or idle), and how many of them are idle with a live process.
    pub(super) fn counts(&self) -> (usize, usize) {
        let mut state = self.lock();
        let live = state.live;
        let idle = state
            .idle
            .iter_mut()
            .filter_map(|idle| matches!(idle.environment.child.try_wait(), Ok(None)).then_some(()))
            .count();
        (live, idle)
    }

    /// The function's concurrency.
    pub(super) fn concurrency(&self) -> usize {
        self.concurrency
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every critical section leaves the state whole; a panic elsewhere cannot break it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
