//! Settings of the campaigns binary: the platform sections plus `[campaigns]`, whose documented
//! defaults are embedded from `config/campaigns.toml`.
use crate::domain::campaign::CampaignLimits;
use crate::domain::coupon::CouponLimits;
use crate::domain::segment::SegmentLimits;
use crm_platform::config::Validate;
use crm_platform::idempotency::validate_retention;
use crm_platform::paging::Paging;
use serde::Deserialize;

pub const DEFAULTS: &str = include_str!("../config/campaigns.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignsSettings {
    pub default_page_size: u32,
    pub max_page_size: u32,
    pub idempotency_retention_hours: u64,
    pub segments: SegmentLimits,
    pub limits: CampaignLimits,
    pub read_model: ReadModelSettings,
    pub sending: SendingSettings,
    pub sender: SenderSettings,
    pub clients: ClientsSettings,
    pub experiments: ExperimentSettings,
    pub journeys: JourneySettings,
    pub coupons: CouponLimits,
    pub reports: ReportSettings,
}

/// `[campaigns.experiments]`: holdouts and test-then-winner.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSettings {
    /// How often running experiments are checked for a winner.
    pub winner_interval_ms: u64,
}

/// `[campaigns.journeys]`: the journey job (date and win-back triggers).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneySettings {
    pub interval_ms: u64,
    /// Members entered per journey and run.
    pub page: u32,
}

/// `[campaigns.reports]`: campaign reports.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSettings {
    /// Days of the timeline, counted back from the last conversion.
    pub timeline_days: u32,
}

/// `[campaigns.read_model]`: how the read model is refreshed and segment membership tracked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadModelSettings {
    pub refresh_interval_ms: u64,
    pub refresh_batch: u32,
    pub refresh_retry_secs: u64,
    pub membership_interval_ms: u64,
    pub membership_batch: u32,
    pub full_evaluation_secs: u64,
}

/// `[campaigns.sending]`: the per-recipient rules and the dispatcher's pace.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendingSettings {
    pub quiet_hours_start: String,
    pub quiet_hours_end: String,
    pub frequency_caps: Vec<FrequencyCap>,
    pub start_interval_ms: u64,
    pub audience_page: u32,
    pub dispatch_interval_ms: u64,
    pub dispatch_batch: u32,
    pub lease_secs: u64,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    pub profile_wait_secs: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FrequencyCap {
    /// "email", "sms", "push" or "webhook".
    pub channel: String,
    pub max: u32,
    pub window_hours: u32,
}

/// `[campaigns.sender]`: where messages go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SenderSettings {
    /// "log", "file", "webhook" or "smtp".
    pub kind: String,
    pub timeout_ms: u64,
    pub file_path: String,
    pub webhook_url: String,
    /// The HMAC key of the signature; `webhook_secret_file` (read at start, trimmed) wins.
    pub webhook_secret: String,
    pub webhook_secret_file: String,
    /// PEM CA bundle trusted for an `https://` webhook_url (empty: the webpki roots).
    pub webhook_ca_file: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    /// "none", "starttls" or "tls".
    pub smtp_tls: String,
    pub smtp_from: String,
    /// PEM CA bundle trusted for smtp_tls "starttls"/"tls" (empty: the webpki roots).
    pub smtp_ca_file: String,
    pub smtp_username: String,
    /// `smtp_password_file` (read at start, trimmed) wins.
    pub smtp_password: String,
    pub smtp_password_file: String,
}

/// `[campaigns.clients]`: the services the read model's refresh asks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientsSettings {
    pub customers_url: String,
    pub loyalty_url: String,
    pub tickets_url: String,
    pub timeout_ms: u64,
}

impl CampaignsSettings {
    /// Page-size bounds of the list calls.
    pub fn paging(&self) -> Paging {
        Paging::new(self.default_page_size, self.max_page_size)
    }
}

impl Validate for CampaignsSettings {
    fn validate(&self, p: &mut Vec<String>) {
        self.paging().validate("campaigns", p);
        validate_retention("campaigns", self.idempotency_retention_hours, p);
        self.segments.validate("campaigns.segments", p);
        self.limits.validate("campaigns.limits", p);
        self.read_model.validate("campaigns.read_model", p);
        self.sending.validate("campaigns.sending", p);
        self.sender.validate("campaigns.sender", p);
        self.coupons.validate("campaigns.coupons", p);
        bounded(
            p,
            "campaigns.experiments.winner_interval_ms",
            self.experiments.winner_interval_ms,
            3_600_000,
        );
        bounded(
            p,
            "campaigns.journeys.interval_ms",
            self.journeys.interval_ms,
            86_400_000,
        );
        bounded(
            p,
            "campaigns.journeys.page",
            self.journeys.page.into(),
            100_000,
        );
        bounded(
            p,
            "campaigns.reports.timeline_days",
            self.reports.timeline_days.into(),
            3660,
        );
        if self.clients.timeout_ms == 0 || self.clients.timeout_ms > 60_000 {
            p.push("campaigns.clients.timeout_ms must be 1..=60000".into());
        }
    }
}

/// `name` is in `1..=max`, else a problem.
pub fn bounded(p: &mut Vec<String>, name: &str, value: u64, max: u64) {
    if value == 0 || value > max {
        p.push(format!("{name} must be 1..={max}, not {value}"));
    }
}

