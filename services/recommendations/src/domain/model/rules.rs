//! Association rules over baskets: for each item, the items bought in the same baskets, by
//! support (share of baskets with both), confidence (share of the item's baskets that hold
//! the other) and lift (confidence over the other's own share). Counted one antecedent at a
//! time over a basket x item matrix, like [`super::similarity`]: memory is the baskets twice
//! plus one accumulator per thread, never a map of every pair.
use super::similarity::parallel_rows;
use super::sparse::top_k;

/// A rule "antecedent -> item" on dense indices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RuleStat {
    pub item: u32,
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
    pub count: u32,
}

/// For every item `0..n_items`, its rules to the items bought in the same baskets by at least
/// `min_support` baskets, strongest (lift, then confidence) first, at most `top_k`. An item
/// twice in a basket counts once; items out of `0..n_items` are ignored.
pub fn rules(
    baskets: &[Vec<u32>],
    n_items: usize,
    min_support: u32,
    top_k_rules: usize,
) -> Vec<Vec<RuleStat>> {
    let b = Baskets::build(baskets, n_items);
    let total = b.count.max(1) as f64;
    let rows = |range: std::ops::Range<usize>| {
        let mut count = vec![0u32; n_items];
        let mut touched: Vec<u32> = Vec::new();
        range
            .map(|i| {
                for &k in b.of_item(i) {
                    for &j in b.items(k) {
                        if j as usize != i {
                            if count[j as usize] == 0 {
                                touched.push(j);
                            }
                            count[j as usize] += 1;
                        }
                    }
                }
                let single_i = f64::from(b.single[i]);
                let mut out = Vec::new();
                for j in touched.drain(..) {
                    let n = std::mem::take(&mut count[j as usize]);
                    if n < min_support {
                        continue;
                    }
                    let confidence = f64::from(n) / single_i;
                    out.push(RuleStat {
                        item: j,
                        support: f64::from(n) / total,
                        confidence,
                        lift: confidence / (f64::from(b.single[j as usize]) / total),
                        count: n,
                    });
                }
                top_k(out, top_k_rules, |a, b| {
                    b.lift
                        .total_cmp(&a.lift)
                        .then(b.confidence.total_cmp(&a.confidence))
                        .then(a.item.cmp(&b.item))
                })
            })
            .collect::<Vec<_>>()
    };
    parallel_rows(n_items, b.pair_work, rows)
}

/// The baskets' distinct items, and for each item the baskets holding it.
struct Baskets {
    /// Non-empty baskets.
    count: usize,
    start: Vec<usize>,
    entries: Vec<u32>,
    by_item_start: Vec<usize>,
    by_item: Vec<u32>,
    /// Baskets per item.
    single: Vec<u32>,
    pair_work: usize,
}

impl Baskets {
    fn build(baskets: &[Vec<u32>], n_items: usize) -> Self {
        let mut start = vec![0];
        let mut entries = Vec::new();
        let mut single = vec![0u32; n_items];
        let mut pair_work = 0usize;
        let mut scratch = Vec::new();
        for b in baskets {
            scratch.clear();
            scratch.extend(b.iter().copied().filter(|&i| (i as usize) < n_items));
            scratch.sort_unstable();
            scratch.dedup();
            if scratch.is_empty() {
                continue;
            }
            for &i in &scratch {
                single[i as usize] += 1;
            }
            pair_work = pair_work.saturating_add(scratch.len().pow(2));
            entries.extend_from_slice(&scratch);
            start.push(entries.len());
        }
        let mut by_item_start = Vec::with_capacity(n_items + 1);
        let mut at = 0;
        for &c in &single {
            by_item_start.push(at);
            at += c as usize;
        }
        by_item_start.push(at);
        let mut next = by_item_start.clone();
        let mut by_item = vec![0u32; at];
        for k in 0..start.len() - 1 {
            for &i in &entries[start[k]..start[k + 1]] {
                by_item[next[i as usize]] = k as u32;
                next[i as usize] += 1;
            }
        }
        Self {
            count: start.len() - 1,
            start,
            entries,
            by_item_start,
            by_item,
            single,
            pair_work,
        }
    }

    fn items(&self, basket: u32) -> &[u32] {
        let k = basket as usize;
        &self.entries[self.start[k]..self.start[k + 1]]
    }

    fn of_item(&self, i: usize) -> &[u32] {
        &self.by_item[self.by_item_start[i]..self.by_item_start[i + 1]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_confidence_and_lift() {
        // 4 baskets: {0,1}, {0,1,2}, {0,2}, {3}; item 1 twice in one basket counts once.
        let baskets = vec![
            vec![0, 1, 1],
            vec![2, 1, 0],
            vec![0, 2],
            vec![3],
            vec![],
            vec![9],
        ];
        let r = rules(&baskets, 4, 1, 10);
        let r01 = r[0].iter().find(|x| x.item == 1).expect("0 -> 1");
        assert_eq!(r01.count, 2);
        assert!((r01.support - 0.5).abs() < 1e-9);
        assert!((r01.confidence - 2.0 / 3.0).abs() < 1e-9);
        // confidence 2/3 over item 1's share 2/4.
        assert!((r01.lift - (2.0 / 3.0) / 0.5).abs() < 1e-9);
        let r10 = r[1].iter().find(|x| x.item == 0).expect("1 -> 0");
        assert!((r10.confidence - 1.0).abs() < 1e-9);
        assert!(r[3].is_empty());
        // 1 -> 0 (lift 4/3) before 1 -> 2 (lift 1): strongest first.
        assert_eq!(r[1][0].item, 0);
    }

    #[test]
    fn min_support_and_top_k() {
        let baskets = vec![vec![0, 1], vec![0, 1], vec![0, 2]];
        let r = rules(&baskets, 3, 2, 10);
        assert_eq!(r[0].len(), 1);
        assert_eq!(r[0][0].item, 1);
        assert!(r[2].is_empty());
        let r = rules(&baskets, 3, 1, 1);
        assert_eq!(r[0].len(), 1);
    }
}
