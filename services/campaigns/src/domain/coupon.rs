//! Coupon pools: unique codes, uploaded or generated, each given to one customer exactly once
//! (the claim is a conditional UPDATE of one free code; the claim key makes a repeat return
//! the same code).
use super::{CouponPoolId, CustomerId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Bounds of coupon pools (`[campaigns.coupons]`). The API documents the per-call ones, so a
/// deployment may lower them, not raise them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CouponLimits {
    pub max_display_name_chars: usize,
    /// Codes per AddCouponCodes call.
    pub max_codes_per_call: usize,
    /// Codes per GenerateCouponCodes call.
    pub max_generate_per_call: u32,
    /// Codes in one pool.
    pub max_codes_per_pool: u64,
}

impl CouponLimits {
    pub fn validate(&self, at: &str, p: &mut Vec<String>) {
        use crate::settings::bounded;
        bounded(
            p,
            &format!("{at}.max_display_name_chars"),
            self.max_display_name_chars as u64,
            200,
        );
        bounded(
            p,
            &format!("{at}.max_codes_per_call"),
            self.max_codes_per_call as u64,
            5_000,
        );
        bounded(
            p,
            &format!("{at}.max_generate_per_call"),
            self.max_generate_per_call.into(),
            100_000,
        );
        bounded(
            p,
            &format!("{at}.max_codes_per_pool"),
            self.max_codes_per_pool,
            100_000_000,
        );
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponPool {
    pub id: CouponPoolId,
    pub display_name: String,
    pub revision: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

impl CouponPool {
    pub fn new(display_name: String, now: DateTime<Utc>) -> Self {
        Self {
            id: CouponPoolId::generate(),
            display_name,
            revision: 1,
            create_time: now,
            update_time: now,
        }
    }
}

/// A pool with its counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolCounts {
    pub codes: u64,
    pub claimed: u64,
}

/// A pool as the RPCs answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolView {
    pub pool: CouponPool,
    pub counts: PoolCounts,
}

/// A code given to a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub pool: CouponPoolId,
    pub code: String,
    pub customer: CustomerId,
    pub claim_time: DateTime<Utc>,
}

/// The claim key of a campaign recipient's code.
pub fn delivery_claim_key(delivery: uuid::Uuid) -> String {
    format!("deliveries/{delivery}")
}

/// The claim key of ClaimCoupon: one code per customer and pool.
pub fn customer_claim_key(customer: CustomerId) -> String {
    customer.name()
}

/// Length bounds of an uploaded code.
pub const CODE_CHARS: std::ops::RangeInclusive<usize> = 4..=64;
/// Most characters of a generated code's prefix.
pub const MAX_PREFIX_CHARS: usize = 16;
/// Random characters of a generated code.
pub const RANDOM_CHARS: std::ops::RangeInclusive<usize> = 8..=32;
pub const DEFAULT_RANDOM_CHARS: usize = 10;

