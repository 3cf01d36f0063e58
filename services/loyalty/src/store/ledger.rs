//! Wallets (chain heads) and the append-only transactions with their postings.
use super::corrupt;
use super::entities::{posting, transaction, wallet};
use crate::domain::{Account, CustomerId, Posting, Transaction, TxKind, Wallet};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;
use uuid::Uuid;

fn wallet_from_row(r: wallet::Model) -> Wallet {
    Wallet {
        customer: CustomerId(r.customer_id),
        sequence: r.sequence,
        last_hash: r.last_hash,
        balance: r.balance,
        held: r.held,
        lifetime_earned: r.lifetime_earned,
        lifetime_redeemed: r.lifetime_redeemed,
        lifetime_expired: r.lifetime_expired,
        owed: r.owed,
        tier: r.tier,
        merged_into: r.merged_into.map(CustomerId),
    }
}

fn wallet_to_row(w: &Wallet) -> wallet::ActiveModel {
    wallet::ActiveModel {
        customer_id: Set(w.customer.0),
        sequence: Set(w.sequence),
        last_hash: Set(w.last_hash.clone()),
        balance: Set(w.balance),
        held: Set(w.held),
        lifetime_earned: Set(w.lifetime_earned),
        lifetime_redeemed: Set(w.lifetime_redeemed),
        lifetime_expired: Set(w.lifetime_expired),
        owed: Set(w.owed),
        tier: Set(w.tier.clone()),
        update_time: Set(crate::domain::now()),
        merged_into: Set(w.merged_into.map(|c| c.0)),
    }
}

pub async fn find_wallet(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
) -> Result<Option<Wallet>, Error> {
    Ok(wallet::Entity::find_by_id(customer.0)
        .one(conn)
        .await?
        .map(wallet_from_row))
}

/// Creates wallets where needed and locks them for the rest of the transaction, in one
/// statement: an upsert locks the rows it touches on PostgreSQL (SQLite serialises writers
/// already), in the order given (callers sort: one global lock order). Every write to a
/// wallet, its lots, holds and orders goes through here first.
pub async fn lock_wallets(
    conn: &impl ConnectionTrait,
    customers: &[CustomerId],
    base_tier: &str,
) -> Result<Vec<Wallet>, Error> {
    let mut out = Vec::with_capacity(customers.len());
    for chunk in customers.chunks(ROWS_PER_STATEMENT) {
        let rows = wallet::Entity::insert_many(
            chunk
                .iter()
                .map(|c| wallet_to_row(&Wallet::empty(*c, base_tier))),
        )
        .on_conflict(
            OnConflict::column(wallet::Column::CustomerId)
                .update_column(wallet::Column::CustomerId)
                .to_owned(),
        )
        .exec_with_returning(conn)
        .await?;
        out.extend(rows.into_iter().map(wallet_from_row));
    }
    Ok(out)
}

/// One keyset page of wallets (VerifyLedger over the whole ledger): ids above `after`.
pub fn wallets_select(after: Option<CustomerId>, limit: u64) -> sea_orm::Select<wallet::Entity> {
    let mut find = wallet::Entity::find();
    if let Some(a) = after {
        find = find.filter(wallet::Column::CustomerId.gt(a.0));
    }
    find.order_by_asc(wallet::Column::CustomerId).limit(limit)
}

/// Up to `limit` wallets with ids above `after`, in id order: one keyset page.
pub async fn wallets_after(
    conn: &impl ConnectionTrait,
    after: Option<CustomerId>,
    limit: u64,
) -> Result<Vec<Wallet>, Error> {
    Ok(wallets_select(after, limit)
        .all(conn)
        .await?
        .into_iter()
        .map(wallet_from_row)
        .collect())
}

