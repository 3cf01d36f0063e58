//! Filing a ticket and settling its customer: the priority a customer's loyalty tier earns, a
//! new ticket's starting state, and what a late answer of the customers service changes.
use super::{
    CustomerCheck, CustomerId, NewTicket, Priority, SlaRules, SlaTrack, Status, Ticket, TicketId,
};
use chrono::{DateTime, Utc};

/// The requested priority, one level up for a customer in one of `priority_tiers`.
pub fn priority(requested: Priority, tier: Option<&str>, priority_tiers: &[String]) -> Priority {
    match tier {
        Some(tier) if priority_tiers.iter().any(|t| t == tier) => requested.bumped(),
        _ => requested,
    }
}

impl NewTicket {
    /// The ticket as filed at `now` for `customer` (checked as `check`), with the `priority`
    /// it earns: new, unrouted, its SLA started under `sla` (the policy of that priority and
    /// the ticket's category).
    pub fn open(
        self,
        customer: CustomerId,
        check: CustomerCheck,
        priority: Priority,
        now: DateTime<Utc>,
        sla: SlaRules<'_>,
    ) -> Ticket {
        Ticket {
            id: TicketId::generate(),
            customer,
            channel: self.channel,
            category: self.category,
            priority,
            status: Status::New,
            subject: self.subject,
            description: self.description,
            tags: self.tags,
            team: None,
            assignee: None,
            order_id: self.order_id,
            booking_id: self.booking_id,
            customer_check: check,
            sla: SlaTrack::start(sla.policy, sla.calendar, now),
            create_time: now,
            update_time: now,
            first_response_time: None,
            solve_time: None,
            close_time: None,
            merged_into: None,
            merged_from: Vec::new(),
            escalations: 0,
            survey_token: String::new(),
            survey: 0,
            revision: 1,
        }
    }
}

/// What a late answer about an unverified ticket's customer changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Settled before (another pass): nothing changed.
    Already,
    /// Settled now, with the note for the ticket's thread (none when simply verified).
    Now(Option<String>),
}

/// The system note of a ticket moved from a merged-away customer to its survivor.
pub fn merged_note(loser: CustomerId, survivor: CustomerId) -> String {
    format!("{loser} was merged into {survivor}; the ticket moved to it.")
}

/// Settles the customer of `t` with the customers service's answer: `check`, and the
/// surviving customer (itself unless it was merged into another, which then takes the ticket).
pub fn settle_customer(t: &mut Ticket, check: CustomerCheck, survivor: CustomerId) -> Settled {
    if t.customer_check != CustomerCheck::Unverified {
        return Settled::Already;
    }
    t.customer_check = check;
    let c = t.customer;
    let note = match check {
        CustomerCheck::NotFound => Some(format!("The customers service does not know {c}.")),
        CustomerCheck::Erased => Some(format!("{c} was erased.")),
        CustomerCheck::Deleted => Some(format!("{c} is deleted.")),
        _ if survivor != c => Some(merged_note(c, survivor)),
        _ => None,
    };
    t.customer = survivor;
    Settled::Now(note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{at, calendar, customer, policy, rules, ticket};
    use crate::domain::{Category, Channel, SlaState};

    #[test]
    fn tiers_that_raise_the_priority() {
        let tiers = ["gold".to_owned(), "platinum".to_owned()];
        // (requested, tier, configured tiers, priority)
        let table: [(Priority, Option<&str>, &[String], Priority); 7] = [
            (Priority::Low, Some("gold"), &tiers, Priority::Normal),
            (Priority::Normal, Some("platinum"), &tiers, Priority::High),
            (Priority::Urgent, Some("gold"), &tiers, Priority::Urgent),
            (Priority::Normal, Some("silver"), &tiers, Priority::Normal),
            (Priority::Normal, Some("Gold"), &tiers, Priority::Normal),
            (Priority::Normal, None, &tiers, Priority::Normal),
            (Priority::High, Some("gold"), &[], Priority::High),
        ];
        for (requested, tier, configured, want) in table {
            assert_eq!(
                priority(requested, tier, configured),
                want,
                "{requested:?} {tier:?}"
            );
        }
    }

    #[test]
    fn a_new_ticket_starts_its_sla() {
        let new = NewTicket {
            customer: customer(),
            channel: Channel::Chat,
            category: Category::Billing,
            priority: Priority::Normal,
            subject: "Refund".into(),
            description: String::new(),
            tags: vec!["vip".into()],
            order_id: "o-1".into(),
            booking_id: String::new(),
        };
        let (p, cal) = (policy(), calendar());
        let t = new.open(
            customer(),
            CustomerCheck::Unverified,
            Priority::High,
            at(0),
            rules(&p, &cal),
        );
        assert_eq!(
            (t.status, t.priority, t.customer_check),
            (Status::New, Priority::High, CustomerCheck::Unverified)
        );
        assert_eq!(
            (t.channel, t.category, t.subject.as_str()),
            (Channel::Chat, Category::Billing, "Refund")
        );
        assert_eq!(
            (t.team, t.assignee, t.revision, t.survey, t.escalations),
            (None, None, 1, 0, 0)
        );
        assert_eq!(
            (t.create_time, t.update_time, t.first_response_time),
            (at(0), at(0), None)
        );
        assert_eq!(
            (
                t.sla.policy.as_str(),
                t.sla.first_response_due,
                t.sla.resolution_due
            ),
            ("default", Some(at(1)), Some(at(10)))
        );
        assert_eq!(t.sla.state(at(0)), SlaState::Active);
        assert_eq!(
            (t.tags, t.order_id),
            (vec!["vip".to_owned()], "o-1".to_owned())
        );
    }

    #[test]
    fn settling_the_customer() {
        use CustomerCheck::{Deleted, Erased, NotFound, Verified};
        let c = customer();
        let survivor = CustomerId(uuid::Uuid::from_u128(2));
        let unverified = || {
            let mut t = ticket(Status::Open);
            t.customer_check = CustomerCheck::Unverified;
            t
        };
        let note = |s: String| Settled::Now(Some(s));
        // (case, ticket, answer, survivor, what changed, customer and check then)
        #[rustfmt::skip]
        let table = [
            ("verified", unverified(), Verified, c, Settled::Now(None), c, Verified),
            ("merged into another", unverified(), Verified, survivor,
                note(format!("{c} was merged into {survivor}; the ticket moved to it.")), survivor, Verified),
            ("unknown", unverified(), NotFound, c, note(format!("The customers service does not know {c}.")), c, NotFound),
            ("erased", unverified(), Erased, c, note(format!("{c} was erased.")), c, Erased),
            ("deleted", unverified(), Deleted, c, note(format!("{c} is deleted.")), c, Deleted),
            ("settled before", ticket(Status::Open), Erased, survivor, Settled::Already, c, Verified),
        ];
        for (case, mut t, check, to, want, customer_then, check_then) in table {
            assert_eq!(settle_customer(&mut t, check, to), want, "{case}");
            assert_eq!(
                (t.customer, t.customer_check),
                (customer_then, check_then),
                "{case}"
            );
        }
    }
}
