//! The dispatcher: due pending deliveries of running campaigns, decided one by one by the
//! sending rules, at most each campaign's throttle per second. The throttle is a token bucket
//! per campaign (burst: one second's worth) held by this process; with several replicas each
//! dispatches at up to the throttle (the README says to divide it by the replica count).
use super::rules::{self, CapCount, Decision, Facts};
use crate::domain::campaign::{Campaign, Reason};
use crate::domain::{self, CustomerId, coupon, journey, sending, template};
use crate::senders::OutboundMessage;
use crate::service::{CampaignService, journeys};
use crate::store::{self, deliveries::Outcome, entities::delivery};
use crm_platform::Error;
use crm_platform::pii::Keys;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, TransactionTrait};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use uuid::Uuid;

/// Running campaigns read per page.
const CAMPAIGNS_PER_RUN: u64 = 100;
/// Recipients decided per transaction (one commit for all of them).
const DECISIONS_PER_TRANSACTION: usize = 100;
/// How long a delivery whose decision failed waits before the next try.
const DECISION_RETRY: chrono::Duration = chrono::Duration::seconds(60);

#[derive(Clone)]
pub struct Dispatcher {
    svc: CampaignService,
    buckets: Arc<Mutex<HashMap<Uuid, Bucket>>>,
}

/// A token bucket: `rate` tokens a second, at most `rate` held.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn take(&mut self, rate: u32, now: Instant, most: u64) -> u64 {
        let rate = f64::from(rate.max(1));
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(rate);
        self.at = now;
        let n = (self.tokens.floor() as u64).min(most);
        self.tokens -= n as f64;
        n
    }

    fn give_back(&mut self, n: u64, rate: u32) {
        self.tokens = (self.tokens + n as f64).min(f64::from(rate.max(1)));
    }
}

impl Dispatcher {
    pub fn new(svc: CampaignService) -> Self {
        Self {
            svc,
            buckets: Arc::default(),
        }
    }

    fn take(&self, c: &Campaign, most: u64) -> u64 {
        let now = Instant::now();
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let rate = c.fields.throttle_per_second;
        b.entry(c.id.0)
            .or_insert(Bucket {
                tokens: f64::from(rate),
                at: now,
            })
            .take(rate, now, most)
    }

    fn give_back(&self, c: &Campaign, n: u64) {
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bucket) = b.get_mut(&c.id.0) {
            bucket.give_back(n, c.fields.throttle_per_second);
        }
    }

    /// Decides `chunk` in one transaction (one commit for many recipients); when that fails,
    /// each recipient alone, so one bad row never stops the others: it is postponed.
    async fn decide_chunk(
        &self,
        c: &Campaign,
        chunk: &[delivery::Model],
        keys: &Keys,
        templates: &template::Templates,
    ) -> Result<u64, Error> {
        let svc = &self.svc;
        match svc.decide_all(c, chunk, keys, templates).await {
            Ok(n) => return Ok(n),
            Err(e) if chunk.len() > 1 => {
                tracing::warn!(campaign = %c.id, error = %e, "batch of decisions failed; deciding one by one");
            }
            Err(_) => {}
        }
        let mut decided = 0;
        for row in chunk {
            match svc
                .decide_all(c, std::slice::from_ref(row), keys, templates)
                .await
            {
                Ok(n) => decided += n,
                Err(e) => {
                    tracing::error!(delivery = %row.id, campaign = %c.id, error = %e, "delivery decision failed");
                    store::deliveries::postpone(svc.db(), row.id, domain::now() + DECISION_RETRY)
                        .await?;
                }
            }
        }
        Ok(decided)
    }

    /// One run over every running campaign, a page at a time: returns the deliveries
    /// decided.
    pub async fn run(&self) -> Result<u64, Error> {
        let svc = &self.svc;
        let mut live = std::collections::HashSet::new();
        let mut decided = 0;
        let mut pages = store::campaigns::RunningPages::new(CAMPAIGNS_PER_RUN);
        while let Some(page) = pages.next(svc.db()).await? {
            for c in &page {
                live.insert(c.id.0);
                decided += self.dispatch(c).await?;
            }
        }
        // Campaigns that stopped running give their buckets up.
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        b.retain(|id, _| live.contains(id));
        Ok(decided)
    }

    /// The due deliveries of running campaign `c` its throttle allows now.
    async fn dispatch(&self, c: &Campaign) -> Result<u64, Error> {
        let svc = &self.svc;
        let batch = u64::from(svc.settings().sending.dispatch_batch);
        let budget = self.take(c, batch);
        if budget == 0 {
            return Ok(0);
        }
        let due = store::deliveries::due(svc.db(), c.id, domain::now(), budget).await?;
        self.give_back(c, budget - due.len() as u64);
        if due.is_empty() {
            return Ok(0);
        }
        let keys = svc.keys().await?;
        let templates = match compiled(c) {
            Ok(t) => t,
            Err(why) => {
                // Checked at create time: only a template this build no longer accepts.
                tracing::error!(campaign = %c.id, error = why, "campaign templates do not compile");
                return Ok(0);
            }
        };
        let mut decided = 0;
        for chunk in due.chunks(DECISIONS_PER_TRANSACTION) {
            decided += self.decide_chunk(c, chunk, &keys, &templates).await?;
        }
        Ok(decided)
    }
}

