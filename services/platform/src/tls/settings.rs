//! The `[tls]` and `[tls.client]` sections, checked at load by building the configurations
//! they describe (so a bad file is reported at start, not at the first connection).
use crate::config::Validate;
use serde::Deserialize;
use std::time::Duration;

/// Server side: TLS on the listen port, client certificates verified when `client_ca_file`
/// is set (mTLS); `client` for outgoing calls to `https://` URLs.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    pub enabled: bool,
    /// PEM certificate chain, leaf first.
    pub cert_file: String,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: String,
    /// PEM CA bundle; set: every client must present a certificate it signed.
    pub client_ca_file: String,
    /// How often the files are re-read; a change is served to new connections.
    pub reload_secs: u64,
    pub client: TlsClientSettings,
}

/// Outgoing calls to `https://` URLs.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsClientSettings {
    /// PEM CA bundle the servers' certificates must chain to; empty: the public web roots.
    pub ca_file: String,
    /// PEM certificate chain and key presented to servers that ask (mTLS); both or neither.
    pub cert_file: String,
    pub key_file: String,
}

/// TLS off: what the embedded defaults say.
impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            cert_file: String::new(),
            key_file: String::new(),
            client_ca_file: String::new(),
            reload_secs: 30,
            client: TlsClientSettings::default(),
        }
    }
}

impl TlsSettings {
    pub fn reload_period(&self) -> Duration {
        Duration::from_secs(self.reload_secs)
    }
}

/// Longest reload period: a rotated certificate is served within a day at worst.
const MAX_RELOAD_SECS: u64 = 86_400;

impl Validate for TlsSettings {
    fn validate(&self, p: &mut Vec<String>) {
        if !(1..=MAX_RELOAD_SECS).contains(&self.reload_secs) {
            p.push(format!(
                "tls.reload_secs: must be between 1 and {MAX_RELOAD_SECS}"
            ));
        }
        if self.enabled {
            let mut usable = true;
            for (name, path) in [("cert_file", &self.cert_file), ("key_file", &self.key_file)] {
                if path.is_empty() {
                    p.push(format!("tls.{name}: required when tls.enabled = true"));
                    usable = false;
                }
            }
            for (name, path) in [
                ("cert_file", &self.cert_file),
                ("key_file", &self.key_file),
                ("client_ca_file", &self.client_ca_file),
            ] {
                usable &= readable(&format!("tls.{name}"), path, p);
            }
            // Only readable files are parsed, so each problem is reported once.
            if usable && let Err(e) = super::files::ServerFiles::read(self).and_then(|f| f.config())
            {
                p.push(format!("tls: {e:#}"));
            }
        } else if !self.client_ca_file.is_empty() {
            p.push(
                "tls.client_ca_file: set but tls.enabled = false (client certificates would not be checked)"
                    .into(),
            );
        }
        self.client.validate(p);
    }
}

impl Validate for TlsClientSettings {
    fn validate(&self, p: &mut Vec<String>) {
        let mut usable = true;
        if self.cert_file.is_empty() != self.key_file.is_empty() {
            p.push("tls.client: cert_file and key_file are set together or not at all".into());
            usable = false;
        }
        for (name, path) in [
            ("ca_file", &self.ca_file),
            ("cert_file", &self.cert_file),
            ("key_file", &self.key_file),
        ] {
            usable &= readable(&format!("tls.client.{name}"), path, p);
        }
        if usable && let Err(e) = super::files::ClientFiles::read(self).and_then(|f| f.config()) {
            p.push(format!("tls.client: {e:#}"));
        }
    }
}

/// Whether the file at `path` (empty: none) can be read; a problem named `key` when not.
fn readable(key: &str, path: &str, p: &mut Vec<String>) -> bool {
    if path.is_empty() {
        return true;
    }
    match std::fs::File::open(path) {
        Ok(_) => true,
        Err(e) => {
            p.push(format!("{key}: cannot read {path}: {e}"));
            false
        }
    }
}