impl ReadModelSettings {
    fn validate(&self, at: &str, p: &mut Vec<String>) {
        bounded(
            p,
            &format!("{at}.refresh_interval_ms"),
            self.refresh_interval_ms,
            3_600_000,
        );
        bounded(
            p,
            &format!("{at}.refresh_batch"),
            self.refresh_batch.into(),
            1000,
        );
        bounded(
            p,
            &format!("{at}.refresh_retry_secs"),
            self.refresh_retry_secs,
            86_400,
        );
        bounded(
            p,
            &format!("{at}.membership_interval_ms"),
            self.membership_interval_ms,
            3_600_000,
        );
        bounded(
            p,
            &format!("{at}.membership_batch"),
            self.membership_batch.into(),
            10_000,
        );
        bounded(
            p,
            &format!("{at}.full_evaluation_secs"),
            self.full_evaluation_secs,
            7 * 86_400,
        );
    }
}

impl SendingSettings {
    fn validate(&self, at: &str, p: &mut Vec<String>) {
        for (name, v) in [
            ("quiet_hours_start", &self.quiet_hours_start),
            ("quiet_hours_end", &self.quiet_hours_end),
        ] {
            if !v.is_empty() && chrono::NaiveTime::parse_from_str(v, "%H:%M").is_err() {
                p.push(format!("{at}.{name} must be HH:MM or empty, not {v:?}"));
            }
        }
        if self.quiet_hours_start.is_empty() != self.quiet_hours_end.is_empty() {
            p.push(format!(
                "{at}.quiet_hours_start and quiet_hours_end are set together"
            ));
        }
        for (i, cap) in self.frequency_caps.iter().enumerate() {
            if crate::domain::campaign::Channel::from_code(&cap.channel).is_none() {
                p.push(format!(
                    "{at}.frequency_caps[{i}].channel must be email, sms, push or webhook"
                ));
            }
            bounded(
                p,
                &format!("{at}.frequency_caps[{i}].max"),
                cap.max.into(),
                10_000,
            );
            bounded(
                p,
                &format!("{at}.frequency_caps[{i}].window_hours"),
                cap.window_hours.into(),
                24 * 366,
            );
        }
        bounded(
            p,
            &format!("{at}.start_interval_ms"),
            self.start_interval_ms,
            3_600_000,
        );
        bounded(
            p,
            &format!("{at}.audience_page"),
            self.audience_page.into(),
            10_000,
        );
        bounded(
            p,
            &format!("{at}.dispatch_interval_ms"),
            self.dispatch_interval_ms,
            60_000,
        );
        bounded(
            p,
            &format!("{at}.dispatch_batch"),
            self.dispatch_batch.into(),
            10_000,
        );
        bounded(p, &format!("{at}.lease_secs"), self.lease_secs, 3600);
        bounded(
            p,
            &format!("{at}.max_attempts"),
            self.max_attempts.into(),
            100,
        );
        bounded(
            p,
            &format!("{at}.retry_base_ms"),
            self.retry_base_ms,
            3_600_000,
        );
        bounded(
            p,
            &format!("{at}.retry_max_ms"),
            self.retry_max_ms,
            86_400_000,
        );
        bounded(
            p,
            &format!("{at}.profile_wait_secs"),
            self.profile_wait_secs,
            86_400,
        );
    }
}

impl SenderSettings {
    fn validate(&self, at: &str, p: &mut Vec<String>) {
        bounded(p, &format!("{at}.timeout_ms"), self.timeout_ms, 120_000);
        match self.kind.as_str() {
            "log" => {}
            "file" if self.file_path.is_empty() => {
                p.push(format!("{at}.file_path is required with kind = \"file\""));
            }
            "webhook" if self.webhook_url.is_empty() => {
                p.push(format!(
                    "{at}.webhook_url is required with kind = \"webhook\""
                ));
            }
            "webhook" if self.webhook_secret.is_empty() && self.webhook_secret_file.is_empty() => {
                p.push(format!(
                    "{at}.webhook_secret or webhook_secret_file is required with kind = \"webhook\" (the body is signed)"
                ));
            }
            "smtp" if self.smtp_host.is_empty() || self.smtp_from.is_empty() => {
                p.push(format!(
                    "{at}.smtp_host and smtp_from are required with kind = \"smtp\""
                ));
            }
            "file" | "webhook" | "smtp" => {}
            other => p.push(format!(
                "{at}.kind must be log, file, webhook or smtp, not {other:?}"
            )),
        }
        if !["none", "starttls", "tls"].contains(&self.smtp_tls.as_str()) {
            p.push(format!("{at}.smtp_tls must be none, starttls or tls"));
        }
    }
}

// `Settings`: the platform sections plus `campaigns`, and `Settings::load(file)`.
crm_platform::service_settings!(Settings, DEFAULTS, { campaigns: CampaignsSettings });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let s = Settings::load(None).expect("defaults load");
        assert_eq!(s.campaigns.paging(), Paging::new(50, 1000));
        assert_eq!(s.campaigns.sender.kind, "log");
    }

    #[test]
    fn bad_settings_are_refused_with_every_problem() {
        let mut s = Settings::load(None).expect("defaults").campaigns;
        s.default_page_size = 0;
        s.idempotency_retention_hours = u64::MAX;
        s.sender.kind = "pigeon".into();
        s.sending.quiet_hours_start = "25:00".into();
        let mut problems = Vec::new();
        s.validate(&mut problems);
        assert_eq!(problems.len(), 4, "{problems:?}");
    }
}
