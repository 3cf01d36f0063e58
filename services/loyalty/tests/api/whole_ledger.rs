//! Whole-ledger VerifyLedger and Expire page through the wallets (keyset pages of
//! `loyalty.ledger_page_size`, each in its own short transaction) with the same results as
//! one pass.
use crate::harness::*;
use crm_proto::loyalty as pb;
use sea_orm::ConnectionTrait;

/// Wallets per page in this test (500 by default).
const PAGE: u64 = 7;
/// More than two pages of wallets, the last one partly filled.
const WALLETS: usize = 17;

#[tokio::test]
async fn verify_and_expire_page_through_every_wallet() {
    each_backend(|backend| async move {
        let mut app = spawn_app_with(backend, |s| s.loyalty.ledger_page_size = PAGE).await;
        let mut expire_at = chrono::Utc::now();
        let customers: Vec<String> = (0..WALLETS).map(|_| new_customer()).collect();
        for chunk in customers.chunks(64) {
            expire_at = chrono::Utc::now() + chrono::Duration::seconds(2);
            let calls = chunk.iter().map(|c| {
                let mut client = app.client.clone();
                let req = pb::EarnRequest {
                    customer: c.clone(),
                    source: Some(pb::earn_request::Source::Goodwill(pb::Goodwill {
                        points: 40,
                        reason: "promo".into(),
                        actor: "marketing".into(),
                    })),
                    expire_time: Some(ts(expire_at)),
                    request_id: rid(),
                    ..Default::default()
                };
                async move { client.earn(req).await.expect("earn") }
            });
            futures::future::join_all(calls).await;
        }
        let n = i64::try_from(WALLETS).expect("count");
        let v = app.assert_consistent().await;
        assert_eq!((v.accounts_checked, v.transactions_checked), (n, n));
        let wait = expire_at - chrono::Utc::now() + chrono::Duration::milliseconds(100);
        tokio::time::sleep(wait.to_std().unwrap_or_default()).await;
        let run = pb::ExpireRequest {
            customer: String::new(),
            request_id: rid(),
        };
        let out = app
            .client
            .expire(run.clone())
            .await
            .expect("expire")
            .into_inner();
        assert_eq!(
            (out.expired_points, out.expired_lots, out.customers),
            (40 * n, n, n)
        );
        let replay = app.client.expire(run).await.expect("replay").into_inner();
        assert_eq!(replay, out, "a retry replays the stored outcome");
        let again = pb::ExpireRequest {
            customer: String::new(),
            request_id: rid(),
        };
        let again = app.client.expire(again).await.expect("again").into_inner();
        assert_eq!((again.expired_points, again.customers), (0, 0));
        let v = app.assert_consistent().await;
        assert_eq!((v.accounts_checked, v.transactions_checked), (n, 2 * n));
        // An inconsistency on the last page is found.
        let db = sea_orm::Database::connect(app.db_url.as_str())
            .await
            .expect("db");
        db.execute_unprepared(
            "UPDATE loyalty_wallets SET balance = 7 \
             WHERE customer_id = (SELECT customer_id FROM loyalty_wallets \
             ORDER BY customer_id DESC LIMIT 1)",
        )
        .await
        .expect("tamper");
        let v = app.verify().await;
        assert!(!v.consistent);
        assert_eq!(v.accounts_checked, n, "found on the last wallet");
        let i = v.first_inconsistency.expect("found");
        assert!(i.problem.contains("wallet says"), "{}", i.problem);
    })
    .await;
}

/// A wallet whose expiry fails (here: its row was altered) is skipped and reported; the
/// other wallets still expire, by the RPC and by the job.
#[tokio::test]
async fn one_failing_wallet_does_not_hold_back_the_others() {
    each_backend(|backend| async move {
        let mut app = spawn_app_with(backend, |s| s.loyalty.ledger_page_size = 2).await;
        let customers: Vec<String> = (0..5).map(|_| new_customer()).collect();
        let broken = &customers[2];
        app.adjust(broken, 5).await.expect("one more transaction");
        let expire_at = chrono::Utc::now() + chrono::Duration::seconds(1);
        for c in &customers {
            app.client
                .earn(pb::EarnRequest {
                    customer: c.clone(),
                    source: Some(pb::earn_request::Source::Action("review".into())),
                    expire_time: Some(ts(expire_at)),
                    request_id: rid(),
                    ..Default::default()
                })
                .await
                .expect("earn");
        }
        let db = sea_orm::Database::connect(app.db_url.as_str())
            .await
            .expect("db");
        // Only the broken wallet has two transactions.
        db.execute_unprepared(
            "UPDATE loyalty_wallets SET balance = balance + 1 WHERE sequence = 2",
        )
        .await
        .expect("tamper");
        let wait = expire_at - chrono::Utc::now() + chrono::Duration::milliseconds(100);
        tokio::time::sleep(wait.to_std().unwrap_or_default()).await;
        let err = app
            .client
            .expire(pb::ExpireRequest {
                customer: String::new(),
                request_id: rid(),
            })
            .await
            .expect_err("the broken wallet is reported");
        assert_eq!(err.code(), tonic::Code::Internal, "{err:?}");
        for c in customers.iter().filter(|c| *c != broken) {
            assert_eq!(app.balance(c).await.lifetime_expired, 50, "{c} expired");
        }
        assert_eq!(app.balance(broken).await.lifetime_expired, 0);
        app.service
            .expire_due()
            .await
            .expect_err("the job reports it too");
        let v = app.verify().await;
        let i = v.first_inconsistency.expect("the altered wallet");
        assert_eq!(i.customer, *broken);
    })
    .await;
}
