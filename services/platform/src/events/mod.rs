//! The event backbone: how facts move between services. A producing service writes each
//! event in the transaction of the change it reports (the transactional [`outbox`]); a relay
//! publishes the outbox, in order, to the service's stream on the [`EventBus`] (Redis Streams,
//! or in process when `events.redis_url` is empty); consuming services read the stream in
//! consumer groups and apply each event exactly once ([`Consumer`]: inbox row + effects in
//! one transaction, acknowledged after the commit; failures retried, then dead-lettered;
//! [`Events::replay`] re-drives dead letters). The bus carries encoded payloads and the
//! [`Envelope`]'s attributes; the payload types are the services' (`crm.events.v1`).
//!
//! # For service authors
//! Migrations: a producer lists [`CreateEventOutbox`], a consumer [`CreateEventInbox`]
//! (platform migrations, like `CreateIdempotencyKeys`), after the ones already released:
//! ```ignore
//! crm_platform::migrator!(Migrator: [
//!     CreateIdempotencyKeys, /* ... */ CreateEventOutbox, CreateEventInbox,
//! ]);
//! ```
//! Build: take the [`Events`] handle from `Parts`, start the relay if the service produces,
//! a consumer per group it reads:
//! ```ignore
//! async fn build(settings: &Settings, parts: &mut Parts) -> anyhow::Result<LoyaltyService> {
//!     let events = parts.events()?;
//!     events.start_relay(&mut parts.jobs);
//!     let svc = LoyaltyService::new(parts.core(paging)?, events.clone());
//!     // Group "loyalty.points" on the customers stream; inbox consumer "loyalty.points".
//!     events.start_consumer(&mut parts.jobs, "customers", "points", PurchaseEarnsPoints(svc.clone()));
//!     Ok(svc)
//! }
//! ```
//! Produce, inside the mutation's transaction (after the write the event reports, so events
//! of one subject are ordered by commit):
//! ```ignore
//! let txn = match self.begin(key).await? { Begun::Replay(v) => return Ok(v), Begun::Fresh(t) => t };
//! store::save(&txn, &customer).await?;
//! self.events.append(&txn, customer.name(), vec![Payload::CustomerUpdated(updated)]).await?;
//! self.commit(txn, key, Mutation { .. }).await
//! ```
//! Consume: a [`Handler`] applies one event in the given transaction (its effects commit with
//! the inbox row or not at all) and lists the types it wants:
//! ```ignore
//! struct PurchaseEarnsPoints(LoyaltyService);
//! impl Handler for PurchaseEarnsPoints {
//!     fn event_types(&self) -> &[&str] { &[ACTIVITY_RECORDED] }
//!     async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> Result<(), Error> {
//!         let activity = ActivityRecorded::decode(event.payload.as_slice()).map_err(Error::internal)?;
//!         self.0.earn_in(txn, activity).await
//!     }
//! }
//! ```
//! Replay: [`Events::replay`] (all dead letters of a producer's stream, or those
//! dead-lettered in a time range), and from a shell, against the Redis bus, every binary's
//! `replay --producer customers [--from RFC3339] [--to RFC3339]` ([`replay_dead_letters`]).
//!
//! # Delivery guarantees
//! Committed events are published at least once and in append order per subject; rolled
//! back ones never. Handlers see each event once per group (the inbox), for as long as the
//! inbox keeps it (`inbox_retention_hours`). With several replicas of a consumer, or after a
//! retry, events of one subject may be handled out of order: handlers tolerate that.
//! Redis keeps the streams: run it with persistence (`appendonly yes`), or a Redis restart
//! loses what was published and not yet consumed (the outbox rows are marked sent by then).
//! The in-process bus is one per process: services in one process (the suite, `make run`)
//! see each other's events; separate processes need Redis.
mod bus;
mod consumer;
mod entry;
mod envelope;
pub mod inbox;
mod memory;
mod migration;
pub mod outbox;
mod redis_streams;
mod relay;
mod retention;
mod typed;

pub use bus::{
    BusError, DeadLetter, Delivery, EventBus, Subscription, TimeRange, dead_letter_stream,
};
pub use consumer::{Consumer, ConsumerStats, Handler};
pub use envelope::{DecodeError, Envelope, Fields, PROTOBUF};
pub use migration::{CreateEventInbox, CreateEventOutbox};
pub use outbox::OutboxLag;
pub use relay::{Relay, RelayStats};
pub use typed::{payload_of, typed};

use crate::config::EventsSettings;
use crate::jobs::{Jobs, Poll, Polled};
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::time::Duration;

/// How often a consumer's job polls again after a run (a run itself waits on the bus up to
/// `read_block_ms`, so this only spaces busy runs).
const CONSUMER_TICK: Duration = Duration::from_millis(1);
/// How often a consumer's old inbox rows are purged, and how many per statement.
const INBOX_PURGE_EVERY: Duration = Duration::from_secs(3600);
const INBOX_PURGE_BATCH: u64 = 1000;

/// The stream `producer` publishes to: `{key_prefix}:events:{producer}`.
pub fn stream_name(settings: &EventsSettings, producer: &str) -> String {
    format!("{}:events:{producer}", settings.key_prefix)
}

/// Re-drives `producer`'s dead letters in `range` from outside a server (the `replay`
/// subcommand); returns how many. Only the Redis bus outlives a process, so the in-process
/// one is refused (replay those with [`Events::replay`] inside the serving process).
pub async fn replay_dead_letters(
    settings: &EventsSettings,
    producer: &str,
    range: TimeRange,
) -> anyhow::Result<usize> {
    anyhow::ensure!(
        !settings.redis_url.is_empty(),
        "replay needs events.redis_url: the in-process bus's dead letters live only in the serving process"
    );
    let bus = EventBus::from_settings(settings)?;
    Ok(bus
        .replay(
            &stream_name(settings, producer),
            range,
            settings.stream_max_len,
        )
        .await?)
}

