//! CustomerMerged applied through the service in a transaction of the caller's (the
//! consumer's): the losers' points, lots, holds and qualifying history move to the
//! survivor, both chains verify, a second merge changes nothing, and later calls for a
//! loser land on the survivor.
use crate::harness::*;
use chrono::{DateTime, Duration, Utc};
use crm_loyalty::domain::{CustomerId, truncate};
use crm_proto::events as ev;
use crm_proto::loyalty as pb;
use ev::event::Payload;
use sea_orm::TransactionTrait;

/// Applies CustomerMerged in a transaction of its own, as the consumer would.
pub async fn merge(app: &TestApp, survivor: &str, losers: &[&str]) -> Vec<Payload> {
    let db = sea_orm::Database::connect(app.db_url.as_str())
        .await
        .expect("db");
    let txn = writing(&db).await;
    let m = ev::CustomerMerged {
        survivor: survivor.into(),
        losers: losers.iter().map(|l| l.to_string()).collect(),
        actor: String::new(),
        merge_time: None,
    };
    let out = app
        .service
        .merge_customers_in(&txn, &m)
        .await
        .expect("merge");
    txn.commit().await.expect("commit");
    out
}

/// A transaction on this test's own connection that holds SQLite's write lock from its
/// first statement (waiting for it), as the service's one-connection pool would: a
/// deferred transaction upgraded later fails at once when the app wrote meanwhile.
pub async fn writing(db: &sea_orm::DatabaseConnection) -> sea_orm::DatabaseTransaction {
    use sea_orm::ConnectionTrait;
    let txn = db.begin().await.expect("begin");
    txn.execute_unprepared("UPDATE loyalty_wallets SET sequence = sequence WHERE 1 = 0")
        .await
        .expect("write lock");
    txn
}

pub fn goodwill(
    customer: &str,
    points: i64,
    available: Option<DateTime<Utc>>,
    expire: Option<DateTime<Utc>>,
) -> pb::EarnRequest {
    pb::EarnRequest {
        customer: customer.into(),
        source: Some(pb::earn_request::Source::Goodwill(pb::Goodwill {
            points,
            reason: "sorry".into(),
            actor: "support".into(),
        })),
        available_time: available.map(ts),
        expire_time: expire.map(ts),
        request_id: rid(),
    }
}

fn id(name: &str) -> CustomerId {
    CustomerId::parse_name(name).expect("name")
}

async fn verify_one(app: &mut TestApp, customer: &str) -> pb::VerifyLedgerResponse {
    let v = app
        .client
        .verify_ledger(pb::VerifyLedgerRequest {
            customer: customer.into(),
        })
        .await
        .expect("verify")
        .into_inner();
    assert!(v.consistent, "{customer}: {:?}", v.first_inconsistency);
    v
}

