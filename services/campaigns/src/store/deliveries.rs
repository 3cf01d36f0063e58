//! The `deliveries` table: one row per recipient and campaign step (the unique key makes
//! every write of an audience idempotent), which is also the send outbox. Every state move is
//! a conditional UPDATE on the state read (and, once claimed, on the attempt number), so two
//! dispatchers or senders never both move one delivery.
use super::entities::delivery::{ActiveModel, Column, Entity, Model};
use crate::domain::campaign::{Channel, Delivery, DeliveryState, Reason};
use crate::domain::{CampaignId, CustomerId};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

/// Campaign steps: part 1 campaigns have one.
pub const FIRST_STEP: i32 = 1;

impl TryFrom<Model> for Delivery {
    type Error = Error;

    fn try_from(r: Model) -> Result<Self, Error> {
        let corrupt = |what: &str| {
            Error::internal(anyhow::anyhow!(
                "delivery {} has an unreadable {what}",
                r.id
            ))
        };
        Ok(Self {
            id: r.id,
            campaign: CampaignId(r.campaign_id),
            customer: CustomerId(r.customer_id),
            variant: r.variant.clone(),
            channel: Channel::from_number(r.channel).ok_or_else(|| corrupt("channel"))?,
            transactional: r.transactional,
            state: DeliveryState::from_code(&r.state).ok_or_else(|| corrupt("state"))?,
            reason: Reason::from_number(r.reason),
            detail: r.detail.clone(),
            due_time: r.due_time,
            send_time: r.send_time,
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            receipt_time: r.receipt_time,
            update_time: r.update_time,
            occasion: r.occasion.clone(),
        })
    }
}

/// A new recipient, pending until `due` (or held out, or awaiting the winner: `state`).
pub struct NewDelivery {
    pub customer: Uuid,
    pub variant: String,
    pub due: DateTime<Utc>,
    pub state: DeliveryState,
    /// A journey's occasion; "" for a one-off campaign.
    pub occasion: String,
}

/// The states of a delivery still to handle: the campaign is not complete while any is.
pub const OPEN_STATES: [DeliveryState; 3] = [
    DeliveryState::Pending,
    DeliveryState::Queued,
    DeliveryState::AwaitingWinner,
];

fn open_codes() -> [&'static str; 3] {
    OPEN_STATES.map(DeliveryState::code)
}

/// Writes the recipients of one audience page; those already there (a restart resumed the
/// page) are left as they are.
pub async fn insert_recipients(
    conn: &impl ConnectionTrait,
    campaign: CampaignId,
    channel: Channel,
    transactional: bool,
    recipients: Vec<NewDelivery>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if recipients.is_empty() {
        return Ok(());
    }
    let rows = recipients.into_iter().map(|r| ActiveModel {
        id: Set(Uuid::now_v7()),
        campaign_id: Set(campaign.0),
        step: Set(FIRST_STEP),
        customer_id: Set(r.customer),
        variant: Set(r.variant),
        channel: Set(channel.number()),
        transactional: Set(transactional),
        state: Set(r.state.code().to_owned()),
        reason: Set(Reason::None.number()),
        detail: Set(String::new()),
        due_time: Set(r.due),
        lease_until: Set(None),
        send_time: Set(None),
        attempts: Set(0),
        receipt_time: Set(None),
        message: Set(None),
        pii_key: Set(None),
        update_time: Set(now),
        occasion: Set(r.occasion),
        open_time: Set(None),
        click_time: Set(None),
    });
    Entity::insert_many(rows)
        .on_conflict_do_nothing_on([
            Column::CampaignId,
            Column::Step,
            Column::CustomerId,
            Column::Occasion,
        ])
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// The delivery of `customer` in `campaign` for `occasion` ("": a one-off campaign's).
pub async fn find(
    conn: &impl ConnectionTrait,
    campaign: CampaignId,
    customer: CustomerId,
    occasion: &str,
) -> Result<Option<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::CampaignId.eq(campaign.0))
        .filter(Column::Step.eq(FIRST_STEP))
        .filter(Column::CustomerId.eq(customer.0))
        .filter(Column::Occasion.eq(occasion))
        .one(conn)
        .await?)
}

