//! What the end-to-end tests (`tests/e2e`) and the load generator (`crm-loadgen`,
//! `tests/load`) both send: the shapes of the public API's requests, in one place, so a
//! change to a proto is made once for both.
pub mod requests;