/// (points, available time, expire time) of the customer's live lots, sorted.
async fn lots(app: &TestApp, customer: &str) -> Vec<(i64, DateTime<Utc>, DateTime<Utc>)> {
    let db = sea_orm::Database::connect(app.db_url.as_str())
        .await
        .expect("db");
    let mut out: Vec<_> = crm_loyalty::store::lots::live(&db, id(customer))
        .await
        .expect("lots")
        .into_iter()
        .map(|l| (l.remaining, l.available_time, l.expire_time))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_merge_moves_points_lots_and_holds_and_rates_the_survivor_on_both_histories() {
    for (backend, group_commit) in backends_with_and_without_group_commit() {
        eprintln!("-- backend {backend:?}, group commit {group_commit}");
        let mut app = spawn_app_with(backend, |s| s.loyalty.group_commit = group_commit).await;
        let (s, l) = (new_customer(), new_customer());
        let now = Utc::now();
        let (soon, later) = (now + Duration::days(10), now + Duration::days(5));
        app.purchase(&s, "s-1", 60_000).await;
        app.purchase(&l, "l-1", 50_000).await;
        let mut c = app.client.clone();
        c.earn(goodwill(&l, 100, None, Some(soon)))
            .await
            .expect("soon");
        c.earn(goodwill(&l, 70, Some(later), None))
            .await
            .expect("pending");
        let hold = c
            .hold(pb::HoldRequest {
                customer: l.clone(),
                points: 40,
                order_id: "checkout-1".into(),
                timeout_seconds: 600,
                request_id: rid(),
            })
            .await
            .expect("hold")
            .into_inner()
            .hold
            .expect("hold");
        assert_eq!(app.tier(&s).await.tier, "regular");
        let mut moved = lots(&app, &l).await;
        moved.extend(lots(&app, &s).await);
        moved.sort();

        let out = merge(&app, &s, &[&l]).await;
        let [Payload::TierChanged(t)] = out.as_slice() else {
            panic!("one TierChanged, got {out:?}");
        };
        assert_eq!(
            (
                t.customer.as_str(),
                t.from_tier.as_str(),
                t.to_tier.as_str()
            ),
            (s.as_str(), "regular", "silver")
        );
        assert_eq!(t.reason, ev::TierChangeReason::Merged as i32);
        assert_eq!(t.qualifying_points, 1_100);
        assert!(
            t.transaction.starts_with(&format!("{s}/transactions/")),
            "{}",
            t.transaction
        );

        let b = app.balance(&s).await;
        assert_eq!((b.available, b.pending, b.held), (600 + 500 + 60, 70, 40));
        assert_eq!(b.lifetime_earned, 600 + 500 + 100 + 70);
        let expiring: Vec<_> = b
            .expiring
            .iter()
            .map(|e| (e.expire_time, e.points))
            .collect();
        assert_eq!(expiring, vec![(Some(ts(truncate(soon))), 60)]);
        assert_eq!(b.tier.as_ref().map(|t| t.tier.as_str()), Some("silver"));
        assert_eq!(lots(&app, &s).await, moved, "the lots moved as they were");
        assert!(
            moved
                .iter()
                .any(|(p, a, _)| *p == 70 && *a == truncate(later))
        );
        // The loser's reads answer with the survivor's wallet.
        let as_loser = app.balance(&l).await;
        assert_eq!(
            (as_loser.customer.as_str(), as_loser.available),
            (s.as_str(), b.available)
        );
        assert_eq!(app.tier(&l).await.tier, "silver");
        let closed = app
            .service
            .stored_wallet(id(&l))
            .await
            .expect("wallet")
            .expect("row");
        assert_eq!(
            (closed.balance, closed.held, closed.merged_into),
            (0, 0, Some(id(&s)))
        );
        let closed_at = closed.sequence;
        let v = app.assert_consistent().await;
        verify_one(&mut app, &s).await;
        verify_one(&mut app, &l).await;

        // The same merge again changes nothing.
        assert_eq!(merge(&app, &s, &[&l]).await, vec![]);
        assert_eq!(
            app.assert_consistent().await.transactions_checked,
            v.transactions_checked
        );
        assert_eq!(app.balance(&s).await.available, b.available);

        // Later calls for the loser land on the survivor.
        let earned = c
            .earn(goodwill(&l, 10, None, None))
            .await
            .expect("earn for the loser")
            .into_inner();
        let earned_on = earned.balance.expect("balance").customer;
        assert_eq!(
            earned_on, s,
            "the Earn for the loser landed on the survivor"
        );
        app.redeem(&l, 5).await.expect("redeem for the loser");
        let captured = c
            .capture_hold(pb::CaptureHoldRequest {
                name: hold.name.clone(),
                points: 40,
                request_id: rid(),
            })
            .await
            .expect("the loser's hold captures on the survivor")
            .into_inner();
        assert_eq!(captured.balance.expect("balance").held, 0);
        let b = app.balance(&s).await;
        assert_eq!((b.available, b.held), (600 + 500 + 60 + 10 - 5, 0));
        let closed = app
            .service
            .stored_wallet(id(&l))
            .await
            .expect("wallet")
            .expect("row");
        assert_eq!(
            (closed.balance, closed.sequence),
            (0, closed_at),
            "nothing after its MergeOut"
        );
        app.assert_consistent().await;
    }
}

#[tokio::test]
async fn merges_follow_survivors_and_leave_earlier_merges_alone() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let [a, b, c, d, e] = std::array::from_fn(|_| new_customer());
        let mut client = app.client.clone();
        for (who, points) in [(&b, 10), (&c, 20), (&e, 5)] {
            client
                .earn(goodwill(who, points, None, None))
                .await
                .expect("earn");
        }
        assert_eq!(merge(&app, &b, &[&e]).await, vec![]);
        assert_eq!(merge(&app, &a, &[&b]).await, vec![]);
        let wallet = |app: &TestApp, c: String| {
            let svc = app.service.clone();
            async move {
                svc.stored_wallet(id(&c))
                    .await
                    .expect("wallet")
                    .expect("row")
            }
        };
        assert_eq!(
            wallet(&app, e.clone()).await.merged_into,
            Some(id(&a)),
            "earlier losers name the new survivor"
        );
        // The survivor named was merged itself: the loser goes where it went.
        merge(&app, &b, &[&c]).await;
        assert_eq!(wallet(&app, c.clone()).await.merged_into, Some(id(&a)));
        assert_eq!(app.balance(&a).await.available, 35);
        // A loser merged elsewhere before stays there; nothing moves.
        assert_eq!(merge(&app, &d, &[&b]).await, vec![]);
        assert_eq!(wallet(&app, b.clone()).await.merged_into, Some(id(&a)));
        assert_eq!(app.balance(&d).await.available, 0);
        // No losers, the survivor as its own loser, a loser that is the survivor's survivor.
        let v = app.assert_consistent().await;
        assert_eq!(merge(&app, &a, &[]).await, vec![]);
        assert_eq!(merge(&app, &a, &[&a]).await, vec![]);
        assert_eq!(merge(&app, &c, &[&a]).await, vec![]);
        assert_eq!(app.assert_consistent().await, v, "nothing changed");
        // A loser without a wallet is closed too: a later Earn for it lands on the survivor.
        let f = new_customer();
        merge(&app, &a, &[&f]).await;
        let earned = client
            .earn(goodwill(&f, 7, None, None))
            .await
            .expect("earn")
            .into_inner();
        assert_eq!(earned.balance.expect("balance").customer, a);
        assert_eq!(app.balance(&a).await.available, 42);
        app.assert_consistent().await;
    })
    .await;
}
