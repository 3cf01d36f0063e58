//! `[pii]`: the key-encryption keys (KEKs) personal data is protected with.
use crate::config::{Secret, Validate};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use std::path::Path;

/// Bytes of a key-encryption key (AES-256).
pub const KEY_BYTES: usize = 32;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PiiSettings {
    /// false: new writes keep personal data in plain text (benchmarks, a staged roll-out);
    /// reads of encrypted rows still work. Blind indexes are kept either way.
    pub encrypt: bool,
    /// The id of the KEK new data keys are wrapped with; "" names the only configured key.
    pub active_key: String,
    /// With no `keys`: the development key, created with a warning when missing.
    pub dev_key_file: String,
    /// Rows per re-encryption transaction.
    pub reencrypt_batch: u32,
    /// How often the re-encryption job looks for rows under an old key.
    pub reencrypt_interval_secs: u64,
    /// How long after the write key was created an old data key no row uses is deleted:
    /// replicas still on the old configuration during a roll keep writing under it.
    pub retire_after_secs: u64,
    #[serde(default)]
    pub keys: Vec<KekSettings>,
}

/// One key-encryption key: 32 bytes in base64, inline or in a file (a mounted Secret).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KekSettings {
    pub id: String,
    #[serde(default)]
    pub secret: Secret,
    #[serde(default)]
    pub secret_file: String,
}

impl PiiSettings {
    /// The id new data keys are wrapped with (after validation: always a configured key,
    /// or [`DEV_KEY_ID`] without keys).
    pub fn active_id(&self) -> &str {
        match (self.active_key.as_str(), self.keys.as_slice()) {
            ("", [only]) => &only.id,
            ("", []) => DEV_KEY_ID,
            (id, _) => id,
        }
    }
}

/// The id of the development key (`dev_key_file`).
pub const DEV_KEY_ID: &str = "dev";

/// Decodes a KEK, naming the key in the error (never its bytes).
pub fn decode_key(id: &str, text: &str) -> anyhow::Result<[u8; KEY_BYTES]> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| anyhow::anyhow!("pii key {id:?}: not base64"))?;
    bytes.try_into().map_err(|b: Vec<u8>| {
        anyhow::anyhow!(
            "pii key {id:?}: {} bytes, a key-encryption key has {KEY_BYTES}",
            b.len()
        )
    })
}

impl KekSettings {
    /// The key's bytes, from `secret` or `secret_file` (read now, so a mounted Secret that
    /// changed is seen at the next start).
    pub fn load(&self) -> anyhow::Result<[u8; KEY_BYTES]> {
        if !self.secret.is_empty() {
            return decode_key(&self.id, self.secret.expose());
        }
        let text = std::fs::read_to_string(&self.secret_file).map_err(|e| {
            anyhow::anyhow!(
                "pii key {:?}: cannot read secret_file {:?}: {e}",
                self.id,
                self.secret_file
            )
        })?;
        decode_key(&self.id, &text)
    }
}

/// Reads the development key, creating it (owner-only where the platform has modes) when
/// missing. Loud: such a key sits beside the data it protects. Processes starting together
/// (`make run`, services sharing `./data`) agree: the key appears whole and only once.
pub fn dev_key(path: &str) -> anyhow::Result<[u8; KEY_BYTES]> {
    let p = Path::new(path);
    if !p.exists() {
        let key: [u8; KEY_BYTES] = super::cipher::random_bytes()?;
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("pii dev_key_file {path:?}: {e}"))?;
        }
        match create_private(p, STANDARD.encode(key).as_bytes()) {
            Ok(()) => {
                tracing::warn!(
                    path,
                    "pii development key created: personal data is encrypted with a key stored beside it; configure [[pii.keys]] from a secret store in production"
                );
                return Ok(key);
            }
            // Another process created it first: use that one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => anyhow::bail!("pii dev_key_file {path:?}: {e}"),
        }
    }
    tracing::warn!(
        path,
        "pii development key in use: configure [[pii.keys]] from a secret store in production"
    );
    let text = std::fs::read_to_string(p)
        .map_err(|e| anyhow::anyhow!("pii dev_key_file {path:?}: {e}"))?;
    decode_key(DEV_KEY_ID, &text)
}

