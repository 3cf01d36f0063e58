//! Persistence: sea-orm entities and the queries the service needs. The only module that
//! knows SQL; conversions between rows and domain types live in `convert`.
pub mod activities;
mod convert;
pub mod customers;
pub mod entities;
pub mod erasures;
mod queries;
pub mod reseal;