/// The latest delivery of `customer` in `campaign`, whatever its occasion (a journey's most
/// recent entry).
pub async fn latest(
    conn: &impl ConnectionTrait,
    campaign: CampaignId,
    customer: CustomerId,
) -> Result<Option<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::CampaignId.eq(campaign.0))
        .filter(Column::Step.eq(FIRST_STEP))
        .filter(Column::CustomerId.eq(customer.0))
        .order_by_desc(Column::DueTime)
        .one(conn)
        .await?)
}

/// Up to `limit` deliveries of `campaign` after (customer, occasion) `after`, in that order.
pub async fn list(
    conn: &impl ConnectionTrait,
    campaign: CampaignId,
    state: Option<DeliveryState>,
    after: Option<(Uuid, String)>,
    limit: u64,
) -> Result<Vec<Delivery>, Error> {
    let mut q = Entity::find()
        .filter(Column::CampaignId.eq(campaign.0))
        .filter(Column::Step.eq(FIRST_STEP));
    if let Some((customer, occasion)) = after {
        q = q.filter(
            sea_orm::Condition::any()
                .add(Column::CustomerId.gt(customer))
                .add(
                    sea_orm::Condition::all()
                        .add(Column::CustomerId.eq(customer))
                        .add(Column::Occasion.gt(occasion)),
                ),
        );
    }
    if let Some(s) = state {
        q = q.filter(Column::State.eq(s.code()));
    }
    q.order_by_asc(Column::CustomerId)
        .order_by_asc(Column::Occasion)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(Delivery::try_from)
        .collect()
}

/// Deliveries of `campaign` per state.
pub async fn counts(
    conn: &impl ConnectionTrait,
    campaign: CampaignId,
) -> Result<Vec<(DeliveryState, i64)>, Error> {
    let rows: Vec<(String, i64)> = Entity::find()
        .select_only()
        .column(Column::State)
        .column_as(Column::Id.count(), "n")
        .filter(Column::CampaignId.eq(campaign.0))
        .group_by(Column::State)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(s, n)| DeliveryState::from_code(&s).map(|s| (s, n)))
        .collect())
}

/// Whether `campaign` has deliveries still to handle ([`OPEN_STATES`]).
pub async fn has_open(conn: &impl ConnectionTrait, campaign: CampaignId) -> Result<bool, Error> {
    let open = open_codes();
    Ok(Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::CampaignId.eq(campaign.0))
        .filter(Column::State.is_in(open))
        .into_tuple::<Uuid>()
        .one(conn)
        .await?
        .is_some())
}

/// Up to `limit` pending deliveries of `campaign` due by `now`, earliest first.
pub async fn due(
    conn: &impl ConnectionTrait,
    campaign: CampaignId,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::State.eq(DeliveryState::Pending.code()))
        .filter(Column::CampaignId.eq(campaign.0))
        .filter(Column::DueTime.lte(now))
        .order_by_asc(Column::DueTime)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Takes a pending delivery for this dispatcher run: false when another took it first.
