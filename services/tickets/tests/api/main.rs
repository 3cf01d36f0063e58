//! Integration tests: the real server on port 0 with a fresh database per test, called
//! through the generated client. Every test runs on SQLite and, when available (always in
//! CI), on PostgreSQL + Redis. `services` also runs the real customers and loyalty services
//! in-process (dev-dependencies of these tests only).
mod customer_events;
mod event_tap;
mod events;
mod harness;
mod ownership;
mod plans;
mod routing;
mod services;
mod sla;
mod stats;
mod stored_docs;
mod tickets;
