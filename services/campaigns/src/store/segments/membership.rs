//! Tracked membership (`segment_members`): which members a rule holds for within a scope,
//! which are tracked there, and the enter / exit writes. Writes say which rows they really
//! changed (`RETURNING`), so two replicas evaluating the same member report each move once.
//! Also the members the job re-evaluates (`segments_dirty`) and the plain member facts a
//! segment's member list shows.
use super::Compiler;
use crate::domain::SegmentId;
use crate::domain::segment::{Rule, Segment};
use crate::store::entities::{member, segment, segment_member};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::pii::Keys;
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, OnConflict, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

/// Which customers an evaluation looks at.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// These customers.
    Ids(&'a [Uuid]),
    /// Customer ids in `(after, upto]` (open ends when None).
    Range {
        after: Option<Uuid>,
        upto: Option<Uuid>,
    },
}

impl Scope<'_> {
    fn on(&self, col: impl ColumnTrait) -> Condition {
        match self {
            Self::Ids(ids) => Condition::all().add(col.is_in(ids.iter().copied())),
            Self::Range { after, upto } => {
                let mut c = Condition::all();
                if let Some(a) = after {
                    c = c.add(col.gt(*a));
                }
                if let Some(u) = upto {
                    c = c.add(col.lte(*u));
                }
                c
            }
        }
    }
}

/// Active members in `scope` for whom `rule` holds now, in id order.
pub async fn matching_in(
    conn: &impl ConnectionTrait,
    rule: &Rule,
    keys: &Keys,
    now: DateTime<Utc>,
    scope: Scope<'_>,
) -> Result<Vec<Uuid>, Error> {
    Ok(member::Entity::find()
        .filter(member::Column::State.eq("active"))
        .filter(Compiler::new(keys, now).rule(rule))
        .filter(scope.on(member::Column::Id))
        .select_only()
        .column(member::Column::Id)
        .order_by_asc(member::Column::Id)
        .into_tuple()
        .all(conn)
        .await?)
}

/// Customers in `scope` tracked as members of `segment`, in id order.
pub async fn tracked_in(
    conn: &impl ConnectionTrait,
    segment: SegmentId,
    scope: Scope<'_>,
) -> Result<Vec<Uuid>, Error> {
    use segment_member::Column as SM;
    Ok(segment_member::Entity::find()
        .filter(SM::SegmentId.eq(segment.0))
        .filter(scope.on(SM::CustomerId))
        .select_only()
        .column(SM::CustomerId)
        .order_by_asc(SM::CustomerId)
        .into_tuple()
        .all(conn)
        .await?)
}

fn customer_ids(rows: Vec<sea_orm::QueryResult>) -> Result<Vec<Uuid>, Error> {
    rows.iter()
        .map(|r| r.try_get::<Uuid>("", "customer_id").map_err(Error::from))
        .collect()
}

