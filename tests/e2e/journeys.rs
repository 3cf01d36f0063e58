//! The journeys across services, each on every topology (`on_every_topology!`), through the
//! public gRPC API only (and on the cluster: `cluster.rs`).
pub(crate) mod auth;
pub(crate) mod campaigns;
pub(crate) mod care;
pub(crate) mod erase;
pub(crate) mod goodwill;
pub(crate) mod merge;
pub(crate) mod points;
pub(crate) mod recommend;
