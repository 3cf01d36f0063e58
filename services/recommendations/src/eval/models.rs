//! Our models on a split, through the service's own code: the build is
//! `domain::model::{similarity, popularity}` on the training interactions as a rebuild reads
//! them (weights, time decay from the newest training interaction), and a user's list is
//! `scoring::score_history` over their most recent `history` items, seen items left out,
//! filled up from popularity, which is what serving does for a known customer.
use super::split::Split;
use crate::domain::model::scoring::score_history;
use crate::domain::model::sparse::top_k;
use crate::domain::model::{BuildParams, Event, popularity::popularity, similarity::neighbours};
use crate::domain::{InteractionKind, Weights};

/// How a rating becomes an interaction weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WeightMode {
    /// Every interaction weighs 1 (the usual implicit-feedback reading of ratings).
    One,
    /// A review of that rating: `(rating - 2) * review_per_star`, so 1 and 2 stars add
    /// nothing (they still count as seen).
    Rating,
}

/// What is evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    /// Time-decayed popularity, the cold-start list.
    Popularity,
    /// Item-item neighbours of the history.
    Neighbours(BuildParams),
}

/// The setting of a run shared by the models.
#[derive(Debug, Clone)]
pub struct Setup {
    pub weights: Weights,
    pub mode: WeightMode,
    /// The most recent training items of a user that seed the candidates.
    pub history: usize,
    pub k: usize,
}

/// A user's training items: (item, decayed weight sum, latest time).
type Seen = Vec<(u32, f32, i64)>;

/// The training rows as the build's events, and per user what they have seen.
fn prepare(split: &Split, n_users: usize, s: &Setup, p: &BuildParams) -> (Vec<Event>, Vec<Seen>) {
    let newest = split.train.iter().map(|r| r.time).max().unwrap_or(0);
    let mut events = Vec::with_capacity(split.train.len());
    let mut seen: Vec<Seen> = vec![Vec::new(); n_users];
    for r in &split.train {
        let weight = match s.mode {
            WeightMode::One => 1.0,
            WeightMode::Rating => s
                .weights
                .default_for(InteractionKind::Review, r.rating.round() as i32)
                as f32,
        };
        let age_days = ((newest - r.time).max(0) as f64 / 86_400.0) as f32;
        events.push(Event {
            user: r.user,
            item: r.item,
            weight,
            age_days,
        });
        seen[r.user as usize].push((r.item, weight * p.decay(age_days), r.time));
    }
    for s in &mut seen {
        s.sort_unstable_by_key(|x| x.0);
        s.dedup_by(|next, kept| {
            let same = next.0 == kept.0;
            if same {
                kept.1 += next.1;
                kept.2 = kept.2.max(next.2);
            }
            same
        });
    }
    (events, seen)
}

/// Every user's top `s.k` (dense item indices, best first) under `model`.
pub fn recommend(
    model: &Model,
    split: &Split,
    n_users: usize,
    n_items: usize,
    s: &Setup,
    defaults: &BuildParams,
) -> Vec<Vec<u32>> {
    let p = match model {
        Model::Popularity => defaults,
        Model::Neighbours(p) => p,
    };
    let (events, seen) = prepare(split, n_users, s, p);
    let pop = popularity(&events, n_items, p);
    let mut by_pop: Vec<u32> = (0..n_items as u32)
        .filter(|&i| pop[i as usize] > 0.0)
        .collect();
    by_pop.sort_by(|a, b| pop[*b as usize].total_cmp(&pop[*a as usize]).then(a.cmp(b)));
    let lists: Vec<Vec<(u32, f32)>> = match model {
        Model::Popularity => Vec::new(),
        Model::Neighbours(p) => neighbours(&events, n_items, p)
            .into_iter()
            .map(|l| l.into_iter().map(|n| (n.item, n.score)).collect())
            .collect(),
    };
    let none: &[(u32, f32)] = &[];
    seen.iter()
        .enumerate()
        .map(|(u, items)| {
            if split.test.get(u).is_none_or(Vec::is_empty) {
                return Vec::new();
            }
            let is_seen = |i: u32| items.binary_search_by_key(&i, |x| x.0).is_ok();
            let mut list: Vec<u32> = Vec::with_capacity(s.k);
            if !lists.is_empty() {
                // The serving history: the most recent items first, at most `history`.
                let recent = top_k(items.clone(), s.history, |a, b| {
                    b.2.cmp(&a.2).then(a.0.cmp(&b.0))
                });
                let history: Vec<(u32, f32)> = recent.iter().map(|x| (x.0, x.1)).collect();
                let candidates = score_history(&history, |i: &u32| {
                    lists.get(*i as usize).map_or(none, Vec::as_slice)
                });
                list.extend(
                    candidates
                        .into_iter()
                        .map(|c| c.item)
                        .filter(|&i| !is_seen(i))
                        .take(s.k),
                );
            }
            for &i in &by_pop {
                if list.len() >= s.k {
                    break;
                }
                if !is_seen(i) && !list.contains(&i) {
                    list.push(i);
                }
            }
            list
        })
        .collect()
}
