//! End-to-end tests of the CRM suite (`crm-e2e`, the top-level `tests/` folder): the real
//! service binaries as separate OS processes, driven only through the public gRPC API.
//!
//! - **Binaries.** Each service's own `src/main.rs` is also a bin target of this package
//!   (`crm-e2e-customers`, `-loyalty`, `-tickets`, `-suite`; see Cargo.toml), so whatever cargo
//!   command builds these tests (`make test`, `cargo test -p crm-e2e`) builds them current
//!   too, and `CARGO_BIN_EXE_*` gives their paths: the harness builds nothing, finds nothing
//!   stale, and runs no nested cargo.
//! - **Topologies** ([`harness::Topology`]). `Separate`: one process per service as in
//!   Kubernetes, each on a fresh PostgreSQL database and its own cache key prefix, all on one
//!   event bus (Redis Streams under a key prefix of the suite's own), tickets pointed at the
//!   others by `CRM_CLIENTS__*_URL`; it runs when `CRM_TEST_POSTGRES_URL` and
//!   `CRM_TEST_REDIS_URL` are set (`make test` starts throwaway servers), is skipped with a
//!   banner otherwise, and fails with `CI=true`. `Embedded`: `crm-suite`, SQLite files, the
//!   in-process cache and event bus, one process; always. `Cluster`: services someone else
//!   runs (the chart on the local Kubernetes, by `kubectl port-forward`), at the URLs in
//!   `CRM_E2E_CLUSTER_*_URL`; the journeys listed in `cluster.rs`, ignored unless asked for.
//! - **Setup** ([`harness::Setup`]). Extra `CRM_*` settings, several replicas of a service
//!   on one database, or the event bus on a private `redis-server` the test may kill and
//!   start again (the shared test Redis is never stopped). The harness runs the backbone at
//!   test pace (relay every 20 ms, reclaim after 3 s).
//! - **Processes** ([`harness::Process`]). Config only through `CRM_*` env (inherited ones are
//!   dropped), port 0 learnt from the JSON `grpc server listening` log line, readiness by
//!   grpc.health.v1, SIGTERM stop, `kill -9`, restart on the same storage and port. Every
//!   wait and call is bounded; children die with their handle, and their logs are printed
//!   when a test fails.
//!
//! Extending: a journey is a `pub(crate) async fn(Suite)` declared with `on_every_topology!`
//! (it then runs once per topology the harness starts) and listed in `cluster.rs` (for the
//! cluster run); it drives the typed clients of [`harness::Suite`] (`customers`, `loyalty`, `tickets`; add a
//! field and a [`harness::Service`] variant per new service) through the request builders of
//! [`steps`] (request shapes: `crm_e2e::requests`, shared with `crm-loadgen`), and waits for asynchronous effects with [`harness::Deadline`]. Fault tests
//! take a `Suite` of `Topology::Separate` and use `kill` / `restart` (and `Process::stop`,
//! `Suite::replica`, `Suite::events_redis`).
mod cluster;
mod faults;
mod harness;
mod journeys;
mod steps;
