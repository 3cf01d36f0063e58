//! Integration tests: the real server on port 0 with a fresh database per test, called
//! through the generated client. Every test runs on SQLite + the in-process cache and, when
//! available (always in CI), on PostgreSQL + Redis.
mod bad_input;
mod campaigns;
mod coupons;
mod experiments;
mod harness;
mod journeys;
mod read_model;
mod read_model_refresh;
mod reports;
mod segments;
mod segments_compiler;
mod segments_fixture;
mod segments_membership;
mod sending;
