//! RecommendForCustomer, SimilarItems, BoughtTogether, PopularItems and the hot-list cache.
//!
//! Serving never scans interactions: a customer's history is one bounded read (the newest
//! `serving.history`, by the `customer_id, occur_time` index), the model is read by primary
//! key (the neighbours and rules of the history's items, one popularity list per scope), and
//! the candidates' catalogue rows by id (at most `serving.max_candidates`). Interactions
//! recorded since the last rebuild are in the history, so they count at once as seeds and
//! as consumed items.
//!
//! Hot lists (an item's neighbours and rules, a popularity list) are cached through the
//! platform's two-tier cache under keys holding the model version: a rebuild publishes a new
//! version, so no invalidation is needed, and old keys expire. The current version and the
//! catalogue rows (and the ids it does not hold, deleted or never catalogued) are cached too:
//! a publish and every catalogue write drop them ([`super::Cached`]). So a SimilarItems or
//! BoughtTogether for an anonymous caller reads nothing from the database once its item is
//! hot. Redis down: the cache reads the database.
//!
//! Every answer is stored (`recommendations`) with its items for RecordFeedback, written
//! behind by the served log ([`super::served`]); the purge job deletes answers past
//! `serving.recommendation_retention_days`.
use super::RecommendationService;
use crate::domain::filter::ItemFilter;
use crate::domain::item::in_category;
use crate::domain::model::{ItemModel, ModelInfo, Popular, Scope};
use crate::domain::rank::{self, Catalogue, SeedModel};
use crate::domain::serving::{
    Answer, ForCustomer, Method, PopularQuery, Reason, Recommended, Served, SimilarTo, Together,
};
use crate::domain::{CustomerId, Item, ItemId, RecommendationId};
use crate::error::item_not_found;
use crate::store;
use crm_platform::Error;
use crm_platform::cache::Cacheable;
use crm_platform::jobs::Jobs;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

impl Cacheable for ItemModel {
    const KIND: &'static str = "item_model";
}

/// A popularity list of one model version and scope, as cached.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PopularList(pub Vec<Popular>);

impl Cacheable for PopularList {
    const KIND: &'static str = "popular_list";
}

impl Cacheable for Item {
    const KIND: &'static str = "catalogue_item";
}

/// An id the catalogue does not hold, as cached: deleted, or never catalogued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uncatalogued {
    pub deleted: bool,
}

impl Cacheable for Uncatalogued {
    const KIND: &'static str = "uncatalogued_item";
}

/// The current model version, as cached (`None`: no build published yet).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CurrentModel(pub Option<ModelInfo>);

impl CurrentModel {
    /// Its one cache key.
    pub const KEY: &'static str = "current";
}

impl Cacheable for CurrentModel {
    const KIND: &'static str = "current_model";
}

/// What the catalogue says of one id.
enum Lookup {
    Item(Arc<Item>),
    Absent(Uncatalogued),
}

/// Starts serving's jobs: the purge of served answers past their retention.
pub fn start(svc: &RecommendationService, jobs: &mut Jobs) {
    let every = Duration::from_secs(svc.settings().serving.purge_interval_secs);
    jobs.every(every, "served purge", svc.clone(), |svc| async move {
        svc.purge_served().await.map(|n| {
            if n > 0 {
                tracing::info!(purged = n, "served recommendations past retention purged");
            }
        })
    });
}

/// A seed for the exploration shuffle: the answer's own id, so each call differs.
fn seed_of(id: RecommendationId) -> u64 {
    let v = id.0.as_u128();
    (v as u64) ^ ((v >> 64) as u64)
}

impl RecommendationService {
    /// Deletes served answers (and their feedback) older than the retention, in batches,
    /// then the erasure tombstones as old; returns how many answers.
    pub async fn purge_served(&self) -> Result<u64, Error> {
        let days = i64::from(self.settings().serving.recommendation_retention_days);
        let cutoff = crate::domain::now() - chrono::TimeDelta::days(days);
        let mut total = 0;
        loop {
            let n = store::served::purge_batch(self.db(), cutoff).await?;
            total += n;
            if !store::served::more_after(n) {
                store::served_customers::purge_erased(self.db(), cutoff).await?;
                return Ok(total);
            }
        }
    }

