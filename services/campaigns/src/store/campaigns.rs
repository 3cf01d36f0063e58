//! The `campaigns` table: rows <-> domain campaigns, and the queries of the use cases and the
//! start job. The queried parts (state, segment, channel, throttle, start) are columns; the
//! rest of the definition is `spec` JSON.
use super::entities::campaign::{self, ActiveModel, Column, Entity, Model};
use crate::domain::campaign::{Campaign, CampaignFields, Channel, Spec, State};
use crate::domain::{CampaignId, SegmentId};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use uuid::Uuid;

fn corrupt(id: Uuid, what: &str) -> Error {
    Error::internal(anyhow::anyhow!("campaign {id} has an unreadable {what}"))
}

impl TryFrom<Model> for Campaign {
    type Error = Error;

    fn try_from(row: Model) -> Result<Self, Error> {
        let spec: Spec = serde_json::from_str(&row.spec).map_err(|_| corrupt(row.id, "spec"))?;
        Ok(Self {
            id: CampaignId(row.id),
            fields: CampaignFields {
                display_name: row.display_name,
                segment: SegmentId(row.segment_id),
                channel: Channel::from_number(row.channel)
                    .ok_or_else(|| corrupt(row.id, "channel"))?,
                transactional: row.transactional,
                throttle_per_second: u32::try_from(row.throttle_per_second)
                    .map_err(|_| corrupt(row.id, "throttle"))?,
                spec,
            },
            state: State::from_code(&row.state).ok_or_else(|| corrupt(row.id, "state"))?,
            revision: row.revision,
            create_time: row.create_time,
            update_time: row.update_time,
            start_at: row.start_at,
            start_time: row.start_time,
            end_time: row.end_time,
            audience_done: row.audience_done,
            winner: row.winner_variant.zip(row.winner_time),
        })
    }
}

fn active(c: &Campaign) -> Result<ActiveModel, Error> {
    let f = &c.fields;
    Ok(ActiveModel {
        id: Set(c.id.0),
        display_name: Set(f.display_name.clone()),
        state: Set(c.state.code().to_owned()),
        segment_id: Set(f.segment.0),
        channel: Set(f.channel.number()),
        transactional: Set(f.transactional),
        throttle_per_second: Set(i32::try_from(f.throttle_per_second).unwrap_or(i32::MAX)),
        spec: Set(serde_json::to_string(&f.spec).map_err(Error::internal)?),
        start_at: Set(c.start_at),
        audience_cursor: sea_orm::ActiveValue::NotSet,
        audience_done: Set(c.audience_done),
        revision: Set(c.revision),
        create_time: Set(c.create_time),
        update_time: Set(c.update_time),
        start_time: Set(c.start_time),
        end_time: Set(c.end_time),
        trigger_kind: Set(f.trigger().map_or("", |t| t.kind.code()).to_owned()),
        winner_variant: Set(c.winner.as_ref().map(|(v, _)| v.clone())),
        winner_time: Set(c.winner.as_ref().map(|(_, t)| *t)),
    })
}

pub async fn find(conn: &impl ConnectionTrait, id: CampaignId) -> Result<Option<Campaign>, Error> {
    Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .map(Campaign::try_from)
        .transpose()
}

pub async fn insert(conn: &impl ConnectionTrait, c: &Campaign) -> Result<(), Error> {
    let mut row = active(c)?;
    row.audience_cursor = Set(None);
    Entity::insert(row).exec_without_returning(conn).await?;
    Ok(())
}

