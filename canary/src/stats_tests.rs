use super::*;
use proptest::prelude::*;

fn assert_close(actual: f64, expected: f64, relative: f64, case: &str) {
    let error = if expected == 0.0 {
        actual.abs()
    } else {
        ((actual - expected) / expected).abs()
    };
    assert!(
        error <= relative,
        "{case}: got {actual:e}, expected {expected:e} (relative error {error:e})"
    );
}

/// Canary errors and total, stable errors and total; the expected p-value.
type Case = ((u64, u64, u64, u64), f64);

/// Reference p-values, exact: computed as Fraction sums of `math.comb` products in Python 3
/// (scipy is not installed here), P(X >= ce) for X hypergeometric with draw ct from ct + st
/// containing ce + se errors, which is scipy's `fisher_exact(..., alternative="greater")`.
// The digits are Python's repr of each value, kept whole.
#[allow(clippy::excessive_precision)]
const EXACT: &[Case] = &[
    ((2, 40, 50, 1000), 0.606_109_844_511_603_77),
    ((5, 40, 0, 1000), 6.552_811_387_426_271_6e-8),
    ((3, 120, 10, 1000), 0.154_883_499_177_238_98),
    ((1, 10, 0, 10), 0.5),
    ((0, 10, 5, 10), 1.0),
    ((10, 10, 0, 10), 5.412_544_112_234_514_8e-6),
    ((7, 100, 20, 1000), 0.008_050_221_533_067_671_4),
    ((12, 200, 100, 5000), 0.001_127_675_286_318_652_5),
    ((30, 1000, 200, 10000), 0.027_626_109_762_412_83),
    ((1, 1, 0, 1), 0.5),
    ((3, 5, 1, 5), 0.261_904_761_904_761_92),
    ((0, 0, 5, 10), 1.0),
    ((50, 5000, 300, 50000), 0.000_973_309_094_036_015_74),
    ((40, 1000, 100, 10000), 2.483_581_306_511_170_1e-11),
    ((15, 100, 1, 100), 0.000_157_725_648_733_501_32),
];

/// Reference p-values for totals up to 10^7: mpmath 1.3 at 60 digits (log-gamma for the first
/// term, then the exact term ratio until terms fall below 1e-30 of the sum).
#[allow(clippy::excessive_precision)]
const LARGE: &[Case] = &[
    (
        (1100, 1_000_000, 10_000, 10_000_000),
        0.001_577_108_049_844_728_4,
    ),
    (
        (10_500, 10_000_000, 10_000, 10_000_000),
        0.000_244_132_887_250_949_36,
    ),
    (
        (10_000, 10_000_000, 10_000, 10_000_000),
        0.502_822_324_171_127_5,
    ),
    ((150, 100_000, 10_000, 10_000_000), 2.120_386_130_169_476e-6),
    ((1, 1000, 0, 10_000_000), 9.999_000_099_990_001e-5),
    (
        (25_000, 10_000_000, 20_000, 10_000_000),
        1.309_384_968_904_752_1e-123,
    ),
];

#[test]
fn matches_exact_reference_values() {
    for ((ce, ct, se, st), expected) in EXACT {
        let p = fisher_exact_greater(*ce, *ct, *se, *st);
        assert_close(p, *expected, 1e-9, &format!("{ce}/{ct} vs {se}/{st}"));
    }
}

#[test]
fn matches_reference_values_for_totals_up_to_ten_million() {
    for ((ce, ct, se, st), expected) in LARGE {
        let p = fisher_exact_greater(*ce, *ct, *se, *st);
        assert_close(p, *expected, 1e-6, &format!("{ce}/{ct} vs {se}/{st}"));
    }
}

#[test]
fn the_design_examples() {
    // Same 5% rate: not significant.
    let same = compare_error_rates(2, 40, 50, 1000, 0.05);
    assert!(!same.significant);
    assert_eq!(same.canary_rate, 0.05);
    assert_eq!(same.stable_rate, 0.05);
    assert!(same.p_value > 0.5);
    // 5/40 against a clean stable version: significant.
    let worse = compare_error_rates(5, 40, 0, 1000, 0.05);
    assert!(worse.significant);
    assert_eq!(worse.canary_rate, 0.125);
    assert_eq!(worse.stable_rate, 0.0);
    assert!(worse.p_value < 1e-7);
}

#[test]
fn alpha_decides_significance() {
    // p = 0.00805 for 7/100 vs 20/1000.
    assert!(compare_error_rates(7, 100, 20, 1000, 0.05).significant);
    assert!(compare_error_rates(7, 100, 20, 1000, 0.01).significant);
    assert!(!compare_error_rates(7, 100, 20, 1000, 0.005).significant);
}

