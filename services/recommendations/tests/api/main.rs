//! Integration tests: the real server on port 0 with a fresh database per test, called
//! through the generated client. Every test runs on SQLite + the in-process cache and, when
//! available (always in CI), on PostgreSQL + Redis.
mod catalogue;
mod events;
mod feedback;
mod harness;
mod interactions;
mod model;
mod serving;
