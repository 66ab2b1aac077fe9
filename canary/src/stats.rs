//! Statistics for comparing a canary with the stable version.
//!
//! The `error-rate<=stable` gate asks whether the canary fails more often than the stable
//! version. The controller asks that question again at every look while a step holds, on data
//! that keeps accumulating, so a fixed-sample test (such as [`compare_error_rates`], Fisher's
//! exact test) at level 5% at every look would roll back far more than 5% of healthy releases.
//! The gate uses [`sequential_error_test`] instead: a mixture sequential probability ratio
//! test whose false-alarm rate stays below its level however often and whenever it is looked at.
//!
//! ```
//! use lamina_canary::stats::{compare_error_rates, sequential_error_test};
//!
//! // The canary gets 10% of the traffic. 12 of 100 errors on the canary: no evidence.
//! assert!(!sequential_error_test(12, 88, 0.1, 0.05).significant);
//! // 40 of 100 errors on a 10% canary: it is worse, whenever this is looked at.
//! assert!(sequential_error_test(40, 60, 0.1, 0.05).significant);
//!
//! // Fisher's exact test on one fixed sample: 2 errors in 40 canary requests vs 50 in 1000.
//! assert!(!compare_error_rates(2, 40, 50, 1000, 0.05).significant);
//! ```

/// The relative risks (the canary's error rate over the stable version's) the sequential test's
/// alternative mixes, with equal weights: from a small regression to a broken release.
pub const RELATIVE_RISKS: [f64; 6] = [1.25, 1.5, 2.0, 3.0, 5.0, 10.0];

/// The outcome of [`sequential_error_test`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SequentialComparison {
    /// The mixture likelihood ratio (an e-value) of "the canary fails more often" against "both
    /// fail equally often"; 1 means no evidence either way.
    pub e_value: f64,
    /// The e-value at and above which the test rejects: one over the level.
    pub threshold: f64,
    /// Whether `e_value` reached `threshold`: the canary is worse.
    pub significant: bool,
}

/// The sequential test behind `error-rate<=stable`: is the canary's error rate higher than the
/// stable version's, given `canary_errors` and `stable_errors` since the step began while the
/// canary got `canary_share` (0 to 1) of the alias's traffic?
///
/// Lambda routes each request to the canary with probability `canary_share`, independently of
/// everything else. If both versions fail equally often, each error is then the canary's with
/// probability `canary_share`, whatever the traffic and the error rate do over time. If the
/// canary fails `r` times as often, that probability is `rw / (rw + 1 - w)` (with `w` the
/// share). The test's statistic is the likelihood ratio of the errors' labels under a mixture
/// of such alternatives ([`RELATIVE_RISKS`], equal weights) against the null. Under the null it
/// is a nonnegative martingale with mean 1, so by Ville's inequality the chance that it *ever*
/// reaches `1 / level` is at most `level`: the false-alarm rate holds at any number of looks at
/// any times (Wald's SPRT, in the mixture form of Robbins; the "always valid p-values" of
/// Johari, Pekelis and Walsh, 2017).
///
/// A share outside (0, 1) or a level outside (0, 1) gives no evidence (e-value 1, not
/// significant).
pub fn sequential_error_test(
    canary_errors: u64,
    stable_errors: u64,
    canary_share: f64,
    level: f64,
) -> SequentialComparison {
    let threshold = if level > 0.0 && level < 1.0 {
        1.0 / level
    } else {
        f64::INFINITY
    };
    let w = canary_share;
    if !(w > 0.0 && w < 1.0) || threshold.is_infinite() {
        return SequentialComparison {
            e_value: 1.0,
            threshold,
            significant: false,
        };
    }
    let x = canary_errors as f64;
    let rest = stable_errors as f64;
    let ln_weight = -(RELATIVE_RISKS.len() as f64).ln();
    let terms: Vec<f64> = RELATIVE_RISKS
        .iter()
        .map(|risk| {
            let p = risk * w / (risk * w + 1.0 - w);
            ln_weight + x * (p / w).ln() + rest * ((1.0 - p) / (1.0 - w)).ln()
        })
        .collect();
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let ln_e = max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln();
    let e_value = ln_e.exp();
    SequentialComparison {
        e_value,
        threshold,
        significant: ln_e >= threshold.ln(),
    }
}