/// Tracks `ids` as members of `segment` from `now`; the ids that were not tracked before.
pub async fn enter(
    conn: &impl ConnectionTrait,
    segment: SegmentId,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, Error> {
    use segment_member::Column as SM;
    let mut entered = Vec::new();
    for chunk in ids.chunks(500) {
        let mut q = Query::insert()
            .into_table(segment_member::Entity)
            .columns([SM::SegmentId, SM::CustomerId, SM::EnterTime])
            .to_owned();
        for id in chunk {
            q.values_panic([segment.0.into(), (*id).into(), now.into()]);
        }
        q.on_conflict(
            OnConflict::columns([SM::SegmentId, SM::CustomerId])
                .do_nothing()
                .to_owned(),
        )
        .returning_col(SM::CustomerId);
        entered.extend(customer_ids(conn.query_all(&q).await?)?);
    }
    Ok(entered)
}

/// Stops tracking `ids` in `segment`; the ids that were tracked.
pub async fn exit(
    conn: &impl ConnectionTrait,
    segment: SegmentId,
    ids: &[Uuid],
) -> Result<Vec<Uuid>, Error> {
    use segment_member::Column as SM;
    let mut left = Vec::new();
    for chunk in ids.chunks(500) {
        let q = Query::delete()
            .from_table(segment_member::Entity)
            .and_where(SM::SegmentId.eq(segment.0))
            .and_where(SM::CustomerId.is_in(chunk.iter().copied()))
            .returning_col(SM::CustomerId)
            .to_owned();
        left.extend(customer_ids(conn.query_all(&q).await?)?);
    }
    Ok(left)
}

/// Removes every membership of `customers` (an erasure) and lowers each segment's count by
/// the rows removed, so a count never includes an erased customer until the next full
/// evaluation. Returns the rows removed.
pub async fn forget(conn: &impl ConnectionTrait, customers: &[Uuid]) -> Result<u64, Error> {
    use segment_member::Column as SM;
    let mut per_segment: std::collections::BTreeMap<Uuid, i64> = Default::default();
    for chunk in customers.chunks(500) {
        let q = Query::delete()
            .from_table(segment_member::Entity)
            .and_where(SM::CustomerId.is_in(chunk.iter().copied()))
            .returning_col(SM::SegmentId)
            .to_owned();
        for r in conn.query_all(&q).await? {
            *per_segment
                .entry(r.try_get::<Uuid>("", "segment_id")?)
                .or_default() += 1;
        }
    }
    let mut removed = 0;
    for (segment, n) in per_segment {
        add_to_count(conn, SegmentId(segment), -n).await?;
        removed += n as u64;
    }
    Ok(removed)
}

/// Adds `delta` to the tracked member count.
pub async fn add_to_count(
    conn: &impl ConnectionTrait,
    segment: SegmentId,
    delta: i64,
) -> Result<(), Error> {
    if delta == 0 {
        return Ok(());
    }
    use segment::Column as S;
    segment::Entity::update_many()
        .col_expr(S::MemberCount, Expr::col(S::MemberCount).add(delta))
        .filter(S::Id.eq(segment.0))
        .exec(conn)
        .await?;
    Ok(())
}

/// Sets the member count to the tracked rows (after a full evaluation: erasures remove rows
/// without the job).
pub async fn recount(conn: &impl ConnectionTrait, segment: SegmentId) -> Result<(), Error> {
    use segment::Column as S;
    let rows = Query::select()
        .expr(Expr::col(segment_member::Column::CustomerId).count())
        .from(segment_member::Entity)
        .and_where(segment_member::Column::SegmentId.eq(segment.0))
        .to_owned();
    segment::Entity::update_many()
        .col_expr(
            S::MemberCount,
            Expr::expr(Expr::SubQuery(None, Box::new(rows.into()))),
        )
        .filter(S::Id.eq(segment.0))
        .exec(conn)
        .await?;
    Ok(())
}

fn evaluated_revision() -> Alias {
    Alias::new("evaluated_revision")
}

fn evaluate_time() -> Alias {
    Alias::new("evaluate_time")
}

/// Segments to evaluate in full: never evaluated at their revision, or last evaluated
/// before `stale_before`.
pub async fn due_for_evaluation(
    conn: &impl ConnectionTrait,
    stale_before: DateTime<Utc>,
) -> Result<Vec<Segment>, Error> {
    segment::Entity::find()
        .filter(
            Condition::any()
                .add(Expr::col(evaluated_revision()).is_null())
                .add(Expr::col(evaluated_revision()).ne(Expr::col(segment::Column::Revision)))
                .add(Expr::col(evaluate_time()).lt(stale_before)),
        )
        .order_by_asc(segment::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(super::from_row)
        .collect()
}

/// Records a full evaluation of `segment` at `revision` (nothing when it changed since).
pub async fn mark_evaluated(
    conn: &impl ConnectionTrait,
    segment: SegmentId,
    revision: i64,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let q = Query::update()
        .table(segment::Entity)
        .value(evaluated_revision(), revision)
        .value(evaluate_time(), now)
        .and_where(segment::Column::Id.eq(segment.0))
        .and_where(segment::Column::Revision.eq(revision))
        .to_owned();
    conn.execute(&q).await?;
    Ok(())
}

/// Every saved segment (the membership job tests changed members against all of them).
pub async fn all(conn: &impl ConnectionTrait) -> Result<Vec<Segment>, Error> {
    segment::Entity::find()
        .order_by_asc(segment::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(super::from_row)
        .collect()
}

/// Up to `limit` member ids (any state) after `after`, in id order.
pub async fn member_ids_page(
    conn: &impl ConnectionTrait,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Uuid>, Error> {
    let mut q = member::Entity::find();
    if let Some(a) = after {
        q = q.filter(member::Column::Id.gt(a));
    }
    Ok(q.select_only()
        .column(member::Column::Id)
        .order_by_asc(member::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?)
}

/// Up to `limit` members changed since their last evaluation, with the change time read.
pub async fn dirty_members(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<(Uuid, DateTime<Utc>)>, Error> {
    use member::Column as M;
    Ok(member::Entity::find()
        .filter(M::SegmentsDirty.eq(true))
        .select_only()
        .columns([M::Id, M::UpdateTime])
        .order_by_asc(M::Id)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?)
}

/// Clears the dirty flag of members not changed since `read` (a change meanwhile keeps it
/// for the next run).
pub async fn clear_dirty(
    conn: &impl ConnectionTrait,
    read: &[(Uuid, DateTime<Utc>)],
) -> Result<(), Error> {
    use member::Column as M;
    for chunk in read.chunks(500) {
        let same = chunk.iter().fold(Condition::any(), |c, (id, t)| {
            c.add(
                Condition::all()
                    .add(M::Id.eq(*id))
                    .add(M::UpdateTime.eq(*t)),
            )
        });
        member::Entity::update_many()
            .col_expr(M::SegmentsDirty, Expr::value(false))
            .filter(same)
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// Locks `segment`'s row for the membership writes of this transaction (a delete waits, or
/// is seen); false when it is gone.
pub async fn lock(conn: &impl ConnectionTrait, segment: SegmentId) -> Result<bool, Error> {
    use segment::Column as S;
    let res = segment::Entity::update_many()
        .col_expr(S::MemberCount, Expr::col(S::MemberCount))
        .filter(S::Id.eq(segment.0))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Drops `customer` from every segment's tracked members and counts, without events (an
/// erasure: nothing more is said about the customer).
pub async fn forget_member(conn: &impl ConnectionTrait, customer: Uuid) -> Result<(), Error> {
    use segment_member::Column as SM;
    let q = Query::delete()
        .from_table(segment_member::Entity)
        .and_where(SM::CustomerId.eq(customer))
        .returning_col(SM::SegmentId)
        .to_owned();
    for row in conn.query_all(&q).await? {
        let segment: Uuid = row.try_get("", "segment_id")?;
        add_to_count(conn, SegmentId(segment), -1).await?;
    }
    Ok(())
}
