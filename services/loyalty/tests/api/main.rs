//! Integration tests: the real server on port 0 with a fresh database per test, called
//! through the generated client. Every test runs on SQLite + the in-process cache and, when
//! available (always in CI), on PostgreSQL + Redis.
mod access;
mod as_of;
mod bad_input;
mod bounds;
mod concurrency;
mod consumed;
mod consumed_batch;
mod earn_redeem;
mod erase;
mod event_tap;
mod events;
mod harness;
mod holds;
mod ledger;
mod merge;
mod merge_events;
mod ownership;
mod plans;
mod proptests;
mod reverse;
mod server;
mod whole_ledger;
