//! The build proper, on the dense input: neighbours, association rules, content fallback
//! and the popularity lists of every scope. Pure and synchronous (the service runs it on a
//! blocking thread); the algorithms are `domain::model`'s, the ones `eval` measures.
use super::content;
use super::load::Input;
use crate::domain::ItemId;
use crate::domain::model::Similarity;
use crate::domain::model::rules::{RuleStat, rules};
use crate::domain::model::similarity::{neighbours, served_similarity};
use crate::domain::model::{BuildParams, Event, Scope, Scored, popularity::popularity};
use std::collections::HashMap;

/// A computed model, still on dense indices (converted to stored rows page by page).
#[derive(Debug, Default)]
pub struct Built {
    pub items: Vec<ItemId>,
    pub neighbours: Vec<Vec<Scored>>,
    pub rules: Vec<Vec<RuleStat>>,
    /// The global list first, then per category path and per cohort; none empty but the
    /// global one.
    pub popular: Vec<(Scope, Vec<(u32, f64)>)>,
    pub interaction_count: usize,
    pub customer_count: usize,
    pub item_count: usize,
    /// The similarity computed (EASE falls back to cosine above its item bound).
    pub similarity: Similarity,
}

/// Computes the model of `input`.
pub fn compute(input: Input, p: &BuildParams) -> Built {
    let n = input.items.len();
    let mut nb = neighbours(&input.events, n, p);
    let rules = rules(&input.baskets, n, p.min_support, p.top_k);
    let pop = popularity(&input.events, n, p);
    let interacted: Vec<bool> = (0..n).map(|i| i < input.interacted).collect();
    content::add_fallback(&mut nb, &input.described, &interacted, &pop, p.top_k);
    let mut popular = vec![(Scope::All, top(pop.iter().copied().enumerate(), p))];
    popular.extend(by_category(&input, &pop, p));
    popular.extend(by_cohort(&input, p));
    Built {
        similarity: served_similarity(p, input.interacted),
        interaction_count: input.events.len(),
        customer_count: input.customers,
        item_count: input.interacted,
        items: input.items,
        neighbours: nb,
        rules,
        popular,
    }
}

/// The `popular_top_n` best of `scores` (item, score), best first, zeros left out.
fn top(scores: impl Iterator<Item = (usize, f64)>, p: &BuildParams) -> Vec<(u32, f64)> {
    let mut list: Vec<(u32, f64)> = scores
        .filter(|(_, s)| *s > 0.0)
        .map(|(i, s)| (i as u32, s))
        .collect();
    let order = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if list.len() > p.popular_top_n {
        list.select_nth_unstable_by(p.popular_top_n, order);
        list.truncate(p.popular_top_n);
    }
    list.sort_by(order);
    list
}

/// Every category path and its ancestors, "a/b/c" -> "a/b/c", "a/b", "a".
fn with_ancestors(path: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(path), |p| p.rsplit_once('/').map(|(head, _)| head))
}

/// One list per category path of the catalogue and per ancestor of one: the popularity of
/// the items in it or below it.
fn by_category(input: &Input, pop: &[f64], p: &BuildParams) -> Vec<(Scope, Vec<(u32, f64)>)> {
    let mut members: HashMap<&str, Vec<(usize, f64)>> = HashMap::new();
    for (i, d) in input.described.iter().enumerate() {
        let Some(c) = d.as_ref().and_then(|d| d.category) else {
            continue;
        };
        let score = pop.get(i).copied().unwrap_or(0.0);
        if score <= 0.0 {
            continue;
        }
        for path in with_ancestors(&input.categories[c as usize]) {
            members.entry(path).or_default().push((i, score));
        }
    }
    let mut lists: Vec<(Scope, Vec<(u32, f64)>)> = members
        .into_iter()
        .map(|(path, m)| (Scope::Category(path.to_owned()), top(m.into_iter(), p)))
        .collect();
    lists.sort_by_key(|a| a.0.key());
    lists
}

