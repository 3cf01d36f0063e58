//! Pure ticket rules and types: no tonic, no sea-orm, no IO. The service loads values, asks
//! these rules what follows and writes the result. Unit-tested here (table-driven),
//! property-tested in `calendar` and `sla`.
pub mod assignment;
pub mod calendar;
pub mod escalation;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod intake;
pub mod macros;
mod org;
mod query;
pub mod reply;
pub mod routing;
pub mod sla;
pub mod stats;
pub mod status;
pub mod survey;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use calendar::Calendar;
pub use org::{AgentPatch, TeamPatch};
pub use query::TicketQuery;
pub use sla::{SlaPolicy, SlaRules, SlaTrack, Target};

crm_platform::resource_id!(TicketId, "tickets");
crm_platform::resource_id!(TeamId, "teams");
crm_platform::resource_id!(AgentId, "agents");
crm_platform::resource_id!(CustomerId, "customers");
crm_platform::resource_id!(MessageId, "messages");

/// Now, at the microsecond (what both databases store).
pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// An enum with a wire number (0 = UNSPECIFIED is never a value) and a storage string.
pub trait WireEnum: Sized + Copy {
    fn from_code(c: i32) -> Option<Self>;
    fn code(self) -> i32;
    fn as_str(self) -> &'static str;
}

/// Enums with a stable storage string and the wire number of `crm.tickets.v1` (1-based, in
/// declaration order; 0 is UNSPECIFIED there and never a value here).
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($var:ident = $code:literal => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($var),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$var),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$var),)+ _ => None }
            }

            pub fn code(self) -> i32 {
                match self { $($name::$var => $code),+ }
            }

            pub fn from_code(c: i32) -> Option<Self> {
                match c { $($code => Some($name::$var),)+ _ => None }
            }
        }

        impl WireEnum for $name {
            fn from_code(c: i32) -> Option<Self> {
                $name::from_code(c)
            }
            fn code(self) -> i32 {
                $name::code(self)
            }
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }
    };
}

wire_enum!(Channel { Web = 1 => "web", Email = 2 => "email", Phone = 3 => "phone", Chat = 4 => "chat", Social = 5 => "social", InApp = 6 => "in_app" });
wire_enum!(Category {
    Inquiry = 1 => "inquiry",
    Complaint = 2 => "complaint",
    ReturnExchange = 3 => "return_exchange",
    Repair = 4 => "repair",
    BookingChange = 5 => "booking_change",
    Billing = 6 => "billing",
    Other = 7 => "other",
});
wire_enum!(
    /// Ordered: a bump moves one step up.
    Priority { Low = 1 => "low", Normal = 2 => "normal", High = 3 => "high", Urgent = 4 => "urgent" }
);
wire_enum!(Status {
    New = 1 => "new",
    Open = 2 => "open",
    PendingCustomer = 3 => "pending_customer",
    OnHold = 4 => "on_hold",
    Solved = 5 => "solved",
    Closed = 6 => "closed",
});
wire_enum!(SlaState {
    Active = 1 => "active",
    Hit = 2 => "hit",
    Missed = 3 => "missed",
    ActiveWithMisses = 4 => "active_with_misses",
    NotApplicable = 5 => "not_applicable",
});
wire_enum!(CustomerCheck {
    Verified = 1 => "verified",
    Unverified = 2 => "unverified",
    NotFound = 3 => "not_found",
    Erased = 4 => "erased",
    Deleted = 5 => "deleted",
});
wire_enum!(MessageKind { PublicReply = 1 => "public_reply", InternalNote = 2 => "internal_note", System = 3 => "system" });
wire_enum!(RoutingStrategy { RoundRobin = 1 => "round_robin", LeastLoaded = 2 => "least_loaded" });

impl Priority {
    /// One level up (urgent stays urgent).
    pub fn bumped(self) -> Self {
        match self {
            Priority::Low => Priority::Normal,
            Priority::Normal => Priority::High,
            Priority::High | Priority::Urgent => Priority::Urgent,
        }
    }
}

impl Status {
    /// Solved and closed tickets do not count against an agent's capacity or the backlog.
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Solved | Status::Closed)
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Author {
    Agent(AgentId),
    Customer(CustomerId),
    System,
}

