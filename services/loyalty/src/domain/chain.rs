//! Each customer's chain of transactions: the hash that links them, the check of one link,
//! and the draft a write fills in before it is appended.
use super::CustomerId;
use super::ledger::{Account, Posting, TxKind};
use super::points::{clamp, wide_sum};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// One appended movement, in one customer's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub id: Uuid,
    pub customer: CustomerId,
    pub sequence: i64,
    pub kind: TxKind,
    pub postings: Vec<Posting>,
    pub order_id: String,
    /// Free text (descriptions, reasons) and who acted: scrubbed when the customer is
    /// erased, so the hash covers `text_digest` instead of them.
    pub reason: String,
    pub actor: String,
    /// SHA-256 of `reason` and `actor` as written ([`text_digest`]); empty on rows written
    /// before digests existed, whose hash covers the text itself ([`Transaction::compute_hash`]).
    #[serde(default)]
    pub text_digest: String,
    pub shortfall: i64,
    /// Hold or transfer peer, as a resource name.
    pub related: String,
    /// Change of tier-qualifying points, dated `qualify_time`.
    pub qualifying_delta: i64,
    pub qualify_time: DateTime<Utc>,
    /// Wallet and held balances after this transaction.
    pub wallet_after: i64,
    pub held_after: i64,
    pub create_time: DateTime<Utc>,
    pub prev_hash: String,
    pub hash: String,
}

/// Hash of the empty chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl Transaction {
    pub fn name(&self) -> String {
        transaction_name(self.customer, self.id)
    }

    /// The exact sum of the postings (0 for a balanced transaction).
    pub fn sum(&self) -> i128 {
        wide_sum(self.postings.iter().map(|p| p.amount))
    }

    /// Exact net change of `account` in this transaction.
    pub fn delta(&self, account: Account) -> i128 {
        wide_sum(
            self.postings
                .iter()
                .filter(|p| p.account == account)
                .map(|p| p.amount),
        )
    }

    /// Net change of the wallet (exact for every posted transaction: posting checks that
    /// the balance after it fits).
    pub fn wallet_delta(&self) -> i64 {
        clamp(self.delta(Account::Wallet(self.customer)))
    }

    /// The wallet and held balances after this transaction, from the balances before it:
    /// `None` when one is outside `i64`.
    pub fn balances_after(&self, wallet: i64, held: i64) -> Option<(i64, i64)> {
        let w = i128::from(wallet) + self.delta(Account::Wallet(self.customer));
        let h = i128::from(held) + self.delta(Account::Held(self.customer));
        Some((i64::try_from(w).ok()?, i64::try_from(h).ok()?))
    }

    /// SHA-256 over the previous hash and every field, length-prefixed so fields cannot run
    /// into each other. The free text enters through its digest, so scrubbing the text
    /// (erasure) leaves the hash, and every amount it covers, verifiable; a row from before
    /// digests (`text_digest` empty) is hashed over its text as it was then.
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        let mut field = |s: &str| {
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        field(&self.prev_hash);
        field(&self.id.to_string());
        field(&self.customer.name());
        field(&self.sequence.to_string());
        field(self.kind.as_str());
        for p in &self.postings {
            field(&p.account.name());
            field(&p.amount.to_string());
        }
        field(&self.order_id);
        if self.text_digest.is_empty() {
            field(&self.reason);
            field(&self.actor);
        } else {
            // A tag no legacy row can produce (its reason field is followed by the actor).
            field(TEXT_DIGEST_TAG);
            field(&self.text_digest);
        }
        field(&self.shortfall.to_string());
        field(&self.related);
        field(&self.qualifying_delta.to_string());
        field(&self.qualify_time.timestamp_micros().to_string());
        field(&self.wallet_after.to_string());
        field(&self.held_after.to_string());
        field(&self.create_time.timestamp_micros().to_string());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Checks the transaction against the chain position it claims: `prev_hash`, `sequence`,
    /// the balances carried over, the zero sum and its own hash. The first problem, if any.
    pub fn check_link(
        &self,
        prev_hash: &str,
        prev_sequence: i64,
        prev_wallet: i64,
        prev_held: i64,
    ) -> Result<(), String> {
        if Some(self.sequence) != prev_sequence.checked_add(1) {
            return Err(format!(
                "sequence {} follows {prev_sequence}",
                self.sequence
            ));
        }
        if self.prev_hash != prev_hash {
            return Err("previous hash does not match the chain".into());
        }
        if self.sum() != 0 {
            return Err(format!("postings sum to {}, not 0", self.sum()));
        }
        let wallet = i128::from(prev_wallet) + self.delta(Account::Wallet(self.customer));
        if i128::from(self.wallet_after) != wallet {
            return Err(format!(
                "wallet after is {} but the postings give {wallet}",
                self.wallet_after
            ));
        }
        let held = i128::from(prev_held) + self.delta(Account::Held(self.customer));
        if i128::from(self.held_after) != held {
            return Err(format!(
                "held after is {} but the postings give {held}",
                self.held_after
            ));
        }
        if self.wallet_after < 0 || self.held_after < 0 {
            return Err("a balance is negative".into());
        }
        if !self.text_digest.is_empty()
            && !self.is_scrubbed()
            && self.text_digest != text_digest(&self.reason, &self.actor)
        {
            return Err("text does not match its digest (the entry was altered)".into());
        }
        if self.hash != self.compute_hash() {
            return Err("hash mismatch (the entry was altered)".into());
        }
        Ok(())
    }

    /// Whether the free text was scrubbed (erasure): it is gone, its digest stays.
    pub fn is_scrubbed(&self) -> bool {
        self.reason.is_empty() && self.actor.is_empty()
    }
}

