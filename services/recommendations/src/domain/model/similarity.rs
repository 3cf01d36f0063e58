//! Item-item similarity from co-occurrence. (Contract version: a plain cosine over
//! decayed weights, to be replaced by the tuned build.)
use super::{BuildParams, Event, Scored, Similarity};
use std::collections::HashMap;

/// The top `p.top_k` neighbours of every item `0..n_items` (most similar first), from the
/// customers' interactions: items are similar when the same customers interacted with both.
pub fn neighbours(events: &[Event], n_items: usize, p: &BuildParams) -> Vec<Vec<Scored>> {
    // user -> item -> decayed weight
    let mut by_user: HashMap<u32, HashMap<u32, f32>> = HashMap::new();
    for e in events {
        *by_user
            .entry(e.user)
            .or_default()
            .entry(e.item)
            .or_default() += e.weight * p.decay(e.age_days);
    }
    let mut norm = vec![0f32; n_items];
    let mut count = vec![0u32; n_items];
    let mut co: HashMap<(u32, u32), (f32, u32)> = HashMap::new();
    for items in by_user.values() {
        let list: Vec<(u32, f32)> = items.iter().map(|(i, w)| (*i, *w)).collect();
        for &(i, wi) in &list {
            norm[i as usize] += wi * wi;
            count[i as usize] += 1;
            for &(j, wj) in &list {
                if i != j {
                    let c = co.entry((i, j)).or_default();
                    c.0 += wi * wj;
                    c.1 += 1;
                }
            }
        }
    }
    let users = by_user.len().max(1) as f32;
    let mut out = vec![Vec::new(); n_items];
    for ((i, j), (dot, n)) in co {
        if n < p.min_support {
            continue;
        }
        let (ci, cj) = (count[i as usize] as f32, count[j as usize] as f32);
        let score = match p.similarity {
            Similarity::Cosine => dot / (norm[i as usize].sqrt() * norm[j as usize].sqrt()),
            Similarity::Jaccard => n as f32 / (ci + cj - n as f32),
            Similarity::Lift => n as f32 * users / (ci * cj),
        };
        out[i as usize].push(Scored {
            item: j,
            score,
            support: n,
        });
    }
    for list in &mut out {
        list.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item.cmp(&b.item)));
        list.truncate(p.top_k);
    }
    out
}
