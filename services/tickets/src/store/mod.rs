//! Storage: sea-orm entities, row conversions and the queries; the only place that knows SQL.
//! One module per aggregate (tickets, messages, org: teams/claims/agents, macros, surveys,
//! SLA events, stats); their functions are re-exported here, so callers write
//! `store::find_ticket`. Ticket writes compare the revision in the statement
//! (`UPDATE .. WHERE revision = ?`); agent capacity is claimed with a conditional increment,
//! so it can never be exceeded. Every record field is a column (list-valued ones are
//! versioned JSON columns, see [`lists`]).
pub mod convert;
mod customer_data;
pub mod entities;
pub mod lists;
mod macros;
mod messages;
mod org;
mod sla_events;
pub mod stats;
mod surveys;
mod tickets;

pub use customer_data::*;
pub use macros::*;
pub use messages::*;
pub use org::*;
pub use sla_events::*;
pub use surveys::*;
pub use tickets::*;
