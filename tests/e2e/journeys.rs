//! The journeys across services, each on every topology (`on_every_topology!`), through the
//! public gRPC API only.
mod erase;
mod goodwill;
mod merge;
mod points;