/// Creates `path` holding `bytes`, owner-only, atomically: written to a private temporary
/// file, then hard-linked into place (fails with `AlreadyExists` rather than replacing a key
/// another process may already use; nobody ever reads a half-written key).
fn create_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    let tmp = std::path::PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    linked
}

impl Validate for PiiSettings {
    fn validate(&self, p: &mut Vec<String>) {
        let mut ids: Vec<&str> = Vec::new();
        for k in &self.keys {
            if k.id.is_empty() || k.id.len() > 64 || !k.id.chars().all(id_char) {
                p.push(format!(
                    "pii.keys: id {:?} must be 1-64 of [A-Za-z0-9._-]",
                    k.id
                ));
            }
            if ids.contains(&k.id.as_str()) {
                p.push(format!("pii.keys: id {:?} is listed twice", k.id));
            }
            ids.push(&k.id);
            match (k.secret.is_empty(), k.secret_file.is_empty()) {
                (true, true) | (false, false) => p.push(format!(
                    "pii.keys[{:?}]: set exactly one of secret and secret_file",
                    k.id
                )),
                (false, true) => {
                    if let Err(e) = decode_key(&k.id, k.secret.expose()) {
                        p.push(e.to_string());
                    }
                }
                (true, false) => {}
            }
        }
        if !self.active_key.is_empty() && !ids.contains(&self.active_key.as_str()) {
            p.push(format!(
                "pii.active_key: {:?} is not one of pii.keys",
                self.active_key
            ));
        }
        if self.active_key.is_empty() && self.keys.len() > 1 {
            p.push("pii.active_key: required with more than one key".into());
        }
        if self.keys.is_empty() && self.dev_key_file.is_empty() {
            p.push("pii: configure [[pii.keys]] or a dev_key_file".into());
        }
        if self.reencrypt_batch == 0 || self.reencrypt_batch > 5_000 {
            p.push("pii.reencrypt_batch: 1..=5000".into());
        }
        if self.reencrypt_interval_secs == 0 {
            p.push("pii.reencrypt_interval_secs: must be > 0".into());
        }
    }
}

fn id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(keys: Vec<KekSettings>, active: &str) -> PiiSettings {
        PiiSettings {
            encrypt: true,
            active_key: active.into(),
            dev_key_file: "data/pii-dev.key".into(),
            reencrypt_batch: 200,
            reencrypt_interval_secs: 30,
            retire_after_secs: 3600,
            keys,
        }
    }

    fn inline(id: &str, secret: &str) -> KekSettings {
        KekSettings {
            id: id.into(),
            secret: Secret::new(secret),
            secret_file: String::new(),
        }
    }

    fn problems(s: &PiiSettings) -> Vec<String> {
        let mut p = Vec::new();
        s.validate(&mut p);
        p
    }

    #[test]
    fn validation_names_each_problem_and_never_a_key() {
        let good = STANDARD.encode([7u8; 32]);
        assert!(problems(&settings(vec![inline("a", &good)], "")).is_empty());
        let p = problems(&settings(
            vec![
                inline("a", &good),
                inline("a", "c2hvcnQ="),
                inline("b c", &good),
            ],
            "",
        ));
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p.iter().all(|l| !l.contains(&good)), "{p:?}");
        assert_eq!(
            problems(&settings(vec![inline("a", &good)], "z")),
            ["pii.active_key: \"z\" is not one of pii.keys"]
        );
    }

    #[test]
    fn the_active_id_defaults_to_the_only_key_or_the_dev_key() {
        let good = STANDARD.encode([7u8; 32]);
        assert_eq!(settings(vec![inline("a", &good)], "").active_id(), "a");
        assert_eq!(settings(vec![], "").active_id(), DEV_KEY_ID);
        assert_eq!(settings(vec![inline("a", &good)], "a").active_id(), "a");
    }
}