/// The outcome of [`compare_error_rates`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// The one-sided p-value that the canary's error rate is higher than the stable one's.
    pub p_value: f64,
    /// The canary's errors over its requests (0 when it had none).
    pub canary_rate: f64,
    /// The stable version's errors over its requests (0 when it had none).
    pub stable_rate: f64,
    /// Whether `p_value` is below the significance level: the canary is worse.
    pub significant: bool,
}

/// Compares the canary's error rate with the stable version's on one fixed sample, at
/// significance level `alpha` (valid for one look only; see [`sequential_error_test`]).
/// Errors above the total (CloudWatch can report them a period apart) are counted as the total.
pub fn compare_error_rates(
    canary_errors: u64,
    canary_total: u64,
    stable_errors: u64,
    stable_total: u64,
    alpha: f64,
) -> Comparison {
    let rate = |errors: u64, total: u64| {
        if total == 0 {
            0.0
        } else {
            errors.min(total) as f64 / total as f64
        }
    };
    let p_value = fisher_exact_greater(canary_errors, canary_total, stable_errors, stable_total);
    Comparison {
        p_value,
        canary_rate: rate(canary_errors, canary_total),
        stable_rate: rate(stable_errors, stable_total),
        significant: p_value < alpha,
    }
}

/// The one-sided Fisher exact test p-value that the canary's error rate is greater than the
/// stable version's: the probability, with both versions equally reliable, of the canary
/// getting at least `canary_errors` of all the errors (the hypergeometric upper tail).
///
/// It is what `scipy.stats.fisher_exact([[ce, ct - ce], [se, st - se]], alternative="greater")`
/// returns. The tail's first term comes from Loader's saddle-point form of the hypergeometric
/// density (no large log-factorials, so no overflow or cancellation at any size) and the rest
/// from the exact term ratio, summed from the side away from the mode, so small p-values keep
/// their digits for totals up to 10^7 and far beyond. Where the sum would need hundreds of
/// thousands of terms (a standard deviation over 10^5, i.e. more than about 10^10 errors) or
/// the totals pass 2^50, a normal approximation, exact to many digits at that size, takes over.
/// Errors above a total count as the total; with no requests on either side the answer is 1.
pub fn fisher_exact_greater(
    canary_errors: u64,
    canary_total: u64,
    stable_errors: u64,
    stable_total: u64,
) -> f64 {
    let a = canary_errors.min(canary_total) as f64;
    let n = canary_total as f64;
    let errors = a + stable_errors.min(stable_total) as f64;
    let total = n + stable_total as f64;
    let p = hypergeometric_upper_tail(a, n, errors, total);
    p.clamp(0.0, 1.0)
}

/// Beyond this many standard deviations the summed terms are negligible; above this standard
/// deviation the sums would take too long and the normal approximation is used instead.
const MAX_EXACT_SD: f64 = 100_000.0;

/// Beyond this total, f64 no longer counts every request exactly.
const MAX_EXACT_TOTAL: f64 = 1_125_899_906_842_624.0; // 2^50

/// A bound on the terms summed, whatever rounding does to the stopping rule.
const MAX_TERMS: u32 = 20_000_000;

/// P(X >= a) for X the number of marked items in a draw of `n` from `total` items of which
/// `marked` are marked. All arguments are whole numbers with a <= n <= total, marked <= total.
fn hypergeometric_upper_tail(a: f64, n: f64, marked: f64, total: f64) -> f64 {
    let unmarked = total - marked;
    let low = (n - unmarked).max(0.0);
    let high = n.min(marked);
    if a <= low {
        return 1.0;
    }
    if a > high {
        return 0.0;
    }
    let variance = if total > 1.0 {
        n * (marked / total) * (unmarked / total) * (total - n) / (total - 1.0)
    } else {
        0.0
    };
    if variance.sqrt() > MAX_EXACT_SD || total > MAX_EXACT_TOTAL {
        let mean = n * marked / total;
        let z = (a - 0.5 - mean) / variance.sqrt();
        return 0.5 * erfc(z / std::f64::consts::SQRT_2);
    }
    let mode = ((n + 1.0) * (marked + 1.0) / (total + 2.0)).floor();
    // Sum the tail that lies away from the mode, whose terms fall off monotonically.
    if a > mode {
        // Upper tail: terms from a to high; t(x+1)/t(x) = (K-x)(n-x) / ((x+1)(N-K-n+x+1)).
        let mut sum = 1.0;
        let mut term = 1.0;
        let mut x = a;
        let mut terms = 0;
        while x < high && terms < MAX_TERMS {
            terms += 1;
            term *= (marked - x) * (n - x) / ((x + 1.0) * (unmarked - n + x + 1.0));
            sum += term;
            x += 1.0;
            if term < sum * 1e-17 {
                break;
            }
        }
        (ln_pmf(a, n, marked, total) + sum.ln()).exp()
    } else {
        // Lower tail from a-1 down to low; t(x-1)/t(x) = x(N-K-n+x) / ((K-x+1)(n-x+1)).
        let start = a - 1.0;
        let mut sum = 1.0;
        let mut term = 1.0;
        let mut x = start;
        let mut terms = 0;
        while x > low && terms < MAX_TERMS {
            terms += 1;
            term *= x * (unmarked - n + x) / ((marked - x + 1.0) * (n - x + 1.0));
            sum += term;
            x -= 1.0;
            if term < sum * 1e-17 {
                break;
            }
        }
        1.0 - (ln_pmf(start, n, marked, total) + sum.ln()).exp()
    }
}

