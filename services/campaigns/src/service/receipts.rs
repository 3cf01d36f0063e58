//! Deliveries seen from outside: the list, "why didn't this customer get it", and receipts
//! from the sender's system. An unsubscribe also revokes the channel's consent: at once in
//! the read model (no further sends), and in customers through RecipientUnsubscribed.
use super::{CampaignService, Mutation};
use crate::domain::campaign::{Delivery, DeliveryState, Reason};
use crate::domain::segment::Rule;
use crate::domain::{self, CampaignId, CustomerId, SegmentId};
use crate::error;
use crate::store;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::idempotency::{Begun, IdempotencyKey};
use crm_platform::page_token::PageTokens;
use crm_platform::paging::Page;
use crm_platform::validate::to_timestamp;
use crm_proto::events as ev;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

/// A receipt, parsed.
pub struct Receipt {
    pub campaign: CampaignId,
    pub customer: CustomerId,
    /// A journey's occasion; "" for a one-off campaign.
    pub occasion: String,
    pub to: DeliveryState,
    pub at: DateTime<Utc>,
}

/// The answer to "why didn't this customer get it".
pub struct Explanation {
    pub delivery: Option<Delivery>,
    pub known: bool,
    pub in_segment: bool,
    pub excluded_by: Vec<SegmentId>,
    pub summary: String,
}

impl CampaignService {
    pub async fn list_deliveries(
        &self,
        campaign: CampaignId,
        state: Option<DeliveryState>,
        page_size: u32,
        page_token: &str,
    ) -> Result<Page<Delivery>, Error> {
        self.campaign(campaign).await?;
        let id = campaign.0.to_string();
        let filter = state.map_or("", DeliveryState::code);
        let fingerprint = PageTokens::fingerprint(&["deliveries", &id, filter]);
        let tokens = &self.core().tokens;
        let after: Option<(Uuid, String)> = tokens.decode(page_token, &fingerprint)?;
        let limit = self.core().paging.limit(page_size);
        let mut items =
            store::deliveries::list(self.db(), campaign, state, after, limit + 1).await?;
        let next_page_token = tokens.next_page(&mut items, limit, &fingerprint, |d| {
            (d.customer.0, d.occasion.clone())
        });
        Ok(Page {
            items,
            next_page_token,
        })
    }

    pub async fn explain(
        &self,
        campaign: CampaignId,
        customer: CustomerId,
    ) -> Result<Explanation, Error> {
        let c = self.campaign(campaign).await?;
        let keys = self.keys().await?;
        let now = domain::now();
        let db = self.db();
        let delivery = store::deliveries::latest(db, campaign, customer)
            .await?
            .map(Delivery::try_from)
            .transpose()?;
        let known = store::members::find(db, customer).await?.is_some();
        let rule = |id: SegmentId| async move {
            store::segments::find(db, id)
                .await
                .map(|s| s.map(|s| s.rule))
        };
        let in_segment = match rule(c.fields.segment).await? {
            Some(r) => store::segments::contains(db, &r, &keys, now, customer.0).await?,
            None => false,
        };
        let mut excluded_by = Vec::new();
        for id in &c.fields.spec.exclusions {
            if let Some(r) = rule(*id).await?
                && store::segments::contains(db, &r, &keys, now, customer.0).await?
            {
                excluded_by.push(*id);
            }
        }
        let summary = summary(
            &c.state,
            delivery.as_ref(),
            known,
            in_segment,
            &excluded_by,
            now,
        );
        Ok(Explanation {
            delivery,
            known,
            in_segment,
            excluded_by,
            summary,
        })
    }

    pub async fn record_receipt(
        &self,
        key: &IdempotencyKey,
        r: Receipt,
    ) -> Result<Delivery, Error> {
        let txn = match self.core().writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let name = crate::domain::campaign::delivery_name(r.campaign, r.customer, &r.occasion);
        let row = store::deliveries::find(&txn, r.campaign, r.customer, &r.occasion)
            .await?
            .ok_or_else(|| Error::not_found(&name).with_metadata("delivery", &name))?;
        let current = Delivery::try_from(row)?;
        if !current.state.was_sent() {
            return Err(error::precondition(
                "DELIVERY_NOT_SENT",
                format!("a {} delivery has no receipts", current.state.code()),
            )
            .with_metadata("delivery", &name));
        }
        if current
            .send_time
            .is_some_and(|sent| r.at < sent - crm_platform::validate::CLOCK_SKEW)
        {
            return Err(Error::invalid_field(
                "occur_time",
                "must not be before the message was sent",
            ));
        }
        let now = domain::now();
        let next = current.state.after_receipt(r.to);
        if !store::deliveries::record_receipt(
            &txn,
            current.id,
            current.state,
            next,
            r.to,
            r.at,
            now,
        )
        .await?
        {
            // Another receipt moved it meanwhile: the caller retries and sees the new state.
            return Err(Error::etag_mismatch());
        }
        if next == Some(DeliveryState::Unsubscribed) {
            self.unsubscribe(&txn, &current, r.at, now).await?;
        }
        let mut updated = current;
        if let Some(s) = next {
            updated.state = s;
        }
        updated.receipt_time = Some(r.at);
        updated.update_time = now;
        let m = Mutation::new(name, updated);
        self.core().writes.commit(txn, key, m).await
    }

