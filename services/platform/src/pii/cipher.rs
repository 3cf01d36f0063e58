//! AES-256-GCM sealing and HMAC-SHA256 blind indexes (ring: constant-time, AES-NI).
use crate::Error;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom as _, SystemRandom};
use std::collections::HashMap;

/// The first byte of every sealed value: the layout below, so it can change later.
const FORMAT: u8 = 1;
/// Bytes of a blind index kept (128 bits: collisions stay out of reach, rows stay small).
const INDEX_BYTES: usize = 16;
/// Bytes a sealed value adds to its plain text: format, nonce, tag.
pub const OVERHEAD: usize = 1 + NONCE_LEN + 16;

pub fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut b = [0u8; N];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| anyhow::anyhow!("the system random source failed"))?;
    Ok(b)
}

pub fn aead_key(bytes: &[u8]) -> anyhow::Result<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| anyhow::anyhow!("an AES-256 key has 32 bytes"))
}

/// `FORMAT || nonce || ciphertext || tag`, the nonce random (a data key seals far fewer than
/// the 2^32 messages a random 96-bit nonce allows).
pub fn seal_with(key: &LessSafeKey, aad: &[u8], plain: &[u8]) -> anyhow::Result<Vec<u8>> {
    let nonce: [u8; NONCE_LEN] = random_bytes()?;
    let mut out = Vec::with_capacity(plain.len() + OVERHEAD);
    out.push(FORMAT);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plain);
    let mut body = out.split_off(1 + NONCE_LEN);
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut body,
    )
    .map_err(|_| anyhow::anyhow!("sealing failed"))?;
    out.append(&mut body);
    Ok(out)
}

/// The plain text of a [`seal_with`] output, or `None` when the key, the associated data or
/// any byte is not the one it was sealed with.
pub fn open_with(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < OVERHEAD || sealed[0] != FORMAT {
        return None;
    }
    let nonce: [u8; NONCE_LEN] = sealed[1..=NONCE_LEN].try_into().ok()?;
    let mut body = sealed[1 + NONCE_LEN..].to_vec();
    let plain_len = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut body,
        )
        .ok()?
        .len();
    body.truncate(plain_len);
    Some(body)
}

/// A sealed value and the id of the data key that opens it (`None`: stored in plain text,
/// encryption being off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key: Option<String>,
    pub bytes: Vec<u8>,
}

/// The unwrapped keys of a service: what seals and indexes its rows.
pub struct Keys {
    pub(super) encrypt: bool,
    pub(super) write_key: String,
    pub(super) data: HashMap<String, LessSafeKey>,
    pub(super) index: ring::hmac::Key,
}

impl Keys {
    /// Seals `plain` under the write key, bound to `aad` (e.g. `customers:<id>`: a sealed
    /// value copied to another row does not open there).
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Result<Sealed, Error> {
        if !self.encrypt {
            return Ok(Sealed {
                key: None,
                bytes: plain.to_vec(),
            });
        }
        let key = self
            .data
            .get(&self.write_key)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("pii write key not loaded")))?;
        Ok(Sealed {
            key: Some(self.write_key.clone()),
            bytes: seal_with(key, aad, plain).map_err(Error::internal)?,
        })
    }

    /// The plain text of a sealed value; an opaque internal error (logged with the key id,
    /// never the data) when no loaded key opens it.
    pub fn unseal(&self, key: Option<&str>, aad: &[u8], bytes: &[u8]) -> Result<Vec<u8>, Error> {
        let Some(id) = key else {
            return Ok(bytes.to_vec());
        };
        let data_key = self.data.get(id).ok_or_else(|| {
            Error::internal(anyhow::anyhow!(
                "pii data key {id:?} is not loaded (retired while rows still use it?)"
            ))
        })?;
        open_with(data_key, aad, bytes).ok_or_else(|| {
            Error::internal(anyhow::anyhow!(
                "pii value under data key {id:?} does not open: altered or moved"
            ))
        })
    }

    /// The blind index of `normalized` in `domain` (e.g. "email"): equal inputs give equal
    /// outputs, nothing else is learnt without the index key. Domains keep an e-mail and a
    /// name that happen to be the same string apart.
    pub fn index(&self, domain: &str, normalized: &str) -> String {
        let mut ctx = ring::hmac::Context::with_key(&self.index);
        ctx.update(domain.as_bytes());
        ctx.update(&[0x1f]);
        ctx.update(normalized.as_bytes());
        URL_SAFE_NO_PAD.encode(&ctx.sign().as_ref()[..INDEX_BYTES])
    }

    /// The data key id new seals carry (`None` when encryption is off).
    pub fn write_key(&self) -> Option<&str> {
        self.encrypt.then_some(self.write_key.as_str())
    }

    /// Whether a row sealed under `key` is for the re-encryption job: written before
    /// encryption ([`LEGACY`](super::LEGACY)), in plain text while encryption is on, or under
    /// another data key than the write key.
    pub fn is_stale(&self, key: Option<&str>) -> bool {
        match key {
            Some(super::LEGACY) => true,
            None => self.encrypt,
            Some(k) => self.encrypt && k != self.write_key,
        }
    }
}

