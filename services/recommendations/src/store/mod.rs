//! Persistence: the sea-orm entities ([`entities`]) and the queries the use cases need, one
//! module per aggregate. The only module that knows SQL.
//!
//! - [`items`], the catalogue (catalogue work).
//! - [`interactions`], recorded interactions and the customer histories serving reads
//!   (catalogue work); the build's paged reads (rebuild work).
//! - [`profiles`], cold-start profiles (catalogue work).
//! - [`model`], published model versions, item neighbours and rules, popularity lists
//!   (written by the rebuild, read by serving).
//! - [`rebuild`], what a build reads, in pages (interactions, catalogue, profiles).
//! - [`served`], served recommendations and their feedback (serving work).
//! - [`served_customers`], the served answers of merged and erased customers (events work).
pub mod entities;
pub mod interactions;
pub mod items;
pub mod model;
pub mod profiles;
pub mod rebuild;
pub mod served;
pub mod served_customers;