const TEXT_DIGEST_TAG: &str = "text-sha256";

/// SHA-256 (hex) of a transaction's free text: `reason` and `actor`, length-prefixed.
pub fn text_digest(reason: &str, actor: &str) -> String {
    let mut h = Sha256::new();
    for s in [reason, actor] {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What a new transaction says; appending it (see [`super::wallet::WalletState::post`])
/// fills in the chain position, the balances after it and the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub id: Uuid,
    pub kind: TxKind,
    pub postings: Vec<Posting>,
    pub order_id: String,
    pub reason: String,
    pub actor: String,
    pub shortfall: i64,
    pub related: String,
    pub qualifying_delta: i64,
    /// When the qualifying delta counts (`None`: the time of the write).
    pub qualify_time: Option<DateTime<Utc>>,
}

impl Draft {
    /// A draft of `postings`, leaving out the zero ones.
    pub fn new(kind: TxKind, postings: impl IntoIterator<Item = Posting>) -> Self {
        Self {
            id: Uuid::now_v7(),
            kind,
            postings: postings.into_iter().filter(|p| p.amount != 0).collect(),
            order_id: String::new(),
            reason: String::new(),
            actor: String::new(),
            shortfall: 0,
            related: String::new(),
            qualifying_delta: 0,
            qualify_time: None,
        }
    }
}

/// A transaction's resource name: `customers/{customer}/transactions/{id}`.
pub fn transaction_name(customer: CustomerId, id: Uuid) -> String {
    format!("{}/transactions/{id}", customer.name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ledger::movement;

    fn tx(
        customer: CustomerId,
        seq: i64,
        prev: &str,
        wallet_before: i64,
        amount: i64,
    ) -> Transaction {
        let now = crate::domain::now();
        let mut t = Transaction {
            id: Uuid::now_v7(),
            customer,
            sequence: seq,
            kind: TxKind::Earn,
            postings: movement(Account::Issuance, Account::Wallet(customer), amount).to_vec(),
            order_id: "o-1".into(),
            reason: String::new(),
            actor: String::new(),
            text_digest: text_digest("", ""),
            shortfall: 0,
            related: String::new(),
            qualifying_delta: amount,
            qualify_time: now,
            wallet_after: wallet_before + amount,
            held_after: 0,
            create_time: now,
            prev_hash: prev.to_owned(),
            hash: String::new(),
        };
        t.hash = t.compute_hash();
        t
    }

    #[test]
    fn chain_detects_tampering() {
        let c = CustomerId::generate();
        let a = tx(c, 1, GENESIS, 0, 100);
        let b = tx(c, 2, &a.hash, 100, 50);
        assert_eq!(a.check_link(GENESIS, 0, 0, 0), Ok(()));
        assert_eq!(b.check_link(&a.hash, 1, 100, 0), Ok(()));
        let mut forged = b.clone();
        forged.postings[1].amount = 500;
        forged.postings[0].amount = -500;
        forged.wallet_after = 600;
        assert!(
            forged
                .check_link(&a.hash, 1, 100, 0)
                .expect_err("forged")
                .contains("hash")
        );
        let mut unbalanced = b.clone();
        unbalanced.postings[0].amount = -40;
        assert!(
            unbalanced
                .check_link(&a.hash, 1, 100, 0)
                .expect_err("unbalanced")
                .contains("sum")
        );
        assert!(
            b.check_link(GENESIS, 1, 100, 0).is_err(),
            "wrong previous hash"
        );
        assert!(b.check_link(&a.hash, 0, 100, 0).is_err(), "gap in sequence");
    }

    #[test]
    fn altered_extreme_amounts_are_reported_not_panicked_on() {
        let c = CustomerId::generate();
        let mut t = tx(c, 1, GENESIS, 0, 100);
        t.postings[0].amount = i64::MIN;
        t.postings[1].amount = i64::MAX;
        t.wallet_after = i64::MAX;
        assert!(
            t.check_link(GENESIS, 0, 0, 0)
                .expect_err("sum")
                .contains("sum")
        );
        t.postings[0].amount = -i64::MAX;
        assert!(
            t.check_link(GENESIS, 0, i64::MAX, 0)
                .expect_err("wallet")
                .contains("wallet after")
        );
        assert!(t.check_link(GENESIS, i64::MAX, 0, 0).is_err(), "sequence");
        assert_eq!(t.balances_after(1, 0), None);
        assert_eq!(t.balances_after(0, 0), Some((i64::MAX, 0)));
        let m = movement(Account::Issuance, Account::Wallet(c), i64::MIN);
        assert_ne!(
            wide_sum(m.iter().map(|p| p.amount)),
            0,
            "an unbalanced pair, refused when posted"
        );
    }

    proptest::proptest! {
        /// An honest chain of random earn/spend movements verifies, balances never go
        /// negative, every transaction sums to zero, and altering any amount is detected.
        #[test]
        fn honest_chains_verify_and_altered_ones_do_not(
            moves in proptest::collection::vec(-500i64..500, 1..30),
            victim in 0usize..30,
        ) {
            let c = CustomerId::generate();
            let mut chain: Vec<Transaction> = Vec::new();
            let mut wallet = 0i64;
            for m in moves {
                let amount = if m < 0 { -(m.abs().min(wallet)) } else { m };
                if amount == 0 {
                    continue;
                }
                let prev = chain.last().map(|t| t.hash.clone()).unwrap_or_else(|| GENESIS.to_owned());
                let mut t = tx(c, chain.len() as i64 + 1, &prev, wallet, amount);
                if amount < 0 {
                    t.kind = TxKind::Redeem;
                    t.postings = movement(Account::Wallet(c), Account::Redemption, -amount).to_vec();
                    t.qualifying_delta = 0;
                    t.hash = t.compute_hash();
                }
                wallet += amount;
                chain.push(t);
            }
            let (mut hash, mut seq, mut bal) = (GENESIS.to_owned(), 0, 0);
            for t in &chain {
                proptest::prop_assert_eq!(t.check_link(&hash, seq, bal, 0), Ok(()));
                proptest::prop_assert!(t.wallet_after >= 0);
                hash = t.hash.clone();
                seq = t.sequence;
                bal = t.wallet_after;
            }
            if !chain.is_empty() {
                let i = victim % chain.len();
                let mut forged = chain[i].clone();
                forged.postings[0].amount -= 1;
                forged.postings[1].amount += 1;
                let (ph, ps, pb) = if i == 0 {
                    (GENESIS.to_owned(), 0, 0)
                } else {
                    (chain[i - 1].hash.clone(), chain[i - 1].sequence, chain[i - 1].wallet_after)
                };
                proptest::prop_assert!(forged.check_link(&ph, ps, pb, 0).is_err());
            }
        }
    }
}
