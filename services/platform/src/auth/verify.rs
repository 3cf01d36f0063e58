//! Bearer-token verification: the issuer by its `iss`, then its algorithm allow-list, its key
//! (HS256 secret or JWKS key by `kid`), signature, `exp`/`nbf` with leeway, audience, and a
//! subject. Verified tokens are remembered by SHA-256 hash until they expire, so a hot caller
//! pays for one signature check per token, not per call.
use crate::auth::jwks::IssuerKeys;
use crate::auth::settings::{AuthSettings, IssuerSettings};
use crate::auth::{Principal, Proof};
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::Digest as _;
use std::collections::{BTreeSet, HashMap};
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

/// Why a token was refused (sent as ErrorInfo metadata `problem`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Missing,
    Malformed,
    AlgorithmNotAllowed,
    WrongIssuer,
    WrongAudience,
    Expired,
    NotYetValid,
    BadSignature,
    UnknownKey,
    /// The issuer's keys could not be loaded yet: worth a retry.
    KeysUnavailable,
}

impl Problem {
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::Missing => "missing",
            Problem::Malformed => "malformed",
            Problem::AlgorithmNotAllowed => "algorithm_not_allowed",
            Problem::WrongIssuer => "wrong_issuer",
            Problem::WrongAudience => "wrong_audience",
            Problem::Expired => "expired",
            Problem::NotYetValid => "not_yet_valid",
            Problem::BadSignature => "bad_signature",
            Problem::UnknownKey => "unknown_key",
            Problem::KeysUnavailable => "keys_unavailable",
        }
    }
}

/// Longest subject accepted.
const MAX_SUBJECT_CHARS: usize = 256;
/// Most scopes one token may carry.
const MAX_SCOPES: usize = 64;
/// A verified token is re-verified at least this often (a key removed from the JWKS stops
/// its tokens within this time).
const CACHE_TTL: Duration = Duration::from_secs(300);

struct Issuer {
    algorithms: Vec<Algorithm>,
    hs256: Option<DecodingKey>,
    keys: Option<Arc<IssuerKeys>>,
    validation: Validation,
}

#[derive(Deserialize)]
struct Unverified {
    iss: Option<String>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    /// OAuth 2.0 form: space-separated.
    #[serde(default)]
    scope: Option<String>,
    /// Array form (some issuers).
    #[serde(default)]
    scp: Option<Vec<String>>,
}

struct Verified {
    principal: Arc<Principal>,
    /// Unix seconds after which the token is refused (exp + leeway).
    valid_until: u64,
    verified_at: std::time::Instant,
}

/// Verified tokens by SHA-256 hash: read-mostly, so a read lock per call and no bookkeeping
/// per hit. When full, entries expired or older than [`CACHE_TTL`] go first, then all
/// (re-verifying is the only cost).
struct TokenCache {
    map: std::sync::RwLock<HashMap<[u8; 32], Arc<Verified>>>,
    capacity: usize,
}

impl TokenCache {
    fn get(&self, hash: &[u8; 32]) -> Option<Arc<Verified>> {
        let hit = self.map.read().ok()?.get(hash).cloned()?;
        (hit.verified_at.elapsed() < CACHE_TTL).then_some(hit)
    }

    fn insert(&self, hash: [u8; 32], v: Arc<Verified>, now: u64) {
        let Ok(mut map) = self.map.write() else {
            return;
        };
        if map.len() >= self.capacity {
            map.retain(|_, e| now <= e.valid_until && e.verified_at.elapsed() < CACHE_TTL);
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        map.insert(hash, v);
    }

    fn remove(&self, hash: &[u8; 32]) {
        if let Ok(mut map) = self.map.write() {
            map.remove(hash);
        }
    }
}

/// Verifies bearer tokens of the configured issuers and maps identities to scopes.
pub struct Verifier {
    issuers: HashMap<String, Issuer>,
    /// (issuer, subject) -> scopes; issuer "" for certificate identities.
    grants: HashMap<(String, String), BTreeSet<String>>,
    leeway: u64,
    max_token_bytes: usize,
    cache: TokenCache,
}

impl Verifier {
    pub fn new(s: &AuthSettings) -> anyhow::Result<Self> {
        let mut issuers = HashMap::new();
        for i in &s.issuers {
            issuers.insert(i.issuer.clone(), issuer(i, s.leeway_secs)?);
        }
        let mut grants: HashMap<(String, String), BTreeSet<String>> = HashMap::new();
        for g in &s.grants {
            grants
                .entry((g.issuer.clone(), g.subject.clone()))
                .or_default()
                .extend(g.scopes.iter().cloned());
        }
        Ok(Self {
            issuers,
            grants,
            leeway: s.leeway_secs,
            max_token_bytes: s.max_token_bytes,
            cache: TokenCache {
                map: std::sync::RwLock::new(HashMap::new()),
                capacity: usize::try_from(s.token_cache_capacity).unwrap_or(usize::MAX),
            },
        })
    }

    /// The key sets to keep fresh in the background.
    pub fn key_refreshers(&self) -> Vec<Arc<IssuerKeys>> {
        self.issuers
            .values()
            .filter_map(|i| i.keys.clone())
            .collect()
    }

