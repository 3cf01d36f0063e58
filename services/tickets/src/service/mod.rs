//! The ticket use cases. No tonic or proto types here: the gRPC adapter parses requests into
//! these types, calls these methods and converts the results back.
//!
//! Every mutation runs in one database transaction that first claims its request id
//! (idempotency), then locks the rows it changes, applies the domain rules and writes with a
//! revision check, then appends the events it publishes to the outbox ([`crate::events`]) in
//! that transaction: a refused or replayed call publishes nothing. Calls to other services
//! never happen while a transaction (a pooled connection, a row lock) is open: questions
//! (customer check, loyalty tier, macro values) are asked before it opens. Goodwill points
//! travel as an event (SatisfactionSubmitted), never as a call.
mod csat;
mod customer_events;
mod jobs;
mod messages;
mod org;
mod stats;
mod tickets;

pub use customer_events::CustomerFacts;
pub use messages::NewMessage;
pub use stats::{DurationStats, GroupStats, TicketStats};

use crate::clients::Clients;
use crate::domain::routing::{self, Candidate};
use crate::domain::{
    AgentId, Calendar, Category, SlaPolicy, Status, TeamId, Ticket, TicketId, sla,
};
use crate::error;
use crate::events::{self, TicketEvents};
use crate::settings::TicketsSettings;
use crate::store;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::idempotency::IdempotencyKey;
use crm_platform::mutation::{Mutation, Mutations};
use crm_platform::page_token::PageTokens;
pub use crm_platform::paging::Page;
use crm_platform::paging::Paging;
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use serde::Serialize;
use std::sync::Arc;

#[derive(Clone)]
pub struct TicketsService {
    db: DatabaseConnection,
    writes: Mutations,
    tokens: PageTokens,
    paging: Paging,
    cfg: Arc<TicketsSettings>,
    calendar: Arc<Calendar>,
    clients: Clients,
    /// Where each mutation appends its events, in its own transaction.
    events: TicketEvents,
}

impl TicketsService {
    pub fn new(
        db: DatabaseConnection,
        tokens: PageTokens,
        cfg: TicketsSettings,
        clients: Clients,
        events: TicketEvents,
    ) -> anyhow::Result<Self> {
        let calendar = cfg.calendar.calendar()?;
        Ok(Self {
            writes: Mutations::new(db.clone()),
            db,
            tokens,
            paging: cfg.paging(),
            cfg: Arc::new(cfg),
            calendar: Arc::new(calendar),
            clients,
            events,
        })
    }

    /// What one request may carry.
    pub fn limits(&self) -> &crate::settings::Limits {
        &self.cfg.limits
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    fn page_size(&self, requested: u32) -> u64 {
        self.paging.limit(requested)
    }

    fn policy(&self, t: &Ticket) -> Result<&SlaPolicy, Error> {
        sla::select(&self.cfg.sla_policies, t.priority, t.category)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("no SLA policy matches")))
    }

    /// Re-picks the SLA policy after a change of priority or category and re-times the
    /// targets still running (see [`SlaTrack::repolicy`](crate::domain::SlaTrack::repolicy)).
    fn repolicy(&self, t: &mut Ticket, now: DateTime<Utc>) -> Result<(), Error> {
        let new = self.policy(t)?;
        let old = self
            .cfg
            .sla_policies
            .iter()
            .find(|p| p.name == t.sla.policy);
        t.sla.repolicy(old, new, &self.calendar, t.create_time, now);
        Ok(())
    }

    crm_platform::write_path!(writes);

    /// Stores the response with the mutation and commits (tickets caches nothing).
    async fn commit<T: Serialize>(
        &self,
        txn: DatabaseTransaction,
        key: &IdempotencyKey,
        resource: &str,
        value: T,
    ) -> Result<T, Error> {
        self.writes
            .commit(txn, key, Mutation::new(resource, value))
            .await
    }

    /// The team that routes `category`, if any.
    async fn team_for(
        &self,
        txn: &DatabaseTransaction,
        category: Category,
    ) -> Result<Option<crate::domain::Team>, Error> {
        match store::claim_holder(txn, store::Claim::Category(category)).await? {
            Some(id) => store::find_team(txn, id).await,
            None => Ok(None),
        }
    }

    /// Picks and claims an agent of `team` for a ticket of `category`: candidates in the
    /// team's order, a page at a time, each claimed with a conditional increment (the first
    /// that succeeds).
    async fn route_within(
        &self,
        txn: &DatabaseTransaction,
        team: TeamId,
        category: Category,
        now: DateTime<Utc>,
    ) -> Result<Option<AgentId>, Error> {
        const PAGE: u64 = 200;
        let Some(team) = store::find_team(txn, team).await? else {
            return Ok(None);
        };
        let skill = team.category_skills.get(&category).map(String::as_str);
        let mut offset = 0;
        loop {
            let agents =
                store::routing_candidates(txn, team.id, team.routing_strategy, offset, PAGE)
                    .await?;
            let n = agents.len() as u64;
            let candidates: Vec<Candidate> = agents
                .into_iter()
                .map(|a| Candidate {
                    id: a.id,
                    open_tickets: a.open_tickets,
                    max_open_tickets: a.max_open_tickets,
                    available: a.available,
                    skills: a.skills,
                    last_assigned: a.last_assigned,
                })
                .collect();
            for id in routing::order(team.routing_strategy, &candidates, skill) {
                if store::claim_capacity(txn, id, now).await? {
                    return Ok(Some(id));
                }
            }
            if n < PAGE {
                return Ok(None);
            }
            offset += PAGE;
        }
    }

    /// Routes a ticket by its category: the category's team, then an agent in it.
    async fn route(
        &self,
        txn: &DatabaseTransaction,
        t: &mut Ticket,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        if let Some(team) = self.team_for(txn, t.category).await? {
            t.team = Some(team.id);
            t.assignee = self.route_within(txn, team.id, t.category, now).await?;
        }
        Ok(())
    }

    /// Loads a ticket for writing.
    async fn lock(&self, txn: &DatabaseTransaction, id: TicketId) -> Result<Ticket, Error> {
        store::lock_ticket(txn, id)
            .await?
            .ok_or_else(|| error::not_found(id))
    }

    /// Writes a changed ticket (revision + 1, compared in the statement) and, when its status
    /// moved from `from` (as loaded), the facts of that move by `actor` (empty: the service).
    /// Every write of a ticket goes through here, so every status change is published.
    async fn save(
        &self,
        txn: &DatabaseTransaction,
        t: &mut Ticket,
        from: Status,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        t.revision += 1;
        t.update_time = now;
        if !store::update_ticket(txn, t, now, &self.calendar).await? {
            return Err(Error::etag_mismatch());
        }
        self.events
            .append(txn, t.id, events::moved(from, t, actor, now))
            .await
    }
}
