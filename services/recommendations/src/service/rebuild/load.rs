//! Reads what a build needs into dense indices, page by page: at most `max_interactions`
//! interactions (the most recently recorded), at most `max_items_per_customer` of each
//! customer (their most recent), then the catalogue's descriptions and the cohorts of the
//! customers read. Memory: a few dozen bytes per interaction read, per catalogue item and per
//! profile of a customer read.
use super::content::Description;
use crate::domain::model::Event;
use crate::domain::{InteractionKind, ItemId};
use crate::settings::RebuildSettings;
use crate::store::rebuild as rows;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ConnectionTrait;
use std::collections::HashMap;
use std::hash::Hash;
use uuid::Uuid;

/// Rows per query.
pub const PAGE: u64 = 2000;

/// What a build computes from, on dense indices.
#[derive(Debug, Default)]
pub struct Input {
    /// Index -> item: first the items of interactions, then catalogue items without any.
    pub items: Vec<ItemId>,
    /// Items `0..interacted` are those of interactions.
    pub interacted: usize,
    pub customers: usize,
    pub events: Vec<Event>,
    /// Purchases and bookings grouped by (customer, basket id).
    pub baskets: Vec<Vec<u32>>,
    /// Per item: its catalogue description (`None`: not in the catalogue).
    pub described: Vec<Option<Description>>,
    /// Interned category paths (`Description::category` indexes it).
    pub categories: Vec<String>,
    /// Interned cohorts ("city:kyoto"), and (customer, cohort) memberships.
    pub cohorts: Vec<String>,
    pub members: Vec<(u32, u32)>,
    /// The newest record time read (later interactions are "pending").
    pub last_record_time: Option<DateTime<Utc>>,
}

/// Dense u32 indices for keys, in the order they are first seen.
struct Interner<K> {
    index: HashMap<K, u32>,
    keys: Vec<K>,
}

impl<K: Hash + Eq + Clone> Interner<K> {
    fn new() -> Self {
        Self {
            index: HashMap::new(),
            keys: Vec::new(),
        }
    }

    /// The index of `key` (a new one when it is new).
    fn get(&mut self, key: K) -> Result<u32, Error> {
        if let Some(&i) = self.index.get(&key) {
            return Ok(i);
        }
        let i = u32::try_from(self.keys.len())
            .map_err(|_| Error::internal(anyhow::anyhow!("more than u32::MAX keys")))?;
        self.index.insert(key.clone(), i);
        self.keys.push(key);
        Ok(i)
    }

    fn find(&self, key: &K) -> Option<u32> {
        self.index.get(key).copied()
    }
}

fn age_days(now: DateTime<Utc>, t: DateTime<Utc>) -> f32 {
    ((now - t).num_seconds().max(0) as f64 / 86_400.0) as f32
}

/// Reads the input of a build.
pub async fn load(
    db: &impl ConnectionTrait,
    limits: &RebuildSettings,
    now: DateTime<Utc>,
) -> Result<Input, Error> {
    let mut input = Input::default();
    let mut items: Interner<String> = Interner::new();
    let mut customers: Interner<Uuid> = Interner::new();
    let mut per_customer: Vec<u32> = Vec::new();
    let mut baskets: HashMap<(u32, String), u32> = HashMap::new();
    let mut before = None;
    'pages: loop {
        let page = rows::interactions_before(db, before, PAGE).await?;
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        let full = page.len() as u64 == PAGE;
        for r in page {
            if input.events.len() as u64 >= limits.max_interactions {
                break 'pages;
            }
            // Read, used or not: not "pending" any more.
            if input.last_record_time.is_none_or(|t| t < r.record_time) {
                input.last_record_time = Some(r.record_time);
            }
            // A review of one or two stars (weight 0) says nothing about liking the item.
            if r.weight.is_nan() || r.weight <= 0.0 {
                continue;
            }
            let user = customers.get(r.customer_id)?;
            if user as usize == per_customer.len() {
                per_customer.push(0);
            }
            let count = &mut per_customer[user as usize];
            if *count >= limits.max_items_per_customer {
                continue;
            }
            *count += 1;
            let item = items.get(r.item_id)?;
            input.events.push(Event {
                user,
                item,
                weight: r.weight as f32,
                age_days: age_days(now, r.occur_time),
            });
            if InteractionKind::from_code(r.kind).is_some_and(InteractionKind::is_order) {
                // An order without a basket id is a basket of its own.
                let key = if r.basket_id.is_empty() {
                    (user, format!("\0{}", r.id))
                } else {
                    (user, r.basket_id)
                };
                let next = input.baskets.len() as u32;
                let b = *baskets.entry(key).or_insert(next);
                if b == next {
                    input.baskets.push(Vec::new());
                }
                input.baskets[b as usize].push(item);
            }
        }
        if !full {
            break;
        }
    }
    drop(baskets);
    input.customers = customers.keys.len();
    input.interacted = items.keys.len();
    describe(db, &mut input, &mut items).await?;
    input.items = items.keys.into_iter().map(ItemId).collect();
    input.described.resize(input.items.len(), None);
    cohorts(db, &mut input, &customers).await?;
    Ok(input)
}

/// Reads the catalogue's categories and tags; items without interactions get indices after
/// the others.
async fn describe(
    db: &impl ConnectionTrait,
    input: &mut Input,
    items: &mut Interner<String>,
) -> Result<(), Error> {
    let mut categories: Interner<String> = Interner::new();
    let mut tags: Interner<String> = Interner::new();
    let mut after: Option<String> = None;
    loop {
        let page = rows::items_after(db, after.as_deref(), PAGE).await?;
        let full = page.len() as u64 == PAGE;
        after = page.last().map(|d| d.id.clone());
        for d in page {
            let item = items.get(d.id)? as usize;
            let category = if d.category.is_empty() {
                None
            } else {
                Some(categories.get(d.category)?)
            };
            let mut ids = Vec::with_capacity(d.tags.len());
            for t in d.tags {
                ids.push(tags.get(t)?);
            }
            ids.sort_unstable();
            ids.dedup();
            if input.described.len() <= item {
                input.described.resize(item + 1, None);
            }
            input.described[item] = Some(Description {
                category,
                tags: ids,
            });
        }
        if !full {
            break;
        }
    }
    input.categories = categories.keys;
    Ok(())
}

/// Reads the cohorts of the customers read.
async fn cohorts(
    db: &impl ConnectionTrait,
    input: &mut Input,
    customers: &Interner<Uuid>,
) -> Result<(), Error> {
    if customers.keys.is_empty() {
        return Ok(());
    }
    let mut cohorts: Interner<String> = Interner::new();
    let mut after = None;
    loop {
        let page = rows::profiles_after(db, after, PAGE).await?;
        let full = page.len() as u64 == PAGE;
        after = page.last().map(|(id, _)| *id);
        for (id, profile) in page {
            let Some(user) = customers.find(&id) else {
                continue;
            };
            for c in profile.cohorts() {
                input.members.push((user, cohorts.get(c)?));
            }
        }
        if !full {
            break;
        }
    }
    input.cohorts = cohorts.keys;
    Ok(())
}
