//! Opaque, tamper-proof page tokens: a cursor plus a fingerprint of the query, signed with
//! HMAC-SHA256. A token edited by hand, or replayed with other filters, is rejected.
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use std::sync::Arc;

use crate::error::{Error, ErrorCode};

const TAG_LEN: usize = 16;

/// Signs and verifies page tokens with one secret (shared by all replicas of a service).
#[derive(Clone)]
pub struct PageTokens {
    key: Arc<[u8]>,
}

#[derive(Serialize, serde::Deserialize)]
struct Payload<C> {
    /// Fingerprint of the query the token belongs to.
    q: String,
    /// Where the next page starts.
    c: C,
}

impl PageTokens {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: Arc::from(secret),
        }
    }

    /// The configured secret, or a random key for this process (tokens then do not survive
    /// a restart or work across replicas, which is logged).
    pub fn from_secret(secret: &crate::config::Secret) -> Self {
        if secret.is_empty() {
            tracing::warn!(
                "security.page_token_secret is empty; using a random key (page tokens will not survive a restart)"
            );
            Self::new(uuid::Uuid::new_v4().as_bytes().repeat(2).as_slice())
        } else {
            Self::new(secret.expose().as_bytes())
        }
    }

    /// Trims the look-ahead row of `rows` (queried with `limit + 1`) and returns the token of
    /// the page after it: empty on the last page.
    pub fn next_page<T, C: Serialize>(
        &self,
        rows: &mut Vec<T>,
        limit: u64,
        query: &str,
        cursor: impl Fn(&T) -> C,
    ) -> String {
        if rows.len() as u64 <= limit {
            return String::new();
        }
        rows.truncate(limit as usize);
        rows.last()
            .map(|last| self.encode(query, &cursor(last)))
            .unwrap_or_default()
    }

    /// A fingerprint of everything that defines a query except the page size.
    pub fn fingerprint(parts: &[&str]) -> String {
        let mut h = Sha256::new();
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p.as_bytes());
        }
        URL_SAFE_NO_PAD.encode(&h.finalize()[..12])
    }

    pub fn encode<C: Serialize>(&self, query: &str, cursor: &C) -> String {
        let body = serde_json::to_vec(&Payload {
            q: query.to_owned(),
            c: cursor,
        })
        .unwrap_or_default();
        let mut out = body.clone();
        out.extend_from_slice(&self.tag(&body));
        URL_SAFE_NO_PAD.encode(out)
    }

    /// `Ok(None)` for an empty token (first page).
    pub fn decode<C: DeserializeOwned>(
        &self,
        token: &str,
        query: &str,
    ) -> Result<Option<C>, Error> {
        if token.is_empty() {
            return Ok(None);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| invalid("is not a page token from this service"))?;
        if raw.len() <= TAG_LEN {
            return Err(invalid("is not a page token from this service"));
        }
        let (body, tag) = raw.split_at(raw.len() - TAG_LEN);
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_truncated_left(tag)
            .map_err(|_| invalid("was tampered with or comes from another deployment"))?;
        let payload: Payload<C> = serde_json::from_slice(body)
            .map_err(|_| invalid("is not a page token from this service"))?;
        if payload.q != query {
            return Err(invalid(
                "belongs to a different query; keep the filters and order of the first request",
            ));
        }
        Ok(Some(payload.c))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length.
        Hmac::<Sha256>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("hmac takes any key length"))
    }

    fn tag(&self, body: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = self.mac();
        mac.update(body);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }
}

fn invalid(why: &str) -> Error {
    let mut e = Error::invalid_field("page_token", why);
    e.reason = "INVALID_PAGE_TOKEN".into();
    e.code = ErrorCode::InvalidArgument;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> PageTokens {
        PageTokens::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn round_trip() {
        let q = PageTokens::fingerprint(&["tag=vip", "order=create_time"]);
        let t = tokens().encode(&q, &("2026-01-01", 7));
        let c: Option<(String, i32)> = tokens().decode(&t, &q).expect("valid");
        assert_eq!(c, Some(("2026-01-01".to_owned(), 7)));
        assert_eq!(tokens().decode::<i32>("", &q).expect("empty"), None);
    }

    #[test]
    fn tampering_and_other_queries_are_rejected() {
        let q = PageTokens::fingerprint(&["a"]);
        let t = tokens().encode(&q, &1);
        let mut bytes = URL_SAFE_NO_PAD.decode(&t).expect("b64");
        bytes[5] ^= 1;
        let forged = URL_SAFE_NO_PAD.encode(bytes);
        for (token, query) in [
            (forged.as_str(), q.as_str()),
            (t.as_str(), "other"),
            ("!!", q.as_str()),
        ] {
            let err = tokens().decode::<i32>(token, query).expect_err("rejected");
            assert_eq!(err.reason, "INVALID_PAGE_TOKEN");
        }
        let other_key = PageTokens::new(b"another secret of at least 32 bytes!");
        assert!(other_key.decode::<i32>(&t, &q).is_err());
    }

    #[test]
    fn fingerprint_separates_parts() {
        assert_ne!(
            PageTokens::fingerprint(&["ab", "c"]),
            PageTokens::fingerprint(&["a", "bc"])
        );
    }
}
