//! The erasure status: completions reported by the other services (consumed in the
//! handler's transaction) and the status a data-protection officer reads.
use super::CustomersService;
use crate::domain::erasure::{self, Completion, Erasure, ErasureStatus, Found, Ignored};
use crate::domain::{self, Customer, CustomerId, CustomerState};
use crate::error;
use crate::store::{customers as store, erasures};
use crm_platform::Error;
use sea_orm::ConnectionTrait;

/// What became of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    Stored,
    /// Its service had reported this customer already; the first report stays.
    AlreadyReported,
    Ignored(Ignored),
}

impl CustomersService {
    /// The services an erasure waits for, in configuration order.
    pub fn reporting_services(&self) -> &[String] {
        &self.cfg.erasure.reporting_services
    }

    /// Stores `report`, read on the stream of service `stream`, in `conn` (the consumer's
    /// transaction) when it answers the named customer's erasure. Nothing is cached about
    /// completions, so the next status read sees it once this commits.
    pub async fn record_completion(
        &self,
        conn: &impl ConnectionTrait,
        stream: &str,
        report: &Completion,
    ) -> Result<Recorded, Error> {
        let pii = self.keys().await?;
        let found = match store::find(conn, &pii, report.customer).await? {
            None => Found::Unknown,
            Some(c) if c.state != CustomerState::Erased => Found::NotErased,
            Some(c) => Found::Erased(erasure_of(conn, &c).await?),
        };
        if let Err(why) = erasure::check(report, stream, self.reporting_services(), found) {
            return Ok(Recorded::Ignored(why));
        }
        Ok(
            match erasures::add_completion(conn, report, domain::now()).await? {
                true => Recorded::Stored,
                false => Recorded::AlreadyReported,
            },
        )
    }

    /// The erasure status of `id`, or of the erased customer it was merged into. The
    /// customer is read through the cache (an erased one never changes again); its
    /// completions from the database, so a report is visible as soon as it committed.
    pub async fn erasure_status(&self, id: CustomerId) -> Result<ErasureStatus, Error> {
        let c = self.resolve(id).await?;
        if c.state != CustomerState::Erased {
            return Err(error::not_erased(c.id));
        }
        self.erasure_status_of(&c).await
    }

    /// The status of `c`, which is erased.
    pub(super) async fn erasure_status_of(&self, c: &Customer) -> Result<ErasureStatus, Error> {
        let db = &self.core.db;
        let erasure = erasure_of(db, c).await?;
        let reports = erasures::completions(db, c.id, self.reporting_services()).await?;
        Ok(ErasureStatus::of(
            erasure,
            self.reporting_services(),
            reports,
        ))
    }
}

/// The erasure of `c` (erased): its recorded event, or for an erasure committed before
/// erasures were recorded, its time alone.
async fn erasure_of(conn: &impl ConnectionTrait, c: &Customer) -> Result<Erasure, Error> {
    Ok(match erasures::find_erasure(conn, c.id).await? {
        Some((event_id, erase_time)) => Erasure {
            customer: c.id,
            erase_time,
            event_id: Some(event_id),
        },
        None => Erasure {
            customer: c.id,
            erase_time: c.delete_time.unwrap_or(c.update_time),
            event_id: None,
        },
    })
}