/// One list per cohort: popularity among the customers in it, by the same function as the
/// global list over their interactions alone.
fn by_cohort(input: &Input, p: &BuildParams) -> Vec<(Scope, Vec<(u32, f64)>)> {
    if input.members.is_empty() {
        return Vec::new();
    }
    let mut of_user: Vec<Vec<u32>> = vec![Vec::new(); input.customers];
    for &(user, cohort) in &input.members {
        of_user[user as usize].push(cohort);
    }
    let mut events_of: Vec<Vec<u32>> = vec![Vec::new(); input.cohorts.len()];
    for (e, ev) in input.events.iter().enumerate() {
        for &c in &of_user[ev.user as usize] {
            events_of[c as usize].push(e as u32);
        }
    }
    let mut lists = Vec::new();
    for (c, events) in events_of.into_iter().enumerate() {
        // Local item indices, so each cohort costs its own interactions, not the catalogue.
        let mut local: HashMap<u32, u32> = HashMap::new();
        let mut global: Vec<u32> = Vec::new();
        let evs: Vec<Event> = events
            .iter()
            .map(|&e| {
                let ev = input.events[e as usize];
                let next = global.len() as u32;
                let item = *local.entry(ev.item).or_insert(next);
                if item == next {
                    global.push(ev.item);
                }
                Event { item, ..ev }
            })
            .collect();
        let scores = popularity(&evs, global.len(), p);
        let list: Vec<(u32, f64)> = top(scores.into_iter().enumerate(), p)
            .into_iter()
            .map(|(i, s)| (global[i as usize], s))
            .collect();
        if !list.is_empty() {
            lists.push((Scope::Cohort(input.cohorts[c].clone()), list));
        }
    }
    lists.sort_by_key(|a| a.0.key());
    lists
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::Similarity;
    use crate::service::rebuild::content::Description;

    /// The shipped knobs, with no decay and lists of two.
    fn params() -> BuildParams {
        let mut p = crate::Settings::load(None)
            .expect("defaults")
            .recommendations
            .model;
        p.similarity = Similarity::Cosine;
        p.half_life_days = 0.0;
        p.min_support = 1;
        p.popular_top_n = 2;
        p
    }

    fn ev(user: u32, item: u32, weight: f32) -> Event {
        Event {
            user,
            item,
            weight,
            age_days: 0.0,
        }
    }

    #[test]
    fn ancestors_of_a_path() {
        assert_eq!(
            with_ancestors("a/b/c").collect::<Vec<_>>(),
            ["a/b/c", "a/b", "a"]
        );
        assert_eq!(with_ancestors("a").collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn popularity_per_scope() {
        let input = Input {
            items: ["x", "y", "z"].map(|s| ItemId(s.into())).to_vec(),
            interacted: 3,
            customers: 2,
            events: vec![ev(0, 0, 1.0), ev(0, 1, 4.0), ev(1, 1, 1.0), ev(1, 2, 2.0)],
            described: vec![
                Some(Description {
                    category: Some(0),
                    tags: vec![],
                }),
                Some(Description {
                    category: Some(1),
                    tags: vec![],
                }),
                None,
            ],
            categories: vec!["t/h".into(), "t/tours".into()],
            cohorts: vec!["city:kyoto".into()],
            members: vec![(1, 0)],
            ..Input::default()
        };
        let b = compute(input, &params());
        let lists: Vec<(String, Vec<(u32, f64)>)> =
            b.popular.into_iter().map(|(s, l)| (s.key(), l)).collect();
        assert_eq!(
            lists,
            [
                (String::new(), vec![(1, 5.0), (2, 2.0)]),
                ("category:t".into(), vec![(1, 5.0), (0, 1.0)]),
                ("category:t/h".into(), vec![(0, 1.0)]),
                ("category:t/tours".into(), vec![(1, 5.0)]),
                ("cohort:city:kyoto".into(), vec![(2, 2.0), (1, 1.0)]),
            ]
        );
    }
}
