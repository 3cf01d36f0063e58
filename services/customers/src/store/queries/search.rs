//! Searches by contact key: the blind index of an e-mail, a phone or a name prefix.
use super::super::convert::customer_from_row;
use super::super::entities::{contact, customer};
use crate::domain::{Customer, CustomerState};
use crm_platform::Error;
use crm_platform::pii::Keys;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where the next page of a search starts: the last customer looked at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchCursor {
    pub id: Uuid,
}

/// Active customers with the contact key (`kind`, `value`: a blind index), in customer
/// order after `after`: one ordered range of `idx_contacts_kind_value_customer`. Keys are
/// distinct per customer, so each customer comes once.
pub async fn search_contact(
    conn: &impl ConnectionTrait,
    keys: &Keys,
    kind: &str,
    value: &str,
    after: Option<&SearchCursor>,
    limit: u64,
) -> Result<Vec<Customer>, Error> {
    search_select(kind, value, after, limit)
        .all(conn)
        .await?
        .into_iter()
        .map(|r| customer_from_row(r, keys))
        .collect()
}

/// The query behind [`search_contact`] (public so tests can EXPLAIN it).
pub fn search_select(
    kind: &str,
    value: &str,
    after: Option<&SearchCursor>,
    limit: u64,
) -> sea_orm::Select<customer::Entity> {
    let mut find = customer::Entity::find();
    QueryTrait::query(&mut find).inner_join(
        contact::Entity,
        Expr::col((contact::Entity, contact::Column::CustomerId))
            .equals((customer::Entity, customer::Column::Id)),
    );
    find = find
        .filter(Expr::col((contact::Entity, contact::Column::Kind)).eq(kind))
        .filter(Expr::col((contact::Entity, contact::Column::Value)).eq(value))
        .filter(customer::Column::State.eq(CustomerState::Active.as_str()));
    let id = Expr::col((contact::Entity, contact::Column::CustomerId));
    if let Some(a) = after {
        find = find.filter(id.clone().gt(a.id));
    }
    find.order_by(id, Order::Asc).limit(limit)
}
