//! Persistence: the sea-orm entities ([`entities`], one per table) and the queries, one
//! module per area; row <-> domain conversions live with the queries that own the table.
//! The only module that knows SQL.
pub mod campaigns;
pub mod conversions;
pub mod coupons;
pub mod deliveries;
pub mod entities;
pub mod journeys;
pub mod members;
pub mod report;
pub mod segments;