    /// What `version` holds for `items`, through the cache (items it has nothing for map to
    /// an empty model, cached too, so a miss is not read again).
    async fn item_models(
        &self,
        version: i64,
        items: &[ItemId],
    ) -> Result<HashMap<ItemId, Arc<ItemModel>>, Error> {
        let cache = &self.core().cache;
        let mut out = HashMap::with_capacity(items.len());
        let mut missing = Vec::new();
        for i in items {
            let key = format!("{version}:{i}");
            match cache.get::<ItemModel>(&key).await {
                Some(m) => {
                    out.insert(i.clone(), m);
                }
                None => missing.push((i.clone(), cache.ticket::<ItemModel>(&key), key)),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let ids: Vec<ItemId> = missing.iter().map(|(i, _, _)| i.clone()).collect();
        let mut loaded = store::model::item_models(self.db(), version, &ids).await?;
        for (i, ticket, key) in missing {
            let m = Arc::new(loaded.remove(&i).unwrap_or_default());
            cache.fill(ticket, &key, m.clone()).await;
            out.insert(i, m);
        }
        Ok(out)
    }

    /// The popularity list of `scope` in `version`, through the cache.
    async fn popular_list(&self, version: i64, scope: &Scope) -> Result<Arc<PopularList>, Error> {
        let key = format!("{version}:{}", scope.key());
        let loaded = self
            .core()
            .cache
            .get_or_load(&key, || async {
                store::model::popular(self.db(), version, scope)
                    .await
                    .map(|l| Some(PopularList(l)))
            })
            .await?;
        Ok(loaded.unwrap_or_default())
    }

    /// The items a customer consumed, by their bounded recent history (none when anonymous).
    async fn consumed(&self, customer: Option<CustomerId>) -> Result<HashSet<ItemId>, Error> {
        let Some(c) = customer else {
            return Ok(HashSet::new());
        };
        let limit = u64::from(self.settings().serving.history);
        Ok(store::interactions::history(self.db(), c, limit)
            .await?
            .into_iter()
            .map(|i| i.item)
            .collect())
    }

    /// The first `max_candidates` of `list` whose catalogue rows pass `filter` (and are not in
    /// `skip`), with those rows. With `wanted`, rows are read in order, a few more than
    /// wanted at a time, until that many passed: an answer that only takes the first ones
    /// (no boosts or diversity to reorder them) reads tens of rows, not the whole list.
    async fn admitted(
        &self,
        list: impl IntoIterator<Item = Recommended>,
        filter: &ItemFilter,
        skip: &HashSet<ItemId>,
        wanted: Option<usize>,
    ) -> Result<(Vec<Recommended>, Catalogue), Error> {
        let max = self.settings().serving.max_candidates as usize;
        let step = wanted.map_or(max, |w| (w + w / 2).max(8)).max(1);
        let mut rest = list
            .into_iter()
            .filter(|r| !skip.contains(&r.item) && !filter.exclude.contains(&r.item))
            .take(max);
        let mut items = Catalogue::new();
        let mut admitted = Vec::with_capacity(wanted.unwrap_or(0));
        loop {
            let chunk: Vec<Recommended> = rest.by_ref().take(step).collect();
            if chunk.is_empty() {
                break;
            }
            let ids: Vec<ItemId> = chunk.iter().map(|r| r.item.clone()).collect();
            // Deleted ids are dropped (a model older than the delete still lists them);
            // uncatalogued ids that were never deleted are served.
            let mut deleted = HashSet::new();
            for (id, found) in self.catalogue_rows(&ids).await? {
                match found {
                    Lookup::Item(item) => {
                        items.insert(id, item);
                    }
                    Lookup::Absent(a) if a.deleted => {
                        deleted.insert(id);
                    }
                    Lookup::Absent(_) => {}
                }
            }
            admitted.extend(chunk.into_iter().filter(|r| {
                !deleted.contains(&r.item)
                    && filter.admits(&r.item, items.get(&r.item).map(|i| &**i))
            }));
            if wanted.is_some_and(|w| admitted.len() >= w) {
                break;
            }
        }
        Ok((admitted, items))
    }

    /// What the catalogue holds for `ids`, through the cache (misses read in one go).
    async fn catalogue_rows(&self, ids: &[ItemId]) -> Result<Vec<(ItemId, Lookup)>, Error> {
        let cache = &self.core().cache;
        let mut out = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            if let Some(item) = cache.get::<Item>(id.as_str()).await {
                out.push((id.clone(), Lookup::Item(item)));
            } else if let Some(a) = cache.get::<Uncatalogued>(id.as_str()).await {
                out.push((id.clone(), Lookup::Absent(*a)));
            } else {
                let tickets = (
                    cache.ticket::<Item>(id.as_str()),
                    cache.ticket::<Uncatalogued>(id.as_str()),
                );
                missing.push((id.clone(), tickets));
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let ids: Vec<ItemId> = missing.iter().map(|(i, _)| i.clone()).collect();
        let mut rows = store::items::items_by_ids(self.db(), &ids).await?;
        let absent: Vec<ItemId> = ids.into_iter().filter(|i| !rows.contains_key(i)).collect();
        let deleted = store::items::deleted_among(self.db(), &absent).await?;
        for (id, (item_ticket, absent_ticket)) in missing {
            match rows.remove(&id) {
                Some(item) => {
                    let item = Arc::new(item);
                    cache.fill(item_ticket, id.as_str(), item.clone()).await;
                    out.push((id, Lookup::Item(item)));
                }
                None => {
                    let a = Uncatalogued {
                        deleted: deleted.contains(&id),
                    };
                    cache.fill(absent_ticket, id.as_str(), Arc::new(a)).await;
                    out.push((id, Lookup::Absent(a)));
                }
            }
        }
        Ok(out)
    }

    /// The current model version, through the cache.
    async fn current_model(&self) -> Result<Option<ModelInfo>, Error> {
        let current = self
            .core()
            .cache
            .get_or_load(CurrentModel::KEY, || async {
                store::model::current(self.db())
                    .await
                    .map(|i| Some(CurrentModel(i)))
            })
            .await?;
        Ok(current.and_then(|c| c.0.clone()))
    }

    /// Up to `max_candidates` catalogue items (in `category` or below), for when there is no
    /// model yet.
    async fn catalogue(&self, category: &str, reason: &Reason) -> Result<Vec<Recommended>, Error> {
        let limit = u64::from(self.settings().serving.max_candidates);
        let rows = store::items::list(self.db(), category, None, limit).await?;
        let n = rows.len().max(1) as f64;
        Ok(rows
            .into_iter()
            .enumerate()
            .map(|(k, i)| Recommended {
                item: i.id,
                // Id order: the catalogue says nothing better about them.
                score: 1.0 - k as f64 / n,
                reasons: vec![reason.clone()],
                rule: None,
            })
            .collect())
    }

    /// Stores the answer for feedback and returns it.
    async fn serve(
        &self,
        id: RecommendationId,
        method: Method,
        customer: Option<CustomerId>,
        scenario: &str,
        model_version: i64,
        items: Vec<Recommended>,
    ) -> Answer {
        let served = Served {
            id,
            customer,
            method,
            scenario: scenario.to_owned(),
            items: items.iter().map(|r| r.item.clone()).collect(),
            model_version,
            create_time: crate::domain::now(),
        };
        self.served_log().record(served).await;
        Answer {
            id,
            items,
            model_version,
            cold_start: false,
        }
    }

    /// RecommendForCustomer: the neighbours of the customer's recent items scored by the
    /// model's scoring, "buy again" blended in, then popularity in their cohorts (most
    /// specific first) and overall below those (the whole answer for a customer without
    /// history: cold start), the catalogue when there is no model; then filters, boosts,
    /// exploration and diversity.
    pub async fn recommend_for_customer(&self, r: &ForCustomer) -> Result<Answer, Error> {
        let id = RecommendationId::generate();
        let s = &self.settings().serving;
        let now = crate::domain::now();
        let info = self.current_model().await?;
        let history =
            store::interactions::history(self.db(), r.customer, u64::from(s.history)).await?;
        let model = &self.settings().model;
        let seeds = rank::seeds(&history, now, |age| model.decay(age));
        let cold_start = seeds.is_empty();
        let mut list = Vec::new();
        if let Some(info) = &info
            && !seeds.is_empty()
        {
            let ids: Vec<ItemId> = seeds.iter().map(|(i, _)| i.clone()).collect();
            let models: HashMap<ItemId, SeedModel> = self
                .item_models(info.version, &ids)
                .await?
                .into_iter()
                .map(|(k, m)| {
                    let seed = SeedModel {
                        neighbours: m
                            .neighbours
                            .iter()
                            .map(|n| (n.item.clone(), n.score, n.support))
                            .collect(),
                        bought_with: m.rules.iter().map(|x| x.item.clone()).collect(),
                    };
                    (k, seed)
                })
                .collect();
            list = rank::personal(&seeds, &models, r.include_consumed);
        }
        let due = rank::buy_again(&history, s.buy_again_min_orders as usize, now);
        rank::blend_buy_again(&mut list, &due);
        // Consumed items are left out unless asked for, "buy again" ones never.
        let mut skip: HashSet<ItemId> = HashSet::new();
        if !r.include_consumed {
            let due: HashSet<&ItemId> = due.iter().map(|(i, _)| i).collect();
            skip = history
                .iter()
                .map(|i| &i.item)
                .filter(|i| !due.contains(i))
                .cloned()
                .collect();
        }
        let room = (s.max_candidates as usize).saturating_sub(list.len());
        match &info {
            Some(info) if room > 0 => {
                let mut lists = Vec::new();
                let profile = store::profiles::get(self.db(), r.customer.0).await?;
                for cohort in profile.map(|p| p.cohorts()).unwrap_or_default() {
                    let l = self
                        .popular_list(info.version, &Scope::Cohort(cohort.clone()))
                        .await?;
                    lists.push((Reason::PopularInCohort(cohort), pairs(&l)));
                }
                let global = self.popular_list(info.version, &Scope::All).await?;
                lists.push((Reason::Popular, pairs(&global)));
                rank::fill_popular(&mut list, &lists, room, &skip);
            }
            Some(_) => {}
            None => {
                let items = self.catalogue("", &Reason::InCatalogue).await?;
                let lists = [(Reason::InCatalogue, pairs_of(&items))];
                rank::fill_popular(&mut list, &lists, room, &skip);
            }
        }
        // Boosts and diversity reorder the whole list; else only the first are taken.
        let wanted = (r.boosts.is_empty() && r.max_per_category == 0)
            .then(|| rank::candidates_for(r.max_results, r.exploration));
        let (mut list, items) = self.admitted(list, &r.filter, &skip, wanted).await?;
        rank::apply_boosts(&mut list, &r.boosts, &items);
        let list = rank::finish(
            list,
            r.exploration,
            seed_of(id),
            r.max_per_category,
            &items,
            r.max_results,
        );
        let version = info.map_or(0, |i| i.version);
        let answer = self
            .serve(
                id,
                Method::ForCustomer,
                Some(r.customer),
                &r.scenario,
                version,
                list,
            )
            .await;
        Ok(Answer {
            cold_start,
            ..answer
        })
    }

    /// SimilarItems: the item's neighbours (co-occurrence, then the content fallback the
    /// build stores for new items); an item the model does not know yet (created since the
    /// build, or before any) gets the catalogue's items of its category, by shared tags.
    /// NOT_FOUND when neither the catalogue nor the model knows the item.
    pub async fn similar_items(&self, r: &SimilarTo) -> Result<Answer, Error> {
        let id = RecommendationId::generate();
        let info = self.current_model().await?;
        let model = match &info {
            Some(info) => self
                .item_models(info.version, std::slice::from_ref(&r.item))
                .await?
                .remove(&r.item),
            None => None,
        };
        let neighbours = model.as_ref().map_or(&[][..], |m| &m.neighbours[..]);
        // The catalogue row matters only without neighbours: it says whether the item
        // exists, and its category and tags are the fallback.
        let row = match neighbours.is_empty() {
            true => match self
                .catalogue_rows(std::slice::from_ref(&r.item))
                .await?
                .pop()
            {
                Some((_, Lookup::Item(item))) => Some(item),
                _ => None,
            },
            false => None,
        };
        let known = row.is_some()
            || model
                .as_ref()
                .is_some_and(|m| !m.neighbours.is_empty() || !m.rules.is_empty());
        if !known {
            return Err(item_not_found(&r.item));
        }
        let mut fallback = Vec::new();
        if neighbours.is_empty()
            && let Some(item) = &row
            && !item.fields.category.is_empty()
        {
            fallback = self.by_category_and_tags(item).await?;
        }
        // Made as they are read: an answer of ten takes a few tens of a long list. (Boxed:
        // the closure's type would not be Send across the awaits that read it.)
        let candidates: Box<dyn Iterator<Item = Recommended> + Send + '_> = Box::new(
            neighbours
                .iter()
                .map(|n| Recommended {
                    item: n.item.clone(),
                    score: f64::from(n.score),
                    reasons: vec![if n.support == 0 {
                        Reason::SameCategoryAndTags(r.item.clone())
                    } else {
                        Reason::SimilarTo(r.item.clone())
                    }],
                    rule: None,
                })
                .chain(fallback),
        );
        let mut skip = self.consumed(r.customer).await?;
        skip.insert(r.item.clone());
        let wanted = (r.max_per_category == 0).then_some(r.max_results);
        let (list, items) = self.admitted(candidates, &r.filter, &skip, wanted).await?;
        let list = rank::finish(list, 0.0, 0, r.max_per_category, &items, r.max_results);
        let version = info.map_or(0, |i| i.version);
        Ok(self
            .serve(id, Method::Similar, r.customer, &r.scenario, version, list)
            .await)
    }

    /// Catalogue items of `item`'s category path, most shared tags first ((shared + 1) /
    /// (union + 1), as the build's content fallback), at most `max_candidates` read.
    async fn by_category_and_tags(&self, item: &Item) -> Result<Vec<Recommended>, Error> {
        let limit = u64::from(self.settings().serving.max_candidates);
        let rows = store::items::list(self.db(), &item.fields.category, None, limit).await?;
        let tags: HashSet<&String> = item.fields.tags.iter().collect();
        let mut list: Vec<Recommended> = rows
            .into_iter()
            .filter(|o| o.id != item.id && o.fields.category == item.fields.category)
            .map(|o| {
                let other: HashSet<&String> = o.fields.tags.iter().collect();
                let shared = tags.intersection(&other).count();
                let union = tags.len() + other.len() - shared;
                Recommended {
                    item: o.id,
                    score: (shared + 1) as f64 / (union + 1) as f64,
                    reasons: vec![Reason::SameCategoryAndTags(item.id.clone())],
                    rule: None,
                }
            })
            .collect();
        rank::sort(&mut list);
        Ok(list)
    }

    /// BoughtTogether: the rules of the cart's items, those at least `min_lift` and
    /// `min_confidence`, the strongest rule per item (by lift, then confidence).
    pub async fn bought_together(&self, r: &Together) -> Result<Answer, Error> {
        let id = RecommendationId::generate();
        let info = self.current_model().await?;
        let mut list = Vec::new();
        if let Some(info) = &info {
            let models = self.item_models(info.version, &r.cart).await?;
            let cart: HashSet<&ItemId> = r.cart.iter().collect();
            let mut best: HashMap<ItemId, (ItemId, crate::domain::model::Rule)> = HashMap::new();
            for antecedent in &r.cart {
                let Some(m) = models.get(antecedent) else {
                    continue;
                };
                for rule in &m.rules {
                    if cart.contains(&rule.item)
                        || rule.lift < r.min_lift
                        || rule.confidence < r.min_confidence
                    {
                        continue;
                    }
                    let stronger = best
                        .get(&rule.item)
                        .is_none_or(|(_, b)| (rule.lift, rule.confidence) > (b.lift, b.confidence));
                    if stronger {
                        best.insert(rule.item.clone(), (antecedent.clone(), rule.clone()));
                    }
                }
            }
            list = best
                .into_iter()
                .map(|(item, (antecedent, rule))| Recommended {
                    item,
                    score: rule.lift,
                    reasons: vec![Reason::BoughtWith(antecedent)],
                    rule: Some(rule),
                })
                .collect();
            list.sort_by(|a, b| {
                let (ra, rb) = (a.rule.as_ref(), b.rule.as_ref());
                let conf = |x: Option<&crate::domain::model::Rule>| x.map_or(0.0, |r| r.confidence);
                b.score
                    .total_cmp(&a.score)
                    .then(conf(rb).total_cmp(&conf(ra)))
                    .then(a.item.cmp(&b.item))
            });
        }
        let mut skip = self.consumed(r.customer).await?;
        skip.extend(r.cart.iter().cloned());
        let wanted = Some(r.max_results);
        let (list, items) = self.admitted(list, &r.filter, &skip, wanted).await?;
        let list = rank::finish(list, 0.0, 0, 0, &items, r.max_results);
        let version = info.map_or(0, |i| i.version);
        Ok(self
            .serve(
                id,
                Method::BoughtTogether,
                r.customer,
                &r.scenario,
                version,
                list,
            )
            .await)
    }

    /// PopularItems: the build's list of the cohort, else of the category, else global
    /// (a cohort and a category: the cohort's list within the category); the catalogue
    /// when there is no model yet.
    pub async fn popular_items(&self, r: &PopularQuery) -> Result<Answer, Error> {
        let id = RecommendationId::generate();
        let info = self.current_model().await?;
        let (scope, reason) = if !r.cohort.is_empty() {
            (
                Scope::Cohort(r.cohort.clone()),
                Reason::PopularInCohort(r.cohort.clone()),
            )
        } else if !r.category.is_empty() {
            (
                Scope::Category(r.category.clone()),
                Reason::PopularInCategory(r.category.clone()),
            )
        } else {
            (Scope::All, Reason::Popular)
        };
        let list = match &info {
            Some(info) => {
                let l = self.popular_list(info.version, &scope).await?;
                l.0.iter()
                    .map(|p| Recommended {
                        item: p.item.clone(),
                        score: p.score,
                        reasons: vec![reason.clone()],
                        rule: None,
                    })
                    .collect()
            }
            None if r.cohort.is_empty() => {
                self.catalogue(&r.category, &Reason::InCatalogue).await?
            }
            None => Vec::new(),
        };
        let skip = self.consumed(r.customer).await?;
        // The category is checked after: the whole list is read when there is one.
        let wanted = r.category.is_empty().then_some(r.max_results);
        let (mut list, items) = self.admitted(list, &r.filter, &skip, wanted).await?;
        if !r.category.is_empty() {
            list.retain(|x| {
                items
                    .get(&x.item)
                    .is_some_and(|i| in_category(&i.fields.category, &r.category))
            });
        }
        let list = rank::finish(list, 0.0, 0, 0, &items, r.max_results);
        let version = info.map_or(0, |i| i.version);
        Ok(self
            .serve(id, Method::Popular, r.customer, &r.scenario, version, list)
            .await)
    }
}

fn pairs(l: &PopularList) -> Vec<(ItemId, f64)> {
    l.0.iter().map(|p| (p.item.clone(), p.score)).collect()
}

fn pairs_of(l: &[Recommended]) -> Vec<(ItemId, f64)> {
    l.iter().map(|r| (r.item.clone(), r.score)).collect()
}
