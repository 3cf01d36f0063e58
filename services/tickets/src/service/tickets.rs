//! Tickets: create, read, list, update, thread, status, assignment, merge, macros.
use super::{Page, TicketsService};
use crate::clients::CustomerLookup;
use crate::domain::status;
use crate::domain::{
    AgentId, Attachment, Author, CustomerCheck, CustomerId, Message, MessageId, MessageKind,
    NewTicket, SlaTrack, Status, Target, TeamId, Ticket, TicketId, TicketPatch, macros, now,
};
use crate::error;
use crate::store::{self, TicketQuery};
use chrono::{DateTime, Duration, Utc};
use crm_platform::idempotency::{Begun, IdempotencyKey};
use crm_platform::page_token::PageTokens;
use crm_platform::{Error, etag};
use sea_orm::DatabaseTransaction;
use std::collections::BTreeMap;

/// A message as written by a caller.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub kind: MessageKind,
    pub author: Author,
    pub body: String,
    pub attachments: Vec<Attachment>,
}

/// What AssignTicket asks for.
#[derive(Debug, Clone, Copy)]
pub enum Assign {
    /// Route again by the rules.
    Reroute,
    /// Any available agent of this team.
    Team(TeamId),
    /// This agent (in this team, when given).
    Agent(AgentId, Option<TeamId>),
}

fn uuid_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A ticket mutation opened by [`TicketsService::edit`].
enum Edit {
    /// The request ran before: its answer.
    Replay(Ticket),
    /// The transaction, with the ticket locked and its etag checked.
    Fresh(DatabaseTransaction, Ticket),
}