    /// The principal of a certificate identity (mTLS): the scopes granted to it.
    pub fn certificate_principal(&self, identity: &str) -> Principal {
        Principal::new(identity, self.granted("", identity), Proof::Certificate)
    }

    fn granted(&self, issuer: &str, subject: &str) -> BTreeSet<String> {
        self.grants
            .get(&(issuer.to_owned(), subject.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    /// The principal of a bearer `token`, or why it is refused.
    pub fn verify(&self, token: &str) -> Result<Arc<Principal>, Problem> {
        if token.is_empty() {
            return Err(Problem::Missing);
        }
        if token.len() > self.max_token_bytes {
            return Err(Problem::Malformed);
        }
        let hash: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let now = jsonwebtoken::get_current_timestamp();
        if let Some(v) = self.cache.get(&hash) {
            if now <= v.valid_until {
                return Ok(v.principal.clone());
            }
            self.cache.remove(&hash);
            return Err(Problem::Expired);
        }
        let (principal, exp) = self.verify_uncached(token)?;
        let principal = Arc::new(principal);
        self.cache.insert(
            hash,
            Arc::new(Verified {
                principal: principal.clone(),
                valid_until: exp.saturating_add(self.leeway),
                verified_at: std::time::Instant::now(),
            }),
            now,
        );
        Ok(principal)
    }

    fn verify_uncached(&self, token: &str) -> Result<(Principal, u64), Problem> {
        let header = header(token)?;
        if header.alg.eq_ignore_ascii_case("none") {
            return Err(Problem::AlgorithmNotAllowed);
        }
        let alg = Algorithm::from_str(&header.alg).map_err(|_| Problem::AlgorithmNotAllowed)?;
        let iss = jsonwebtoken::dangerous::insecure_decode_claims::<Unverified>(token)
            .map_err(|_| Problem::Malformed)?
            .iss
            .ok_or(Problem::WrongIssuer)?;
        let issuer = self.issuers.get(&iss).ok_or(Problem::WrongIssuer)?;
        if !issuer.algorithms.contains(&alg) {
            return Err(Problem::AlgorithmNotAllowed);
        }
        let held;
        let key = if alg == Algorithm::HS256 {
            issuer.hs256.as_ref().ok_or(Problem::AlgorithmNotAllowed)?
        } else {
            let keys = issuer.keys.as_ref().ok_or(Problem::AlgorithmNotAllowed)?;
            held = keys.current().ok_or(Problem::KeysUnavailable)?;
            match held.find(header.kid.as_deref(), alg) {
                Some(k) => k,
                None => {
                    keys.want_refresh();
                    return Err(Problem::UnknownKey);
                }
            }
        };
        let mut validation = issuer.validation.clone();
        validation.algorithms = vec![alg];
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|e| problem_of(e.kind()))?
            .claims;
        if claims.sub.is_empty() || claims.sub.chars().count() > MAX_SUBJECT_CHARS {
            return Err(Problem::Malformed);
        }
        let mut scopes = self.granted(&iss, &claims.sub);
        let listed: Vec<String> = match (claims.scope, claims.scp) {
            (Some(s), _) => s.split_whitespace().map(str::to_owned).collect(),
            (None, Some(v)) => v,
            (None, None) => Vec::new(),
        };
        if listed.len() > MAX_SCOPES {
            return Err(Problem::Malformed);
        }
        scopes.extend(listed);
        Ok((Principal::new(claims.sub, scopes, Proof::Token), claims.exp))
    }
}

fn issuer(s: &IssuerSettings, leeway: u64) -> anyhow::Result<Issuer> {
    let algorithms = s
        .algorithms
        .iter()
        .map(|a| Algorithm::from_str(a).map_err(|e| anyhow::anyhow!("{a}: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let hs256 = if s.hs256_secret.is_empty() {
        None
    } else {
        Some(DecodingKey::from_secret(
            s.hs256_secret.expose().as_bytes(),
        )?)
    };
    let keys = s.has_keys().then(|| Arc::new(IssuerKeys::new(s.clone())));
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = leeway;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.set_audience(&s.audiences);
    validation.set_issuer(&[&s.issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    Ok(Issuer {
        algorithms,
        hs256,
        keys,
        validation,
    })
}

/// The JOSE header, read leniently so that `alg: none` is named as such.
fn header(token: &str) -> Result<Header, Problem> {
    let first = token.split('.').next().ok_or(Problem::Malformed)?;
    if token.split('.').count() != 3 {
        return Err(Problem::Malformed);
    }
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(first.trim_end_matches('='))
        .map_err(|_| Problem::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| Problem::Malformed)
}

fn problem_of(kind: &ErrorKind) -> Problem {
    match kind {
        ErrorKind::ExpiredSignature => Problem::Expired,
        ErrorKind::ImmatureSignature => Problem::NotYetValid,
        ErrorKind::InvalidAudience => Problem::WrongAudience,
        ErrorKind::InvalidIssuer => Problem::WrongIssuer,
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => Problem::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            Problem::AlgorithmNotAllowed
        }
        _ => Problem::Malformed,
    }
}

#[cfg(test)]
mod tests;
