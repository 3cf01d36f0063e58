//! What each customer state allows, and what delete, undelete, merge and erase change. The
//! service loads the customer, asks here, and writes the result.
use super::erase::anonymise;
use super::{Customer, CustomerId, CustomerState};
use chrono::{DateTime, Utc};

/// Why a customer cannot take a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Soft-deleted: it has to be undeleted first.
    Deleted,
    /// Merged away: the survivor takes the change instead.
    Merged { survivor: CustomerId },
    /// Erased (or merged with no survivor on record): it never changes again.
    Erased,
    /// An undelete of a customer that is not deleted.
    NotDeleted,
}

impl Customer {
    /// Whether the customer takes profile changes, merges and activities: only an active one.
    pub fn writable(&self) -> Result<(), Refusal> {
        match (self.state, self.merged_into) {
            (CustomerState::Active, _) => Ok(()),
            (CustomerState::Deleted, _) => Err(Refusal::Deleted),
            (CustomerState::Merged, Some(survivor)) => Err(Refusal::Merged { survivor }),
            _ => Err(Refusal::Erased),
        }
    }

    /// Soft-deletes the customer (it must be writable).
    pub fn delete(&mut self, now: DateTime<Utc>) {
        self.state = CustomerState::Deleted;
        self.delete_time = Some(now);
    }

    /// Brings a soft-deleted customer back.
    pub fn undelete(&mut self) -> Result<(), Refusal> {
        if self.state != CustomerState::Deleted {
            return Err(Refusal::NotDeleted);
        }
        self.state = CustomerState::Active;
        self.delete_time = None;
        Ok(())
    }

    /// Marks a merged-away customer. Its external id goes, so the survivor can hold it.
    pub fn merge_into(&mut self, survivor: CustomerId) {
        self.state = CustomerState::Merged;
        self.merged_into = Some(survivor);
        self.profile.external_id = None;
    }

    /// Erases the customer: anonymised, state ERASED, its tombstone dated `now`. A deleted
    /// customer can be erased too; a merged one is erased through its survivor.
    pub fn erase(&mut self, now: DateTime<Utc>) -> Result<(), Refusal> {
        match (self.state, self.merged_into) {
            (CustomerState::Merged, Some(survivor)) => return Err(Refusal::Merged { survivor }),
            (CustomerState::Erased, _) => return Err(Refusal::Erased),
            _ => {}
        }
        self.profile = anonymise(&self.profile);
        self.state = CustomerState::Erased;
        self.delete_time = Some(now);
        Ok(())
    }

    /// Erases a customer merged into an erased survivor: its data goes, its state (MERGED,
    /// pointing at the survivor) stays so lookups still resolve.
    pub fn erase_merged(&mut self) {
        self.profile = anonymise(&self.profile);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Profile;
    use crate::domain::erase::ERASED_DISPLAY_NAME;
    use CustomerState::*;

    fn survivor() -> CustomerId {
        CustomerId(uuid::Uuid::from_u128(7))
    }

    fn customer(state: CustomerState, merged_into: Option<CustomerId>) -> Customer {
        let mut c = Customer::new(
            Profile {
                display_name: "Li Wei".into(),
                external_id: Some("u-1".into()),
                ..Default::default()
            },
            Utc::now(),
        );
        c.state = state;
        c.merged_into = merged_into;
        c
    }

    #[test]
    fn only_active_customers_are_writable() {
        let s = Some(survivor());
        let table = [
            (Active, None, Ok(())),
            (Deleted, None, Err(Refusal::Deleted)),
            (
                Merged,
                s,
                Err(Refusal::Merged {
                    survivor: survivor(),
                }),
            ),
            (Merged, None, Err(Refusal::Erased)),
            (Erased, None, Err(Refusal::Erased)),
        ];
        for (state, merged_into, want) in table {
            assert_eq!(
                customer(state, merged_into).writable(),
                want,
                "{state:?} {merged_into:?}"
            );
        }
    }

    #[test]
    fn only_deleted_customers_are_undeleted() {
        let now = Utc::now();
        for (state, want) in [
            (Deleted, Ok(())),
            (Active, Err(Refusal::NotDeleted)),
            (Merged, Err(Refusal::NotDeleted)),
            (Erased, Err(Refusal::NotDeleted)),
        ] {
            let mut c = customer(state, None);
            c.delete_time = Some(now);
            assert_eq!(c.undelete(), want, "{state:?}");
            if want.is_ok() {
                assert_eq!((c.state, c.delete_time), (Active, None));
            } else {
                assert_eq!((c.state, c.delete_time), (state, Some(now)), "unchanged");
            }
        }
        let mut c = customer(Active, None);
        c.delete(now);
        assert_eq!((c.state, c.delete_time), (Deleted, Some(now)));
    }

    #[test]
    fn erasure_by_state() {
        let now = Utc::now();
        let s = Some(survivor());
        let table = [
            (Active, None, Ok(())),
            (Deleted, None, Ok(())),
            // No survivor on record: nothing else could take the erasure.
            (Merged, None, Ok(())),
            (
                Merged,
                s,
                Err(Refusal::Merged {
                    survivor: survivor(),
                }),
            ),
            (Erased, None, Err(Refusal::Erased)),
        ];
        for (state, merged_into, want) in table {
            let mut c = customer(state, merged_into);
            assert_eq!(c.erase(now), want, "{state:?} {merged_into:?}");
            if want.is_ok() {
                assert_eq!((c.state, c.delete_time), (Erased, Some(now)));
                assert_eq!(c.profile.display_name, ERASED_DISPLAY_NAME);
                assert_eq!(c.profile.external_id, None);
            } else {
                assert_eq!(c.profile.display_name, "Li Wei", "unchanged");
            }
        }
    }

    #[test]
    fn merged_customers_point_at_the_survivor() {
        let mut c = customer(Active, None);
        c.merge_into(survivor());
        assert_eq!((c.state, c.merged_into), (Merged, Some(survivor())));
        assert_eq!(c.profile.external_id, None, "freed for the survivor");
        assert_eq!(c.profile.display_name, "Li Wei");
        c.erase_merged();
        assert_eq!((c.state, c.merged_into), (Merged, Some(survivor())));
        assert_eq!(c.profile.display_name, ERASED_DISPLAY_NAME);
    }
}
