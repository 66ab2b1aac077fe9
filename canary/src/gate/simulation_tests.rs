//! The `error-rate<=stable` gate under repeated looks, by simulation: how often it rolls back a
//! canary exactly as good as the stable version (at most the gate's level, 5%), and how often it
//! catches one with twice the stable version's error rate (at least 80%).
//!
//! Each simulated rollout sends 1,000 requests a minute through the alias. Lambda routes each
//! request to the canary with the step's weight, independently; each request fails with its
//! version's error rate. The controller looks at every tick (every 30 seconds, as `deploy --wait`
//! does by default) and the gate judges the counts since the step began, exactly as the
//! controller hands them over. A rollout is rolled back at the first look whose verdict is
//! `Fail`. Everything is seeded, so the figures are the same at every run. The looks use the
//! gate's arithmetic directly (debug builds are slow); the first rollouts of each figure also go
//! through the gate's judge at every look, which must agree.

use std::collections::HashMap;

use rand::{Rng, SeedableRng, rngs::StdRng};

use super::{
    DEFAULT_ALPHA, GatePolicy, GateSpec, Verdict,
    judge::{
        CANARY_ERRORS, CANARY_INVOCATIONS, Data, Judge, Look, STABLE_ERRORS, STABLE_INVOCATIONS,
        step_level,
    },
};
use crate::{stats::sequential_error_test, strategy::Strategy};

/// Requests through the alias per minute.
const PER_MINUTE: u64 = 1_000;
/// The stable version's error rate (1%, a realistic rate for an API with some bad input).
const BASE_ERROR_RATE: f64 = 0.01;
/// Simulated rollouts per figure.
const ROLLOUTS: u32 = 10_000;
/// The first rollouts of each figure, whose every look also goes through the gate's judge.
const CHECKED_AGAINST_THE_GATE: u32 = 200;

/// A draw from Binomial(n, p), by inversion (n and the mean are small here, so the walk up the
/// distribution is short); the symmetry keeps p at or below one half.
fn binomial(rng: &mut StdRng, n: u64, p: f64) -> u64 {
    if p <= 0.0 || n == 0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    if p > 0.5 {
        return n - binomial(rng, n, 1.0 - p);
    }
    let u: f64 = rng.random();
    let ratio = p / (1.0 - p);
    let mut term = (1.0 - p).powf(n as f64);
    let mut cumulative = term;
    let mut k = 0;
    while cumulative < u && k < n {
        term *= (n - k) as f64 / (k + 1) as f64 * ratio;
        k += 1;
        cumulative += term;
    }
    k
}

/// Runs `rollouts` rollouts of `strategy` with a canary error rate of `canary_rate`, looking
/// every `tick_seconds`; returns how many were rolled back.
fn rolled_back(
    strategy: &str,
    canary_rate: f64,
    tick_seconds: u64,
    rollouts: u32,
    seed: u64,
) -> u32 {
    let strategy: Strategy = strategy.parse().unwrap();
    let gate: GateSpec = "error-rate<=stable".parse().unwrap();
    let policy = GatePolicy::default();
    let steps = strategy.steps();
    let per_tick = PER_MINUTE * tick_seconds / 60;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut failures = 0;
    for rollout in 0..rollouts {
        'rollout: for step in steps {
            let weight = step.percent / 100.0;
            let ticks = step.hold.as_secs() / tick_seconds;
            let (mut canary, mut canary_errors, mut stable, mut stable_errors) = (0, 0, 0, 0);
            for _ in 0..ticks {
                let to_canary = binomial(&mut rng, per_tick, weight);
                canary += to_canary;
                stable += per_tick - to_canary;
                canary_errors += binomial(&mut rng, to_canary, canary_rate);
                stable_errors += binomial(&mut rng, per_tick - to_canary, BASE_ERROR_RATE);
                let enough = canary >= policy.min_requests && stable >= policy.min_requests;
                let test = sequential_error_test(
                    canary_errors,
                    stable_errors,
                    weight,
                    step_level(DEFAULT_ALPHA, steps.len()),
                );
                let failed = enough && test.significant;
                if rollout < CHECKED_AGAINST_THE_GATE {
                    // The arithmetic above is the gate's own: the judge agrees at every look.
                    let values = HashMap::from([
                        (CANARY_INVOCATIONS.to_owned(), Some(canary as f64)),
                        (CANARY_ERRORS.to_owned(), Some(canary_errors as f64)),
                        (STABLE_INVOCATIONS.to_owned(), Some(stable as f64)),
                        (STABLE_ERRORS.to_owned(), Some(stable_errors as f64)),
                    ]);
                    let data = Data {
                        values: Ok(values),
                        alarms: Ok(HashMap::new()),
                    };
                    let look = Look {
                        canary_weight: weight,
                        steps: steps.len(),
                    };
                    let (verdict, detail) =
                        Judge::new(&data, &policy, look).judge(&gate, 0).unwrap();
                    assert_eq!(verdict == Verdict::Fail, failed, "{detail}");
                }
                if failed {
                    failures += 1;
                    break 'rollout;
                }
            }
        }
    }
    failures
}

#[test]
fn healthy_canary10_30m_rollouts_are_rarely_rolled_back() {
    let rolled_back = rolled_back("canary10-30m", BASE_ERROR_RATE, 30, ROLLOUTS, 1);
    let rate = f64::from(rolled_back) / f64::from(ROLLOUTS);
    eprintln!(
        "healthy: {rolled_back} of {ROLLOUTS} rolled back ({:.2}%)",
        rate * 100.0
    );
    assert!(
        rate <= 0.05,
        "{rolled_back} of {ROLLOUTS} healthy rollouts rolled back"
    );
}

#[test]
fn healthy_linear10_10m_rollouts_are_rarely_rolled_back() {
    // Nine steps of ten minutes: 180 looks over 90 minutes.
    let rolled_back = rolled_back("linear10-10m", BASE_ERROR_RATE, 30, ROLLOUTS, 2);
    let rate = f64::from(rolled_back) / f64::from(ROLLOUTS);
    eprintln!(
        "healthy: {rolled_back} of {ROLLOUTS} rolled back ({:.2}%)",
        rate * 100.0
    );
    assert!(
        rate <= 0.05,
        "{rolled_back} of {ROLLOUTS} healthy rollouts rolled back"
    );
}

#[test]
fn a_canary_twice_as_bad_is_caught_within_canary10_30m() {
    let caught = rolled_back("canary10-30m", 2.0 * BASE_ERROR_RATE, 30, ROLLOUTS, 3);
    let rate = f64::from(caught) / f64::from(ROLLOUTS);
    eprintln!(
        "twice as bad: {caught} of {ROLLOUTS} caught ({:.2}%)",
        rate * 100.0
    );
    assert!(
        rate >= 0.80,
        "only {caught} of {ROLLOUTS} bad canaries caught"
    );
}
