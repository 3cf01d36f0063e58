//! Searches by contact key: an exact e-mail or phone, or a name prefix.
use super::super::convert::customer_from_row;
use super::super::entities::{contact, customer};
use crate::domain::{Customer, CustomerState};
use crm_platform::Error;
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where the next page of a search starts: the last contact value and customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchCursor {
    pub v: String,
    pub id: Uuid,
}

/// A contact key to search by: one exact value, or every value starting with a prefix.
#[derive(Debug, Clone)]
pub enum ContactMatch<'a> {
    Exact(&'a str),
    Prefix(&'a str),
}

/// The smallest string above every string starting with `prefix` (`None`: no bound). Code
/// point order, which is how SQLite (BINARY) and PostgreSQL ("C", see the migration) compare.
pub fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(n) = next {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Active customers with a contact key of `kind` matching `m`, in (value, customer) order
/// after `after`: one ordered range of `idx_contacts_kind_value_customer`. A customer with
/// several matching keys (e.g. "li" and "li wei" for the prefix "li") is listed once, at its
/// smallest matching key, so pages never repeat anyone.
pub async fn search_contact(
    conn: &impl ConnectionTrait,
    kind: &str,
    m: ContactMatch<'_>,
    after: Option<&SearchCursor>,
    limit: u64,
) -> Result<Vec<Customer>, Error> {
    search_select(kind, m, after, limit)
        .all(conn)
        .await?
        .into_iter()
        .map(customer_from_row)
        .collect()
}

/// The query behind [`search_contact`] (public so tests can EXPLAIN it).
pub fn search_select(
    kind: &str,
    m: ContactMatch<'_>,
    after: Option<&SearchCursor>,
    limit: u64,
) -> sea_orm::Select<customer::Entity> {
    let value = Expr::col((contact::Entity, contact::Column::Value));
    let mut find = customer::Entity::find();
    QueryTrait::query(&mut find).inner_join(
        contact::Entity,
        Expr::col((contact::Entity, contact::Column::CustomerId))
            .equals((customer::Entity, customer::Column::Id)),
    );
    find = find
        .filter(Expr::col((contact::Entity, contact::Column::Kind)).eq(kind))
        .filter(customer::Column::State.eq(CustomerState::Active.as_str()));
    match m {
        ContactMatch::Exact(v) => find = find.filter(value.clone().eq(v)),
        ContactMatch::Prefix(p) => {
            let upper = prefix_upper_bound(p);
            find = find.filter(value.clone().gte(p));
            if let Some(u) = &upper {
                find = find.filter(value.clone().lt(u.as_str()));
            }
            // Listed at its smallest matching key only: a scalar subquery per row, probing
            // that customer's keys by primary key (customer_id, ...). `kind || ''` keeps the
            // (kind, value) index out of the probe: through it, MIN would walk the whole prefix
            // range for every row.
            let other = Alias::new("other");
            let mut smallest = Query::select();
            smallest
                .expr(Expr::col((other.clone(), contact::Column::Value)).min())
                .from_as(contact::Entity, other.clone())
                .and_where(
                    Expr::col((other.clone(), contact::Column::CustomerId))
                        .equals((contact::Entity, contact::Column::CustomerId)),
                )
                .and_where(
                    Expr::cust_with_expr(
                        "$1 || ''",
                        Expr::col((other.clone(), contact::Column::Kind)),
                    )
                    .eq(kind),
                )
                .and_where(Expr::col((other, contact::Column::Value)).gte(p));
            find = find.filter(
                value
                    .clone()
                    .eq(Expr::SubQuery(None, Box::new(smallest.into()))),
            );
        }
    }
    let id = Expr::col((contact::Entity, contact::Column::CustomerId));
    if let Some(a) = after {
        find = find.filter(
            Expr::tuple([value.clone(), id.clone()])
                .gt(Expr::tuple([Expr::value(a.v.clone()), Expr::value(a.id)])),
        );
    }
    find.order_by(value, Order::Asc)
        .order_by(id, Order::Asc)
        .limit(limit)
}

#[cfg(test)]
mod tests {
    use super::prefix_upper_bound;

    #[test]
    fn prefix_upper_bound_is_the_next_string_in_code_point_order() {
        assert_eq!(prefix_upper_bound("li").as_deref(), Some("lj"));
        assert_eq!(prefix_upper_bound("wé").as_deref(), Some("wê"));
        assert_eq!(
            prefix_upper_bound("a\u{d7ff}").as_deref(),
            Some("a\u{e000}")
        );
        assert_eq!(prefix_upper_bound("b\u{10ffff}").as_deref(), Some("c"));
        assert_eq!(prefix_upper_bound("\u{10ffff}"), None);
        for p in ["li", "wé", "zz"] {
            let upper = prefix_upper_bound(p).expect("bound");
            for s in [p.to_owned(), format!("{p} wei"), format!("{p}\u{10ffff}")] {
                assert!(s.as_str() >= p && s < upper, "{s:?} in [{p:?}, {upper:?})");
            }
        }
    }
}