/// Writes `c` if its stored revision is still `c.revision - 1` (compare-and-set); false when
/// a concurrent writer got there first.
pub async fn update(conn: &impl ConnectionTrait, c: &Campaign) -> Result<bool, Error> {
    let res = Entity::update_many()
        .set(active(c)?)
        .filter(Column::Id.eq(c.id.0))
        .filter(Column::Revision.eq(c.revision - 1))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Up to `limit` campaigns before `before` in id order, newest first, optionally in `state`.
pub async fn list(
    conn: &impl ConnectionTrait,
    state: Option<State>,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Campaign>, Error> {
    let mut q = Entity::find();
    if let Some(b) = before {
        q = q.filter(Column::Id.lt(b));
    }
    if let Some(s) = state {
        q = q.filter(Column::State.eq(s.code()));
    }
    q.order_by_desc(Column::Id)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(Campaign::try_from)
        .collect()
}

/// Up to `limit` campaigns in `state` (oldest first); with `due_by`, only those whose
/// start_at has come.
pub async fn in_state(
    conn: &impl ConnectionTrait,
    state: State,
    due_by: Option<chrono::DateTime<chrono::Utc>>,
    limit: u64,
) -> Result<Vec<Campaign>, Error> {
    let mut q = Entity::find().filter(Column::State.eq(state.code()));
    if let Some(t) = due_by {
        q = q.filter(Column::StartAt.lte(t));
    }
    q.order_by_asc(Column::Id)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(Campaign::try_from)
        .collect()
}

/// Every running campaign, a page at a time in id order (journeys run for good, so the jobs
/// that read the running campaigns must see them all, never a fixed number of the oldest):
/// `while let Some(page) = pages.next(db).await? { .. }`.
pub struct RunningPages {
    after: Option<Uuid>,
    size: u64,
    done: bool,
}

impl RunningPages {
    pub fn new(size: u64) -> Self {
        Self {
            after: None,
            size: size.max(1),
            done: false,
        }
    }

    pub async fn next(
        &mut self,
        conn: &impl ConnectionTrait,
    ) -> Result<Option<Vec<Campaign>>, Error> {
        if self.done {
            return Ok(None);
        }
        let mut q = Entity::find().filter(Column::State.eq(State::Running.code()));
        if let Some(a) = self.after {
            q = q.filter(Column::Id.gt(a));
        }
        let page = q
            .order_by_asc(Column::Id)
            .limit(self.size)
            .all(conn)
            .await?
            .into_iter()
            .map(Campaign::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        self.done = (page.len() as u64) < self.size;
        self.after = page.last().map(|c| c.id.0);
        Ok((!page.is_empty()).then_some(page))
    }
}

/// Where the audience of a running campaign has been written up to (None: from the start).
pub async fn audience_cursor(
    conn: &impl ConnectionTrait,
    id: CampaignId,
) -> Result<Option<Uuid>, Error> {
    let row: Option<Option<Uuid>> = Entity::find_by_id(id.0)
        .select_only()
        .column(Column::AudienceCursor)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(row.flatten())
}

/// Records audience progress (not a revision: the definition did not change).
pub async fn set_audience_progress(
    conn: &impl ConnectionTrait,
    id: CampaignId,
    cursor: Option<Uuid>,
    done: bool,
) -> Result<(), Error> {
    Entity::update_many()
        .col_expr(Column::AudienceCursor, Expr::value(cursor))
        .col_expr(Column::AudienceDone, Expr::value(done))
        .filter(Column::Id.eq(id.0))
        .exec(conn)
        .await?;
    Ok(())
}

/// Whether a campaign that has not ended uses `segment` as its audience or an exclusion
/// (exclusions live in the spec JSON, where the id appears as text); DeleteSegment refuses then.
pub async fn uses_segment(conn: &impl ConnectionTrait, segment: SegmentId) -> Result<bool, Error> {
    let live = [State::Completed.code(), State::Cancelled.code()];
    let found = Entity::find()
        .filter(Column::State.is_not_in(live))
        .filter(
            sea_orm::Condition::any()
                .add(Column::SegmentId.eq(segment.0))
                .add(Column::Spec.contains(segment.0.to_string())),
        )
        .one(conn)
        .await?;
    Ok(found.is_some())
}

pub use campaign::Model as Row;

/// Up to `limit` running journeys whose trigger is `kind`.
pub async fn running_journeys(
    conn: &impl ConnectionTrait,
    kind: crate::domain::journey::TriggerKind,
    limit: u64,
) -> Result<Vec<Campaign>, Error> {
    Entity::find()
        .filter(Column::TriggerKind.eq(kind.code()))
        .filter(Column::State.eq(State::Running.code()))
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(Campaign::try_from)
        .collect()
}
