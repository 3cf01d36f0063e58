//! The identity a service sends on its own calls: `authorization: Bearer <token>` from a fixed
//! token or a token file. A file is re-read when its modification time changes (checked at
//! most every [`RECHECK`]), so a projected service-account token rotated by the kubelet is
//! picked up without a restart.
use crate::auth::ClientAuthSettings;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tonic::metadata::{AsciiMetadataValue, MetadataMap};

/// How often a token file's modification time is looked at.
const RECHECK: Duration = Duration::from_secs(10);

/// Credentials for outgoing calls; the default sends none. Clones share the cached token.
#[derive(Clone, Default)]
pub struct Credentials(Option<Arc<Source>>);

enum Source {
    Fixed(AsciiMetadataValue),
    File {
        path: PathBuf,
        state: Mutex<FileState>,
    },
}

#[derive(Default)]
struct FileState {
    value: Option<AsciiMetadataValue>,
    modified: Option<SystemTime>,
    checked: Option<Instant>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_deref() {
            None => f.write_str("Credentials(none)"),
            Some(Source::Fixed(_)) => f.write_str("Credentials(token [redacted])"),
            Some(Source::File { path, .. }) => write!(f, "Credentials(file {})", path.display()),
        }
    }
}

impl PartialEq for Credentials {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}
impl Eq for Credentials {}

/// The header value. Not marked sensitive: HPACK then indexes it, so a connection sends the
/// token once instead of with every call (a never-indexed literal of ~1 KB per call cost ~5%
/// of a hot read). The compression side channel that marking defends against needs an attacker
/// who injects chosen headers into this service's own connection; our Debug never prints it.
fn bearer(token: &str) -> anyhow::Result<AsciiMetadataValue> {
    AsciiMetadataValue::try_from(format!("Bearer {}", token.trim()))
        .map_err(|_| anyhow::anyhow!("the token is not printable ASCII"))
}

impl Credentials {
    /// A fixed bearer `token`.
    pub fn token(token: &str) -> anyhow::Result<Self> {
        Ok(Self(Some(Arc::new(Source::Fixed(bearer(token)?)))))
    }

    /// From `[auth.client]`; a token file that cannot be read yet is retried on each call.
    pub fn from_settings(s: &ClientAuthSettings) -> anyhow::Result<Self> {
        if !s.token.is_empty() {
            return Self::token(s.token.expose());
        }
        if s.token_file.is_empty() {
            return Ok(Self::default());
        }
        Ok(Self(Some(Arc::new(Source::File {
            path: PathBuf::from(&s.token_file),
            state: Mutex::new(FileState::default()),
        }))))
    }

    /// Adds `authorization` to `metadata` when there is a token.
    pub fn apply(&self, metadata: &mut MetadataMap) {
        if let Some(v) = self.current() {
            metadata.insert("authorization", v);
        }
    }

    fn current(&self) -> Option<AsciiMetadataValue> {
        match self.0.as_deref()? {
            Source::Fixed(v) => Some(v.clone()),
            Source::File { path, state } => {
                let mut st = state.lock().ok()?;
                let due = st.checked.is_none_or(|t| t.elapsed() >= RECHECK) || st.value.is_none();
                if due {
                    st.checked = Some(Instant::now());
                    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
                    if modified.is_none() || modified != st.modified || st.value.is_none() {
                        match std::fs::read_to_string(path)
                            .map_err(anyhow::Error::from)
                            .and_then(|t| bearer(&t))
                        {
                            Ok(v) => {
                                st.value = Some(v);
                                st.modified = modified;
                            }
                            Err(e) => {
                                tracing::warn!(path = %path.display(), error = format!("{e:#}"), "cannot read the outgoing token file; keeping the last token");
                            }
                        }
                    }
                }
                st.value.clone()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(c: &Credentials) -> Option<String> {
        let mut m = MetadataMap::new();
        c.apply(&mut m);
        m.get("authorization")
            .map(|v| v.to_str().expect("ascii").to_owned())
    }

    #[test]
    fn no_credentials_send_nothing_and_a_fixed_token_is_sent() {
        assert_eq!(header(&Credentials::default()), None);
        let c = Credentials::token("abc").expect("ascii");
        assert_eq!(header(&c).as_deref(), Some("Bearer abc"));
        assert_eq!(format!("{c:?}"), "Credentials(token [redacted])");
    }

    #[test]
    fn a_token_file_is_reread_when_it_changes() {
        let path = std::env::temp_dir().join(format!("crm-token-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, "first\n").expect("write");
        let c = Credentials::from_settings(&ClientAuthSettings {
            token_file: path.display().to_string(),
            token: Default::default(),
        })
        .expect("settings");
        assert_eq!(header(&c).as_deref(), Some("Bearer first"));
        std::fs::write(&path, "second").expect("write");
        let later = SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(later))
            .expect("touch");
        // Force the next look (the test does not wait RECHECK).
        if let Some(Source::File { state, .. }) = c.0.as_deref() {
            state.lock().expect("lock").checked = None;
        }
        assert_eq!(header(&c).as_deref(), Some("Bearer second"));
        std::fs::remove_file(&path).expect("remove");
        if let Some(Source::File { state, .. }) = c.0.as_deref() {
            state.lock().expect("lock").checked = None;
        }
        assert_eq!(
            header(&c).as_deref(),
            Some("Bearer second"),
            "a vanished file keeps the last token"
        );
    }
}
