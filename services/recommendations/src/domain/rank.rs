//! The ranking of an answer, pure: a customer's history as weighted seeds, "buy again" from
//! repeat orders, the blend of sources into one list, boosts, diversity and exploration.
//! The scoring of seeds against the neighbours is the model's (`model::scoring`), the same
//! code `eval` measures.
use super::filter::{Boost, boost_factor, cap_per_category};
use super::model::scoring::score_history;
use super::serving::{Reason, Recommended};
use super::{Interaction, Item, ItemId};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The catalogue rows of an answer's candidates, as serving holds them (shared with the
/// cache, not copied).
pub type Catalogue = HashMap<ItemId, Arc<Item>>;

/// The seeds of a history (newest first, bounded by the caller): each item with the sum of
/// its interactions' weights, each weight times `decay(age in days)`, so that recent
/// interactions (also those after the last rebuild) count at once. Items whose weight sums
/// to nothing (a 1-star review) are not seeds.
pub fn seeds(
    history: &[Interaction],
    now: DateTime<Utc>,
    decay: impl Fn(f32) -> f32,
) -> Vec<(ItemId, f32)> {
    let mut acc: HashMap<&ItemId, f32> = HashMap::new();
    for i in history {
        let age = (now - i.occur_time).num_seconds().max(0) as f32 / 86_400.0;
        *acc.entry(&i.item).or_default() += i.weight as f32 * decay(age);
    }
    let mut out: Vec<(ItemId, f32)> = acc
        .into_iter()
        .filter(|(_, w)| *w > 0.0)
        .map(|(k, w)| (k.clone(), w))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

/// Items of the history bought (purchased or booked) in at least `min_orders` separate
/// orders (by basket, else by time) and due again: the time since the last order is at least
/// the median gap between orders. Each with how overdue it is (elapsed / median gap, at most
/// 2). Most overdue first.
pub fn buy_again(
    history: &[Interaction],
    min_orders: usize,
    now: DateTime<Utc>,
) -> Vec<(ItemId, f64)> {
    let mut orders: HashMap<&ItemId, HashMap<String, DateTime<Utc>>> = HashMap::new();
    for i in history.iter().filter(|i| i.kind.is_order()) {
        let key = if i.basket.is_empty() {
            i.occur_time.to_rfc3339()
        } else {
            i.basket.clone()
        };
        let e = orders
            .entry(&i.item)
            .or_default()
            .entry(key)
            .or_insert(i.occur_time);
        *e = (*e).min(i.occur_time);
    }
    let mut out = Vec::new();
    for (item, by_order) in orders {
        if by_order.len() < min_orders.max(2) {
            continue;
        }
        let mut times: Vec<DateTime<Utc>> = by_order.into_values().collect();
        times.sort();
        let mut gaps: Vec<i64> = times
            .windows(2)
            .map(|w| (w[1] - w[0]).num_seconds())
            .collect();
        gaps.sort_unstable();
        let median = gaps[gaps.len() / 2].max(1) as f64;
        let elapsed = (now - times[times.len() - 1]).num_seconds().max(0) as f64;
        if elapsed >= median {
            out.push((item.clone(), (elapsed / median).min(2.0)));
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

/// What the model holds for a seed, as ranking needs it.
#[derive(Debug, Clone, Default)]
pub struct SeedModel {
    /// (neighbour, score, support): support 0 is a content neighbour (category and tags).
    pub neighbours: Vec<(ItemId, f32, u32)>,
    /// The items with a rule "seed -> item".
    pub bought_with: HashSet<ItemId>,
}

/// The collaborative-filtering candidates of `seeds` with their reasons: the model's scoring
/// over the neighbour lists; with `include_consumed`, seeds that are neighbours of other
/// seeds too. The reason names the seed that contributed most: "bought with" when that seed
/// has a rule to the candidate, "like" for a content neighbour, else "similar to".
pub fn personal(
    seeds: &[(ItemId, f32)],
    models: &HashMap<ItemId, SeedModel>,
    include_consumed: bool,
) -> Vec<Recommended> {
    let empty: Vec<(ItemId, f32)> = Vec::new();
    let lists: HashMap<&ItemId, Vec<(ItemId, f32)>> = models
        .iter()
        .map(|(k, m)| {
            (
                k,
                m.neighbours
                    .iter()
                    .map(|(n, s, _)| (n.clone(), *s))
                    .collect(),
            )
        })
        .collect();
    let mut found: Vec<(ItemId, f32, ItemId)> = score_history(seeds, |k: &ItemId| {
        lists.get(k).map_or(empty.as_slice(), Vec::as_slice)
    })
    .into_iter()
    .map(|c| (c.item, c.score, c.because))
    .collect();
    if include_consumed {
        // score_history leaves history items out; the same sum over the other seeds.
        let weights: HashMap<&ItemId, f32> = seeds.iter().map(|(k, w)| (k, *w)).collect();
        let mut acc: HashMap<&ItemId, (f32, &ItemId, f32)> = HashMap::new();
        for (h, w) in seeds {
            for (n, s) in lists.get(h).map_or(empty.as_slice(), Vec::as_slice) {
                if n == h || !weights.contains_key(n) {
                    continue;
                }
                let part = s * w;
                let e = acc.entry(n).or_insert((0.0, h, 0.0));
                e.0 += part;
                if part > e.2 {
                    e.1 = h;
                    e.2 = part;
                }
            }
        }
        found.extend(
            acc.into_iter()
                .map(|(n, (s, h, _))| (n.clone(), s, h.clone())),
        );
    }
    let mut out: Vec<Recommended> = found
        .into_iter()
        .map(|(item, score, because)| {
            let m = models.get(&because);
            let content = m.is_some_and(|m| {
                m.neighbours
                    .iter()
                    .any(|(n, _, support)| *n == item && *support == 0)
            });
            let mut reasons = Vec::new();
            if m.is_some_and(|m| m.bought_with.contains(&item)) {
                reasons.push(Reason::BoughtWith(because.clone()));
            }
            reasons.push(if content {
                Reason::SameCategoryAndTags(because)
            } else {
                Reason::SimilarTo(because)
            });
            Recommended {
                item,
                score: f64::from(score),
                reasons,
                rule: None,
            }
        })
        .collect();
    sort(&mut out);
    out
}

/// Best first, ties by item id (the same state gives the same order).
pub fn sort(list: &mut [Recommended]) {
    list.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item.cmp(&b.item)));
}

/// Blends "buy again" items into `list`: each scores `best * overdue / 2` (`best`: the
/// list's top score, 1 when empty), so an item twice overdue ties the best recommendation
/// and one just due ranks with the middle. An item already in the list keeps the higher
/// score and gains the reason.
pub fn blend_buy_again(list: &mut Vec<Recommended>, due: &[(ItemId, f64)]) {
    let best = list.first().map_or(1.0, |r| r.score);
    for (item, overdue) in due {
        let score = best * overdue / 2.0;
        match list.iter_mut().find(|r| r.item == *item) {
            Some(r) => {
                r.score = r.score.max(score);
                r.reasons.insert(0, Reason::BuyAgain);
            }
            None => list.push(Recommended {
                item: item.clone(),
                score,
                reasons: vec![Reason::BuyAgain],
                rule: None,
            }),
        }
    }
    sort(list);
}

/// Appends popularity lists (most specific first, each best first) to `list`, below every
/// item in it: scores scaled into (0, floor], floor half the list's lowest score (1 when
/// empty). Items already listed are skipped; at most `limit` are added.
pub fn fill_popular(
    list: &mut Vec<Recommended>,
    lists: &[(Reason, Vec<(ItemId, f64)>)],
    limit: usize,
    skip: &HashSet<ItemId>,
) {
    let mut floor = list.last().map_or(1.0, |r| r.score / 2.0);
    let mut seen: HashSet<ItemId> = list.iter().map(|r| r.item.clone()).collect();
    let mut added = 0;
    for (reason, items) in lists {
        let top = items
            .first()
            .map_or(1.0, |(_, s)| *s)
            .max(f64::MIN_POSITIVE);
        let mut lowest = floor;
        for (item, s) in items {
            if added >= limit {
                return;
            }
            if skip.contains(item) || !seen.insert(item.clone()) {
                continue;
            }
            let score = floor * (s / top).clamp(1e-6, 1.0);
            lowest = lowest.min(score);
            list.push(Recommended {
                item: item.clone(),
                score,
                reasons: vec![reason.clone()],
                rule: None,
            });
            added += 1;
        }
        // The next (less specific) list ranks below this one.
        floor = lowest / 2.0;
    }
}

/// Multiplies the scores by the boosts each item matches, then sorts again.
pub fn apply_boosts(list: &mut [Recommended], boosts: &[Boost], items: &Catalogue) {
    if boosts.is_empty() {
        return;
    }
    for r in list.iter_mut() {
        r.score *= boost_factor(boosts, items.get(&r.item).map(|i| &**i));
    }
    sort(list);
}

/// splitmix64: a small seeded generator (exploration needs no more).
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE5_E9B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Places an item may move up at exploration 1.
const EXPLORE_PLACES: f64 = 10.0;

/// How many admitted candidates an answer of `max_results` at `exploration` can draw from
/// (without boosts or diversity): an item further down can never move into it.
pub fn candidates_for(max_results: usize, exploration: f64) -> usize {
    let places = (exploration.max(0.0) * EXPLORE_PLACES).ceil() as usize;
    max_results.saturating_add(places)
}

/// Shuffles a ranked list a little: each item's position is moved up by a random share of
/// `exploration * 10` places (seeded by `seed`), then the list is sorted by the new
/// positions. 0 leaves it as it is; 0.2 moves an item up to two places.
pub fn explore<T>(list: Vec<T>, exploration: f64, seed: u64) -> Vec<T> {
    if exploration <= 0.0 || list.len() < 2 {
        return list;
    }
    let mut state = seed;
    let mut keyed: Vec<(f64, T)> = list
        .into_iter()
        .enumerate()
        .map(|(i, x)| {
            let u = (next(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
            (i as f64 - u * exploration * EXPLORE_PLACES, x)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    keyed.into_iter().map(|(_, x)| x).collect()
}

/// The last steps of every answer: exploration, at most `max_per_category` per category,
/// the first `max_results`.
pub fn finish(
    list: Vec<Recommended>,
    exploration: f64,
    seed: u64,
    max_per_category: usize,
    items: &Catalogue,
    max_results: usize,
) -> Vec<Recommended> {
    let list = explore(list, exploration, seed);
    let mut list = cap_per_category(list, max_per_category, |r| {
        items
            .get(&r.item)
            .map(|i| i.fields.category.clone())
            .unwrap_or_default()
    });
    list.truncate(max_results);
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CustomerId, InteractionKind};
    use chrono::TimeDelta;

    fn id(s: &str) -> ItemId {
        ItemId(s.into())
    }

    fn bought(item: &str, basket: &str, days_ago: i64, now: DateTime<Utc>) -> Interaction {
        Interaction {
            source_key: format!("{item}{basket}"),
            customer: CustomerId(uuid::Uuid::nil()),
            item: id(item),
            kind: InteractionKind::Purchase,
            weight: 4.0,
            rating: 0,
            quantity: 1,
            basket: basket.into(),
            occur_time: now - TimeDelta::days(days_ago),
        }
    }

    #[test]
    fn buy_again_needs_repeats_and_a_due_date() {
        let now = Utc::now();
        // milk every 7 days, last 10 days ago: due (10/7 overdue); tea every 30 days, last
        // 5 days ago: not due; soap once.
        let h = [
            bought("milk", "o3", 10, now),
            bought("milk", "o2", 17, now),
            bought("milk", "o1", 24, now),
            bought("tea", "o4", 5, now),
            bought("tea", "o1", 35, now),
            bought("soap", "o2", 17, now),
        ];
        let due = buy_again(&h, 2, now);
        assert_eq!(due.len(), 1, "{due:?}");
        assert_eq!(due[0].0, id("milk"));
        assert!((due[0].1 - 10.0 / 7.0).abs() < 1e-3);
        assert!(buy_again(&h, 4, now).is_empty());
    }

    #[test]
    fn seeds_sum_and_decay() {
        let now = Utc::now();
        let h = [
            bought("a", "1", 0, now),
            bought("a", "2", 10, now),
            bought("b", "", 10, now),
        ];
        let s = seeds(&h, now, |age| if age > 5.0 { 0.5 } else { 1.0 });
        assert_eq!(s, vec![(id("a"), 6.0), (id("b"), 2.0)]);
    }

    #[test]
    fn personal_names_the_seed_and_the_kind_of_link() {
        let mut models = HashMap::new();
        models.insert(
            id("a"),
            SeedModel {
                neighbours: vec![(id("x"), 0.9, 3), (id("b"), 0.5, 2), (id("n"), 0.1, 0)],
                bought_with: [id("x")].into(),
            },
        );
        models.insert(
            id("b"),
            SeedModel {
                neighbours: vec![(id("y"), 0.8, 2), (id("a"), 0.5, 2)],
                bought_with: HashSet::new(),
            },
        );
        let seeds = [(id("a"), 1.0), (id("b"), 1.0)];
        let r = personal(&seeds, &models, false);
        let items: Vec<&str> = r.iter().map(|r| r.item.as_str()).collect();
        assert_eq!(items, ["x", "y", "n"]);
        assert_eq!(
            r[0].reasons,
            [Reason::BoughtWith(id("a")), Reason::SimilarTo(id("a"))]
        );
        assert_eq!(r[1].reasons, [Reason::SimilarTo(id("b"))]);
        assert_eq!(r[2].reasons, [Reason::SameCategoryAndTags(id("a"))]);
        let with = personal(&seeds, &models, true);
        let items: Vec<&str> = with.iter().map(|r| r.item.as_str()).collect();
        assert_eq!(items, ["x", "y", "a", "b", "n"]);
    }

    #[test]
    fn blending_fill_and_exploration() {
        let mut list = vec![Recommended {
            item: id("x"),
            score: 2.0,
            reasons: vec![Reason::SimilarTo(id("a"))],
            rule: None,
        }];
        blend_buy_again(&mut list, &[(id("milk"), 2.0)]);
        assert_eq!(
            list[0].item,
            id("milk"),
            "twice overdue ties the best, wins by id"
        );
        fill_popular(
            &mut list,
            &[
                (
                    Reason::PopularInCohort("city:kyoto".into()),
                    vec![(id("k"), 5.0), (id("x"), 4.0)],
                ),
                (Reason::Popular, vec![(id("g"), 9.0), (id("h"), 1.0)]),
            ],
            2,
            &HashSet::new(),
        );
        let items: Vec<&str> = list.iter().map(|r| r.item.as_str()).collect();
        assert_eq!(items, ["milk", "x", "k", "g"]);
        assert!(list.windows(2).all(|w| w[0].score >= w[1].score));

        let ranked: Vec<u32> = (0..30).collect();
        assert_eq!(explore(ranked.clone(), 0.0, 7), ranked);
        assert_eq!(
            explore(ranked.clone(), 0.5, 7),
            explore(ranked.clone(), 0.5, 7)
        );
        assert_ne!(
            explore(ranked.clone(), 0.5, 7),
            explore(ranked.clone(), 0.5, 8)
        );
        let small = explore(ranked.clone(), 0.2, 3);
        for (pos, x) in small.iter().enumerate() {
            assert!((*x as i64 - pos as i64).abs() <= 2, "{small:?}");
        }
    }

    #[test]
    fn the_first_candidates_decide_an_explored_answer() {
        let list: Vec<u32> = (0..200).collect();
        for exploration in [0.0, 0.2, 0.5, 1.0] {
            for seed in 0..50 {
                let n = candidates_for(10, exploration);
                let full = explore(list.clone(), exploration, seed);
                let head = explore(list[..n].to_vec(), exploration, seed);
                assert_eq!(
                    full[..10],
                    head[..10],
                    "exploration {exploration}, seed {seed}"
                );
            }
        }
        assert_eq!(candidates_for(10, 0.0), 10);
        assert_eq!(candidates_for(10, 0.25), 13);
    }
}
