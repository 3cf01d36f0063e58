//! Who sees personal values in clear (one place), and the access record of every answer
//! that carries them. In clear: a caller with `customers.pii.read`, a customer's own token
//! reading itself, and every caller when authentication is off (its principal has every
//! scope). Everyone else gets them masked ([`convert::masked`]).
use super::convert;
use super::policy::PII_READ;
use crate::domain::{Customer, CustomerId};
use crate::error::DOMAIN;
use crate::service::CustomersService;
use crm_platform::audit::{AccessRecord, Action};
use crm_platform::auth::Principal;
use crm_platform::grpc::IntoStatus;
use crm_proto::customers as pb;
use std::sync::Arc;
use tonic::{Request, Status};

/// The full gRPC path of a `CustomerService` method, as the access records name it.
macro_rules! method {
    ($name:literal) => {
        concat!("/crm.customers.v1.CustomerService/", $name)
    };
}
pub(super) use method;

/// Whether `who` may see `customer`'s personal values in clear.
pub fn may_see_pii(who: &Principal, customer: CustomerId) -> bool {
    who.has(PII_READ) || who.customer == Some(customer.0)
}

/// The caller of one call that answers with customers: shows them and records the reads.
pub(super) struct Reader {
    who: Arc<Principal>,
    method: &'static str,
}

impl Reader {
    pub fn of<T>(request: &Request<T>, method: &'static str) -> Self {
        Self {
            who: crm_platform::auth::caller(request),
            method,
        }
    }

    pub fn who(&self) -> &Principal {
        &self.who
    }

    /// `c` on the wire as this caller may see it.
    pub fn show(&self, c: &Customer) -> pb::Customer {
        self.show_as(c, c.id)
    }

    /// `c` as this caller may see it when it asked for `asked` (a merged-away customer's own
    /// token reading itself gets its survivor in clear).
    pub fn show_as(&self, c: &Customer, asked: CustomerId) -> pb::Customer {
        let wire = convert::customer(c);
        if self.clear(c.id, asked) {
            wire
        } else {
            convert::masked(wire)
        }
    }

    fn clear(&self, id: CustomerId, asked: CustomerId) -> bool {
        may_see_pii(&self.who, id) || may_see_pii(&self.who, asked)
    }

    /// An access record of this call about `customer` (resource: `resource`).
    pub fn access(&self, action: Action, resource: String, customer: CustomerId) -> AccessRecord {
        AccessRecord::new(&self.who, self.method, action, resource, Some(customer.0))
    }

    /// Records that this call answers with `customers` (queued; refused when the audit is
    /// behind, so nothing is answered unrecorded).
    pub async fn record_reads<'a>(
        &self,
        svc: &CustomersService,
        customers: impl IntoIterator<Item = &'a Customer>,
    ) -> Result<(), Status> {
        let records = customers
            .into_iter()
            .map(|c| {
                let r = self.access(Action::Read, c.id.name(), c.id);
                if self.clear(c.id, c.id) {
                    r
                } else {
                    r.detail("masked")
                }
            })
            .collect();
        svc.access().record_all(records).await.into_status(DOMAIN)
    }

    /// Records one read of `c` asked as `asked`.
    pub async fn record_read(
        &self,
        svc: &CustomersService,
        c: &Customer,
        asked: CustomerId,
    ) -> Result<(), Status> {
        let r = self.access(Action::Read, asked.name(), c.id);
        let r = if self.clear(c.id, asked) {
            r
        } else {
            r.detail("masked")
        };
        svc.access().record(r).await.into_status(DOMAIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_platform::auth::Proof;
    use std::collections::BTreeSet;

    fn principal(subject: &str, scopes: &[&str]) -> Principal {
        let scopes: BTreeSet<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        Principal::new(subject, scopes, Proof::Token)
    }

    #[test]
    fn pii_in_clear_with_the_scope_to_oneself_or_with_auth_off() {
        let (me, other) = (CustomerId::generate(), CustomerId::generate());
        assert!(may_see_pii(&principal("agent", &[PII_READ]), other));
        assert!(!may_see_pii(
            &principal("agent", &["customers.read"]),
            other
        ));
        let own = principal(&me.name(), &["customers.read"]);
        assert!(may_see_pii(&own, me));
        assert!(!may_see_pii(&own, other));
        assert!(may_see_pii(&Principal::unchecked(), other));
    }
}