/// A service's access to the backbone: its database, the bus, the `[events]` settings.
/// Clones share the bus connections.
#[derive(Clone)]
pub struct Events {
    db: DatabaseConnection,
    bus: EventBus,
    settings: EventsSettings,
    service: String,
}

impl Events {
    /// The backbone of `service` on `db` (the bus chosen by `settings.redis_url`).
    pub fn new(
        settings: &EventsSettings,
        service: impl Into<String>,
        db: DatabaseConnection,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            bus: EventBus::from_settings(settings)?,
            db,
            settings: settings.clone(),
            service: service.into(),
        })
    }

    pub fn bus(&self) -> &EventBus {
        &self.bus
    }

    pub fn settings(&self) -> &EventsSettings {
        &self.settings
    }

    /// The service this handle produces as (its events' `source`, its stream's name).
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The stream `producer` publishes to (see [`stream_name`]).
    pub fn stream(&self, producer: &str) -> String {
        stream_name(&self.settings, producer)
    }

    /// An event of this service (its `source`) happening now; see [`Envelope::new`].
    pub fn envelope(
        &self,
        event_type: impl Into<String>,
        subject: impl Into<String>,
        payload: Vec<u8>,
    ) -> Envelope {
        Envelope::new(self.service.clone(), event_type, subject, payload)
    }

    /// The relay of this service's outbox to its stream.
    pub fn relay(&self) -> Relay {
        Relay::new(
            self.db.clone(),
            self.bus.clone(),
            self.stream(&self.service),
            &self.settings,
        )
    }

    /// Starts in `jobs` the relay, the purge of sent rows and the lag report; returns the relay
    /// (its stats and [`Relay::lag`]). The relay runs every `relay_interval_ms` while it finds
    /// rows, slows down to `relay_idle_max_ms` while it finds none (an idle suite does not
    /// poll its database twenty times a second a pod), and is woken by this process's own
    /// appends; rows other replicas append wait at most `relay_idle_max_ms`.
    pub fn start_relay(&self, jobs: &mut Jobs) -> Relay {
        let relay = self.relay();
        let poll = Poll {
            every: Duration::from_millis(self.settings.relay_interval_ms),
            idle_max: Duration::from_millis(self.settings.relay_idle_max_ms),
            wake: Some(outbox::appended().clone()),
        };
        jobs.polling(poll, "event relay", relay.clone(), |r| async move {
            let published = r.run().await?;
            Ok(if published > 0 {
                Polled::Work
            } else {
                Polled::Idle
            })
        });
        let retention = crate::idempotency::retention(self.settings.outbox_retention_hours);
        jobs.every(
            relay::PURGE_EVERY,
            "event outbox purge",
            relay.clone(),
            move |r| async move { r.purge(retention).await.map(drop) },
        );
        jobs.every(
            relay::LAG_REPORT_EVERY,
            "event outbox lag",
            relay.clone(),
            |r| async move { r.report_lag().await.map(drop) },
        );
        relay
    }

    /// The group `{service}.{name}` of this service on `producer`'s stream, with a consumer
    /// named after it and this process; its inbox rows are the group's.
    pub fn consumer<H: Handler>(&self, producer: &str, name: &str, handler: H) -> Consumer<H> {
        let group = format!("{}.{name}", self.service);
        let me = format!("{group}:{}", uuid::Uuid::new_v4().simple());
        let subscription = self.bus.subscribe(&self.stream(producer), &group, &me);
        Consumer::new(
            self.db.clone(),
            subscription,
            Arc::new(handler),
            &self.settings,
        )
    }

    /// Starts [`Events::consumer`] in `jobs`, with the hourly purge of its old inbox rows;
    /// returns its stats.
    pub fn start_consumer<H: Handler>(
        &self,
        jobs: &mut Jobs,
        producer: &str,
        name: &str,
        handler: H,
    ) -> Arc<ConsumerStats> {
        let consumer = self.consumer(producer, name, handler);
        let stats = consumer.stats();
        let group = consumer.group().to_owned();
        jobs.every(
            CONSUMER_TICK,
            "event consumer",
            Arc::new(tokio::sync::Mutex::new(consumer)),
            |c| async move { c.lock().await.run().await },
        );
        let retention = crate::idempotency::retention(self.settings.inbox_retention_hours);
        jobs.every(
            INBOX_PURGE_EVERY,
            "event inbox purge",
            (self.db.clone(), group),
            move |(db, group)| async move {
                while inbox::purge(&db, &group, retention, INBOX_PURGE_BATCH).await?
                    == INBOX_PURGE_BATCH
                {}
                Ok(())
            },
        );
        stats
    }

    /// Moves the dead letters of `producer`'s stream in `range` back onto it, each for the
    /// group that gave up on it; returns how many.
    pub async fn replay(&self, producer: &str, range: TimeRange) -> Result<usize, BusError> {
        self.bus
            .replay(&self.stream(producer), range, self.settings.stream_max_len)
            .await
    }

    /// Up to `limit` dead letters of `producer`'s stream in `range`, oldest first.
    pub async fn dead_letters(
        &self,
        producer: &str,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, BusError> {
        self.bus
            .dead_letters(&self.stream(producer), range, limit)
            .await
    }
}

#[cfg(test)]
mod tests;
