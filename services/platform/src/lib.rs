//! Shared runtime of the CRM services. Every service depends on this crate and on `crm-proto`,
//! never on another service: configuration, telemetry, the gRPC server bootstrap, the error
//! model and its single mapping to gRPC, storage, the cache, typed ids, page tokens,
//! idempotency and etags.

pub mod cache;
pub mod cli;
pub mod client;
pub mod config;
pub mod db;
pub mod deadline;
pub mod error;
pub mod etag;
pub mod field_mask;
pub mod grpc;
pub mod idempotency;
pub mod ids;
pub mod page_token;
pub mod rpc_span;
pub mod server;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{Error, ErrorCode, Violations};
