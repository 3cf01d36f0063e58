//! The access audit: who read, exported, erased, merged or adjusted a customer's data, and
//! when. One `access_records` table per service that holds personal data (migration
//! [`CreateAccessRecords`]); records hold identifiers only (subject, method, resource,
//! customer id), so they are kept when the customer is erased.
//!
//! - Mutations record inside their own transaction ([`record_in`]): no erasure without its
//!   record, no record of an erasure that rolled back.
//! - Reads go through the bounded, batched [`AccessLog`] writer (one insert per ~200 ms or
//!   500 records). A read that cannot be recorded within a second is refused UNAVAILABLE,
//!   reason [`AUDIT_BACKLOG`]: personal data is not served unaudited.
//! - [`grpc::list`] serves each service's `ListAccessRecords`.
mod entity;
pub mod grpc;
mod list;
mod migration;
#[cfg(test)]
mod tests;
mod writer;

pub use list::{AccessFilter, list};
pub use migration::CreateAccessRecords;
pub use writer::{AccessLog, WriterSettings};

use crate::auth::Principal;
use crate::error::Error;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use uuid::Uuid;

/// ErrorInfo reason of a read refused because its access record could not be queued.
pub const AUDIT_BACKLOG: &str = "AUDIT_BACKLOG";

/// Longest `detail` kept (characters); longer ones are cut.
pub const MAX_DETAIL_CHARS: usize = 200;
/// Longest subject or method kept (characters).
const MAX_IDENT_CHARS: usize = 256;

/// What was done with the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Export,
    Erase,
    Merge,
    Adjust,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Export => "export",
            Action::Erase => "erase",
            Action::Merge => "merge",
            Action::Adjust => "adjust",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            Action::Read,
            Action::Export,
            Action::Erase,
            Action::Merge,
            Action::Adjust,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// One access, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRecord {
    pub id: Uuid,
    pub record_time: DateTime<Utc>,
    pub subject: String,
    pub method: String,
    pub resource: String,
    pub customer: Option<Uuid>,
    pub action: Action,
    /// Bounded and never personal: counts, ids, codes.
    pub detail: String,
}

impl AccessRecord {
    /// An access of `who` through `method` (the full gRPC path) to `resource`, now.
    pub fn new(
        who: &Principal,
        method: &str,
        action: Action,
        resource: impl Into<String>,
        customer: Option<Uuid>,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            record_time: now_micros(),
            subject: bounded(&who.subject, MAX_IDENT_CHARS),
            method: bounded(method, MAX_IDENT_CHARS),
            resource: bounded(&resource.into(), MAX_IDENT_CHARS),
            customer,
            action,
            detail: String::new(),
        }
    }

    /// The same access reaching another customer's `resource` (a merge or an erasure
    /// reaches several), under its own id.
    pub fn about(&self, resource: impl Into<String>, customer: Uuid) -> Self {
        Self {
            id: Uuid::now_v7(),
            resource: bounded(&resource.into(), MAX_IDENT_CHARS),
            customer: Some(customer),
            ..self.clone()
        }
    }

    /// With a short non-personal `detail` (cut at [`MAX_DETAIL_CHARS`]).
    pub fn detail(mut self, detail: impl AsRef<str>) -> Self {
        self.detail = bounded(detail.as_ref(), MAX_DETAIL_CHARS);
        self
    }

    fn into_active(self) -> entity::ActiveModel {
        entity::ActiveModel {
            id: Set(self.id),
            record_time: Set(self.record_time),
            subject: Set(self.subject),
            method: Set(self.method),
            resource: Set(self.resource),
            customer_id: Set(self.customer),
            action: Set(self.action.as_str().to_owned()),
            detail: Set(self.detail),
        }
    }

    fn from_model(m: entity::Model) -> Result<Self, Error> {
        let action = Action::parse(&m.action)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("access record with unknown action")))?;
        Ok(Self {
            id: m.id,
            record_time: m.record_time,
            subject: m.subject,
            method: m.method,
            resource: m.resource,
            customer: m.customer_id,
            action,
            detail: m.detail,
        })
    }
}

/// Records `records` on `conn`: inside a mutation's transaction, so they commit with it.
pub async fn record_in(
    conn: &impl ConnectionTrait,
    records: impl IntoIterator<Item = AccessRecord>,
) -> Result<(), Error> {
    let rows: Vec<entity::ActiveModel> =
        records.into_iter().map(AccessRecord::into_active).collect();
    if rows.is_empty() {
        return Ok(());
    }
    entity::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await
        .map_err(Error::internal)?;
    Ok(())
}

/// Stored timestamps have microsecond precision (PostgreSQL's); cut before storing so a
/// record reads back as it was written.
fn now_micros() -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    let now = Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}

fn bounded(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