/// ln P(X = x) for the hypergeometric distribution of [`hypergeometric_upper_tail`], by
/// Loader's saddle-point method (as R's `dhyper`): a ratio of three binomial densities, each
/// written with Stirling-formula remainders and deviances, so no large log-factorials cancel and
/// the relative error stays near 1e-14 whatever the totals.
fn ln_pmf(x: f64, n: f64, marked: f64, total: f64) -> f64 {
    let p = n / total;
    let q = (total - n) / total;
    ln_binomial(x, marked, p, q) + ln_binomial(n - x, total - marked, p, q)
        - ln_binomial(n, total, p, q)
}

/// ln of the binomial probability of x successes in n trials of probability p (q = 1 - p).
fn ln_binomial(x: f64, n: f64, p: f64, q: f64) -> f64 {
    if x < 0.0 || x > n {
        return f64::NEG_INFINITY;
    }
    if x == 0.0 {
        if n == 0.0 {
            return 0.0;
        }
        return if p < 0.1 {
            -deviance(n, n * q) - n * p
        } else {
            n * q.ln()
        };
    }
    if x == n {
        return if q < 0.1 {
            -deviance(n, n * p) - n * q
        } else {
            n * p.ln()
        };
    }
    let lc = stirling_remainder(n)
        - stirling_remainder(x)
        - stirling_remainder(n - x)
        - deviance(x, n * p)
        - deviance(n - x, n * q);
    let lf = (2.0 * std::f64::consts::PI).ln() + x.ln() + (-x / n).ln_1p();
    lc - 0.5 * lf
}

/// ln(n!) - ln(sqrt(2 pi n) (n/e)^n) for a whole number n >= 0.
fn stirling_remainder(n: f64) -> f64 {
    if n == 0.0 {
        return 0.0;
    }
    if n <= 15.0 {
        let mut product = 1.0;
        let mut i = 2.0;
        while i <= n {
            product *= i;
            i += 1.0;
        }
        return product.ln() - (n * n.ln() - n + 0.5 * (2.0 * std::f64::consts::PI * n).ln());
    }
    let inverse = 1.0 / n;
    let inverse2 = inverse * inverse;
    inverse
        * (1.0 / 12.0
            - inverse2
                * (1.0 / 360.0
                    - inverse2 * (1.0 / 1260.0 - inverse2 * (1.0 / 1680.0 - inverse2 / 1188.0))))
}

/// x ln(x / m) + m - x, by its series where x is near m (where the direct form cancels).
fn deviance(x: f64, m: f64) -> f64 {
    if (x - m).abs() < 0.1 * (x + m) {
        let v = (x - m) / (x + m);
        let mut sum = (x - m) * v;
        let mut term = 2.0 * x * v;
        let v2 = v * v;
        for j in 1..1000 {
            term *= v2;
            let next = sum + term / f64::from(2 * j + 1);
            if next == sum {
                return next;
            }
            sum = next;
        }
        return sum;
    }
    x * (x / m).ln() + m - x
}

/// The complementary error function (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7),
/// only used for the normal approximation at sizes where that error is immaterial.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let value = t * poly.exp();
    if x >= 0.0 { value } else { 2.0 - value }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "stats_tests.rs"]
mod tests;
