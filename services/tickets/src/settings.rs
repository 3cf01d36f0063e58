//! Settings of the tickets binary: the platform sections plus `[tickets]` and `[clients]`.
use crate::domain::{Calendar, SlaPolicy};
use crm_platform::config::Validate;
use crm_platform::idempotency::validate_retention;
use crm_platform::paging::Paging;
use serde::Deserialize;

pub const DEFAULTS: &str = include_str!("../config/tickets.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSettings {
    pub time_zone: String,
    pub week: [String; 7],
    pub holidays: Vec<String>,
}

impl CalendarSettings {
    pub fn calendar(&self) -> Result<Calendar, crate::domain::calendar::CalendarError> {
        Calendar::parse(&self.time_zone, &self.week, &self.holidays)
    }
}

/// Bounds on what one request may carry (`[tickets.limits]`); larger is INVALID_ARGUMENT.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Tags on a ticket.
    pub max_tags: usize,
    /// Attachments on one message.
    pub max_attachments: usize,
    /// Skills of an agent.
    pub max_skills: usize,
    /// Largest `size_bytes` of an attachment (metadata only; the bytes live elsewhere).
    pub max_attachment_bytes: i64,
    /// Largest `max_open_tickets` of an agent.
    pub max_agent_capacity: i64,
}

impl Limits {
    fn validate(&self, p: &mut Vec<String>) {
        for (name, n) in [
            ("max_tags", self.max_tags),
            ("max_attachments", self.max_attachments),
            ("max_skills", self.max_skills),
        ] {
            if !(1..=1000).contains(&n) {
                p.push(format!("tickets.limits.{name} must be 1..1000"));
            }
        }
        if !(1..=1 << 40).contains(&self.max_attachment_bytes) {
            p.push("tickets.limits.max_attachment_bytes must be 1..2^40".into());
        }
        if !(1..=100_000).contains(&self.max_agent_capacity) {
            p.push("tickets.limits.max_agent_capacity must be 1..100000".into());
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketsSettings {
    pub default_page_size: u32,
    pub max_page_size: u32,
    pub idempotency_retention_hours: u64,
    pub reopen_window_hours: i64,
    pub sla_interval_secs: u64,
    pub verify_interval_secs: u64,
    pub priority_tiers: Vec<String>,
    pub low_score_threshold: i32,
    pub goodwill_points: i64,
    pub max_stats_window_days: i64,
    pub limits: Limits,
    pub calendar: CalendarSettings,
    pub sla_policies: Vec<SlaPolicy>,
}

impl Validate for TicketsSettings {
    fn validate(&self, p: &mut Vec<String>) {
        self.paging().validate("tickets", p);
        validate_retention("tickets", self.idempotency_retention_hours, p);
        if self.reopen_window_hours < 0 {
            p.push("tickets.reopen_window_hours must not be negative".into());
        }
        if !(0..=5).contains(&self.low_score_threshold) {
            p.push("tickets.low_score_threshold must be 0..5".into());
        }
        if self.goodwill_points < 0 {
            p.push("tickets.goodwill_points must not be negative".into());
        }
        self.limits.validate(p);
        if !(1..=3660).contains(&self.max_stats_window_days) {
            p.push("tickets.max_stats_window_days must be 1..3660".into());
        }
        if let Err(e) = self.calendar.calendar() {
            p.push(format!("tickets.calendar: {e}"));
        }
        if !self
            .sla_policies
            .iter()
            .any(|x| x.priority.is_none() && x.category.is_none())
        {
            p.push(
                "tickets.sla_policies needs a catch-all policy (no priority, no category)".into(),
            );
        }
        for (i, x) in self.sla_policies.iter().enumerate() {
            x.validate(p);
            // A ticket records its policy by name; a change of priority or category finds
            // the old one by it.
            if self.sla_policies[..i].iter().any(|y| y.name == x.name) {
                p.push(format!(
                    "tickets.sla_policies: the name {:?} is used twice",
                    x.name
                ));
            }
        }
    }
}

impl TicketsSettings {
    /// Page-size bounds of the list calls.
    pub fn paging(&self) -> Paging {
        Paging::new(self.default_page_size, self.max_page_size)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientsSettings {
    pub customers_url: String,
    pub loyalty_url: String,
    pub timeout_ms: u64,
}

impl Validate for ClientsSettings {
    fn validate(&self, p: &mut Vec<String>) {
        for (k, u) in [
            ("customers_url", &self.customers_url),
            ("loyalty_url", &self.loyalty_url),
        ] {
            let http = u.starts_with("http://") || u.starts_with("https://");
            if !u.is_empty() && !http {
                p.push(format!("clients.{k} must be an http(s):// URL or empty"));
            }
        }
        if self.timeout_ms == 0 {
            p.push("clients.timeout_ms must be > 0".into());
        }
    }
}

crm_platform::service_settings!(Settings, DEFAULTS, {
    tickets: TicketsSettings,
    clients: ClientsSettings,
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let s = Settings::load(None).expect("defaults load");
        assert_eq!(s.tickets.sla_policies[0].name, "default");
        assert!(s.tickets.sla_policies[0].first_response_same_day);
        assert!(s.clients.customers_url.is_empty());
        assert_eq!(
            s.tickets
                .calendar
                .calendar()
                .map(|c| c.tz.name().to_owned()),
            Ok("Asia/Shanghai".to_owned())
        );
    }

    #[test]
    fn limits_are_checked_at_load() {
        let mut t = Settings::load(None).expect("defaults load").tickets;
        assert_eq!(t.limits.max_tags, 20);
        t.limits.max_tags = 0;
        t.limits.max_attachment_bytes = -1;
        t.limits.max_agent_capacity = 1_000_000;
        t.max_stats_window_days = 0;
        let mut problems = Vec::new();
        t.validate(&mut problems);
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains("max_tags"), "{problems:?}");
    }

    #[test]
    fn policy_names_are_unique() {
        let mut t = Settings::load(None).expect("defaults load").tickets;
        let mut problems = Vec::new();
        t.validate(&mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        let twin = t.sla_policies[1].clone();
        t.sla_policies.push(twin);
        t.validate(&mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("used twice"), "{problems:?}");
    }
}
