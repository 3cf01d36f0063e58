//! Erasure of a customer's free text from its chain (CustomerErased). A transaction's hash
//! covers the digest of its text, not the text ([`Transaction::compute_hash`]), so the text
//! is cleared and the digest, every amount and every hash stay. Rows from before digests
//! are hashed over their text: scrubbing one gives it its digest and a new hash, and the
//! rest of the chain is linked again on it. Each row is checked against the chain as stored
//! first, so scrubbing never launders a row altered behind the service's back.
use super::chain::{GENESIS, Transaction, text_digest};

/// Walks one chain in order, a page at a time, scrubbing each transaction.
#[derive(Debug, Clone)]
pub struct Scrubber {
    /// The chain as stored: where the next transaction must link.
    stored_hash: String,
    sequence: i64,
    wallet: i64,
    held: i64,
    /// The chain as rewritten: what the next transaction links to now.
    new_hash: String,
    /// Transactions whose text was cleared.
    pub scrubbed: u64,
}

impl Default for Scrubber {
    fn default() -> Self {
        Self {
            stored_hash: GENESIS.to_owned(),
            sequence: 0,
            wallet: 0,
            held: 0,
            new_hash: GENESIS.to_owned(),
            scrubbed: 0,
        }
    }
}

impl Scrubber {
    /// The next transaction of the chain scrubbed: `Some` when it changed (to be stored),
    /// `Err` with the problem when it does not link to the chain as stored.
    pub fn next(&mut self, t: &Transaction) -> Result<Option<Transaction>, String> {
        t.check_link(&self.stored_hash, self.sequence, self.wallet, self.held)?;
        let mut n = t.clone();
        if n.text_digest.is_empty() {
            n.text_digest = text_digest(&n.reason, &n.actor);
        }
        n.reason.clear();
        n.actor.clear();
        n.prev_hash = self.new_hash.clone();
        n.hash = n.compute_hash();
        if !t.is_scrubbed() {
            self.scrubbed = self.scrubbed.saturating_add(1);
        }
        self.stored_hash = t.hash.clone();
        self.sequence = t.sequence;
        self.wallet = t.wallet_after;
        self.held = t.held_after;
        self.new_hash = n.hash.clone();
        Ok((n != *t).then_some(n))
    }

    /// The sequence of the last transaction walked (0: none).
    pub fn sequence(&self) -> i64 {
        self.sequence
    }

    /// The chain head as stored, and as rewritten.
    pub fn heads(&self) -> (&str, &str) {
        (&self.stored_hash, &self.new_hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{customer, program, t0};
    use crate::domain::ledger::{Account, TxKind, movement};
    use crate::domain::wallet::WalletState;
    use crate::domain::{Draft, Wallet};

    /// A chain of `n` earns with a reason each.
    fn chain(n: usize) -> Vec<Transaction> {
        let p = program();
        let c = customer();
        let mut w = WalletState::new(Wallet::empty(c, p.base_tier()), vec![], vec![], t0());
        (0..n)
            .map(|i| {
                let mut d = Draft::new(
                    TxKind::Adjust,
                    movement(Account::Issuance, Account::Wallet(c), 10),
                );
                d.reason = format!("call with Jane Doe #{i}");
                d.actor = "agent@example.com".into();
                w.post(&p, d).expect("post")
            })
            .collect()
    }

    /// Rehashes `t` the way rows from before digests were hashed (over the text).
    fn legacy(chain: &mut [Transaction]) {
        let mut prev = GENESIS.to_owned();
        for t in chain {
            t.text_digest.clear();
            t.prev_hash = prev;
            t.hash = t.compute_hash();
            prev = t.hash.clone();
        }
    }

    fn check(chain: &[Transaction]) -> Result<(), String> {
        let (mut h, mut s, mut b) = (GENESIS.to_owned(), 0, 0);
        for t in chain {
            t.check_link(&h, s, b, 0)?;
            (h, s, b) = (t.hash.clone(), t.sequence, t.wallet_after);
        }
        Ok(())
    }

    fn scrub(chain: &[Transaction]) -> (Vec<Transaction>, Scrubber) {
        let mut s = Scrubber::default();
        let out = chain
            .iter()
            .map(|t| s.next(t).expect("links").unwrap_or_else(|| t.clone()))
            .collect();
        (out, s)
    }

    #[test]
    fn scrubbing_keeps_hashes_and_amounts() {
        let before = chain(3);
        let (after, s) = scrub(&before);
        assert_eq!(s.scrubbed, 3);
        assert_eq!(check(&after), Ok(()));
        for (a, b) in after.iter().zip(&before) {
            assert_eq!((a.reason.as_str(), a.actor.as_str()), ("", ""));
            assert_eq!(
                (&a.hash, &a.postings, a.wallet_after),
                (&b.hash, &b.postings, b.wallet_after)
            );
        }
        let (again, s) = scrub(&after);
        assert_eq!(
            (again, s.scrubbed),
            (after.clone(), 0),
            "a second scrub changes nothing"
        );
        // Amounts stay under the hash after a scrub.
        let mut forged = after.clone();
        forged[1].postings[1].amount = 11;
        forged[1].postings[0].amount = -11;
        forged[1].wallet_after = 21;
        assert!(check(&forged).expect_err("forged").contains("hash"));
    }

    #[test]
    fn altered_text_is_detected_and_not_laundered() {
        let mut c = chain(2);
        assert_eq!(check(&c), Ok(()));
        c[0].reason = "something else".into();
        assert!(check(&c).expect_err("altered").contains("digest"));
        assert!(
            Scrubber::default().next(&c[0]).is_err(),
            "refused, not scrubbed"
        );
    }

    #[test]
    fn rows_from_before_digests_are_linked_again() {
        let mut before = chain(3);
        legacy(&mut before);
        assert_eq!(check(&before), Ok(()), "legacy rows verify over their text");
        let (after, s) = scrub(&before);
        assert_eq!(s.scrubbed, 3);
        assert_eq!(check(&after), Ok(()));
        assert!(
            after
                .iter()
                .all(|t| !t.text_digest.is_empty() && t.reason.is_empty())
        );
        let (stored, new) = s.heads();
        assert_eq!(stored, before[2].hash);
        assert_eq!(new, after[2].hash);
        assert_ne!(stored, new, "the head moved with the re-linked chain");
        // A legacy row altered before the scrub is refused.
        let mut altered = before.clone();
        altered[1].reason = "changed".into();
        let mut s = Scrubber::default();
        s.next(&altered[0]).expect("first links");
        assert!(s.next(&altered[1]).is_err());
    }
}
