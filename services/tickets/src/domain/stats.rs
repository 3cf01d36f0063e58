//! Reporting arithmetic: nearest-rank percentiles.

/// The 0-based position, in ascending order, of the nearest-rank `p`-th percentile
/// (0 < p <= 100) of `n` values: rank ceil(p * n / 100), at least 1. The stats queries read
/// the value at this offset (`ORDER BY .. LIMIT 1 OFFSET k`), or PostgreSQL's
/// `percentile_disc`, which picks the same value.
pub fn rank_offset(n: i64, p: u32) -> u64 {
    let n = u64::try_from(n).unwrap_or(0);
    let rank = (u64::from(p) * n).div_ceil(100).clamp(1, n.max(1));
    rank - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nearest-rank percentile by definition: the smallest value with at least p% of the
    /// values at or below it.
    fn by_definition(values: &[i64], p: u32) -> i64 {
        let mut v = values.to_vec();
        v.sort_unstable();
        let n = v.len() as u64;
        v.iter()
            .enumerate()
            .find(|(i, _)| (*i as u64 + 1) * 100 >= u64::from(p) * n)
            .map(|(_, x)| *x)
            .unwrap_or(0)
    }

    #[test]
    fn rank_offsets() {
        assert_eq!(rank_offset(10, 50), 4);
        assert_eq!(rank_offset(10, 90), 8);
        assert_eq!(rank_offset(1, 90), 0);
        assert_eq!(rank_offset(2, 50), 0);
        assert_eq!(rank_offset(3, 90), 2);
        assert_eq!(rank_offset(0, 50), 0);
        assert_eq!(rank_offset(30, 90), 26);
    }

    #[test]
    fn the_offset_picks_the_nearest_rank_value() {
        for n in 1..=60i64 {
            let values: Vec<i64> = (1..=n).map(|x| (x * 37) % 101).collect();
            let mut sorted = values.clone();
            sorted.sort_unstable();
            for p in [50, 90, 99, 100] {
                let k = rank_offset(n, p) as usize;
                assert_eq!(sorted[k], by_definition(&values, p), "n={n} p={p}");
            }
        }
    }
}
