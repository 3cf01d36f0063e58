//! Reporting arithmetic: nearest-rank percentiles.

/// The nearest-rank `p`-th percentile (0 < p <= 100) of `values`; 0 when empty.
pub fn percentile(values: &mut [i64], p: u32) -> i64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let n = values.len();
    let rank = (u64::from(p) * n as u64).div_ceil(100).max(1) as usize;
    values[rank.min(n) - 1]
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
}