    /// Revokes the consent of the delivery's channel here and asks customers to do the same.
    async fn unsubscribe(
        &self,
        txn: &impl ConnectionTrait,
        d: &Delivery,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let Some(channel) = d.channel.consent_channel() else {
            return Ok(());
        };
        // Through the read model's own write: a later opt-in stands, and the member is
        // marked for its segments (consent conditions) like any consent change.
        store::members::set_consent(txn, d.customer, channel, false, at, now).await?;
        let payload = ev::event::Payload::RecipientUnsubscribed(ev::RecipientUnsubscribed {
            customer: d.customer.name(),
            channel,
            campaign: d.campaign.name(),
            unsubscribe_time: Some(to_timestamp(at)),
        });
        self.events()
            .append(txn, &d.customer.name(), vec![payload])
            .await
    }
}

/// One sentence: what happened to this customer in this campaign.
fn summary(
    state: &crate::domain::campaign::State,
    d: Option<&Delivery>,
    known: bool,
    in_segment: bool,
    excluded_by: &[SegmentId],
    now: DateTime<Utc>,
) -> String {
    let Some(d) = d else {
        return if !known {
            "not a recipient: the customer is not in the campaigns read model (not created yet, erased, or its events have not arrived)".into()
        } else if !excluded_by.is_empty() {
            format!(
                "not a recipient: excluded as a member of {}",
                excluded_by[0]
            )
        } else if !in_segment {
            "not a recipient: not in the campaign's segment now".into()
        } else if matches!(
            state,
            crate::domain::campaign::State::Draft | crate::domain::campaign::State::Scheduled
        ) {
            format!("not a recipient yet: the campaign is {}", state.code())
        } else {
            "not a recipient: joined the segment after the audience was chosen".into()
        };
    };
    let why = reason_text(d.reason);
    let detail = if d.detail.is_empty() {
        String::new()
    } else {
        format!(" ({})", d.detail)
    };
    match d.state {
        DeliveryState::Skipped => format!("skipped: {why}{detail}"),
        DeliveryState::Failed => format!("failed: the sender kept refusing it{detail}"),
        DeliveryState::Pending if d.reason != Reason::None => {
            format!("waiting until {}: {why}{detail}", d.due_time.to_rfc3339())
        }
        DeliveryState::Pending if d.due_time <= now => "waiting for the campaign's throttle".into(),
        DeliveryState::Pending => format!("waiting for its send time {}", d.due_time.to_rfc3339()),
        DeliveryState::Queued => "queued for the sender".into(),
        DeliveryState::HeldOut => {
            "held out: in the campaign's control group, it receives nothing".into()
        }
        DeliveryState::AwaitingWinner => {
            "waiting for the experiment's winner (not in the test share)".into()
        }
        s => format!(
            "{}{}",
            s.code(),
            d.send_time
                .map(|t| format!(" (sent {})", t.to_rfc3339()))
                .unwrap_or_default()
        ),
    }
}

fn reason_text(r: Reason) -> &'static str {
    match r {
        Reason::None => "no reason recorded",
        Reason::NoConsent => "no consent for the channel at send time",
        Reason::FrequencyCap => "the channel's frequency cap was reached",
        Reason::QuietHours => "quiet hours in the customer's time zone",
        Reason::OpenComplaint => "the customer has an open complaint",
        Reason::NoAddress => "no address for the channel",
        Reason::CustomerGone => "the customer was deleted, erased or merged away",
        Reason::CampaignCancelled => "the campaign was cancelled",
        Reason::Throttled => "the campaign's throttle",
        Reason::SenderError => "the sender refused it",
        Reason::ProfilePending => "the customer's profile never reached the read model",
        Reason::NotInSegment => "no longer in the journey's segment when it was due",
        Reason::CouponsExhausted => "the variant's coupon pool had no code left",
    }
}

/// `rule` minus members of any of `exclusions`.
pub fn audience(rule: Rule, exclusions: Vec<Rule>) -> Rule {
    if exclusions.is_empty() {
        return rule;
    }
    Rule::All(vec![rule, Rule::Not(Box::new(Rule::Any(exclusions)))])
}
