//! A ticket's thread: messages (with their effects on the ticket, see [`reply`]), system
//! notes, macros posted as replies.
use super::{Page, TicketsService};
use crate::clients::CustomerLookup;
use crate::domain::reply::{self, Refusal};
use crate::domain::{
    AgentId, Attachment, Author, CustomerId, Message, MessageId, MessageKind, Ticket, TicketId,
    macros, now,
};
use crate::error;
use crate::store;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::idempotency::{Begun, IdempotencyKey};
use crm_platform::page_token::PageTokens;
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

/// The error a refused message answers with.
fn refused(t: &Ticket, r: Refusal) -> Error {
    match r {
        Refusal::Closed => error::closed(&t.id.name()),
        Refusal::NotTheCustomer(c) => error::customer_mismatch(
            format!("{c} is not the customer of {}", t.id),
            &t.customer.name(),
        ),
    }
}

/// A note of the service's own on `ticket`'s thread.
pub(super) fn system_note(ticket: TicketId, body: String, now: DateTime<Utc>) -> Message {
    Message {
        id: MessageId::generate(),
        ticket,
        kind: MessageKind::System,
        author: Author::System,
        body,
        attachments: Vec::new(),
        create_time: now,
        origin_ticket: None,
    }
}

impl TicketsService {
    /// Applies the effects of a message on its ticket and stores both.
    async fn post(
        &self,
        txn: &DatabaseTransaction,
        t: &mut Ticket,
        m: NewMessage,
        now: DateTime<Utc>,
    ) -> Result<Message, Error> {
        let from = t.status;
        let effects = reply::plan(t, m.kind, &m.author, now, self.reopen_window())
            .map_err(|r| refused(t, r))?;
        if let Some(a) = effects.author_agent()
            && store::find_agent(txn, a).await?.is_none()
        {
            return Err(error::not_found(a));
        }
        let capacity = effects
            .apply(t, now, self.sla_rules(t)?)
            .map_err(error::transition)?;
        self.apply_capacity(txn, t, capacity, now).await?;
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
        self.save(txn, t, from, &msg.author.name(), now).await?;
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
        store::insert_message(txn, &system_note(ticket, body, now)).await
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
