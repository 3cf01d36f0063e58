//! The read queries of lists, searches and duplicates: each is one ordered index range (the
//! indexes are in migration `m20261201_000001`; the plans are asserted in the API tests).
use super::convert::customer_from_row;
use super::customers::{CONTACT_EMAIL, CONTACT_PHONE};
use super::entities::{contact, customer, tag};
use crate::domain::{Customer, CustomerId, CustomerState, LifecycleStage};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderField {
    CreateTime,
    UpdateTime,
    DisplayName,
}

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
pub async fn list(conn: &impl ConnectionTrait, q: &ListQuery) -> Result<Vec<Customer>, Error> {
    let rows = list_select(q)?.all(conn).await?;
    rows.into_iter().map(customer_from_row).collect()
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

/// Where the next page of duplicate candidates starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuplicateCursor {
    pub rank: i32,
    pub id: Uuid,
}

/// What a customer's duplicates share with it.
#[derive(Debug, Clone, Default)]
pub struct DuplicateKeys {
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    /// Full name key and birth date (both must match).
    pub name_and_birth_date: Option<(String, chrono::NaiveDate)>,
}

/// A page of active customers other than `except` sharing a key with it, strongest evidence
/// first (see `domain::duplicates::evidence_rank`), then by id. The database groups and ranks
/// the candidates; only one page is read.
pub async fn duplicate_page(
    conn: &impl ConnectionTrait,
    except: CustomerId,
    keys: &DuplicateKeys,
    after: Option<&DuplicateCursor>,
    limit: u64,
) -> Result<Vec<DuplicateCursor>, Error> {
    let backend = conn.get_database_backend();
    let mut values: Vec<sea_orm::Value> = Vec::new();
    let param = |v: sea_orm::Value, values: &mut Vec<sea_orm::Value>| {
        values.push(v);
        match backend {
            sea_orm::DbBackend::Postgres => format!("${}", values.len()),
            _ => "?".to_owned(),
        }
    };
    let mut sources = Vec::new();
    for (kind, list, flags) in [
        (CONTACT_EMAIL, &keys.emails, "1 AS e, 0 AS p, 0 AS n"),
        (CONTACT_PHONE, &keys.phones, "0 AS e, 1 AS p, 0 AS n"),
    ] {
        if list.is_empty() {
            continue;
        }
        let k = param(kind.into(), &mut values);
        let vals: Vec<String> = list
            .iter()
            .map(|x| param(x.clone().into(), &mut values))
            .collect();
        sources.push(format!(
            "SELECT customer_id, {flags} FROM customer_contacts WHERE kind = {k} AND value IN ({})",
            vals.join(", ")
        ));
    }
    if let Some((name, dob)) = &keys.name_and_birth_date {
        let n = param(name.clone().into(), &mut values);
        let d = param((*dob).into(), &mut values);
        sources.push(format!(
            "SELECT id AS customer_id, 0 AS e, 0 AS p, 1 AS n FROM customers WHERE full_name_key = {n} AND birth_date = {d}"
        ));
    }
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    let mut ranks = String::from("CASE");
    for bits in (1..8u8).rev() {
        let (e, p, n) = (bits & 4 != 0, bits & 2 != 0, bits & 1 != 0);
        let rank = crate::domain::duplicates::evidence_rank(e, p, n);
        ranks.push_str(&format!(
            " WHEN e = {} AND p = {} AND n = {} THEN {rank}",
            u8::from(e),
            u8::from(p),
            u8::from(n)
        ));
    }
    ranks.push_str(" END");
    let except_p = param(except.0.into(), &mut values);
    let active = param(CustomerState::Active.as_str().into(), &mut values);
    let page = match after {
        Some(c) => {
            let r = param(c.rank.into(), &mut values);
            let id = param(c.id.into(), &mut values);
            format!(" AND (k.rnk, k.customer_id) > ({r}, {id})")
        }
        None => String::new(),
    };
    let lim = param((limit as i64).into(), &mut values);
    let sql = format!(
        "SELECT k.customer_id AS customer_id, k.rnk AS rnk FROM (\
           SELECT customer_id, {ranks} AS rnk FROM (\
             SELECT customer_id, MAX(e) AS e, MAX(p) AS p, MAX(n) AS n FROM (\
               {}\
             ) AS s GROUP BY customer_id\
           ) AS f\
         ) AS k JOIN customers c ON c.id = k.customer_id \
         WHERE c.id <> {except_p} AND c.state = {active}{page} \
         ORDER BY k.rnk, k.customer_id LIMIT {lim}",
        sources.join(" UNION ALL ")
    );
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            backend, sql, values,
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(DuplicateCursor {
                id: r.try_get("", "customer_id")?,
                rank: r.try_get("", "rnk")?,
            })
        })
        .collect::<Result<_, sea_orm::DbErr>>()
        .map_err(Into::into)
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