impl TicketsService {
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
        let mut priority = new.priority;
        if let Some(tier) = self.clients.tier(customer).await
            && self.cfg.priority_tiers.contains(&tier)
        {
            priority = priority.bumped();
        }
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let now = now();
        let mut t = Ticket {
            id: TicketId::generate(),
            customer,
            channel: new.channel,
            category: new.category,
            priority,
            status: Status::New,
            subject: new.subject,
            description: new.description,
            tags: new.tags,
            team: None,
            assignee: None,
            order_id: new.order_id,
            booking_id: new.booking_id,
            customer_check: check,
            sla: SlaTrack::none(""),
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
        };
        t.sla = SlaTrack::start(self.policy(&t)?, &self.calendar, now);
        self.route(&txn, &mut t, now).await?;
        store::insert_ticket(&txn, &t, now, &self.calendar).await?;
        let name = t.id.name();
        self.commit(txn, key, &name, t).await
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
        patch.apply(&mut t);
        self.repolicy(&mut t, now)?;
        self.save(&txn, &mut t, now).await?;
        self.commit(txn, key, &id.name(), t).await
    }

    /// Applies the effects of a message on its ticket and stores both.
    async fn post(
        &self,
        txn: &DatabaseTransaction,
        t: &mut Ticket,
        m: NewMessage,
        now: DateTime<Utc>,
    ) -> Result<Message, Error> {
        if t.status == Status::Closed {
            return Err(error::closed(&t.id.name()));
        }
        match (&m.kind, &m.author) {
            (MessageKind::PublicReply, Author::Agent(a)) => {
                if store::find_agent(txn, *a).await?.is_none() {
                    return Err(error::not_found(a));
                }
                if t.first_response_time.is_none() {
                    t.first_response_time = Some(now);
                    t.sla.met(Target::FirstResponse, now);
                } else {
                    t.sla.met(Target::NextResponse, now);
                }
                if t.status == Status::New {
                    t.status = Status::Open;
                }
            }
            (MessageKind::PublicReply, Author::Customer(c)) => {
                if *c != t.customer {
                    return Err(error::customer_mismatch(
                        format!("{c} is not the customer of {}", t.id),
                        &t.customer.name(),
                    ));
                }
                if t.status == Status::PendingCustomer {
                    t.sla.resume(&self.calendar, now);
                    t.status = Status::Open;
                }
                // A reply to a solved ticket within the reopen window reopens it.
                let window = Duration::hours(self.cfg.reopen_window_hours);
                if t.status == Status::Solved && t.solve_time.is_some_and(|s| now - s <= window) {
                    self.transition(txn, t, Status::Open, now, true).await?;
                }
                let policy = self.policy(t)?.clone();
                t.sla.owe_reply(&policy, &self.calendar, now);
            }
            (MessageKind::InternalNote, Author::Agent(a)) => {
                store::find_agent(txn, *a)
                    .await?
                    .ok_or_else(|| error::not_found(a))?;
            }
            _ => {}
        }
        let msg = Message {
            id: MessageId::generate(),
            ticket: t.id,
            kind: m.kind,
            author: m.author,
            body: m.body,
            attachments: m.attachments,
            create_time: now,
            origin_ticket: None,
        };
        store::insert_message(txn, &msg).await?;
        self.save(txn, t, now).await?;
        Ok(msg)
    }

    /// A system note on a ticket's thread (no effect on the ticket).
    pub(super) async fn note(
        &self,
        txn: &DatabaseTransaction,
        ticket: TicketId,
        body: String,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        store::insert_message(
            txn,
            &Message {
                id: MessageId::generate(),
                ticket,
                kind: MessageKind::System,
                author: Author::System,
                body,
                attachments: Vec::new(),
                create_time: now,
                origin_ticket: None,
            },
        )
        .await
    }

    pub async fn add_message(
        &self,
        key: &IdempotencyKey,
        id: TicketId,
        mut m: NewMessage,
    ) -> Result<Message, Error> {
        if let Author::Customer(c) = m.author {
            m.author = Author::Customer(self.survivor_of(id, c).await?);
        }
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let now = now();
        let mut t = self.lock(&txn, id).await?;
        let msg = self.post(&txn, &mut t, m, now).await?;
        let name = msg.name();
        self.commit(txn, key, &name, msg).await
    }

    /// `c` itself, or the ticket's customer when `c` is another customer merged into it (the
    /// customers service says so; asked before any transaction opens).
    async fn survivor_of(&self, id: TicketId, c: CustomerId) -> Result<CustomerId, Error> {
        let Some(t) = store::find_ticket(&self.db, id).await? else {
            return Ok(c);
        };
        if t.customer == c {
            return Ok(c);
        }
        Ok(match self.clients.customer(c).await {
            CustomerLookup::Found { id, .. } if id == t.customer => id,
            _ => c,
        })
    }

    pub async fn list_messages(
        &self,
        id: TicketId,
        public_only: bool,
        page_size: u32,
        page_token: &str,
    ) -> Result<Page<Message>, Error> {
        let fingerprint = PageTokens::fingerprint(&[
            "messages",
            &id.name(),
            if public_only { "public" } else { "all" },
        ]);
        let cursor: Option<(DateTime<Utc>, uuid::Uuid)> =
            self.tokens.decode(page_token, &fingerprint)?;
        if store::find_ticket(&self.db, id).await?.is_none() {
            return Err(error::not_found(id));
        }
        let limit = self.page_size(page_size);
        let mut rows = store::list_messages(&self.db, id, public_only, cursor, limit + 1).await?;
        let next = self
            .tokens
            .next_page(&mut rows, limit, &fingerprint, |m| (m.create_time, m.id.0));
        Ok(Page {
            items: rows,
            next_page_token: next,
        })
    }

    /// Moves `t` to `to` with every side effect (SLA clock, capacity, survey token).
    pub(super) async fn transition(
        &self,
        txn: &DatabaseTransaction,
        t: &mut Ticket,
        to: Status,
        now: DateTime<Utc>,
        enforce_window: bool,
    ) -> Result<(), Error> {
        let from = t.status;
        let window = if enforce_window {
            Duration::hours(self.cfg.reopen_window_hours)
        } else {
            Duration::MAX
        };
        status::check(from, to, t.solve_time, now, window).map_err(error::transition)?;
        if from == Status::PendingCustomer {
            t.sla.resume(&self.calendar, now);
        }
        match to {
            Status::PendingCustomer => t.sla.pause(now),
            Status::Solved => {
                t.sla.finish(now);
                t.solve_time = Some(now);
                // Each solve issues a new survey; an earlier one stays as answered (or not).
                t.survey += 1;
                t.survey_token = uuid_token();
            }
            Status::Closed => {
                if !t.sla.finished {
                    t.sla.finish(now);
                }
                t.close_time = Some(now);
            }
            Status::Open if from == Status::Solved => {
                let policy = self.policy(t)?.clone();
                t.sla.restart(&policy, &self.calendar, now);
            }
            _ => {}
        }
        // Capacity follows "open or not".
        match (from.is_open(), to.is_open(), t.assignee) {
            (true, false, Some(a)) => store::release_capacity(txn, a).await?,
            (false, true, Some(a)) => {
                let claimed = store::claim_capacity(txn, a, now).await?;
                if !claimed {
                    // The agent is full now: back to the team's queue.
                    t.assignee = match t.team {
                        Some(team) => self.route_within(txn, team, t.category, now).await?,
                        None => None,
                    };
                }
            }
            _ => {}
        }
        t.status = to;
        Ok(())
    }

    pub async fn change_status(
        &self,
        key: &IdempotencyKey,
        id: TicketId,
        to: Status,
        sent_etag: &str,
    ) -> Result<Ticket, Error> {
        let (txn, mut t) = match self.edit(key, id, sent_etag).await? {
            Edit::Replay(previous) => return Ok(previous),
            Edit::Fresh(txn, t) => (txn, t),
        };
        let now = now();
        self.transition(&txn, &mut t, to, now, true).await?;
        self.save(&txn, &mut t, now).await?;
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
        if !t.status.is_open() {
            return Err(error::not_open(&id.name(), t.status.as_str()));
        }
        let previous = t.assignee;
        match how {
            Assign::Agent(a, team) => {
                let agent = store::find_agent(&txn, a)
                    .await?
                    .ok_or_else(|| error::not_found(a))?;
                if let Some(team) = team
                    && team != agent.team
                {
                    return Err(Error::invalid_field(
                        "agent",
                        format!("{a} is not a member of {team}"),
                    ));
                }
                if previous != Some(a) {
                    if !store::claim_capacity(&txn, a, now).await? {
                        return Err(error::at_capacity(&a.name()));
                    }
                    if let Some(p) = previous {
                        store::release_capacity(&txn, p).await?;
                    }
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
        self.save(&txn, &mut t, now).await?;
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
        self.save(&txn, &mut s, now).await?;
        self.save(&txn, &mut t, now).await?;
        self.commit(txn, key, &target.name(), t).await
    }

    /// Posts a canned reply, rendered for the ticket, as the agent's public reply.
    pub async fn apply_macro(
        &self,
        key: &IdempotencyKey,
        id: TicketId,
        code: &str,
        agent: AgentId,
    ) -> Result<Message, Error> {
        if let Some(previous) = crm_platform::idempotency::stored(&self.db, key).await? {
            return Ok(previous);
        }
        let m = store::find_macro(&self.db, code)
            .await?
            .ok_or_else(|| error::not_found(format!("macros/{code}")))?;
        let a = store::find_agent(&self.db, agent)
            .await?
            .ok_or_else(|| error::not_found(agent))?;
        let ticket = self.get_ticket(id).await?;
        let mut values = BTreeMap::new();
        if let CustomerLookup::Found {
            given_name,
            display_name,
            ..
        } = self.clients.customer(ticket.customer).await
        {
            values.insert("customer.given_name", given_name);
            values.insert("customer.display_name", display_name);
        }
        values.insert("ticket.id", ticket.id.0.to_string());
        values.insert("ticket.subject", ticket.subject.clone());
        values.insert("agent.display_name", a.display_name.clone());
        let body = macros::render(&m.body, &values)
            .map_err(|e| Error::internal(anyhow::anyhow!("stored macro {code} invalid: {e}")))?;
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let now = now();
        let mut t = self.lock(&txn, id).await?;
        let msg = self
            .post(
                &txn,
                &mut t,
                NewMessage {
                    kind: MessageKind::PublicReply,
                    author: Author::Agent(agent),
                    body,
                    attachments: Vec::new(),
                },
                now,
            )
            .await?;
        let name = msg.name();
        self.commit(txn, key, &name, msg).await
    }
}