impl CampaignService {
    /// Decides `rows` in one transaction, in customer id order (the order every dispatcher
    /// takes the customers' locks in, so two never wait on each other); returns how many it
    /// decided (another dispatcher may have taken some first).
    pub(crate) async fn decide_all(
        &self,
        c: &Campaign,
        rows: &[delivery::Model],
        keys: &Keys,
        templates: &template::Templates,
    ) -> Result<u64, Error> {
        let mut ordered: Vec<&delivery::Model> = rows.iter().collect();
        ordered.sort_by_key(|r| r.customer_id);
        let txn = self.db().begin().await?;
        let mut decided = 0;
        for row in ordered {
            if self.decide_in(&txn, c, row, keys, templates).await? {
                decided += 1;
            }
        }
        txn.commit().await?;
        Ok(decided)
    }

    /// Decides one pending delivery in `txn`; false when another dispatcher took it first.
    async fn decide_in(
        &self,
        txn: &DatabaseTransaction,
        c: &Campaign,
        row: &delivery::Model,
        keys: &Keys,
        templates: &template::Templates,
    ) -> Result<bool, Error> {
        let now = domain::now();
        if !store::deliveries::take_pending(txn, row.id, now).await? {
            return Ok(false);
        }
        lock_customer(txn, row.customer_id).await?;
        if c.fields.trigger().is_some()
            && !journeys::condition_holds(self, txn, c, row, keys, now).await?
        {
            let detail = "no longer in the journey's segment".to_owned();
            store::deliveries::settle(
                txn,
                row.id,
                Outcome::Skip(Reason::NotInSegment, detail),
                now,
            )
            .await?;
            return Ok(true);
        }
        let customer = CustomerId(row.customer_id);
        let member = store::members::find(txn, customer).await?;
        let profile = match member {
            Some(_) => store::members::profile(txn, keys, customer).await?,
            None => None,
        };
        // A journey's entrant can come before its profile (a welcome): it waits for it, as
        // one not in the read model yet does, counted from its entry, before consent counts.
        let in_journey = c.fields.trigger().is_some();
        let member = member.filter(|m| {
            !in_journey
                || profile.is_some()
                || m.state != crate::domain::member::MemberState::Active
        });
        let since = in_journey
            .then(|| journey::entered_at(row.id))
            .flatten()
            .unwrap_or_else(|| {
                c.fields
                    .spec
                    .schedule
                    .latest_due(c.start_time.unwrap_or(now))
            });
        let s = &self.settings().sending;
        let f = &c.fields;
        // Every cap of the channel is counted; the first one reached is the reason.
        let mut cap = None;
        if !f.transactional {
            for (max, window) in sending::caps_for(&s.frequency_caps, f.channel) {
                let count =
                    store::deliveries::sent_since(txn, row.customer_id, f.channel, now - window)
                        .await?;
                let this = CapCount { max, window, count };
                if count >= u64::from(max) {
                    cap = Some(this);
                    break;
                }
                cap.get_or_insert(this);
            }
        }
        let quiet_until = match (
            f.transactional,
            sending::QuietHours::parse(&s.quiet_hours_start, &s.quiet_hours_end),
        ) {
            (false, Some(q)) => {
                let tz =
                    sending::parse_time_zone(member.as_ref().map_or("", |m| m.time_zone.as_str()));
                q.defer_until(now, tz)
            }
            _ => None,
        };
        let facts = Facts {
            member: member.as_ref(),
            profile: profile.as_ref(),
            channel: f.channel,
            transactional: f.transactional,
            cap,
            quiet_until,
            waited: (now - since).max(chrono::Duration::zero()),
            profile_wait: chrono::Duration::seconds(
                i64::try_from(s.profile_wait_secs).unwrap_or(i64::MAX),
            ),
            now,
        };
        let outcome = match rules::decide(&facts) {
            Decision::Skip(reason, detail) => Outcome::Skip(reason, detail),
            Decision::Defer(until, reason, detail) => Outcome::Defer(until, reason, detail),
            Decision::Send(to) => {
                let (member, profile) = (member.as_ref(), profile.unwrap_or_default());
                self.queue(txn, c, row, member, &profile, to, keys, templates, now)
                    .await?
            }
        };
        store::deliveries::settle(txn, row.id, outcome, now).await?;
        Ok(true)
    }