/// A value kept sealed in a text or JSON column (idempotent responses): the key id and the
/// sealed JSON in base64. [`Stored`] also reads values written in plain text before.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SealedJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_key: Option<String>,
    pub sealed: String,
}

/// What a sealed column holds: a [`SealedJson`] or a plain value of before.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum Stored<T> {
    Sealed(SealedJson),
    Plain(T),
}

impl Keys {
    pub fn seal_json<T: serde::Serialize>(&self, aad: &[u8], v: &T) -> Result<SealedJson, Error> {
        let plain = serde_json::to_vec(v).map_err(Error::internal)?;
        let s = self.seal(aad, &plain)?;
        Ok(SealedJson {
            sealed_key: s.key,
            sealed: base64::engine::general_purpose::STANDARD.encode(s.bytes),
        })
    }

    pub fn unseal_json<T: serde::de::DeserializeOwned>(
        &self,
        aad: &[u8],
        stored: Stored<T>,
    ) -> Result<T, Error> {
        match stored {
            Stored::Plain(v) => Ok(v),
            Stored::Sealed(s) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(&s.sealed)
                    .map_err(Error::internal)?;
                let plain = self.unseal(s.sealed_key.as_deref(), aad, &bytes)?;
                // Position only: serde_json's message can quote the value it choked on.
                serde_json::from_slice(&plain).map_err(|e| {
                    Error::internal(anyhow::anyhow!(
                        "sealed json does not parse at line {} column {}",
                        e.line(),
                        e.column()
                    ))
                })
            }
        }
    }

    /// `bytes` sealed for a cache or another store of opaque bytes: the key id travels in
    /// front (`0xff`, its length, the id), which no JSON text starts with.
    pub fn seal_bytes(&self, aad: &[u8], bytes: &[u8]) -> Result<Vec<u8>, Error> {
        let s = self.seal(aad, bytes)?;
        let Some(key) = s.key else {
            return Ok(s.bytes);
        };
        let mut out = Vec::with_capacity(2 + key.len() + s.bytes.len());
        out.push(0xff);
        out.push(u8::try_from(key.len()).map_err(Error::internal)?);
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&s.bytes);
        Ok(out)
    }

    /// The bytes of [`seal_bytes`](Self::seal_bytes) (plain ones as they are); `None` when
    /// they do not open.
    pub fn unseal_bytes(&self, aad: &[u8], bytes: &[u8]) -> Option<Vec<u8>> {
        match bytes {
            [0xff, len, rest @ ..] if rest.len() >= usize::from(*len) => {
                let (key, sealed) = rest.split_at(usize::from(*len));
                self.unseal(Some(std::str::from_utf8(key).ok()?), aad, sealed)
                    .ok()
            }
            [0xff, ..] => None,
            _ => Some(bytes.to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(encrypt: bool) -> Keys {
        let k: [u8; 32] = random_bytes().expect("random");
        let mut data = HashMap::new();
        data.insert("d1".to_owned(), aead_key(&k).expect("key"));
        Keys {
            encrypt,
            write_key: "d1".into(),
            data,
            index: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[3u8; 32]),
        }
    }

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_associated_data() {
        let k = keys(true);
        let s = k.seal(b"customers:1", b"li@example.com").expect("seal");
        assert_eq!(s.key.as_deref(), Some("d1"));
        assert_eq!(s.bytes.len(), 14 + OVERHEAD);
        assert!(!s.bytes.windows(4).any(|w| w == b"exam"));
        let open = |aad: &[u8], b: &[u8]| k.unseal(s.key.as_deref(), aad, b);
        assert_eq!(
            open(b"customers:1", &s.bytes).expect("open"),
            b"li@example.com"
        );
        assert!(
            open(b"customers:2", &s.bytes).is_err(),
            "moved to another row"
        );
        let mut flipped = s.bytes.clone();
        flipped[20] ^= 1;
        assert!(open(b"customers:1", &flipped).is_err(), "altered");
        assert!(k.unseal(Some("d2"), b"customers:1", &s.bytes).is_err());
        assert!(open(b"customers:1", &s.bytes[..5]).is_err(), "truncated");
        let other = keys(true);
        assert!(other.unseal(Some("d1"), b"customers:1", &s.bytes).is_err());
    }

    #[test]
    fn json_and_bytes_round_trip_sealed_and_read_plain_values_of_before() {
        let k = keys(true);
        let s = k
            .seal_json(b"idempotency:1", &vec!["li@example.com"])
            .expect("seal");
        let text = serde_json::to_string(&s).expect("json");
        assert!(!text.contains("example"), "{text}");
        let back: Stored<Vec<String>> = serde_json::from_str(&text).expect("parse");
        assert_eq!(
            k.unseal_json(b"idempotency:1", back).expect("open"),
            ["li@example.com"]
        );
        let plain: Stored<Vec<String>> = serde_json::from_str(r#"["a"]"#).expect("plain");
        assert_eq!(k.unseal_json(b"x", plain).expect("plain"), ["a"]);
        let b = k.seal_bytes(b"cache:1", br#"{"a":1}"#).expect("seal");
        assert_eq!(b[0], 0xff);
        assert_eq!(
            k.unseal_bytes(b"cache:1", &b).as_deref(),
            Some(br#"{"a":1}"#.as_slice())
        );
        assert_eq!(k.unseal_bytes(b"cache:2", &b), None);
        assert_eq!(
            k.unseal_bytes(b"x", b"{}").as_deref(),
            Some(b"{}".as_slice())
        );
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        let k = keys(true);
        let a = k.seal(b"x", b"same").expect("seal");
        let b = k.seal(b"x", b"same").expect("seal");
        assert_ne!(a.bytes, b.bytes);
    }

    #[test]
    fn encryption_off_keeps_plain_text_and_indexes() {
        let k = keys(false);
        let s = k.seal(b"x", b"plain").expect("seal");
        assert_eq!((s.key, s.bytes.as_slice()), (None, b"plain".as_slice()));
        assert_eq!(k.write_key(), None);
        assert_eq!(
            k.index("email", "a@b.c"),
            keys(true).index("email", "a@b.c")
        );
    }

    #[test]
    fn blind_indexes_are_deterministic_per_domain_and_short() {
        let k = keys(true);
        let a = k.index("email", "li@example.com");
        assert_eq!(a, k.index("email", "li@example.com"));
        assert_ne!(a, k.index("phone", "li@example.com"));
        assert_ne!(a, k.index("emai", "lli@example.com"));
        assert_eq!(a.len(), 22);
    }

    #[test]
    fn staleness_follows_the_write_key_and_the_mode() {
        let on = keys(true);
        assert!(!on.is_stale(Some("d1")));
        assert!(on.is_stale(Some("d0")));
        assert!(on.is_stale(None));
        assert!(on.is_stale(Some(crate::pii::LEGACY)));
        let off = keys(false);
        assert!(!off.is_stale(None));
        assert!(!off.is_stale(Some("d0")));
        assert!(off.is_stale(Some(crate::pii::LEGACY)));
    }
}