/// (On SQLite the write also takes the database's write lock, which serialises the cap
/// counts that follow in the same transaction.)
pub async fn take_pending(
    conn: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let res = Entity::update_many()
        .col_expr(Column::UpdateTime, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::State.eq(DeliveryState::Pending.code()))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Moves a pending delivery's due time to `until` (a decision that failed is retried later).
pub async fn postpone(
    conn: &impl ConnectionTrait,
    id: Uuid,
    until: DateTime<Utc>,
) -> Result<(), Error> {
    Entity::update_many()
        .col_expr(Column::DueTime, Expr::value(until))
        .filter(Column::Id.eq(id))
        .filter(Column::State.eq(DeliveryState::Pending.code()))
        .exec(conn)
        .await?;
    Ok(())
}

/// A pending delivery's outcome: skipped, deferred (still pending, due later) or queued
/// with its sealed message and the variant it was rendered from (a tiered journey's is
/// chosen at send time).
pub enum Outcome {
    Skip(Reason, String),
    Defer(DateTime<Utc>, Reason, String),
    Queue {
        message: Vec<u8>,
        pii_key: Option<String>,
        variant: String,
    },
}

pub async fn settle(
    conn: &impl ConnectionTrait,
    id: Uuid,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let mut q = Entity::update_many()
        .col_expr(Column::UpdateTime, Expr::value(now))
        .filter(Column::Id.eq(id));
    q = match outcome {
        Outcome::Skip(reason, detail) => q
            .col_expr(Column::State, Expr::value(DeliveryState::Skipped.code()))
            .col_expr(Column::Reason, Expr::value(reason.number()))
            .col_expr(Column::Detail, Expr::value(detail)),
        Outcome::Defer(until, reason, detail) => q
            .col_expr(Column::DueTime, Expr::value(until))
            .col_expr(Column::Reason, Expr::value(reason.number()))
            .col_expr(Column::Detail, Expr::value(detail)),
        // send_time is set at queue time too, so the frequency caps count queued messages.
        Outcome::Queue {
            message,
            pii_key,
            variant,
        } => q
            .col_expr(Column::State, Expr::value(DeliveryState::Queued.code()))
            .col_expr(Column::Variant, Expr::value(variant))
            .col_expr(Column::Reason, Expr::value(Reason::None.number()))
            .col_expr(Column::Detail, Expr::value(""))
            .col_expr(Column::Message, Expr::value(message))
            .col_expr(Column::PiiKey, Expr::value(pii_key))
            .col_expr(Column::SendTime, Expr::value(now))
            .col_expr(Column::DueTime, Expr::value(now)),
    };
    q.exec(conn).await?;
    Ok(())
}

/// Marketing messages queued or sent to `customer` on `channel` since `since` (the
/// frequency cap's count; transactional messages do not count).
pub async fn sent_since(
    conn: &impl ConnectionTrait,
    customer: Uuid,
    channel: Channel,
    since: DateTime<Utc>,
) -> Result<u64, Error> {
    let n: Option<i64> = Entity::find()
        .select_only()
        .column_as(Column::Id.count(), "n")
        .filter(Column::CustomerId.eq(customer))
        .filter(Column::Channel.eq(channel.number()))
        .filter(Column::SendTime.gte(since))
        .filter(Column::Transactional.eq(false))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
}

/// Leases up to `limit` queued deliveries of `campaigns` that are due and not leased (or
/// whose lease ran out: a crashed sender's) to this sender run, raising their attempt number
/// (the fencing token of the later write). Only rows whose conditional update succeeded are
/// returned, so concurrent runs never share one.
pub async fn claim_queued(
    conn: &impl ConnectionTrait,
    campaigns: &[Uuid],
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: u64,
) -> Result<Vec<Model>, Error> {
    if campaigns.is_empty() {
        return Ok(Vec::new());
    }
    let free = || {
        sea_orm::Condition::any()
            .add(Column::LeaseUntil.is_null())
            .add(Column::LeaseUntil.lt(now))
    };
    let candidates: Vec<Uuid> = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::State.eq(DeliveryState::Queued.code()))
        .filter(Column::CampaignId.is_in(campaigns.iter().copied()))
        .filter(Column::DueTime.lte(now))
        .filter(free())
        .order_by_asc(Column::DueTime)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?;
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    Ok(Entity::update_many()
        .col_expr(Column::LeaseUntil, Expr::value(now + lease))
        .col_expr(
            Column::Attempts,
            Expr::col(Column::Attempts).add(Expr::value(1)),
        )
        .filter(Column::Id.is_in(candidates))
        .filter(Column::State.eq(DeliveryState::Queued.code()))
        .filter(free())
        .exec_with_returning(conn)
        .await?)
}

