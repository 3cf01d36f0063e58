//! Content fallback: an item with no interactions has no neighbours from co-occurrence, so
//! it gets neighbours from its description instead (same category path, shared tags), and
//! it is added to those neighbours' lists, so it shows up in similar-item lists until it
//! has interactions of its own. Pure; the build calls it.
//!
//! Content neighbours are stored with `support` 0 (no customer is behind them): serving
//! gives them the reason SAME_CATEGORY_AND_TAGS.
use crate::domain::model::Scored;
use std::collections::HashMap;

/// The candidates an item without interactions is compared with, per category: the most
/// popular this many items of it. Bounds the work to (new items x this).
pub const POOL: usize = 1000;

/// What the fallback knows of an item: its category (an interned path, `None` for no
/// category) and its tags (interned, sorted, no repeats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub category: Option<u32>,
    pub tags: Vec<u32>,
}

/// How alike two descriptions are, 0 when not at all: same category required (items
/// without one match on tags alone), and at least one shared tag unless `a` has none.
/// (shared + 1) / (union + 1): shared tags raise it, tags of one only lower it.
pub fn likeness(a: &Description, b: &Description) -> f32 {
    if a.category != b.category {
        return 0.0;
    }
    let shared = shared(&a.tags, &b.tags);
    if shared == 0 && (!a.tags.is_empty() || a.category.is_none()) {
        return 0.0;
    }
    let union = a.tags.len() + b.tags.len() - shared;
    (shared + 1) as f32 / (union + 1) as f32
}

/// Elements common to two sorted lists.
fn shared(a: &[u32], b: &[u32]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// Adds content neighbours to `neighbours` (the co-occurrence ones, per item): every
/// described item without interactions (`interacted[i]` false) gets its `top_k` likeliest
/// items of the pool of its category, and each of those gets it back. Co-occurrence
/// neighbours stay first; content ones follow, scaled by the weakest co-occurrence score of
/// the list so the order stays "most similar first", and take at least a tenth of `top_k`
/// (at least one) when there are some, so a full list still makes room for a new item.
pub fn add_fallback(
    neighbours: &mut [Vec<Scored>],
    described: &[Option<Description>],
    interacted: &[bool],
    popularity: &[f64],
    top_k: usize,
) {
    let n = neighbours.len();
    // The pool of each category: its most popular items.
    let mut pools: HashMap<Option<u32>, Vec<u32>> = HashMap::new();
    for (i, d) in described.iter().enumerate().take(n) {
        if let Some(d) = d {
            pools.entry(d.category).or_default().push(i as u32);
        }
    }
    let score = |i: u32| popularity.get(i as usize).copied().unwrap_or(0.0);
    for pool in pools.values_mut() {
        pool.sort_by(|&a, &b| score(b).total_cmp(&score(a)).then(a.cmp(&b)));
        pool.truncate(POOL);
    }
    let mut content: Vec<Vec<Scored>> = vec![Vec::new(); n];
    for (i, d) in described.iter().enumerate().take(n) {
        let Some(d) = d else { continue };
        if interacted.get(i).copied().unwrap_or(true) {
            continue;
        }
        let Some(pool) = pools.get(&d.category) else {
            continue;
        };
        let mut found: Vec<Scored> = pool
            .iter()
            .filter(|&&j| j as usize != i)
            .filter_map(|&j| {
                let other = described[j as usize].as_ref()?;
                let s = likeness(d, other);
                (s > 0.0).then_some(Scored {
                    item: j,
                    score: s,
                    support: 0,
                })
            })
            .collect();
        sort_best_first(&mut found);
        found.truncate(top_k);
        for s in &found {
            content[s.item as usize].push(Scored {
                item: i as u32,
                ..*s
            });
        }
        content[i].extend(found);
    }
    for (list, extra) in neighbours.iter_mut().zip(content) {
        merge(list, extra, top_k);
    }
}

fn sort_best_first(list: &mut [Scored]) {
    list.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item.cmp(&b.item)));
}

