//! Integration tests: the real server on port 0 with a fresh database per test, called
//! through the generated client. Every test runs on SQLite + the in-process cache and, when
//! available (always in CI), on PostgreSQL + Redis.
mod access;
mod activities;
mod activity_events;
mod bounded;
mod bulk;
mod cache;
mod customers;
mod encryption;
mod erasure;
mod event_tap;
mod events;
mod field_rules;
mod gdpr;
mod harness;
mod insights;
mod insights_totals;
mod masking;
mod merge;
mod ownership;
mod plans;
mod runtime;
mod server;
mod unsubscribe;
