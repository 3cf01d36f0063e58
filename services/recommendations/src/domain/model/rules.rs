//! Association rules over baskets. (Contract version: plain counting.)
use std::collections::HashMap;

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
/// `min_support` baskets, strongest (lift, then confidence) first, at most `top_k`.
pub fn rules(
    baskets: &[Vec<u32>],
    n_items: usize,
    min_support: u32,
    top_k: usize,
) -> Vec<Vec<RuleStat>> {
    let total = baskets.len().max(1) as f64;
    let mut single = vec![0u32; n_items];
    let mut pair: HashMap<(u32, u32), u32> = HashMap::new();
    for b in baskets {
        let mut b = b.clone();
        b.sort_unstable();
        b.dedup();
        for &i in &b {
            single[i as usize] += 1;
            for &j in &b {
                if i != j {
                    *pair.entry((i, j)).or_default() += 1;
                }
            }
        }
    }
    let mut out = vec![Vec::new(); n_items];
    for ((i, j), n) in pair {
        if n < min_support {
            continue;
        }
        let confidence = f64::from(n) / f64::from(single[i as usize]);
        let lift = confidence / (f64::from(single[j as usize]) / total);
        out[i as usize].push(RuleStat {
            item: j,
            support: f64::from(n) / total,
            confidence,
            lift,
            count: n,
        });
    }
    for list in &mut out {
        list.sort_by(|a, b| {
            b.lift
                .total_cmp(&a.lift)
                .then(b.confidence.total_cmp(&a.confidence))
                .then(a.item.cmp(&b.item))
        });
        list.truncate(top_k);
    }
    out
}
