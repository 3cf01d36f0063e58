//! Settings of the template binary: the platform sections plus `[template]`, whose documented
//! defaults are embedded from `config/template.toml`.
use crate::domain::Limits;
use crm_platform::config::Validate;
use crm_platform::idempotency::validate_retention;
use crm_platform::paging::Paging;
use serde::Deserialize;

pub const DEFAULTS: &str = include_str!("../config/template.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSettings {
    pub default_page_size: u32,
    pub max_page_size: u32,
    pub idempotency_retention_hours: u64,
    pub limits: Limits,
}

impl TemplateSettings {
    /// Page-size bounds of the list calls.
    pub fn paging(&self) -> Paging {
        Paging::new(self.default_page_size, self.max_page_size)
    }
}

impl Validate for TemplateSettings {
    fn validate(&self, p: &mut Vec<String>) {
        self.paging().validate("template", p);
        validate_retention("template", self.idempotency_retention_hours, p);
        self.limits.validate("template.limits", p);
    }
}

// `Settings`: the platform sections plus `template`, and `Settings::load(file)`.
crm_platform::service_settings!(Settings, DEFAULTS, { template: TemplateSettings });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let s = Settings::load(None).expect("defaults load");
        assert_eq!(s.template.paging(), Paging::new(50, 1000));
        assert_eq!(s.template.limits.max_title_chars, 200);
    }

    #[test]
    fn bad_settings_are_refused_with_every_problem() {
        let mut s = Settings::load(None).expect("defaults").template;
        s.default_page_size = 0;
        s.idempotency_retention_hours = u64::MAX;
        s.limits.max_title_chars = 0;
        let mut problems = Vec::new();
        s.validate(&mut problems);
        assert_eq!(problems.len(), 3, "{problems:?}");
    }
}