/// The end of one send attempt, written only if the delivery is still this attempt's
/// (`attempts` unchanged): sent, retried later, or failed.
pub enum Attempt {
    Sent,
    Retry { at: DateTime<Utc>, detail: String },
    Failed { detail: String },
}

pub async fn finish_attempt(
    conn: &impl ConnectionTrait,
    id: Uuid,
    attempts: i32,
    attempt: Attempt,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let mut q = Entity::update_many()
        .col_expr(Column::UpdateTime, Expr::value(now))
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::Id.eq(id))
        .filter(Column::State.eq(DeliveryState::Queued.code()))
        .filter(Column::Attempts.eq(attempts));
    q = match attempt {
        Attempt::Sent => q
            .col_expr(Column::State, Expr::value(DeliveryState::Sent.code()))
            .col_expr(Column::SendTime, Expr::value(now))
            .col_expr(Column::Message, Expr::value(Option::<Vec<u8>>::None))
            .col_expr(Column::PiiKey, Expr::value(Option::<String>::None)),
        Attempt::Retry { at, detail } => q
            .col_expr(Column::DueTime, Expr::value(at))
            .col_expr(Column::Reason, Expr::value(Reason::SenderError.number()))
            .col_expr(Column::Detail, Expr::value(detail)),
        Attempt::Failed { detail } => q
            .col_expr(Column::State, Expr::value(DeliveryState::Failed.code()))
            .col_expr(Column::Reason, Expr::value(Reason::SenderError.number()))
            .col_expr(Column::Detail, Expr::value(detail))
            .col_expr(Column::Message, Expr::value(Option::<Vec<u8>>::None))
            .col_expr(Column::PiiKey, Expr::value(Option::<String>::None)),
    };
    Ok(q.exec(conn).await?.rows_affected == 1)
}

/// Skips every delivery of `campaign` not yet sent (a cancel); returns how many.
pub async fn skip_open(
    conn: &impl ConnectionTrait,
    campaign: CampaignId,
    reason: Reason,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let open = open_codes();
    Ok(Entity::update_many()
        .col_expr(Column::State, Expr::value(DeliveryState::Skipped.code()))
        .col_expr(Column::Reason, Expr::value(reason.number()))
        .col_expr(Column::Detail, Expr::value(""))
        .col_expr(Column::Message, Expr::value(Option::<Vec<u8>>::None))
        .col_expr(Column::PiiKey, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::UpdateTime, Expr::value(now))
        .filter(Column::CampaignId.eq(campaign.0))
        .filter(Column::State.is_in(open))
        .exec(conn)
        .await?
        .rows_affected)
}

/// Records a receipt that says `receipt`: the new state when it moves forward (None: only
/// the time), and the first open and click times (a click is an open too), which later
/// states do not hide from the report.
#[allow(clippy::too_many_arguments)]
pub async fn record_receipt(
    conn: &impl ConnectionTrait,
    id: Uuid,
    from: DeliveryState,
    to: Option<DeliveryState>,
    receipt: DeliveryState,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let mut q = Entity::update_many()
        .col_expr(Column::ReceiptTime, Expr::value(at))
        .col_expr(Column::UpdateTime, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::State.eq(from.code()));
    if let Some(to) = to {
        q = q.col_expr(Column::State, Expr::value(to.code()));
    }
    let first =
        |col: Column| Expr::cust_with_exprs("COALESCE($1, $2)", [Expr::col(col), Expr::value(at)]);
    if matches!(receipt, DeliveryState::Opened | DeliveryState::Clicked) {
        q = q.col_expr(Column::OpenTime, first(Column::OpenTime));
    }
    if receipt == DeliveryState::Clicked {
        q = q.col_expr(Column::ClickTime, first(Column::ClickTime));
    }
    Ok(q.exec(conn).await?.rows_affected == 1)
}
