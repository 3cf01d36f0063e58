//! Tickets: create, read, list, update, status, assignment, merge.
use super::{Page, TicketsService};
use crate::clients::CustomerLookup;
use crate::domain::assignment::{self, Assign, Refusal};
use crate::domain::status::{self, Capacity};
use crate::domain::{
    CustomerCheck, CustomerId, NewTicket, SlaRules, Status, Ticket, TicketId, TicketPatch,
    TicketQuery, intake, now, sla,
};
use crate::error;
use crate::events;
use crate::store;
use chrono::{DateTime, Duration, Utc};
use crm_platform::idempotency::{Begun, IdempotencyKey};
use crm_platform::page_token::PageTokens;
use crm_platform::{Error, etag};
use sea_orm::DatabaseTransaction;

/// A ticket mutation opened by [`TicketsService::edit`].
enum Edit {
    /// The request ran before: its answer.
    Replay(Ticket),
    /// The transaction, with the ticket locked and its etag checked.
    Fresh(DatabaseTransaction, Ticket),
}

impl TicketsService {
    /// How long after solving a caller may reopen a ticket.
    pub(super) fn reopen_window(&self) -> Duration {
        Duration::hours(self.cfg.reopen_window_hours)
    }

    /// The SLA policy of `t` and the calendar, for the rules that move its targets.
    pub(super) fn sla_rules(&self, t: &Ticket) -> Result<SlaRules<'_>, Error> {
        Ok(SlaRules {
            policy: self.policy(t)?,
            calendar: &self.calendar,
        })
    }

    /// Opens a mutation of ticket `id` guarded by `key` and the caller's etag.
    async fn edit(
        &self,
        key: &IdempotencyKey,
        id: TicketId,
        sent_etag: &str,
    ) -> Result<Edit, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(Edit::Replay(previous)),
            Begun::Fresh(txn) => txn,
        };
        let t = self.lock(&txn, id).await?;
        etag::check(sent_etag, t.revision)?;
        Ok(Edit::Fresh(txn, t))
    }

    pub async fn create_ticket(
        &self,
        key: &IdempotencyKey,
        new: NewTicket,
    ) -> Result<Ticket, Error> {
        if let Some(previous) = crm_platform::idempotency::stored(&self.db, key).await? {
            return Ok(previous);
        }
        // Questions for other services first, outside the transaction.
        let asked = new.customer.name();
        let (customer, check) = match self.clients.customer(new.customer).await {
            // A merged-away customer's ticket is filed under the survivor.
            CustomerLookup::Found { id, .. } => (id, CustomerCheck::Verified),
            CustomerLookup::NotFound => return Err(error::customer_not_found(&asked)),
            CustomerLookup::Erased => return Err(error::customer_erased(&asked)),
            CustomerLookup::Deleted => return Err(error::customer_deleted(&asked)),
            CustomerLookup::Unknown => (new.customer, CustomerCheck::Unverified),
        };
        let tier = self.clients.tier(customer).await;
        let priority = intake::priority(new.priority, tier.as_deref(), &self.cfg.priority_tiers);
        let policy = sla::select(&self.cfg.sla_policies, priority, new.category)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("no SLA policy matches")))?;
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let now = now();
        let rules = SlaRules {
            policy,
            calendar: &self.calendar,
        };
        let mut t = new.open(customer, check, priority, now, rules);
        self.route(&txn, &mut t, now).await?;
        store::insert_ticket(&txn, &t, now, &self.calendar).await?;
        self.events
            .append(&txn, t.id, vec![events::created(&t)])
            .await?;
        let name = t.id.name();
        self.commit(txn, key, &name, t).await
    }

    /// The object-level rule of a customer's own token: `owner`, when set, must be the
    /// ticket's customer (a ticket that does not exist is refused the same way).
    pub async fn require_owner(
        &self,
        id: TicketId,
        owner: Option<CustomerId>,
    ) -> Result<(), Error> {
        let Some(owner) = owner else { return Ok(()) };
        match store::find_ticket(&self.db, id).await? {
            Some(t) if t.customer == owner => Ok(()),
            _ => Err(error::not_own_resource()),
        }
    }

    pub async fn get_ticket(&self, id: TicketId) -> Result<Ticket, Error> {
        store::find_ticket(&self.db, id)
            .await?
            .ok_or_else(|| error::not_found(id))
    }

    pub async fn list_tickets(
        &self,
        q: &TicketQuery,
        page_size: u32,
        page_token: &str,
    ) -> Result<Page<Ticket>, Error> {
        let opt = |s: Option<&str>| s.unwrap_or("").to_owned();
        let fingerprint = PageTokens::fingerprint(&[
            "tickets",
            &opt(q.status.map(|v| v.as_str())),
            &opt(q.priority.map(|v| v.as_str())),
            &q.team.map(|v| v.name()).unwrap_or_default(),
            &q.assignee.map(|v| v.name()).unwrap_or_default(),
            &q.customer.map(|v| v.name()).unwrap_or_default(),
            &opt(q.channel.map(|v| v.as_str())),
            &opt(q.category.map(|v| v.as_str())),
            &opt(q.sla_state.map(|v| v.as_str())),
            &q.created_after.map(|t| t.to_rfc3339()).unwrap_or_default(),
            &q.created_before.map(|t| t.to_rfc3339()).unwrap_or_default(),
        ]);
        let cursor: Option<(DateTime<Utc>, uuid::Uuid)> =
            self.tokens.decode(page_token, &fingerprint)?;
        let limit = self.page_size(page_size);
        let mut rows = store::list_tickets(&self.db, q, cursor, limit + 1, now()).await?;
        let next = self
            .tokens
            .next_page(&mut rows, limit, &fingerprint, |t| (t.create_time, t.id.0));
        Ok(Page {
            items: rows,
            next_page_token: next,
        })
    }

    pub async fn update_ticket(
        &self,
        key: &IdempotencyKey,
        id: TicketId,
        sent_etag: &str,
        patch: TicketPatch,
    ) -> Result<Ticket, Error> {
        let (txn, mut t) = match self.edit(key, id, sent_etag).await? {
            Edit::Replay(previous) => return Ok(previous),
            Edit::Fresh(txn, t) => (txn, t),
        };
        let now = now();
        if t.status == Status::Closed {
            return Err(error::closed(&id.name()));
        }
        let from = t.status;
        patch.apply(&mut t);
        self.repolicy(&mut t, now)?;
        self.save(&txn, &mut t, from, "", now).await?;
        self.commit(txn, key, &id.name(), t).await
    }

    /// Moves `t` to `to` with every effect (see [`status::apply`]); the reopen window
    /// applies when `enforce_window` (a caller's move, not the service's own).
    pub(super) async fn transition(
        &self,
        txn: &DatabaseTransaction,
        t: &mut Ticket,
        to: Status,
        now: DateTime<Utc>,
        enforce_window: bool,
    ) -> Result<(), Error> {
        let window = enforce_window.then(|| self.reopen_window());
        let capacity =
            status::apply(t, to, now, window, self.sla_rules(t)?).map_err(error::transition)?;
        self.apply_capacity(txn, t, capacity, now).await
    }

    /// Keeps the assignee's open-ticket count: a reopened ticket whose agent is full now goes
    /// back to its team's queue.
    pub(super) async fn apply_capacity(
        &self,
        txn: &DatabaseTransaction,
        t: &mut Ticket,
        capacity: Capacity,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        match capacity {
            Capacity::Unchanged => {}
            Capacity::Release(a) => store::release_capacity(txn, a).await?,
            Capacity::Claim(a) => {
                if !store::claim_capacity(txn, a, now).await? {
                    t.assignee = match t.team {
                        Some(team) => self.route_within(txn, team, t.category, now).await?,
                        None => None,
                    };
                }
            }
        }
        Ok(())
    }

    /// Moves a ticket to `to` on a caller's request; `actor` is who asked (published with
    /// the move).
    pub async fn change_status(
        &self,
        key: &IdempotencyKey,
        id: TicketId,
        to: Status,
        sent_etag: &str,
        actor: &str,
    ) -> Result<Ticket, Error> {
        let (txn, mut t) = match self.edit(key, id, sent_etag).await? {
            Edit::Replay(previous) => return Ok(previous),
            Edit::Fresh(txn, t) => (txn, t),
        };
        let now = now();
        let from = t.status;
        self.transition(&txn, &mut t, to, now, true).await?;
        self.save(&txn, &mut t, from, actor, now).await?;
        self.commit(txn, key, &id.name(), t).await
    }

    pub async fn assign(
        &self,
        key: &IdempotencyKey,
        id: TicketId,
        how: Assign,
        sent_etag: &str,
    ) -> Result<Ticket, Error> {
        let (txn, mut t) = match self.edit(key, id, sent_etag).await? {
            Edit::Replay(previous) => return Ok(previous),
            Edit::Fresh(txn, t) => (txn, t),
        };
        let now = now();
        let status = t.status;
        let refused = |r| match r {
            Refusal::NotOpen => error::not_open(&id.name(), status.as_str()),
            Refusal::NotAMember { agent, team } => {
                Error::invalid_field("agent", format!("{agent} is not a member of {team}"))
            }
        };
        assignment::assignable(&t).map_err(refused)?;
        let previous = t.assignee;
        match how {
            Assign::Agent(a, team) => {
                let agent = store::find_agent(&txn, a)
                    .await?
                    .ok_or_else(|| error::not_found(a))?;
                let handover = assignment::to_agent(&t, a, agent.team, team).map_err(refused)?;
                if let Some(to) = handover.claim
                    && !store::claim_capacity(&txn, to, now).await?
                {
                    return Err(error::at_capacity(&to.name()));
                }
                if let Some(p) = handover.release {
                    store::release_capacity(&txn, p).await?;
                }
                t.team = Some(agent.team);
                t.assignee = Some(a);
            }
            Assign::Team(team) => {
                if store::find_team(&txn, team).await?.is_none() {
                    return Err(error::not_found(team));
                }
                if let Some(p) = previous {
                    store::release_capacity(&txn, p).await?;
                }
                t.team = Some(team);
                t.assignee = self.route_within(&txn, team, t.category, now).await?;
            }
            Assign::Reroute => {
                if let Some(p) = previous {
                    store::release_capacity(&txn, p).await?;
                }
                t.team = None;
                t.assignee = None;
                self.route(&txn, &mut t, now).await?;
            }
        }
        self.save(&txn, &mut t, status, "", now).await?;
        self.commit(txn, key, &id.name(), t).await
    }

    pub async fn merge(
        &self,
        key: &IdempotencyKey,
        target: TicketId,
        source: TicketId,
    ) -> Result<Ticket, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let now = now();
        // Lock in id order so two opposite merges cannot deadlock.
        let (first, second) = if target.0 < source.0 {
            (target, source)
        } else {
            (source, target)
        };
        let a = self.lock(&txn, first).await?;
        let b = self.lock(&txn, second).await?;
        let (mut t, mut s) = if first == target { (a, b) } else { (b, a) };
        for x in [&t, &s] {
            if x.status == Status::Closed {
                return Err(error::closed(&x.id.name()));
            }
        }
        if t.customer != s.customer {
            return Err(error::customer_mismatch(
                format!("{target} and {source} belong to different customers"),
                &t.customer.name(),
            ));
        }
        let (source_was, target_was) = (s.status, t.status);
        let moved = store::move_messages(&txn, source, target).await?;
        self.note(
            &txn,
            target,
            format!("Merged {source} into this ticket ({moved} messages moved)."),
            now,
        )
        .await?;
        self.note(&txn, source, format!("Merged into {target}."), now)
            .await?;
        self.transition(&txn, &mut s, Status::Closed, now, false)
            .await?;
        s.merged_into = Some(target);
        t.merged_from.push(source);
        self.save(&txn, &mut s, source_was, "", now).await?;
        self.save(&txn, &mut t, target_was, "", now).await?;
        self.commit(txn, key, &target.name(), t).await
    }
}
