//! A customer's history against the neighbours. (Contract version: the plain sum.)
use std::collections::HashMap;
use std::hash::Hash;

/// A candidate's score and the history item that contributed most to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<K> {
    pub item: K,
    pub score: f32,
    pub because: K,
}

/// The candidates of a history (item, weight of the customer's interactions with it): each
/// neighbour of a history item scores its similarity times the weight, summed over the
/// history. History items themselves are not candidates. Best first.
pub fn score_history<'a, K, N>(history: &[(K, f32)], neighbours_of: N) -> Vec<Candidate<K>>
where
    K: Clone + Eq + Hash + Ord + 'a,
    N: Fn(&K) -> &'a [(K, f32)],
{
    let seen: std::collections::HashSet<&K> = history.iter().map(|(k, _)| k).collect();
    let mut acc: HashMap<K, (f32, K, f32)> = HashMap::new();
    for (h, w) in history {
        for (n, s) in neighbours_of(h) {
            if seen.contains(n) {
                continue;
            }
            let part = s * w;
            let e = acc.entry(n.clone()).or_insert((0.0, h.clone(), 0.0));
            e.0 += part;
            if part > e.2 {
                e.1 = h.clone();
                e.2 = part;
            }
        }
    }
    let mut out: Vec<Candidate<K>> = acc
        .into_iter()
        .map(|(item, (score, because, _))| Candidate {
            item,
            score,
            because,
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item.cmp(&b.item)));
    out
}