/// `list` (co-occurrence, best first) followed by `extra` (content, any order, repeats
/// allowed), at most `top_k`.
fn merge(list: &mut Vec<Scored>, mut extra: Vec<Scored>, top_k: usize) {
    if extra.is_empty() {
        return;
    }
    sort_best_first(&mut extra);
    let mut seen: std::collections::HashSet<u32> = list.iter().map(|s| s.item).collect();
    extra.retain(|s| seen.insert(s.item));
    let reserved = (top_k / 10).max(1).min(extra.len());
    list.truncate(top_k.saturating_sub(reserved));
    let floor = list.last().map_or(1.0, |s| s.score);
    let room = top_k.saturating_sub(list.len());
    list.extend(extra.into_iter().take(room).map(|s| Scored {
        score: s.score * floor,
        ..s
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(category: Option<u32>, tags: &[u32]) -> Description {
        Description {
            category,
            tags: tags.to_vec(),
        }
    }

    fn d(category: Option<u32>, tags: &[u32]) -> Option<Description> {
        Some(desc(category, tags))
    }

    fn s(item: u32, score: f32, support: u32) -> Scored {
        Scored {
            item,
            score,
            support,
        }
    }

    #[test]
    fn likeness_needs_the_category_and_a_shared_tag() {
        let a = desc(Some(1), &[1, 2]);
        assert_eq!(likeness(&a, &desc(Some(1), &[1, 2])), 1.0);
        assert_eq!(likeness(&a, &desc(Some(1), &[2, 3])), 2.0 / 4.0);
        assert_eq!(likeness(&a, &desc(Some(1), &[3])), 0.0);
        assert_eq!(likeness(&a, &desc(Some(2), &[1, 2])), 0.0);
        // No tags: the category alone, weaker the more tags the other has.
        let bare = desc(Some(1), &[]);
        assert_eq!(likeness(&bare, &desc(Some(1), &[])), 1.0);
        assert_eq!(likeness(&bare, &desc(Some(1), &[5])), 0.5);
        // No category: tags alone, at least one.
        let none = desc(None, &[7]);
        assert_eq!(likeness(&none, &desc(None, &[7])), 1.0);
        assert_eq!(likeness(&desc(None, &[]), &desc(None, &[])), 0.0);
    }

    #[test]
    fn a_new_item_gets_neighbours_and_is_added_to_theirs() {
        // 0 and 1 co-occur; 2 is new, same category and a tag of 0; 3 is another category.
        let mut nb = vec![vec![s(1, 0.8, 3)], vec![s(0, 0.8, 3)], vec![], vec![]];
        let described = [
            d(Some(1), &[1]),
            d(Some(1), &[2]),
            d(Some(1), &[1]),
            d(Some(2), &[1]),
        ];
        let interacted = [true, true, false, true];
        add_fallback(&mut nb, &described, &interacted, &[5.0, 4.0, 0.0, 1.0], 5);
        assert_eq!(nb[2], [s(0, 1.0, 0)], "the new item's content neighbour");
        assert_eq!(
            nb[0],
            [s(1, 0.8, 3), s(2, 0.8, 0)],
            "appended after co-occurrence, scaled by its weakest score"
        );
        assert_eq!(nb[1], [s(0, 0.8, 3)], "no shared tag: not added");
        assert_eq!(nb[3], [], "another category");
    }

    #[test]
    fn a_full_list_makes_room_for_new_items() {
        let full: Vec<Scored> = (1..=10).map(|i| s(i, 1.0 / i as f32, 2)).collect();
        let mut nb = vec![vec![]; 12];
        nb[0] = full;
        let mut described = vec![None; 12];
        described[0] = d(Some(1), &[1]);
        described[11] = d(Some(1), &[1]);
        let mut interacted = vec![true; 12];
        interacted[11] = false;
        add_fallback(&mut nb, &described, &interacted, &[0.0; 12], 10);
        assert_eq!(nb[0].len(), 10);
        assert_eq!(nb[0][8], s(9, 1.0 / 9.0, 2));
        assert_eq!(nb[0][9], s(11, 1.0 / 9.0, 0), "the weakest one made room");
    }
}