/// Inserts transactions and their postings: one statement per table.
pub async fn append_many(conn: &impl ConnectionTrait, txs: &[Transaction]) -> Result<(), Error> {
    for chunk in txs.chunks(ROWS_PER_STATEMENT) {
        transaction::Entity::insert_many(chunk.iter().map(transaction_row))
            .exec_without_returning(conn)
            .await?;
    }
    let postings: Vec<posting::ActiveModel> = txs.iter().flat_map(posting_rows).collect();
    for chunk in postings.chunks(ROWS_PER_STATEMENT) {
        posting::Entity::insert_many(chunk.iter().cloned())
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Rows per multi-row statement: far below SQLite's and PostgreSQL's bind-parameter limits.
pub(super) const ROWS_PER_STATEMENT: usize = 500;

fn transaction_row(t: &Transaction) -> transaction::ActiveModel {
    transaction::ActiveModel {
        id: Set(t.id),
        customer_id: Set(t.customer.0),
        sequence: Set(t.sequence),
        kind: Set(t.kind.as_str().to_owned()),
        order_id: Set(t.order_id.clone()),
        reason: Set(t.reason.clone()),
        actor: Set(t.actor.clone()),
        text_digest: Set(t.text_digest.clone()),
        shortfall: Set(t.shortfall),
        related: Set(t.related.clone()),
        qualifying_delta: Set(t.qualifying_delta),
        qualify_time: Set(t.qualify_time),
        wallet_after: Set(t.wallet_after),
        held_after: Set(t.held_after),
        create_time: Set(t.create_time),
        prev_hash: Set(t.prev_hash.clone()),
        hash: Set(t.hash.clone()),
    }
}

fn posting_rows(t: &Transaction) -> impl Iterator<Item = posting::ActiveModel> + '_ {
    t.postings
        .iter()
        .enumerate()
        .map(|(i, p)| posting::ActiveModel {
            transaction_id: Set(t.id),
            idx: Set(i as i32),
            account: Set(p.account.name()),
            amount: Set(p.amount),
        })
}

/// Writes the final state of wallets that exist (locked earlier in the transaction).
pub async fn save_wallets(conn: &impl ConnectionTrait, wallets: &[Wallet]) -> Result<(), Error> {
    use wallet::Column as C;
    for chunk in wallets.chunks(ROWS_PER_STATEMENT) {
        wallet::Entity::insert_many(chunk.iter().map(wallet_to_row))
            .on_conflict(
                OnConflict::column(C::CustomerId)
                    .update_columns([
                        C::Sequence,
                        C::LastHash,
                        C::Balance,
                        C::Held,
                        C::LifetimeEarned,
                        C::LifetimeRedeemed,
                        C::LifetimeExpired,
                        C::Owed,
                        C::Tier,
                        C::UpdateTime,
                        C::MergedInto,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Attaches postings to transaction rows (one query for the batch).
pub(super) async fn with_postings(
    conn: &impl ConnectionTrait,
    rows: Vec<transaction::Model>,
) -> Result<Vec<Transaction>, Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut by_tx: HashMap<Uuid, Vec<posting::Model>> = HashMap::new();
    for chunk in ids.chunks(500) {
        for p in postings_select(chunk.to_vec()).all(conn).await? {
            by_tx.entry(p.transaction_id).or_default().push(p);
        }
    }
    rows.into_iter()
        .map(|r| {
            let mut ps = by_tx.remove(&r.id).unwrap_or_default();
            ps.sort_by_key(|p| p.idx);
            let postings = ps
                .into_iter()
                .map(|p| {
                    Account::parse(&p.account)
                        .map(|account| Posting {
                            account,
                            amount: p.amount,
                        })
                        .ok_or_else(|| corrupt(format!("account {:?}", p.account)))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Transaction {
                id: r.id,
                customer: CustomerId(r.customer_id),
                sequence: r.sequence,
                kind: TxKind::from_db(&r.kind)
                    .ok_or_else(|| corrupt(format!("kind {:?}", r.kind)))?,
                postings,
                order_id: r.order_id,
                reason: r.reason,
                actor: r.actor,
                text_digest: r.text_digest,
                shortfall: r.shortfall,
                related: r.related,
                qualifying_delta: r.qualifying_delta,
                qualify_time: r.qualify_time,
                wallet_after: r.wallet_after,
                held_after: r.held_after,
                create_time: r.create_time,
                prev_hash: r.prev_hash,
                hash: r.hash,
            })
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct TxQuery {
    pub customer: CustomerId,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub kinds: Vec<TxKind>,
    /// Only sequences below this (the page cursor).
    pub before_sequence: Option<i64>,
    pub limit: u64,
}

/// One ListTransactions page, newest first: the customer's range of the chain index, read
/// backwards from the cursor.
pub fn list_select(q: &TxQuery) -> sea_orm::Select<transaction::Entity> {
    let mut find =
        transaction::Entity::find().filter(transaction::Column::CustomerId.eq(q.customer.0));
    if let Some(s) = q.start {
        find = find.filter(transaction::Column::CreateTime.gte(s));
    }
    if let Some(e) = q.end {
        find = find.filter(transaction::Column::CreateTime.lt(e));
    }
    if !q.kinds.is_empty() {
        find = find.filter(
            transaction::Column::Kind.is_in(q.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>()),
        );
    }
    if let Some(b) = q.before_sequence {
        find = find.filter(transaction::Column::Sequence.lt(b));
    }
    find.order_by_desc(transaction::Column::Sequence)
        .limit(q.limit)
}

/// Newest first.
pub async fn list(conn: &impl ConnectionTrait, q: &TxQuery) -> Result<Vec<Transaction>, Error> {
    let rows = list_select(q).all(conn).await?;
    with_postings(conn, rows).await
}

/// The postings of a batch of transactions (their primary-key ranges).
pub fn postings_select(ids: Vec<Uuid>) -> sea_orm::Select<posting::Entity> {
    posting::Entity::find().filter(posting::Column::TransactionId.is_in(ids))
}

/// One page of a customer's chain in order after `after_sequence` (VerifyLedger).
pub fn chain_select(
    customer: CustomerId,
    after_sequence: i64,
    batch: u64,
) -> sea_orm::Select<transaction::Entity> {
    transaction::Entity::find()
        .filter(transaction::Column::CustomerId.eq(customer.0))
        .filter(transaction::Column::Sequence.gt(after_sequence))
        .order_by_asc(transaction::Column::Sequence)
        .limit(batch)
}

/// A customer's whole chain, in order, `batch` at a time after `after_sequence`.
pub async fn chain_after(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    after_sequence: i64,
    batch: u64,
) -> Result<Vec<Transaction>, Error> {
    let rows = chain_select(customer, after_sequence, batch)
        .all(conn)
        .await?;
    with_postings(conn, rows).await
}

/// GetBalanceAt's read: the customer's last transaction created at or before `t`.
pub fn state_at_select(
    customer: CustomerId,
    t: DateTime<Utc>,
) -> sea_orm::Select<transaction::Entity> {
    transaction::Entity::find()
        .select_only()
        .columns([
            transaction::Column::Sequence,
            transaction::Column::WalletAfter,
            transaction::Column::HeldAfter,
        ])
        .filter(transaction::Column::CustomerId.eq(customer.0))
        .filter(transaction::Column::CreateTime.lte(t))
        .order_by_desc(transaction::Column::Sequence)
        .limit(1)
}

/// The last transaction at or before `t`: (sequence, wallet after, held after).
pub async fn state_at(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    t: DateTime<Utc>,
) -> Result<Option<(i64, i64, i64)>, Error> {
    Ok(state_at_select(customer, t).into_tuple().one(conn).await?)
}

/// Qualifying deltas dated at or after `since`.
pub async fn qualifying_since(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    since: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, i64)>, Error> {
    Ok(qualifying_since_many(conn, &[customer], since)
        .await?
        .remove(&customer)
        .unwrap_or_default())
}

/// [`qualifying_since`] for many customers in one query.
pub async fn qualifying_since_many(
    conn: &impl ConnectionTrait,
    customers: &[CustomerId],
    since: DateTime<Utc>,
) -> Result<HashMap<CustomerId, Vec<(DateTime<Utc>, i64)>>, Error> {
    let mut out: HashMap<CustomerId, Vec<_>> = HashMap::new();
    for chunk in customers.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<(Uuid, DateTime<Utc>, i64)> = transaction::Entity::find()
            .select_only()
            .columns([
                transaction::Column::CustomerId,
                transaction::Column::QualifyTime,
                transaction::Column::QualifyingDelta,
            ])
            .filter(
                Condition::all()
                    .add(transaction::Column::CustomerId.is_in(chunk.iter().map(|c| c.0)))
                    .add(transaction::Column::QualifyingDelta.ne(0))
                    .add(transaction::Column::QualifyTime.gte(since)),
            )
            .into_tuple()
            .all(conn)
            .await?;
        for (customer, time, delta) in rows {
            out.entry(CustomerId(customer))
                .or_default()
                .push((time, delta));
        }
    }
    Ok(out)
}

/// The sum of every posting in the ledger (zero when the ledger balances).
pub async fn total_of_all_postings(conn: &impl ConnectionTrait) -> Result<i64, Error> {
    let sum: Option<i64> = posting::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(amount), 0) AS BIGINT)"),
            "total",
        )
        .into_tuple()
        .one(conn)
        .await?;
    Ok(sum.unwrap_or(0))
}
