//! CustomerErased applied through the service in a transaction of the caller's: the free
//! text of the customer's and its merged customers' transactions is gone from the rows, the
//! amounts stay, VerifyLedger passes, and altering a scrubbed row is still detected.
use crate::harness::*;
use crate::merge::{goodwill, merge};
use crm_loyalty::domain::CustomerId;
use crm_loyalty::domain::chain::GENESIS;
use crm_loyalty::store::entities::wallet;
use crm_proto::events as ev;
use crm_proto::loyalty as pb;
use ev::event::Payload;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Statement,
};

async fn db(app: &TestApp) -> DatabaseConnection {
    sea_orm::Database::connect(app.db_url.as_str())
        .await
        .expect("db")
}

/// Applies CustomerErased in a transaction of its own; the one ErasureCompleted returned.
async fn erase(
    app: &TestApp,
    customer: &str,
    merged: &[&str],
    event_id: &str,
) -> ev::ErasureCompleted {
    let db = db(app).await;
    let txn = crate::merge::writing(&db).await;
    let e = ev::CustomerErased {
        customer: customer.into(),
        merged_customers: merged.iter().map(|m| m.to_string()).collect(),
        erase_time: None,
    };
    let out = app
        .service
        .erase_customer_in(&txn, &e, event_id)
        .await
        .expect("erase");
    txn.commit().await.expect("commit");
    match out.as_slice() {
        [Payload::ErasureCompleted(done)] => done.clone(),
        other => panic!("one ErasureCompleted, got {other:?}"),
    }
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("count")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}

/// Rows anywhere in loyalty's tables that still hold the customer's free text.
async fn personal_rows(db: &DatabaseConnection) -> i64 {
    count(
        db,
        "SELECT COUNT(*) AS n FROM loyalty_transactions \
         WHERE reason LIKE '%Jane%' OR actor LIKE '%jane%'",
    )
    .await
        + count(
            db,
            "SELECT COUNT(*) AS n FROM idempotency_keys WHERE response LIKE '%Jane%'",
        )
        .await
}

async fn adjust(app: &mut TestApp, customer: &str, points: i64, reason: &str) {
    app.client
        .adjust(pb::AdjustRequest {
            customer: customer.into(),
            points,
            reason: reason.into(),
            actor: "jane.agent@example.com".into(),
            request_id: rid(),
        })
        .await
        .expect("adjust");
}

#[tokio::test]
async fn an_erasure_scrubs_the_text_keeps_the_amounts_and_the_chain_verifies() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let (c, merged, other) = (new_customer(), new_customer(), new_customer());
        adjust(&mut app, &c, 300, "Call with Jane Doe about her stay").await;
        app.client
            .redeem(pb::RedeemRequest {
                customer: c.clone(),
                points: 50,
                description: "Spa voucher for Jane Doe".into(),
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect("redeem");
        let mut gift = goodwill(&merged, 40, None, None);
        if let Some(pb::earn_request::Source::Goodwill(g)) = &mut gift.source {
            g.reason = "Jane's complaint".into();
        }
        app.client.earn(gift).await.expect("goodwill");
        merge(&app, &c, &[&merged]).await;
        adjust(&mut app, &other, 10, "Jane Roe, another guest").await;
        let db = db(&app).await;
        assert!(personal_rows(&db).await > 0, "the test writes text to scrub");
        let before = app.balance(&c).await;
        let head = |app: &TestApp| {
            let (svc, c) = (app.service.clone(), CustomerId::parse_name(&c).expect("name"));
            async move { svc.stored_wallet(c).await.expect("wallet").expect("row").last_hash }
        };
        let head_before = head(&app).await;
        let verified = app.assert_consistent().await;

        let done = erase(&app, &c, &[&merged], "0193-erasure").await;
        assert_eq!(
            (done.service.as_str(), done.customer.as_str(), done.erasure_event_id.as_str()),
            ("loyalty", c.as_str(), "0193-erasure")
        );
        assert!(done.complete_time.is_some());
        // Three transactions with text, and the stored responses of those calls.
        assert!(done.scrubbed_records >= 3, "{done:?}");
        assert_eq!(
            count(&db, "SELECT COUNT(*) AS n FROM loyalty_transactions WHERE reason LIKE '%Jane Doe%' OR reason LIKE '%complaint%'").await,
            0
        );
        assert_eq!(
            count(&db, "SELECT COUNT(*) AS n FROM idempotency_keys WHERE response LIKE '%Jane Doe%'").await,
            0
        );
        assert_eq!(
            count(&db, "SELECT COUNT(*) AS n FROM loyalty_transactions WHERE reason LIKE '%Jane Roe%'").await,
            1,
            "another customer's text stays"
        );
        let after = app.balance(&c).await;
        assert_eq!(after, same_time(&before, &after), "amounts unchanged");
        assert_eq!(app.assert_consistent().await, verified);
        assert_eq!(head(&app).await, head_before, "the hashes stay: only text was cleared");

        let again = erase(&app, &c, &[&merged], "0193-erasure").await;
        assert_eq!(again.scrubbed_records, 0, "nothing left to scrub");

        // A scrubbed row that is altered is still found.
        db.execute_unprepared("UPDATE loyalty_transactions SET reason = 'forged' WHERE kind = 'redeem'")
            .await
            .expect("tamper");
        let v = app.verify().await;
        assert!(!v.consistent);
        let problem = v.first_inconsistency.expect("inconsistency").problem;
        assert!(problem.contains("digest"), "{problem}");
    })
    .await;
}

/// `after` with `before`'s read time, so two balance reads compare by their amounts.
fn same_time(before: &pb::Balance, after: &pb::Balance) -> pb::Balance {
    pb::Balance {
        read_time: after.read_time,
        ..before.clone()
    }
}

#[tokio::test]
async fn rows_from_before_digests_are_linked_again_when_erased() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = new_customer();
        let id = CustomerId::parse_name(&c).expect("name");
        for (points, reason) in [
            (100, "Jane Doe called"),
            (-30, "Jane Doe's refund"),
            (5, "small fix"),
        ] {
            adjust(&mut app, &c, points, reason).await;
        }
        // Rewrite the chain the way rows were hashed before digests (over their text).
        let db = db(&app).await;
        let mut prev = GENESIS.to_owned();
        for mut t in crm_loyalty::store::ledger::chain_after(&db, id, 0, 100)
            .await
            .expect("chain")
        {
            t.text_digest.clear();
            t.prev_hash = prev;
            t.hash = t.compute_hash();
            crm_loyalty::store::merge::relink(&db, &t)
                .await
                .expect("legacy");
            prev = t.hash;
        }
        wallet::Entity::update_many()
            .col_expr(wallet::Column::LastHash, Expr::value(prev))
            .filter(wallet::Column::CustomerId.eq(id.0))
            .exec(&db)
            .await
            .expect("head");
        let legacy = "SELECT COUNT(*) AS n FROM loyalty_transactions WHERE text_digest = ''";
        assert_eq!(count(&db, legacy).await, 3);
        app.assert_consistent().await;

        let done = erase(&app, &c, &[], "e-1").await;
        assert!(done.scrubbed_records >= 3, "{done:?}");
        assert_eq!(count(&db, legacy).await, 0, "every row has its digest now");
        assert_eq!(personal_rows(&db).await, 0);
        app.assert_consistent().await;
        // The wallet's head moved with the chain: the next write links to it.
        adjust(&mut app, &c, 1, "after").await;
        let v = app.assert_consistent().await;
        assert_eq!(v.transactions_checked, 4);
        assert_eq!(app.balance(&c).await.available, 76);
    })
    .await;
}
