//! Persistence: sea-orm entities and the queries the service needs. The only module that
//! knows SQL. Every write happens under the wallet lock taken by [`ledger::lock_wallets`].
pub mod entities;
pub mod ledger;
pub mod lots;
pub mod merge;
pub mod tiers;

fn corrupt(what: impl std::fmt::Display) -> crm_platform::Error {
    crm_platform::Error::internal(anyhow::anyhow!("corrupt row: {what}"))
}
