//! The rules of one send (helper H2 fills this module). STUB on main until merged.
use super::campaign::Channel;
use crate::settings::FrequencyCap;
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Debug, Clone, Copy)]
pub struct QuietHours;

impl QuietHours {
    pub fn parse(_start: &str, _end: &str) -> Option<QuietHours> {
        None
    }

    pub fn defer_until(&self, _now: DateTime<Utc>, _tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
        None
    }
}

pub fn assign_variant(_campaign: Uuid, _customer: Uuid, _weights: &[u32]) -> usize {
    0
}

pub fn parse_time_zone(name: &str) -> chrono_tz::Tz {
    name.parse().unwrap_or(chrono_tz::UTC)
}

pub fn cap_for(caps: &[FrequencyCap], channel: Channel) -> Option<(u32, chrono::Duration)> {
    caps.iter()
        .find(|c| c.channel == channel.code())
        .map(|c| (c.max, chrono::Duration::hours(c.window_hours.into())))
}
