//! Customer lists: one page in keyset order of a filter.
use super::super::convert::customer_from_row;
use super::super::entities::{customer, tag};
use crate::domain::{Customer, CustomerState, LifecycleStage, OrderField};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::pii::Keys;
use sea_orm::sea_query::{Expr, ExprTrait as _, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where the next page starts: the last row's sort value and id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<String>,
    pub id: Uuid,
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub tag: Option<String>,
    pub lifecycle_stage: Option<LifecycleStage>,
    pub updated_since: Option<DateTime<Utc>>,
    pub order: OrderField,
    pub descending: bool,
    pub show_deleted: bool,
    pub after: Option<Cursor>,
    pub limit: u64,
}

pub fn cursor_of(c: &Customer, order: OrderField) -> Cursor {
    match order {
        OrderField::CreateTime => Cursor {
            t: Some(c.create_time),
            s: None,
            id: c.id.0,
        },
        OrderField::UpdateTime => Cursor {
            t: Some(c.update_time),
            s: None,
            id: c.id.0,
        },
        OrderField::DisplayName => Cursor {
            t: None,
            s: Some(c.profile.display_name.clone()),
            id: c.id.0,
        },
    }
}

/// One page of customers in keyset order (stable under concurrent inserts). Each filter and
/// order is one ordered index range, read only as far as the page needs: a tag filter walks
/// `idx_tags_[stage_]<order>` (tag rows carry the stage and sort keys), a lifecycle stage
/// `idx_customers_stage_<order>`, otherwise `idx_customers_<order>`. `updated_since` starts the
/// range (the service only allows it when ordering by update time); the state is checked on
/// the rows walked (deleted, merged and erased customers are expected to be few). Plans are
/// asserted in tests on both backends.
pub async fn list(
    conn: &impl ConnectionTrait,
    keys: &Keys,
    q: &ListQuery,
) -> Result<Vec<Customer>, Error> {
    let rows = list_select(q)?.all(conn).await?;
    rows.into_iter()
        .map(|r| customer_from_row(r, keys))
        .collect()
}

/// The query behind [`list`] (public so tests can EXPLAIN it).
pub fn list_select(q: &ListQuery) -> Result<sea_orm::Select<customer::Entity>, Error> {
    let mut find = customer::Entity::find();
    // The sort column and the id it ties on: the tag row's copies when filtering by tag.
    let (sort, id): (SimpleExpr, SimpleExpr) = match &q.tag {
        Some(t) => {
            QueryTrait::query(&mut find).inner_join(
                tag::Entity,
                Expr::col((tag::Entity, tag::Column::CustomerId))
                    .equals((customer::Entity, customer::Column::Id)),
            );
            find = find.filter(Expr::col((tag::Entity, tag::Column::Tag)).eq(t.as_str()));
            let col = match q.order {
                OrderField::CreateTime => tag::Column::CreateTime,
                OrderField::UpdateTime => tag::Column::UpdateTime,
                OrderField::DisplayName => tag::Column::DisplayName,
            };
            (
                Expr::col((tag::Entity, col)),
                Expr::col((tag::Entity, tag::Column::CustomerId)),
            )
        }
        None => {
            let col = match q.order {
                OrderField::CreateTime => customer::Column::CreateTime,
                OrderField::UpdateTime => customer::Column::UpdateTime,
                OrderField::DisplayName => customer::Column::DisplayName,
            };
            (
                Expr::col((customer::Entity, col)),
                Expr::col((customer::Entity, customer::Column::Id)),
            )
        }
    };
    find = if q.show_deleted {
        find.filter(customer::Column::State.is_in([
            CustomerState::Active.as_str(),
            CustomerState::Deleted.as_str(),
        ]))
    } else {
        find.filter(customer::Column::State.eq(CustomerState::Active.as_str()))
    };
    if let Some(stage) = q.lifecycle_stage {
        find = match &q.tag {
            Some(_) => find
                .filter(Expr::col((tag::Entity, tag::Column::LifecycleStage)).eq(stage.as_str())),
            None => find.filter(customer::Column::LifecycleStage.eq(stage.as_str())),
        };
    }
    if let Some(since) = q.updated_since {
        find = match &q.tag {
            Some(_) => find.filter(Expr::col((tag::Entity, tag::Column::UpdateTime)).gte(since)),
            None => find.filter(customer::Column::UpdateTime.gte(since)),
        };
    }
    if let Some(c) = &q.after {
        let value: sea_orm::Value = match (&c.t, &c.s) {
            (Some(t), _) => (*t).into(),
            (_, Some(s)) => s.clone().into(),
            _ => {
                return Err(crm_platform::Error::invalid_field(
                    "page_token",
                    "does not match the order",
                ));
            }
        };
        let here = Expr::tuple([sort.clone(), id.clone()]);
        let there = Expr::tuple([Expr::value(value), Expr::value(c.id)]);
        find = find.filter(if q.descending {
            here.lt(there)
        } else {
            here.gt(there)
        });
    }
    let dir = if q.descending {
        Order::Desc
    } else {
        Order::Asc
    };
    Ok(find
        .order_by(sort, dir.clone())
        .order_by(id, dir)
        .limit(q.limit))
}