    /// The outcome of a recipient the rules let through: its variant (by tier for a tiered
    /// journey), its own coupon code when the variant has a pool (claimed in `txn`, so a
    /// rolled-back decision gives the code back), rendered and sealed.
    #[allow(clippy::too_many_arguments)]
    async fn queue(
        &self,
        txn: &DatabaseTransaction,
        c: &Campaign,
        row: &delivery::Model,
        member: Option<&crate::domain::member::Member>,
        profile: &crate::domain::member::Profile,
        to: String,
        keys: &Keys,
        templates: &template::Templates,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Outcome, Error> {
        let tier = member.map_or("", |m| m.tier.as_str());
        let Some(variant) = journey::variant_for(&c.fields.spec.variants, &row.variant, tier)
        else {
            return Ok(Outcome::Skip(
                Reason::NotInSegment,
                format!("no variant for tier \"{tier}\""),
            ));
        };
        let coupon_code = match variant.coupon_pool {
            Some(pool) => {
                let key = coupon::delivery_claim_key(row.id);
                let customer = CustomerId(row.customer_id);
                match store::coupons::claim(txn, pool, &key, customer, now).await? {
                    Some(code) => code,
                    None => {
                        return Ok(Outcome::Skip(
                            Reason::CouponsExhausted,
                            format!("{} has no code left", pool.name()),
                        ));
                    }
                }
            }
            None => c.fields.spec.coupon_code.clone(),
        };
        Ok(
            match self.render(c, row, variant, coupon_code, member, profile, to, templates) {
                Ok(message) => {
                    let json = serde_json::to_vec(&message).map_err(Error::internal)?;
                    let sealed = keys.seal(message_aad(row.id).as_bytes(), &json)?;
                    Outcome::Queue {
                        message: sealed.bytes,
                        pii_key: sealed.key,
                        variant: variant.id.clone(),
                    }
                }
                Err(why) => {
                    tracing::warn!(delivery = %row.id, campaign = %c.id, error = why, "message did not render");
                    Outcome::Skip(Reason::SenderError, format!("template: {why}"))
                }
            },
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn render(
        &self,
        c: &Campaign,
        row: &delivery::Model,
        variant: &crate::domain::campaign::Variant,
        coupon_code: String,
        member: Option<&crate::domain::member::Member>,
        p: &crate::domain::member::Profile,
        to: String,
        templates: &template::Templates,
    ) -> Result<OutboundMessage, String> {
        let ctx = template::Context {
            customer: template::CustomerVars {
                given_name: p.given_name.clone(),
                family_name: p.family_name.clone(),
                display_name: p.display_name.clone(),
                language_code: member.map(|m| m.language_code.clone()).unwrap_or_default(),
            },
            loyalty: template::LoyaltyVars {
                tier: member.map(|m| m.tier.clone()).unwrap_or_default(),
                points: member.map_or(0, |m| m.available_points),
            },
            coupon_code,
            campaign: template::CampaignVars {
                name: c.fields.display_name.clone(),
            },
        };
        let customer = CustomerId(row.customer_id);
        Ok(OutboundMessage {
            delivery_id: row.id,
            delivery: crate::domain::campaign::delivery_name(c.id, customer, &row.occasion),
            campaign: c.id.name(),
            customer: customer.name(),
            channel: c.fields.channel.code().to_owned(),
            variant: variant.id.clone(),
            to,
            subject: templates.render(&subject_of(&variant.id), &ctx)?,
            body: templates.render(&body_of(&variant.id), &ctx)?,
        })
    }
}

fn subject_of(variant: &str) -> String {
    format!("{variant}.subject")
}

fn body_of(variant: &str) -> String {
    format!("{variant}.body")
}

/// `c`'s subjects and bodies, compiled once per run.
fn compiled(c: &Campaign) -> Result<template::Templates, String> {
    let named: Vec<(String, &str)> = c
        .fields
        .spec
        .variants
        .iter()
        .flat_map(|v| {
            [
                (subject_of(&v.id), v.subject.as_str()),
                (body_of(&v.id), v.body.as_str()),
            ]
        })
        .collect();
    template::Templates::compile(named.iter().map(|(n, t)| (n.as_str(), *t)))
}

/// The associated data a queued message is sealed with: it opens only as this delivery's.
pub(super) fn message_aad(delivery: Uuid) -> String {
    format!("deliveries:{delivery}")
}

/// Serialises the decisions about one customer across dispatchers (the frequency cap is a
/// count, then a write): a transaction-scoped advisory lock on PostgreSQL; SQLite's single
/// writer, already taken by the first write of the transaction, does the same.
async fn lock_customer(txn: &impl ConnectionTrait, customer: Uuid) -> Result<(), Error> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let (hi, _) = customer.as_u64_pair();
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        [i64::from_ne_bytes(hi.to_ne_bytes()).into()],
    ))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_bucket_gives_a_second_of_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket {
            tokens: 10.0,
            at: t0,
        };
        assert_eq!(b.take(10, t0, 100), 10);
        assert_eq!(b.take(10, t0, 100), 0);
        assert_eq!(b.take(10, t0 + Duration::from_millis(500), 100), 5);
        assert_eq!(
            b.take(10, t0 + Duration::from_secs(60), 100),
            10,
            "capped at one second"
        );
        b.give_back(3, 10);
        assert_eq!(
            b.take(10, t0 + Duration::from_secs(60), 2),
            2,
            "at most `most`"
        );
    }
}
