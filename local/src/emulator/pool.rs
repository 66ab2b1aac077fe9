//! A function's execution environments: which have room, how many exist, and when one may start.
//!
//! Lambda keeps a set of environments per function. A request takes a warm one with room (an idle
//! one, or on Lambda Managed Instances a busy one below its per-environment concurrency) or, while
//! fewer than the function's concurrency exist, starts a new one; beyond that it is throttled. An
//! idle environment is shut down after a while, and one that crashed or timed out is thrown away.

use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::environment::ExecutionEnvironment;

/// What a request got from the pool.
#[derive(Debug)]
pub(super) enum Checkout {
    /// A warm environment with room for one more invocation.
    Warm(Arc<ExecutionEnvironment>),
    /// Room for a new environment, with the id it is to have.
    Cold(u64),
    /// Every environment the function may have is busy.
    Throttled,
}

#[derive(Debug)]
struct Entry {
    environment: Arc<ExecutionEnvironment>,
    /// Invocations it is serving now.
    in_flight: usize,
    /// When it last became idle (or was registered).
    since: Instant,
    /// The pool's generation when it started: an older one is retired and takes no new work.
    generation: u64,
}

#[derive(Debug, Default)]
struct State {
    /// Environments that have finished init, most recently used last: a request takes the warmest.
    entries: Vec<Entry>,
    /// Environments being started (spawned, in init).
    starting: usize,
    /// Environments handed out to be shut down and not yet gone.
    stopping: usize,
    /// Ids handed out so far.
    started: u64,
    /// Bumped by [`Pool::retire_all`]: an environment started before then takes no new work and is
    /// shut down when its last invocation ends.
    generation: u64,
}

impl State {
    fn live(&self) -> usize {
        self.entries.len() + self.starting + self.stopping
    }
}

/// The execution environments of one function.
#[derive(Debug)]
pub(super) struct Pool {
    concurrency: usize,
    per_environment: usize,
    state: SyncMutex<State>,
    /// Woken whenever an environment gets room or stops existing.
    changed: Notify,
}

/// A checkout's ticket back: the generation it was made in.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ticket(u64);

impl Pool {
    /// At most `concurrency` environments, each serving at most `per_environment` invocations at once.
    pub(super) fn new(concurrency: usize, per_environment: usize) -> Self {
        Self {
            concurrency: concurrency.max(1),
            per_environment: per_environment.max(1),
            state: SyncMutex::new(State::default()),
            changed: Notify::new(),
        }
    }

    /// Takes room in the warmest current environment whose process is alive, or room for a new one.
    pub(super) fn checkout(&self) -> (Checkout, Ticket) {
        let mut state = self.lock();
        let ticket = Ticket(state.generation);
        // Idle ones that died on their own no longer count; dropping them reaps them.
        let before = state.entries.len();
        state
            .entries
            .retain(|entry| entry.in_flight > 0 || entry.environment.is_alive());
        if state.entries.len() != before {
            self.changed.notify_waiters();
        }
        let generation = state.generation;
        let per_environment = self.per_environment;
        if let Some(index) = state.entries.iter().rposition(|entry| {
            entry.generation == generation
                && entry.in_flight < per_environment
                && entry.environment.is_alive()
        }) {
            let mut entry = state.entries.remove(index);
            entry.in_flight += 1;
            let environment = Arc::clone(&entry.environment);
            state.entries.push(entry);
            return (Checkout::Warm(environment), ticket);
        }
        if state.live() < self.concurrency {
            state.starting += 1;
            state.started += 1;
            return (Checkout::Cold(state.started), ticket);
        }
        (Checkout::Throttled, ticket)
    }

    /// Like [`Pool::checkout`], but waits for room instead of being throttled, as Lambda's
    /// asynchronous queue and event source pollers do.
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

    /// Says that an environment a [`Checkout::Cold`] started has finished init and serves the
    /// invocation that started it: from now on others may join it.
    pub(super) fn register(&self, environment: Arc<ExecutionEnvironment>, ticket: Ticket) {
        let mut state = self.lock();
        state.starting -= 1;
        state.entries.push(Entry {
            environment,
            in_flight: 1,
            since: Instant::now(),
            generation: ticket.0,
        });
        self.changed.notify_waiters();
    }

    /// Says that an environment a [`Checkout::Cold`] was to start never became ready.
    pub(super) fn start_failed(&self) {
        self.lock().starting -= 1;
        self.changed.notify_waiters();
    }

    /// Gives back one invocation's room in `environment`. A dead environment leaves the pool. A
    /// retired one whose last invocation this was is handed back to be shut down, and counts until
    /// [`Pool::gone`].
    pub(super) fn release(
        &self,
        environment: &Arc<ExecutionEnvironment>,
    ) -> Option<Arc<ExecutionEnvironment>> {
        let mut state = self.lock();
        let generation = state.generation;
        let mut retired = None;
        if let Some(index) = state
            .entries
            .iter()
            .position(|entry| Arc::ptr_eq(&entry.environment, environment))
        {
            let entry = &mut state.entries[index];
            entry.in_flight = entry.in_flight.saturating_sub(1);
            if !entry.environment.is_alive() {
                // Crashed or killed: Lambda throws it away; whoever else it served sees the crash.
                state.entries.remove(index);
            } else if entry.in_flight == 0 && entry.generation != generation {
                retired = Some(state.entries.remove(index).environment);
                state.stopping += 1;
            } else if entry.in_flight == 0 {
                entry.since = Instant::now();
            }
        }
        self.changed.notify_waiters();
        retired
    }

    /// Says that an environment handed out to be shut down has stopped.
    pub(super) fn gone(&self) {
        self.lock().stopping -= 1;
        self.changed.notify_waiters();
    }

    /// Takes out the environments idle for `idle_timeout` or longer, for the caller to shut down
    /// (each counts until [`Pool::gone`]).
    pub(super) fn take_expired(&self, idle_timeout: Duration) -> Vec<Arc<ExecutionEnvironment>> {
        let now = Instant::now();
        self.take_idle(|entry| now.saturating_duration_since(entry.since) >= idle_timeout)
    }

    /// Takes out every idle environment (each counts until [`Pool::gone`]) and marks the busy ones
    /// to be shut down when their last invocation ends.
    pub(super) fn retire_all(&self) -> Vec<Arc<ExecutionEnvironment>> {
        self.lock().generation += 1;
        self.take_idle(|_| true)
    }

    fn take_idle(&self, pick: impl Fn(&Entry) -> bool) -> Vec<Arc<ExecutionEnvironment>> {
        let mut state = self.lock();
        let (taken, kept): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut state.entries)
            .into_iter()
            .partition(|entry| entry.in_flight == 0 && pick(entry));
        state.entries = kept;
        state.stopping += taken.len();
        taken.into_iter().map(|entry| entry.environment).collect()
    }

    /// Waits until no environment exists any more.
    pub(super) async fn wait_until_empty(&self) {
        loop {
            let released = self.changed.notified();
            tokio::pin!(released);
            // Registered before the check, so a release between the check and the await is not missed.
            released.as_mut().enable();
            if self.lock().live() == 0 {
                return;
            }
            released.await;
        }
    }

    /// How many environments exist (starting, busy or idle), and how many of them are idle with a
    /// live process.
    pub(super) fn counts(&self) -> (usize, usize) {
        let state = self.lock();
        let idle = state
            .entries
            .iter()
            .filter(|entry| entry.in_flight == 0 && entry.environment.is_alive())
            .count();
        (state.live(), idle)
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