/// Whether `s` may be uploaded as a code: 4 to 64 of A-Z, a-z, 0-9, '-' and '_'.
pub fn is_code(s: &str) -> bool {
    CODE_CHARS.contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `s` may prefix generated codes: at most 16 of A-Z, 0-9 and '-' (empty is fine).
pub fn is_prefix(s: &str) -> bool {
    s.len() <= MAX_PREFIX_CHARS
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

/// The characters of generated codes: upper case and digits without 0/O, 1/I/L, which
/// people misread when they type a code from a message.
pub const ALPHABET: &[u8; 31] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// Bytes below this map evenly onto [`ALPHABET`] (8 times each); the rest are drawn again,
/// so every character is equally likely.
const UNBIASED_BELOW: u8 = 31 * 8;

/// `prefix` and `length` characters of [`ALPHABET`] drawn from `random`, which fills a
/// buffer with random bytes (the service passes the operating system's CSPRNG).
pub fn generate_code<E>(
    prefix: &str,
    length: usize,
    mut random: impl FnMut(&mut [u8]) -> Result<(), E>,
) -> Result<String, E> {
    let mut code = String::with_capacity(prefix.len() + length);
    code.push_str(prefix);
    // Rejections are 3% of bytes: a buffer a little larger than needed rarely refills.
    let mut buf = vec![0u8; length + length / 4 + 4];
    let mut left = 0;
    while code.len() < prefix.len() + length {
        if left == 0 {
            random(&mut buf)?;
            left = buf.len();
        }
        left -= 1;
        let b = buf[left];
        if b < UNBIASED_BELOW {
            code.push(char::from(ALPHABET[usize::from(b % 31)]));
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    #[test]
    fn uploaded_codes_and_prefixes() {
        for ok in ["SAVE", "spring-10_off", &"x".repeat(64)] {
            assert!(is_code(ok), "{ok}");
        }
        for bad in [
            "",
            "abc",
            &"x".repeat(65),
            "SAVE 10",
            "Ü-CODE",
            "SAVE\0",
            "10%OFF",
        ] {
            assert!(!is_code(bad), "{bad}");
        }
        for ok in ["", "XMAS-", "Y2026", &"A".repeat(16)] {
            assert!(is_prefix(ok), "{ok}");
        }
        for bad in ["xmas", "A_B", &"A".repeat(17), "A B"] {
            assert!(!is_prefix(bad), "{bad}");
        }
    }

    #[test]
    fn the_alphabet_has_no_lookalikes_and_no_repeats() {
        for c in b"0O1IL" {
            assert!(!ALPHABET.contains(c), "{}", char::from(*c));
        }
        let mut sorted = ALPHABET.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ALPHABET.len());
    }

    #[test]
    fn generated_codes_take_the_prefix_and_the_length() {
        let mut counter = 0u8;
        let mut source = |buf: &mut [u8]| {
            for b in buf {
                *b = counter;
                counter = counter.wrapping_add(1);
            }
            Ok::<_, Infallible>(())
        };
        let code = generate_code("XMAS-", 12, &mut source).expect("code");
        assert_eq!(code.len(), 17);
        assert!(code.starts_with("XMAS-"));
        assert!(code[5..].bytes().all(|b| ALPHABET.contains(&b)), "{code}");
    }

    #[test]
    fn biased_bytes_are_drawn_again() {
        // Only bytes of 248 and above at first (all rejected), then 30 (-> '9'): the code
        // comes from the third buffer, read from its end.
        let mut calls = 0;
        let source = |buf: &mut [u8]| {
            calls += 1;
            let fill = match calls {
                1 => 255,
                2 => 248,
                _ => 30,
            };
            buf.fill(fill);
            Ok::<_, Infallible>(())
        };
        let code = generate_code("", 8, source).expect("code");
        assert_eq!((code.as_str(), calls), ("99999999", 3));
        let mut zeros = |buf: &mut [u8]| {
            buf.fill(0);
            Ok::<_, Infallible>(())
        };
        assert_eq!(generate_code("", 8, &mut zeros).expect("code"), "AAAAAAAA");
    }

    #[test]
    fn every_character_is_about_equally_likely() {
        // A fixed xorshift stream: 310,000 characters, 10,000 expected of each.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut source = |buf: &mut [u8]| {
            for b in buf {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x.to_le_bytes()[3];
            }
            Ok::<_, Infallible>(())
        };
        let mut seen = std::collections::HashMap::new();
        for _ in 0..10_000 {
            for c in generate_code("", 31, &mut source).expect("code").chars() {
                *seen.entry(c).or_insert(0u32) += 1;
            }
        }
        assert_eq!(seen.len(), 31);
        for (c, n) in seen {
            assert!((9_400..=10_600).contains(&n), "{c}: {n}");
        }
    }

    #[test]
    fn a_failing_source_fails_the_code() {
        let failing = |_: &mut [u8]| Err("no entropy");
        assert_eq!(generate_code("A", 8, failing), Err("no entropy"));
    }
}
