//! Care journeys (README "Journeys"): customers enter running journeys when their trigger
//! fires, once per occasion (a delivery row per occasion, unique), due after the trigger's
//! delay. Welcome, purchase and booking triggers fire in the customers consumer's
//! transaction; date (birthday, important dates) and win-back triggers are found by the
//! journey job. When the message is due, the recipient must still be in the journey's
//! segment (`condition_holds`).
//!
//! An event's entrant may not be in the read model yet (its profile comes with the next
//! refresh), so event entries do not test the segment; the job's entrants are members
//! already, so it pages only the journey's audience. Either way the segment is tested again
//! when the message is due. Each entrant is in the holdout or not by the same stable hash as
//! a one-off campaign's audience (`experiment::assign`).
use super::CampaignService;
use crate::domain::campaign::{Campaign, DeliveryState, GoalKind};
use crate::domain::experiment::{self, Arm};
use crate::domain::journey::{self, Trigger, TriggerKind};
use crate::domain::segment::Rule;
use crate::domain::{self, CustomerId, sending};
use crate::service::receipts::audience;
use crate::store::journeys::Candidates;
use crate::store::{self, deliveries::NewDelivery, entities::delivery};
use chrono::{DateTime, Duration, Utc};
use crm_platform::Error;
use crm_platform::jobs::Jobs;
use crm_platform::pii::Keys;
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use uuid::Uuid;

/// Running journeys of one trigger kind handled per event or job run (the oldest first).
const JOURNEYS_PER_KIND: u64 = 100;
/// Pages of candidates one journey reads per job run: late dates (skipped, not entered) are
/// read again each run, so the reads are bounded apart from the entries.
const PAGES_PER_JOURNEY: u32 = 20;

/// Starts the journey job (date and win-back triggers).
pub fn start(svc: &CampaignService, jobs: &mut Jobs) {
    jobs.every(
        std::time::Duration::from_millis(svc.settings().journeys.interval_ms),
        "journeys",
        svc.clone(),
        |svc| async move { svc.run_journeys().await.map(|_| ()) },
    );
}

/// The delivery of `customer` entering `c` for `occasion`, due at `due`: held out by the
/// campaign's stable hash, else pending with its variant by weight (a tiered variant is
/// chosen at send time by tier).
fn entry(c: &Campaign, customer: Uuid, occasion: String, due: DateTime<Utc>) -> NewDelivery {
    let spec = &c.fields.spec;
    // A journey has no experiment (refused at create time): no one awaits a winner.
    let arm = experiment::assign(c.id.0, customer, spec.holdout_percent, None);
    let (state, variant) = match arm {
        Arm::Holdout => (DeliveryState::HeldOut, String::new()),
        Arm::Test | Arm::Rest => {
            let weights = journey::entry_weights(&spec.variants);
            let pick = sending::assign_variant(c.id.0, customer, &weights);
            let id = spec.variants.get(pick).map(|v| v.id.clone());
            (DeliveryState::Pending, id.unwrap_or_default())
        }
    };
    NewDelivery {
        customer,
        variant,
        due,
        state,
        occasion,
    }
}

async fn enter(
    conn: &impl ConnectionTrait,
    c: &Campaign,
    entries: Vec<NewDelivery>,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let n = entries.len() as u64;
    let f = &c.fields;
    store::deliveries::insert_recipients(conn, c.id, f.channel, f.transactional, entries, now)
        .await?;
    Ok(n)
}

/// Enters `customer` into every running journey of `kind` whose delay after an event at
/// `event_time` is not long past (a replayed event enters nobody).
async fn enter_on_event(
    txn: &DatabaseTransaction,
    kind: TriggerKind,
    customer: CustomerId,
    occasion: &str,
    event_time: DateTime<Utc>,
) -> Result<(), Error> {
    let now = domain::now();
    for c in store::campaigns::running_journeys(txn, kind, JOURNEYS_PER_KIND).await? {
        let Some(t) = c.fields.trigger() else {
            continue;
        };
        if journey::is_stale(event_time, t.delay_secs, now) {
            continue;
        }
        let due = journey::delayed(event_time, t.delay_secs);
        let e = entry(&c, customer.0, occasion.to_owned(), due);
        enter(txn, &c, vec![e], now).await?;
        tracing::debug!(campaign = %c.id, customer = %customer.0, occasion, "journey entered");
    }
    Ok(())
}

