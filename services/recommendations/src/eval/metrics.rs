//! The metrics of a top-k list against the held-out items, averaged over the users with any:
//! hit rate, NDCG, precision, recall, and the catalogue coverage of all the lists.

/// The averages of one model under one protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Metrics {
    pub hr: f64,
    pub ndcg: f64,
    pub precision: f64,
    pub recall: f64,
    /// Distinct recommended items over the catalogue's items.
    pub coverage: f64,
    /// Users evaluated (with held-out items).
    pub users: usize,
}

/// Scores `recs` (per user, best first; only the first `k` count) against `test` (per user,
/// distinct items). Users without test items are skipped.
pub fn evaluate(recs: &[Vec<u32>], test: &[Vec<u32>], n_items: usize, k: usize) -> Metrics {
    let mut m = Metrics::default();
    let mut shown = vec![false; n_items];
    let discount: Vec<f64> = (0..k).map(|r| 1.0 / ((r + 2) as f64).log2()).collect();
    for (u, held) in test.iter().enumerate() {
        if held.is_empty() {
            continue;
        }
        let list = recs.get(u).map_or(&[][..], |l| &l[..l.len().min(k)]);
        let mut hits = 0usize;
        let mut dcg = 0.0;
        for (rank, item) in list.iter().enumerate() {
            if let Some(s) = shown.get_mut(*item as usize) {
                *s = true;
            }
            if held.contains(item) {
                hits += 1;
                dcg += discount[rank];
            }
        }
        let ideal: f64 = discount[..held.len().min(k)].iter().sum();
        m.users += 1;
        m.hr += f64::from(u8::from(hits > 0));
        m.ndcg += dcg / ideal;
        m.precision += hits as f64 / k as f64;
        m.recall += hits as f64 / held.len() as f64;
    }
    if m.users > 0 {
        let n = m.users as f64;
        m.hr /= n;
        m.ndcg /= n;
        m.precision /= n;
        m.recall /= n;
    }
    m.coverage = shown.iter().filter(|s| **s).count() as f64 / n_items.max(1) as f64;
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_values() {
        // User 0: held {1, 2}, list [1, 5, 2] at k = 3: hits at ranks 1 and 3.
        // User 1: held {9}, list [3, 4, 5]: nothing. User 2: no test, skipped.
        let recs = vec![vec![1, 5, 2], vec![3, 4, 5], vec![7, 8, 9]];
        let test = vec![vec![1, 2], vec![9], vec![]];
        let m = evaluate(&recs, &test, 10, 3);
        assert_eq!(m.users, 2);
        assert!((m.hr - 0.5).abs() < 1e-12);
        let dcg = 1.0 + 1.0 / 4f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2();
        assert!((m.ndcg - dcg / idcg / 2.0).abs() < 1e-12);
        assert!((m.precision - (2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert!((m.recall - 0.5).abs() < 1e-12);
        // Items 1, 2, 3, 4, 5 shown to evaluated users.
        assert!((m.coverage - 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_perfect_list_scores_one_and_only_k_count() {
        let m = evaluate(&[vec![4, 3, 9]], &[vec![3, 4]], 10, 2);
        assert!((m.ndcg - 1.0).abs() < 1e-12);
        assert!((m.hr - 1.0).abs() < 1e-12);
        assert!((m.coverage - 0.2).abs() < 1e-12);
    }
}
