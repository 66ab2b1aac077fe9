//! The statistics of the summary table: medians, quartiles, and a bootstrap interval for the ratio of
//! two medians.

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde::{Deserialize, Serialize};

/// How many resamples the ratio's bootstrap interval draws.
const BOOTSTRAP_RESAMPLES: usize = 2_000;
/// A fixed seed, so the same samples always give the same interval.
const BOOTSTRAP_SEED: u64 = 0x001a_317a;

/// The `q`-quantile (0 to 1) of `values` by linear interpolation between order statistics, as
/// criterion and numpy compute it; `None` when empty.
pub(crate) fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    quantile_of_sorted(&sorted, q)
}

fn quantile_of_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let position = q.clamp(0.0, 1.0) * last as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let weight = position - below as f64;
    Some(sorted[below] * (1.0 - weight) + sorted[above] * weight)
}

/// A figure over the samples of one function: its median and quartiles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// The median.
    pub median: f64,
    /// The first quartile.
    pub q1: f64,
    /// The third quartile.
    pub q3: f64,
}

impl Spread {
    /// The median and quartiles of `values`; `None` when empty.
    #[must_use]
    pub fn of(values: &[f64]) -> Option<Self> {
        Some(Self {
            median: quantile(values, 0.5)?,
            q1: quantile(values, 0.25)?,
            q3: quantile(values, 0.75)?,
        })
    }
}

/// The ratio of a function's median to the baseline's, with a 95 % bootstrap interval (both sample
/// sets resampled independently).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// median(function) / median(baseline).
    pub ratio: f64,
    /// The interval's lower end.
    pub low: f64,
    /// The interval's upper end.
    pub high: f64,
}

impl Ratio {
    /// The ratio of medians of `values` to `baseline`; `None` when either is empty or the baseline's
    /// median is zero.
    #[must_use]
    pub fn between(values: &[f64], baseline: &[f64]) -> Option<Self> {
        let base = quantile(baseline, 0.5)?;
        if base <= 0.0 {
            return None;
        }
        let ratio = quantile(values, 0.5)? / base;
        let mut rng = StdRng::seed_from_u64(BOOTSTRAP_SEED);
        let mut ratios = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
        let mut a = vec![0.0; values.len()];
        let mut b = vec![0.0; baseline.len()];
        for _ in 0..BOOTSTRAP_RESAMPLES {
            for slot in &mut a {
                *slot = values[rng.random_range(0..values.len())];
            }
            for slot in &mut b {
                *slot = baseline[rng.random_range(0..baseline.len())];
            }
            a.sort_by(f64::total_cmp);
            b.sort_by(f64::total_cmp);
            if let (Some(x), Some(y)) = (quantile_of_sorted(&a, 0.5), quantile_of_sorted(&b, 0.5))
                && y > 0.0
            {
                ratios.push(x / y);
            }
        }
        Some(Self {
            ratio,
            low: quantile(&ratios, 0.025).unwrap_or(ratio),
            high: quantile(&ratios, 0.975).unwrap_or(ratio),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_order_statistics() {
        let cases: [(&[f64], f64, Option<f64>); 6] = [
            (&[], 0.5, None),
            (&[3.0], 0.5, Some(3.0)),
            (&[4.0, 1.0, 3.0], 0.5, Some(3.0)),
            (&[1.0, 2.0, 3.0, 4.0], 0.5, Some(2.5)),
            (&[1.0, 2.0, 3.0, 4.0, 5.0], 0.25, Some(2.0)),
            (&[1.0, 2.0, 3.0, 4.0], 0.75, Some(3.25)),
        ];
        for (values, q, expected) in cases {
            assert_eq!(quantile(values, q), expected, "{values:?} at {q}");
        }
    }

    #[test]
    fn the_ratio_interval_holds_the_ratio_and_narrows_with_agreeing_samples() {
        let base: Vec<f64> = (0..30).map(|i| 10.0 + f64::from(i % 3)).collect();
        let slower: Vec<f64> = base.iter().map(|v| v * 2.0).collect();
        let ratio = Ratio::between(&slower, &base).unwrap();
        assert!((ratio.ratio - 2.0).abs() < 1e-9, "{ratio:?}");
        assert!(ratio.low <= 2.0 && ratio.high >= 2.0, "{ratio:?}");
        assert!(ratio.high - ratio.low < 0.5, "{ratio:?}");
        let noisy: Vec<f64> = (0..30).map(|i| 5.0 + f64::from(i * 7 % 40)).collect();
        let wide = Ratio::between(&noisy, &base).unwrap();
        assert!(wide.high - wide.low > ratio.high - ratio.low, "{wide:?}");
        assert_eq!(Ratio::between(&slower, &[]), None);
        assert_eq!(Ratio::between(&slower, &[0.0]), None);
    }
}
