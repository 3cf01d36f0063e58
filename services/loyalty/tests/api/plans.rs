//! Query plans: ListTransactions (every filter combination), ListTierHistory, GetBalanceAt,
//! the expiry run's due lots and holds and the keyset pages of VerifyLedger read an index
//! range on both backends, never a full scan or a sort of the table (issue 10). Statements
//! come from the store functions the service runs.
use crate::harness::*;
use chrono::{Duration, Utc};
use crm_loyalty::domain::{CustomerId, TxKind};
use crm_loyalty::store::{self, ledger::TxQuery, lots, tiers};
use crm_platform::testing::plans::{
    assert_index_range, assert_ordered_index_read, planning_session, query_plan,
};
use sea_orm::{ConnectionTrait, QueryTrait};
use uuid::Uuid;

#[tokio::test]
async fn every_transaction_list_filter_combination_is_an_ordered_index_range() {
    each_backend(|backend| async move {
        let app = spawn_app(backend).await;
        let (_db, txn) = planning_session(&app.db_url).await;
        let b = txn.get_database_backend();
        let now = Utc::now();
        let customer = CustomerId(Uuid::now_v7());
        let mut checked = 0;
        for start in [None, Some(now - Duration::days(30))] {
            for end in [None, Some(now)] {
                for kinds in [
                    vec![],
                    vec![TxKind::Earn],
                    vec![TxKind::Earn, TxKind::Redeem],
                ] {
                    for before_sequence in [None, Some(42)] {
                        let q = TxQuery {
                            customer,
                            start,
                            end,
                            kinds: kinds.clone(),
                            before_sequence,
                            limit: 51,
                        };
                        let p = query_plan(&txn, store::ledger::list_select(&q).build(b)).await;
                        let what = format!("{q:?}");
                        let table = "loyalty_transactions";
                        assert_index_range(backend, &what, &p, table, "idx_loyalty_tx_chain");
                        assert_ordered_index_read(
                            backend,
                            &what,
                            &p,
                            table,
                            "idx_loyalty_tx_chain",
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 24);
        let ids = vec![Uuid::now_v7(), Uuid::now_v7()];
        let p = query_plan(&txn, store::ledger::postings_select(ids).build(b)).await;
        assert_index_range(backend, "postings", &p, "loyalty_postings", "");
    })
    .await;
}

#[tokio::test]
async fn tier_history_balance_at_and_the_chain_pages_are_ordered_index_ranges() {
    each_backend(|backend| async move {
        let app = spawn_app(backend).await;
        let (_db, txn) = planning_session(&app.db_url).await;
        let b = txn.get_database_backend();
        let customer = CustomerId(Uuid::now_v7());
        for before in [None, Some(Uuid::now_v7())] {
            let what = format!("tier history before {before:?}");
            let p = query_plan(&txn, tiers::list_select(customer, before, 51).build(b)).await;
            let (t, i) = ("loyalty_tier_changes", "idx_loyalty_tier_changes_id");
            assert_index_range(backend, &what, &p, t, i);
            assert_ordered_index_read(backend, &what, &p, t, i);
        }
        let (t, i) = ("loyalty_transactions", "idx_loyalty_tx_chain");
        let p = query_plan(
            &txn,
            store::ledger::state_at_select(customer, Utc::now()).build(b),
        )
        .await;
        assert_index_range(backend, "balance at", &p, t, i);
        assert_ordered_index_read(backend, "balance at", &p, t, i);
        let p = query_plan(&txn, store::ledger::chain_select(customer, 7, 500).build(b)).await;
        assert_index_range(backend, "chain page", &p, t, i);
        assert_ordered_index_read(backend, "chain page", &p, t, i);
        for after in [None, Some(customer)] {
            let what = format!("wallets after {after:?}");
            let p = query_plan(&txn, store::ledger::wallets_select(after, 500).build(b)).await;
            assert_ordered_index_read(backend, &what, &p, "loyalty_wallets", "");
            if after.is_some() {
                assert_index_range(backend, &what, &p, "loyalty_wallets", "");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn the_expiry_run_reads_only_what_is_due() {
    each_backend(|backend| async move {
        let app = spawn_app(backend).await;
        let (_db, txn) = planning_session(&app.db_url).await;
        let b = txn.get_database_backend();
        let now = Utc::now();
        for after in [None, Some((now - Duration::days(1), Uuid::now_v7()))] {
            let what = format!("due lots after {after:?}");
            let p = query_plan(&txn, lots::due_lots_select(now, after, 500).build(b)).await;
            let (t, i) = ("loyalty_lots", "idx_loyalty_lots_due");
            assert_index_range(backend, &what, &p, t, i);
            assert_ordered_index_read(backend, &what, &p, t, i);
            let what = format!("due holds after {after:?}");
            let p = query_plan(&txn, lots::due_holds_select(now, after, 500).build(b)).await;
            let (t, i) = ("loyalty_holds", "idx_loyalty_holds_due");
            assert_index_range(backend, &what, &p, t, i);
            assert_ordered_index_read(backend, &what, &p, t, i);
        }
    })
    .await;
}

#[tokio::test]
async fn the_index_migration_goes_down_and_up_again() {
    use crm_platform::testing::last_migration_goes_down_and_up;
    each_backend(last_migration_goes_down_and_up::<crm_loyalty::migration::Migrator>).await;
}