/// A customer was created: enters the running welcome journeys.
pub async fn on_customer_created(
    svc: &CampaignService,
    txn: &DatabaseTransaction,
    customer: CustomerId,
    created: DateTime<Utc>,
) -> Result<(), Error> {
    let _ = svc;
    enter_on_event(
        txn,
        TriggerKind::Welcome,
        customer,
        journey::WELCOME,
        created,
    )
    .await
}

/// A purchase or booking: enters the running journeys of that trigger.
pub async fn on_activity(
    svc: &CampaignService,
    txn: &DatabaseTransaction,
    customer: CustomerId,
    activity: uuid::Uuid,
    kind: GoalKind,
    occur_time: DateTime<Utc>,
) -> Result<(), Error> {
    let _ = svc;
    let trigger = match kind {
        GoalKind::Purchase => TriggerKind::Purchase,
        GoalKind::Booking => TriggerKind::Booking,
        GoalKind::Click => return Ok(()),
    };
    // A merged-away customer's activity is the survivor's (as its order is).
    let customer = store::members::final_survivor(txn, customer).await?;
    let occasion = journey::order_occasion(activity);
    enter_on_event(txn, trigger, customer, &occasion, occur_time).await
}

/// Whether a journey's due recipient still matches its segment (minus exclusions); true for
/// a one-off campaign, whose audience was chosen at its start. True too while the
/// recipient's profile has not reached the read model: the sending rules wait for it, and
/// the segment is tested at the next look.
pub async fn condition_holds(
    svc: &CampaignService,
    txn: &DatabaseTransaction,
    c: &Campaign,
    row: &delivery::Model,
    keys: &Keys,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let _ = svc;
    if c.fields.trigger().is_none() {
        return Ok(true);
    }
    if !store::journeys::profile_arrived(txn, row.customer_id).await? {
        return Ok(true);
    }
    let Some(rule) = audience_of(txn, c).await? else {
        return Ok(false);
    };
    store::segments::contains(txn, &rule, keys, now, row.customer_id).await
}

/// The journey's segment minus its exclusions; None when the segment is gone.
async fn audience_of(conn: &impl ConnectionTrait, c: &Campaign) -> Result<Option<Rule>, Error> {
    let Some(segment) = store::segments::find(conn, c.fields.segment).await? else {
        return Ok(None);
    };
    let mut exclusions = Vec::new();
    for id in &c.fields.spec.exclusions {
        if let Some(s) = store::segments::find(conn, *id).await? {
            exclusions.push(s.rule);
        }
    }
    Ok(Some(audience(segment.rule, exclusions)))
}

impl CampaignService {
    /// One run of the journey job: the date and win-back entrants of every running journey,
    /// at most `journeys.page` per journey (the rest in the next run). A journey that fails
    /// is logged and the others go on. Returns the entries written.
    pub async fn run_journeys(&self) -> Result<u64, Error> {
        let mut entered = 0;
        for kind in [TriggerKind::Date, TriggerKind::WinBack] {
            for c in store::campaigns::running_journeys(self.db(), kind, JOURNEYS_PER_KIND).await? {
                match self.enter_by_job(&c).await {
                    Ok(n) => entered += n,
                    Err(e) => {
                        tracing::error!(campaign = %c.id, error = %e, "journey entries failed");
                    }
                }
            }
        }
        Ok(entered)
    }