#[test]
fn degenerate_tables() {
    assert_eq!(fisher_exact_greater(0, 0, 0, 0), 1.0);
    assert_eq!(fisher_exact_greater(0, 100, 0, 100), 1.0);
    assert_eq!(fisher_exact_greater(5, 5, 5, 5), 1.0);
    assert_eq!(fisher_exact_greater(3, 3, 0, 0), 1.0);
    // Errors above the total count as the total.
    assert_eq!(
        fisher_exact_greater(20, 10, 0, 10),
        fisher_exact_greater(10, 10, 0, 10)
    );
    let rates = compare_error_rates(20, 10, 0, 0, 0.05);
    assert_eq!((rates.canary_rate, rates.stable_rate), (1.0, 0.0));
    // Large totals on the exact path: one error among 10^11 + 10^6 requests lands in the
    // canary's 10^6 with probability 10^6 / (10^11 + 10^6).
    let p = fisher_exact_greater(1, 1_000_000, 0, 100_000_000_000);
    assert_close(p, 1e6 / (1e11 + 1e6), 1e-9, "1/10^6 vs 0/10^11");
    // Astronomical totals use the normal approximation and stay sane.
    let same_rate = fisher_exact_greater(
        1_000_000_000_000,
        1_000_000_000_000_000,
        1_000_000_000,
        1_000_000_000_000,
    );
    assert!((0.3..0.7).contains(&same_rate), "{same_rate}");
    let doubled = fisher_exact_greater(
        2_000_000_000_000,
        1_000_000_000_000_000,
        1_000_000_000,
        1_000_000_000_000,
    );
    assert!(doubled < 1e-10, "{doubled}");
    let p = fisher_exact_greater(u64::MAX / 2, u64::MAX, u64::MAX / 2, u64::MAX);
    assert!((0.0..=1.0).contains(&p), "{p}");
}

proptest! {
    #[test]
    fn p_is_a_probability_and_monotone_in_canary_errors(
        ct in 0u64..5000, st in 0u64..5000, ce in 0u64..5000, se in 0u64..5000,
    ) {
        let p = fisher_exact_greater(ce, ct, se, st);
        prop_assert!((0.0..=1.0).contains(&p), "{}", p);
        // One more canary error (out of one more request) never makes the canary look better.
        let worse = fisher_exact_greater(ce.min(ct) + 1, ct + 1, se, st);
        prop_assert!(worse <= p + 1e-9, "{} then {}", p, worse);
    }

    #[test]
    fn never_panics_on_any_counts(ce: u64, ct: u64, se: u64, st: u64) {
        let p = fisher_exact_greater(ce, ct, se, st);
        prop_assert!((0.0..=1.0).contains(&p), "{}", p);
    }
}

#[test]
fn the_sequential_test_by_table() {
    // (canary errors, stable errors, share, level, significant, e-value)
    let table: &[(u64, u64, f64, f64, bool, f64)] = &[
        // No errors: no evidence.
        (0, 0, 0.1, 0.05, false, 1.0),
        // Errors split exactly as the traffic is: evidence against a worse canary.
        (10, 90, 0.1, 0.05, false, 0.21698),
        // A broken canary: 2 errors of its own and none on the stable version are not yet
        // enough at 5%, 3 are.
        (2, 0, 0.1, 0.05, false, 8.92329),
        (3, 0, 0.1, 0.05, true, 36.2854),
        (5, 0, 0.1, 0.05, true, 790.9715),
        // Half again the stable rate, 200 errors in: some evidence, not enough.
        (30, 170, 0.1, 0.05, false, 3.76012),
        // Twice the stable rate over a 30-minute step at 1,000 requests a minute: far past it.
        (60, 270, 0.1, 0.05, true, 4915.24),
    ];
    for &(canary, stable, share, level, significant, e_value) in table {
        let test = sequential_error_test(canary, stable, share, level);
        let case = format!("{canary} vs {stable} at {share}");
        assert_eq!(test.significant, significant, "{case}: {test:?}");
        assert_close(test.threshold, 1.0 / level, 1e-12, &case);
        if e_value > 0.0 {
            assert_close(test.e_value, e_value, 1e-4, &case);
        }
    }
}

#[test]
fn the_sequential_test_gives_no_evidence_without_a_split() {
    for share in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
        let test = sequential_error_test(50, 0, share, 0.05);
        assert_eq!((test.e_value, test.significant), (1.0, false), "{share}");
    }
    for level in [0.0, 1.0, -1.0] {
        assert!(
            !sequential_error_test(50, 0, 0.1, level).significant,
            "{level}"
        );
    }
}

proptest! {
    #[test]
    fn the_sequential_evidence_grows_with_the_canarys_errors(
        canary in 0u64..2000, stable in 0u64..20000, percent in 1u32..99,
    ) {
        let share = f64::from(percent) / 100.0;
        let e = sequential_error_test(canary, stable, share, 0.05).e_value;
        let worse = sequential_error_test(canary + 1, stable, share, 0.05).e_value;
        let better = sequential_error_test(canary, stable + 1, share, 0.05).e_value;
        prop_assert!(e.is_finite() || e == f64::INFINITY);
        prop_assert!(worse >= e && better <= e, "{} {} {}", better, e, worse);
    }
}
