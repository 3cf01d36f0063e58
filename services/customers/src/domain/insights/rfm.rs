//! Recency, frequency and monetary scores, and the segment they place a customer in.
use super::RfmThresholds;

pub(super) fn score_up(value: i64, bounds: &[i64; 4]) -> i32 {
    1 + bounds.iter().filter(|b| value >= **b).count() as i32
}

pub(super) fn recency_score(days: i64, t: &RfmThresholds) -> i32 {
    let [r5, r4, r3, r2] = t.recency_days;
    match days {
        d if d <= r5 => 5,
        d if d <= r4 => 4,
        d if d <= r3 => 3,
        d if d <= r2 => 2,
        _ => 1,
    }
}

/// The segment of a customer with scores `r`, `f`, `m` and `orders` purchases ever; the
/// first matching rule wins (the README has the same table).
pub(super) fn segment(r: i32, f: i32, m: i32, orders: i64) -> &'static str {
    // F and M together, rounded up: a big spender with few orders still counts.
    let fm = (f + m + 1) / 2;
    match (r, f, fm) {
        _ if orders == 0 => "no_purchases",
        // First-time buyers are judged by recency alone: one order is no loyalty yet.
        (5, _, _) if orders == 1 => "new",
        (3.., _, _) if orders == 1 => "promising",
        (2, _, _) if orders == 1 => "hibernating",
        _ if orders == 1 => "lost",
        (4.., 4.., 4..) => "champions",
        (3.., 3.., 3..) => "loyal",
        (4.., _, _) => "potential_loyalist",
        (3, _, _) => "needs_attention",
        (_, _, 4..) => "cannot_lose",
        (_, 2.., _) | (_, _, 3) => "at_risk",
        (2, _, _) => "hibernating",
        _ => "lost",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_follow_the_documented_table() {
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    let s = segment(r, f, m, 3);
                    assert!(!["new", "promising", "no_purchases"].contains(&s));
                }
            }
        }
        assert_eq!(segment(5, 4, 4, 9), "champions");
        // FM = (4 + 3 + 1) / 2 = 4; with F = 1 the same customer cannot be loyal.
        assert_eq!(segment(5, 4, 3, 9), "champions");
        assert_eq!(segment(5, 4, 1, 9), "loyal"); // FM = (4 + 1 + 1) / 2 = 3
        assert_eq!(segment(5, 1, 5, 9), "potential_loyalist"); // F = 1 < 3
        assert_eq!(segment(5, 3, 3, 9), "loyal");
        assert_eq!(segment(3, 5, 5, 9), "loyal");
        assert_eq!(segment(4, 2, 1, 2), "potential_loyalist");
        assert_eq!(segment(3, 2, 2, 2), "needs_attention");
        assert_eq!(segment(1, 5, 5, 9), "cannot_lose");
        assert_eq!(segment(2, 2, 1, 2), "at_risk");
        assert_eq!(segment(2, 1, 1, 2), "hibernating");
        assert_eq!(segment(1, 1, 1, 2), "lost");
        assert_eq!(segment(1, 1, 1, 1), "lost");
    }
}
