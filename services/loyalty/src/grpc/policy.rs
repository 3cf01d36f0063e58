//! The scope each RPC needs (checked against the descriptor at start: a new RPC without a
//! rule stops the server). Points are money: moving them needs `loyalty.write`, correcting or
//! expiring them and auditing the ledger `loyalty.admin`; reading who adjusted ledgers
//! (the access audit) `loyalty.audit`. A customer's own token (subject
//! `customers/{id}`) may read that customer's balance, tier and history only.
use crm_platform::auth::{Rule, admin, read, write};

pub const POLICY: &[Rule] = &[
    read("GetProgram", "loyalty.read"),
    write("Earn", "loyalty.write"),
    write("Redeem", "loyalty.write"),
    write("Hold", "loyalty.write"),
    write("CaptureHold", "loyalty.write"),
    write("ReleaseHold", "loyalty.write"),
    write("Reverse", "loyalty.write"),
    admin("Adjust", "loyalty.admin"),
    write("Transfer", "loyalty.write"),
    read("GetBalance", "loyalty.read").self_service(),
    read("GetBalanceAt", "loyalty.read").self_service(),
    read("ListTransactions", "loyalty.read").self_service(),
    read("GetTier", "loyalty.read").self_service(),
    read("ListTierHistory", "loyalty.read").self_service(),
    admin("Expire", "loyalty.admin"),
    admin("VerifyLedger", "loyalty.admin"),
    admin("ListAccessRecords", "loyalty.audit"),
];