    async fn enter_by_job(&self, c: &Campaign) -> Result<u64, Error> {
        let Some(t) = c.fields.trigger() else {
            return Ok(0);
        };
        let Some(rule) = audience_of(self.db(), c).await? else {
            tracing::warn!(campaign = %c.id, segment = %c.fields.segment, "journey segment is gone; nobody enters");
            return Ok(0);
        };
        let keys = self.keys().await?;
        let now = domain::now();
        let mut budget = Budget {
            entries: u64::from(self.settings().journeys.page),
            pages: PAGES_PER_JOURNEY,
        };
        let n = match t.kind {
            TriggerKind::Date => {
                self.enter_dates(c, t, &rule, &keys, now, &mut budget)
                    .await?
            }
            TriggerKind::WinBack => {
                self.enter_lapsed(c, t, &rule, &keys, now, &mut budget)
                    .await?
            }
            _ => 0,
        };
        if n > 0 {
            tracing::info!(campaign = %c.id, entered = n, "journey entries written");
        }
        Ok(n)
    }

    /// Members whose date falls on one of the days the job looks at, each due at the time
    /// of day in their zone (skipped when more than a day late).
    async fn enter_dates(
        &self,
        c: &Campaign,
        t: &Trigger,
        rule: &Rule,
        keys: &Keys,
        now: DateTime<Utc>,
        budget: &mut Budget,
    ) -> Result<u64, Error> {
        let db = self.db();
        let mut entered = 0;
        for a in journey::anniversaries(now, t.days_before) {
            let occasion = journey::date_occasion(&t.date_kind, a.date);
            let mut after = None;
            while let Some(limit) = budget.next_page() {
                let page = Candidates {
                    rule,
                    keys,
                    now,
                    campaign: c.id,
                    after,
                    limit,
                };
                let found =
                    store::journeys::on_date(db, &page, &t.date_kind, &a.month_days, &occasion)
                        .await?;
                let entries: Vec<NewDelivery> = found
                    .iter()
                    .filter_map(|(id, tz)| {
                        let tz = sending::parse_time_zone(tz);
                        let due = journey::date_due(tz, a.date, t.days_before, t.time_of_day);
                        let due = journey::entry_due(due, now)?;
                        Some(entry(c, *id, occasion.clone(), due))
                    })
                    .collect();
                let n = enter(db, c, entries, now).await?;
                budget.spent(n);
                entered += n;
                after = found.last().map(|(id, _)| *id);
                if (found.len() as u64) < limit {
                    break;
                }
            }
        }
        Ok(entered)
    }

    /// Members whose last purchase is more than `inactive_days` ago, due now, once per lapse.
    async fn enter_lapsed(
        &self,
        c: &Campaign,
        t: &Trigger,
        rule: &Rule,
        keys: &Keys,
        now: DateTime<Utc>,
        budget: &mut Budget,
    ) -> Result<u64, Error> {
        let db = self.db();
        let before = now - Duration::days(t.inactive_days.into());
        let mut entered = 0;
        let mut after = None;
        while let Some(limit) = budget.next_page() {
            let page = Candidates {
                rule,
                keys,
                now,
                campaign: c.id,
                after,
                limit,
            };
            let found = store::journeys::lapsed(db, &page, before).await?;
            let entries = found
                .iter()
                .map(|(id, last)| entry(c, *id, journey::win_back_occasion(*last), now))
                .collect();
            let n = enter(db, c, entries, now).await?;
            budget.spent(n);
            entered += n;
            after = found.last().map(|(id, _)| *id);
            if (found.len() as u64) < limit {
                break;
            }
        }
        Ok(entered)
    }
}

/// What one journey may still do in this run: entries to write and pages to read.
struct Budget {
    entries: u64,
    pages: u32,
}

impl Budget {
    /// The size of the next page to read, None when the run is done with this journey.
    fn next_page(&mut self) -> Option<u64> {
        if self.entries == 0 || self.pages == 0 {
            return None;
        }
        self.pages -= 1;
        Some(self.entries)
    }

    fn spent(&mut self, entries: u64) {
        self.entries = self.entries.saturating_sub(entries);
    }
}
