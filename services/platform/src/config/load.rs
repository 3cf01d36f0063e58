//! Reading the layered sources section by section, and the one error that lists every problem.
use super::{PLATFORM_DEFAULTS, PlatformSettings, Validate};
use serde::de::DeserializeOwned;
use std::path::Path;

/// All problems found while loading, reported together.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

/// The problems of several loads (e.g. each service of one binary) gathered into one error, so
/// a bad config in two places reports both. A problem met twice (a platform section every
/// service reads) is listed once.
#[derive(Debug, Default)]
pub struct Problems(Vec<String>);

impl Problems {
    /// The loaded value, or `None` with its problems kept.
    pub fn take<T>(&mut self, loaded: Result<T, ConfigError>) -> Option<T> {
        match loaded {
            Ok(v) => Some(v),
            Err(ConfigError(problems)) => {
                for p in problems {
                    if !self.0.contains(&p) {
                        self.0.push(p);
                    }
                }
                None
            }
        }
    }

    /// `value` when nothing went wrong, else every problem kept.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ConfigError> {
        match value {
            Some(v) if self.0.is_empty() => Ok(v),
            _ if self.0.is_empty() => Err(ConfigError(vec!["incomplete configuration".into()])),
            _ => Err(ConfigError(self.0)),
        }
    }
}

/// Layered sources, read section by section.
pub struct Loader {
    cfg: config::Config,
    problems: Vec<String>,
}

impl Loader {
    /// Embedded defaults (platform first, then each service's) -> `file` -> env `CRM_*`.
    pub fn new(service_defaults: &[&str], file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut b = config::Config::builder().add_source(config::File::from_str(
            PLATFORM_DEFAULTS,
            config::FileFormat::Toml,
        ));
        for d in service_defaults {
            b = b.add_source(config::File::from_str(d, config::FileFormat::Toml));
        }
        if let Some(f) = file {
            if !f.exists() {
                return Err(ConfigError(vec![format!(
                    "config file {} does not exist",
                    f.display()
                )]));
            }
            b = b.add_source(config::File::from(f).format(config::FileFormat::Toml));
        }
        b = b.add_source(
            config::Environment::with_prefix("CRM")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true),
        );
        let cfg = b.build().map_err(|e| ConfigError(vec![e.to_string()]))?;
        Ok(Self {
            cfg,
            problems: Vec::new(),
        })
    }

    /// A service's settings: the platform sections, then what `read` takes from the service's
    /// own sections (e.g. `|l| l.section("customers")`), over `defaults` (the service's
    /// embedded TOML) -> `file` -> env; every problem at once.
    pub fn service<T>(
        defaults: &str,
        file: Option<&Path>,
        read: impl FnOnce(&mut Loader) -> Option<T>,
    ) -> Result<(PlatformSettings, T), ConfigError> {
        let mut l = Self::new(&[defaults], file)?;
        let platform = l.platform();
        let own = read(&mut l);
        let value = platform.zip(own);
        l.finish(value)
    }

    pub fn platform(&mut self) -> Option<PlatformSettings> {
        // Each section is read even if an earlier one failed, so every problem is reported.
        let server = self.section("server");
        let database = self.section("database");
        let cache = self.section("cache");
        let telemetry = self.section("telemetry");
        let security = self.section("security");
        let events = self.section("events");
        let auth = self.section("auth");
        let tls = self.section("tls");
        let pii = self.section("pii");
        Some(PlatformSettings {
            server: server?,
            database: database?,
            cache: cache?,
            telemetry: telemetry?,
            security: security?,
            events: events?,
            auth: auth?,
            tls: tls?,
            pii: pii?,
        })
    }

    /// Reads and validates one section, e.g. `customers`.
    pub fn section<T: DeserializeOwned + Validate>(&mut self, key: &str) -> Option<T> {
        match self.cfg.get::<T>(key) {
            Ok(v) => {
                v.validate(&mut self.problems);
                Some(v)
            }
            Err(e) => {
                self.problems.push(format!("{key}: {e}"));
                None
            }
        }
    }

    /// Returns `value` if every section was read and valid, else every problem at once.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ConfigError> {
        Problems(self.problems).finish(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn embedded_defaults_load_and_validate() {
        let mut l = Loader::new(&[], None).expect("defaults parse");
        let p = l.platform();
        let s = l.finish(p).expect("defaults are valid");
        assert_eq!(s.server.host, "127.0.0.1");
        assert!(s.database.url.expose().starts_with("sqlite://"));
    }

    #[test]
    fn every_problem_is_listed_at_once() {
        let file = std::env::temp_dir().join(format!("crm-config-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(&file, "[server]\nport = \"abc\"\n[database]\nurl = \"mysql://x\"\n[cache]\nttl_secs = 0\n[telemetry]\nlevel = \"[[\"\n").expect("write");
        let mut l = Loader::new(&[], Some(&file)).expect("parse");
        let p = l.platform();
        let err = l.finish(p).expect_err("four problems");
        std::fs::remove_file(&file).ok();
        let text = err.to_string();
        // The server section does not even parse; the others are still checked.
        for want in [
            "server:",
            "database.url",
            "cache.ttl_secs",
            "telemetry.level",
        ] {
            assert!(text.contains(want), "{want} missing from: {text}");
        }
    }

    #[test]
    fn problems_of_several_loads_are_listed_once_each() {
        let mut all = Problems::default();
        let a: Option<u8> = all.take(Err(ConfigError(vec!["a: bad".into(), "shared".into()])));
        let b: Option<u8> = all.take(Err(ConfigError(vec!["b: bad".into(), "shared".into()])));
        let c = all.take(Ok(3_u8));
        assert_eq!((a, b, c), (None, None, Some(3)));
        let err = all.finish(c).expect_err("two loads failed");
        assert_eq!(err.0, ["a: bad", "shared", "b: bad"]);
        assert_eq!(Problems::default().finish(Some(1)).ok(), Some(1));
    }

    #[test]
    fn a_service_section_is_read_with_the_platform_sections() {
        #[derive(Debug, Deserialize)]
        struct Own {
            n: u32,
        }
        impl Validate for Own {
            fn validate(&self, p: &mut Vec<String>) {
                if self.n == 0 {
                    p.push("own.n: must be > 0".into());
                }
            }
        }
        let (platform, own) =
            Loader::service("[own]\nn = 2\n", None, |l| l.section::<Own>("own")).expect("valid");
        assert_eq!((platform.server.host.as_str(), own.n), ("127.0.0.1", 2));
        let err = Loader::service("[own]\nn = 0\n", None, |l| l.section::<Own>("own"))
            .expect_err("n = 0");
        assert_eq!(err.0, ["own.n: must be > 0"]);
    }
}