impl Author {
    pub fn name(&self) -> String {
        match self {
            Author::Agent(a) => a.name(),
            Author::Customer(c) => c.name(),
            Author::System => String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub uri: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub ticket: TicketId,
    pub kind: MessageKind,
    pub author: Author,
    pub body: String,
    pub attachments: Vec<Attachment>,
    pub create_time: DateTime<Utc>,
    /// Set when a merge moved the message from another ticket.
    pub origin_ticket: Option<TicketId>,
}

impl Message {
    pub fn name(&self) -> String {
        format!("{}/messages/{}", self.ticket.name(), self.id.0)
    }
}

/// What a caller writes when creating a ticket (routing and SLA fill in the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTicket {
    pub customer: CustomerId,
    pub channel: Channel,
    pub category: Category,
    pub priority: Priority,
    pub subject: String,
    pub description: String,
    pub tags: Vec<String>,
    pub order_id: String,
    pub booking_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: TicketId,
    pub customer: CustomerId,
    pub channel: Channel,
    pub category: Category,
    pub priority: Priority,
    pub status: Status,
    pub subject: String,
    pub description: String,
    pub tags: Vec<String>,
    pub team: Option<TeamId>,
    pub assignee: Option<AgentId>,
    pub order_id: String,
    pub booking_id: String,
    pub customer_check: CustomerCheck,
    pub sla: SlaTrack,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    pub first_response_time: Option<DateTime<Utc>>,
    pub solve_time: Option<DateTime<Utc>>,
    pub close_time: Option<DateTime<Utc>>,
    pub merged_into: Option<TicketId>,
    pub merged_from: Vec<TicketId>,
    pub escalations: i32,
    /// The token of the current survey (a new one each time the ticket is solved).
    pub survey_token: String,
    /// The current survey's number (1 after the first solve; 0: never solved).
    #[serde(default)]
    pub survey: i32,
    pub revision: i64,
}

/// The fields UpdateTicket may change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketPatch {
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    pub subject: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub order_id: Option<String>,
    pub booking_id: Option<String>,
}

impl TicketPatch {
    pub fn apply(self, t: &mut Ticket) {
        if let Some(v) = self.category {
            t.category = v;
        }
        if let Some(v) = self.priority {
            t.priority = v;
        }
        if let Some(v) = self.subject {
            t.subject = v;
        }
        if let Some(v) = self.description {
            t.description = v;
        }
        if let Some(v) = self.tags {
            t.tags = v;
        }
        if let Some(v) = self.order_id {
            t.order_id = v;
        }
        if let Some(v) = self.booking_id {
            t.booking_id = v;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub id: TeamId,
    pub display_name: String,
    pub routing_strategy: RoutingStrategy,
    pub categories: Vec<Category>,
    /// Category -> skill an agent needs for it.
    pub category_skills: std::collections::BTreeMap<Category, String>,
    pub escalation_team: bool,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    pub revision: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub id: AgentId,
    pub display_name: String,
    pub email: String,
    pub team: TeamId,
    pub skills: Vec<String>,
    pub max_open_tickets: i32,
    pub available: bool,
    pub open_tickets: i32,
    pub last_assigned: Option<DateTime<Utc>>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    pub revision: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Macro {
    pub code: String,
    pub title: String,
    pub body: String,
    pub create_time: DateTime<Utc>,
}

impl Macro {
    pub fn name(&self) -> String {
        format!("macros/{}", self.code)
    }
}

/// `macros/{code}` -> code.
pub fn parse_macro_name(name: &str) -> Result<String, String> {
    let code = name
        .strip_prefix("macros/")
        .ok_or_else(|| "must look like `macros/{code}`".to_owned())?;
    check_macro_code(code)?;
    Ok(code.to_owned())
}

pub fn check_macro_code(code: &str) -> Result<(), String> {
    let ok = !code.is_empty()
        && code.len() <= 40
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err("must match [a-z0-9_-]{1,40}".to_owned())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Satisfaction {
    pub ticket: TicketId,
    /// Which survey of the ticket this answers (see [`Ticket::survey`]).
    #[serde(default = "first_survey")]
    pub survey: i32,
    /// That survey's token ("" for answers given before surveys were numbered).
    #[serde(default)]
    pub survey_token: String,
    pub overall: i32,
    pub service: i32,
    pub product_quality: i32,
    pub logistics: i32,
    pub comment: String,
    pub submit_time: DateTime<Utc>,
    pub goodwill_points: i64,
    /// Goodwill is owed but loyalty was unreachable: the background pass retries it.
    #[serde(default)]
    pub goodwill_pending: bool,
}

fn first_survey() -> i32 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_codes_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::from_code(c.code()), Some(*c));
            assert_eq!(Category::parse(c.as_str()), Some(*c));
        }
        assert_eq!(Status::from_code(0), None);
        assert_eq!(Channel::InApp.code(), 6);
    }

    #[test]
    fn bump_stops_at_urgent() {
        assert_eq!(Priority::Low.bumped(), Priority::Normal);
        assert_eq!(Priority::Urgent.bumped(), Priority::Urgent);
    }

    #[test]
    fn macro_codes() {
        assert_eq!(parse_macro_name("macros/greet_1").as_deref(), Ok("greet_1"));
        assert!(parse_macro_name("macros/Greet").is_err());
        assert!(parse_macro_name("greet").is_err());
    }
}
