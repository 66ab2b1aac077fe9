//! `canary deploy --wait`: one rollout driven to its end, through transient errors.

use std::{future::Future, time::Duration};

use super::{Action, CanaryError, Controller, RunOutcome};
use crate::{ports::PortError, state::Phase};

/// How transient errors are retried: the first retry after `first`, each next one after twice
/// as long, at most `max`; after `attempts` failures in a row, the error is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the first retry.
    pub first: Duration,
    /// The longest delay.
    pub max: Duration,
    /// Failures in a row after which the error is returned instead of retried.
    pub attempts: u32,
}

impl Default for Backoff {
    /// 1 s, 2 s, 4 s ... up to a minute, eight failures in a row at most (about four minutes).
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            max: Duration::from_secs(60),
            attempts: 8,
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.first.saturating_mul(1u32 << doublings).min(self.max)
    }
}

impl CanaryError {
    /// Whether trying again later may succeed: AWS could not answer (throttling, a network
    /// failure, a 5xx), or other controllers kept moving the alias.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            CanaryError::Aws(PortError::Unavailable(_) | PortError::Conflict(_))
                | CanaryError::Conflict(_)
        )
    }
}

/// What [`Controller::wait`] reports as it goes.
#[derive(Debug)]
pub enum WaitEvent<'a> {
    /// A decision was made.
    Outcome(&'a RunOutcome),
    /// A transient error, retried after the delay.
    Retry(&'a CanaryError, Duration),
}

/// Why [`Controller::wait`] stopped waiting.
#[derive(Debug, Clone)]
pub enum WaitEnd {
    /// The rollout is over: succeeded or rolled back (see the outcome's status).
    Ended(Box<RunOutcome>),
    /// It is paused (by a manual gate or `canary pause`): only a person can move it on.
    Paused(Box<RunOutcome>),
    /// A deadline passed and the policy says hold: only a person can move it on.
    Stalled(Box<RunOutcome>),
}

impl Controller {
    /// Waits `interval`, then makes one decision for the rollout on `function:alias`, and so on
    /// until it is over, paused (by a manual gate or `canary pause`), or stalled. Transient errors ([`CanaryError::is_transient`]) are
    /// retried by `backoff`; `sleep` waits (the system's timer in the CLI, a virtual clock in
    /// tests); `on_outcome` sees every decision and `on_retry` every error about to be retried,
    /// with the delay before the retry.
    pub async fn wait<S, F>(
        &self,
        function: &str,
        alias: &str,
        interval: Duration,
        backoff: Backoff,
        sleep: S,
        mut report: impl FnMut(WaitEvent<'_>),
    ) -> Result<WaitEnd, CanaryError>
    where
        S: Fn(Duration) -> F,
        F: Future<Output = ()>,
    {
        let mut failures = 0;
        let mut delay = interval;
        loop {
            sleep(delay).await;
            let outcome = match self.run_once(function, alias).await {
                Ok(outcome) => outcome,
                Err(error) if error.is_transient() && failures < backoff.attempts => {
                    failures += 1;
                    delay = backoff.delay(failures);
                    report(WaitEvent::Retry(&error, delay));
                    continue;
                }
                Err(error) => return Err(error),
            };
            failures = 0;
            delay = interval;
            report(WaitEvent::Outcome(&outcome));
            if matches!(outcome.action, Action::Stalled { .. }) {
                return Ok(WaitEnd::Stalled(Box::new(outcome)));
            }
            match outcome.status.as_ref().map(|status| status.phase) {
                Some(phase) if phase.is_terminal() => {
                    // Give the alias its description back now rather than at the next `run`;
                    // if that fails, the rollout is over all the same and `run` finishes it.
                    if !matches!(outcome.action, Action::Finished) {
                        let _ = self.run_once(function, alias).await;
                    }
                    return Ok(WaitEnd::Ended(Box::new(outcome)));
                }
                Some(Phase::Paused) => return Ok(WaitEnd::Paused(Box::new(outcome))),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let backoff = Backoff::default();
        let delays: Vec<u64> = (1..=9).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn transient_errors() {
        let table = [
            (CanaryError::Aws(PortError::Unavailable("x".into())), true),
            (CanaryError::Aws(PortError::Conflict("x".into())), true),
            (CanaryError::Conflict("x".into()), true),
            (CanaryError::Aws(PortError::Rejected("x".into())), false),
            (CanaryError::Aws(PortError::NotFound("x".into())), false),
            (CanaryError::NotFound("x".into()), false),
            (CanaryError::Drift("x".into()), false),
            (CanaryError::InvalidInput("x".into()), false),
        ];
        for (error, transient) in table {
            assert_eq!(error.is_transient(), transient, "{error}");
        }
    }
}
