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

/// The nearest-rank `p`-th percentile (0 < p <= 100) of `values`; 0 when empty.
pub fn percentile(values: &mut [i64], p: u32) -> i64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let k = rank_offset(values.len() as i64, p);
    values[k as usize]
}

/// (count, median, p90).
pub fn summary(values: &mut [i64]) -> (i64, i64, i64) {
    let n = values.len() as i64;
    (n, percentile(values, 50), percentile(values, 90))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut v: Vec<i64> = (1..=10).rev().collect();
        assert_eq!(percentile(&mut v, 50), 5);
        assert_eq!(percentile(&mut v, 90), 9);
        assert_eq!(percentile(&mut v, 100), 10);
        assert_eq!(percentile(&mut [7], 90), 7);
        assert_eq!(percentile(&mut [], 50), 0);
        assert_eq!(summary(&mut [3, 1, 2]), (3, 2, 3));
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
}
