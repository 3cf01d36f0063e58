//! Saved segments (`segments`), their evaluation over the read model (a rule compiled by
//! [`compile`] to one parameterised condition on `members`), and their tracked members
//! (`segment_members`, kept by the membership job).
mod compile;
mod membership;

pub use compile::Compiler;
pub use membership::*;

use super::entities::{member, segment, segment_member};
use crate::domain::SegmentId;
use crate::domain::segment::{Rule, Segment};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::pii::Keys;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};
use uuid::Uuid;

fn from_row(row: segment::Model) -> Result<Segment, Error> {
    let rule: Rule = serde_json::from_str(&row.rule).map_err(|e| {
        Error::internal(anyhow::anyhow!(
            "segment {} rule is not readable: {e}",
            row.id
        ))
    })?;
    Ok(Segment {
        id: SegmentId(row.id),
        display_name: row.display_name,
        description: row.description,
        rule,
        member_count: row.member_count,
        revision: row.revision,
        create_time: row.create_time,
        update_time: row.update_time,
    })
}

fn rule_json(rule: &Rule) -> Result<String, Error> {
    serde_json::to_string(rule).map_err(Error::internal)
}

pub async fn find(conn: &impl ConnectionTrait, id: SegmentId) -> Result<Option<Segment>, Error> {
    segment::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .map(from_row)
        .transpose()
}

pub async fn insert(conn: &impl ConnectionTrait, s: &Segment) -> Result<(), Error> {
    segment::Entity::insert(segment::ActiveModel {
        id: Set(s.id.0),
        display_name: Set(s.display_name.clone()),
        description: Set(s.description.clone()),
        rule: Set(rule_json(&s.rule)?),
        member_count: Set(s.member_count),
        revision: Set(s.revision),
        create_time: Set(s.create_time),
        update_time: Set(s.update_time),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Writes the caller's fields of `s` if its stored revision is still `s.revision - 1`
/// (compare-and-set); false when a concurrent writer got there first. The tracked
/// `member_count` is the membership job's and is left alone.
pub async fn update(conn: &impl ConnectionTrait, s: &Segment) -> Result<bool, Error> {
    use segment::Column as S;
    let res = segment::Entity::update_many()
        .col_expr(S::DisplayName, Expr::value(s.display_name.clone()))
        .col_expr(S::Description, Expr::value(s.description.clone()))
        .col_expr(S::Rule, Expr::value(rule_json(&s.rule)?))
        .col_expr(S::Revision, Expr::value(s.revision))
        .col_expr(S::UpdateTime, Expr::value(s.update_time))
        .filter(S::Id.eq(s.id.0))
        .filter(S::Revision.eq(s.revision - 1))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Deletes the segment (and its tracked members) if it is still at `revision`.
pub async fn delete(
    conn: &impl ConnectionTrait,
    id: SegmentId,
    revision: i64,
) -> Result<bool, Error> {
    let res = segment::Entity::delete_many()
        .filter(segment::Column::Id.eq(id.0))
        .filter(segment::Column::Revision.eq(revision))
        .exec(conn)
        .await?;
    if res.rows_affected != 1 {
        return Ok(false);
    }
    segment_member::Entity::delete_many()
        .filter(segment_member::Column::SegmentId.eq(id.0))
        .exec(conn)
        .await?;
    Ok(true)
}

/// Up to `limit` segments after `after`, oldest first (ids are UUIDv7).
pub async fn list(
    conn: &impl ConnectionTrait,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Segment>, Error> {
    let mut q = segment::Entity::find();
    if let Some(a) = after {
        q = q.filter(segment::Column::Id.gt(a));
    }
    q.order_by_asc(segment::Column::Id)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// Active members for whom `rule` holds now.
pub fn matching(rule: &Rule, keys: &Keys, now: DateTime<Utc>) -> Select<member::Entity> {
    member::Entity::find()
        .filter(member::Column::State.eq("active"))
        .filter(Compiler::new(keys, now).rule(rule))
}

/// Up to `limit` active members matching `rule`, in id order after `after`.
pub async fn member_page(
    conn: &impl ConnectionTrait,
    rule: &Rule,
    keys: &Keys,
    now: DateTime<Utc>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Uuid>, Error> {
    let mut q = matching(rule, keys, now);
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

/// Whether `customer` is an active member matching `rule` now.
pub async fn contains(
    conn: &impl ConnectionTrait,
    rule: &Rule,
    keys: &Keys,
    now: DateTime<Utc>,
    customer: Uuid,
) -> Result<bool, Error> {
    let found: Option<Uuid> = matching(rule, keys, now)
        .filter(member::Column::Id.eq(customer))
        .select_only()
        .column(member::Column::Id)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(found.is_some())
}

/// Active members matching `rule` now.
pub async fn count(
    conn: &impl ConnectionTrait,
    rule: &Rule,
    keys: &Keys,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let counting = Compiler::new(keys, now).counting().rule(rule);
    Ok(member::Entity::find()
        .filter(member::Column::State.eq("active"))
        .filter(counting)
        .count(conn)
        .await?)
}
