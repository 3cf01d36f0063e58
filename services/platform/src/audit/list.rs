//! Listing access records, newest first, by customer, caller and time range.
use super::AccessRecord;
use super::entity::{Column, Entity};
use crate::error::Error;
use crate::page_token::PageTokens;
use crate::paging::Page;
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

/// Which records to list; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessFilter {
    pub customer: Option<Uuid>,
    pub subject: Option<String>,
    /// Inclusive.
    pub start: Option<DateTime<Utc>>,
    /// Exclusive.
    pub end: Option<DateTime<Utc>>,
}

impl AccessFilter {
    /// What a page token is bound to.
    fn fingerprint(&self) -> String {
        let customer = self.customer.map(|c| c.to_string()).unwrap_or_default();
        let start = self.start.map(|t| t.to_rfc3339()).unwrap_or_default();
        let end = self.end.map(|t| t.to_rfc3339()).unwrap_or_default();
        PageTokens::fingerprint(&[
            "access_records",
            &customer,
            self.subject.as_deref().unwrap_or_default(),
            &start,
            &end,
        ])
    }
}

/// One page of at most `limit` records matching `filter`, after `page_token`.
pub async fn list(
    db: &DatabaseConnection,
    tokens: &PageTokens,
    filter: &AccessFilter,
    limit: u64,
    page_token: &str,
) -> Result<Page<AccessRecord>, Error> {
    let query = filter.fingerprint();
    let after: Option<(DateTime<Utc>, Uuid)> = tokens.decode(page_token, &query)?;
    let mut select = Entity::find();
    if let Some(c) = filter.customer {
        select = select.filter(Column::CustomerId.eq(c));
    }
    if let Some(s) = &filter.subject {
        select = select.filter(Column::Subject.eq(s.as_str()));
    }
    if let Some(t) = filter.start {
        select = select.filter(Column::RecordTime.gte(t));
    }
    if let Some(t) = filter.end {
        select = select.filter(Column::RecordTime.lt(t));
    }
    if let Some((time, id)) = after {
        select = select.filter(
            Condition::any().add(Column::RecordTime.lt(time)).add(
                Condition::all()
                    .add(Column::RecordTime.eq(time))
                    .add(Column::Id.lt(id)),
            ),
        );
    }
    let rows = select
        .order_by_desc(Column::RecordTime)
        .order_by_desc(Column::Id)
        .limit(limit + 1)
        .all(db)
        .await
        .map_err(Error::internal)?;
    let mut items = rows
        .into_iter()
        .map(AccessRecord::from_model)
        .collect::<Result<Vec<_>, _>>()?;
    let next_page_token = tokens.next_page(&mut items, limit, &query, |r| (r.record_time, r.id));
    Ok(Page {
        items,
        next_page_token,
    })
}
