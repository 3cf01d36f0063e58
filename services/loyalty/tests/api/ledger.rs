//! Statements, point-in-time balances, expiry, transfers and ledger verification.
use crate::harness::*;
use crm_proto::loyalty as pb;
use sea_orm::ConnectionTrait;
use tonic::Code;

#[tokio::test]
async fn statements_page_newest_first_with_tamper_proof_tokens() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = new_customer();
        for n in 1..=5 {
            app.adjust(&c, n * 10).await.expect("adjust");
        }
        app.redeem(&c, 5).await.expect("redeem");
        let mut seqs = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let page = app
                .client
                .list_transactions(pb::ListTransactionsRequest {
                    customer: c.clone(),
                    page_size: 2,
                    page_token: token.clone(),
                    ..Default::default()
                })
                .await
                .expect("list")
                .into_inner();
            pages += 1;
            seqs.extend(page.transactions.iter().map(|t| t.sequence));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(seqs, [6, 5, 4, 3, 2, 1]);
        assert_eq!(pages, 3);
        let redeems = app
            .client
            .list_transactions(pb::ListTransactionsRequest {
                customer: c.clone(),
                kinds: vec![pb::TransactionKind::Redeem as i32],
                ..Default::default()
            })
            .await
            .expect("filter")
            .into_inner();
        assert_eq!(redeems.transactions.len(), 1);
        let first = app
            .client
            .list_transactions(pb::ListTransactionsRequest {
                customer: c.clone(),
                page_size: 2,
                ..Default::default()
            })
            .await
            .expect("page")
            .into_inner();
        let mut forged = first.next_page_token.clone().into_bytes();
        forged[3] ^= 1;
        for (token, kinds) in [
            (String::from_utf8_lossy(&forged).into_owned(), vec![]),
            (
                first.next_page_token.clone(),
                vec![pb::TransactionKind::Earn as i32],
            ),
        ] {
            let err = app
                .client
                .list_transactions(pb::ListTransactionsRequest {
                    customer: c.clone(),
                    page_size: 2,
                    page_token: token,
                    kinds,
                    ..Default::default()
                })
                .await
                .expect_err("bad token");
            assert_status(&err, Code::InvalidArgument, "INVALID_PAGE_TOKEN");
        }
        let err = app
            .client
            .list_transactions(pb::ListTransactionsRequest {
                customer: c.clone(),
                page_size: -1,
                kinds: vec![99],
                ..Default::default()
            })
            .await
            .expect_err("bad list");
        assert_eq!(violations(&err), ["kinds[0]", "page_size"]);
    })
    .await;
}

#[tokio::test]
async fn balance_at_a_point_in_time() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = new_customer();
        app.adjust(&c, 100).await.expect("adjust");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let between = chrono::Utc::now();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        app.adjust(&c, 50).await.expect("adjust");
        let at = |t| pb::GetBalanceAtRequest {
            customer: c.clone(),
            time: Some(ts(t)),
        };
        let then = app
            .client
            .get_balance_at(at(between))
            .await
            .expect("then")
            .into_inner();
        assert_eq!((then.wallet, then.sequence), (100, 1));
        let now = app
            .client
            .get_balance_at(at(chrono::Utc::now()))
            .await
            .expect("now")
            .into_inner();
        assert_eq!((now.wallet, now.sequence), (150, 2));
        let before = app
            .client
            .get_balance_at(at(between - chrono::Duration::days(1)))
            .await
            .expect("before")
            .into_inner();
        assert_eq!((before.wallet, before.sequence), (0, 0));
        let err = app
            .client
            .get_balance_at(at(chrono::Utc::now() + chrono::Duration::days(1)))
            .await
            .expect_err("future");
        assert_eq!(violations(&err), ["time"]);
    })
    .await;
}

#[tokio::test]
async fn due_lots_expire_exactly_once() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = new_customer();
        app.adjust(&c, 100).await.expect("long-lived points");
        let soon = |secs: i64| pb::EarnRequest {
            customer: c.clone(),
            source: Some(pb::earn_request::Source::Goodwill(pb::Goodwill {
                points: 40,
                reason: "promo".into(),
                actor: "marketing".into(),
            })),
            expire_time: Some(ts(chrono::Utc::now() + chrono::Duration::seconds(secs))),
            request_id: rid(),
            ..Default::default()
        };
        app.client.earn(soon(1)).await.expect("short-lived points");
        app.client
            .earn(soon(86_400 * 10))
            .await
            .expect("expiring in 10 days");
        let b = app.balance(&c).await;
        assert_eq!(b.available, 180);
        let expiring: i64 = b.expiring.iter().map(|e| e.points).sum();
        assert_eq!(expiring, 80, "both promo lots expire within 30 days");
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        assert_eq!(
            app.balance(&c).await.available,
            140,
            "due points are not spendable"
        );
        let run = || pb::ExpireRequest {
            customer: String::new(),
            request_id: rid(),
        };
        let first = app.client.expire(run()).await.expect("expire").into_inner();
        assert_eq!(
            (first.expired_points, first.expired_lots, first.customers),
            (40, 1, 1)
        );
        let second = app.client.expire(run()).await.expect("again").into_inner();
        assert_eq!(second.expired_points, 0, "nothing expires twice");
        let job = app.service.expire_due().await.expect("job");
        assert_eq!(job.expired_points, 0);
        let b = app.balance(&c).await;
        assert_eq!((b.available, b.lifetime_expired), (140, 40));
        app.assert_consistent().await;
    })
    .await;
}

#[tokio::test]
async fn transfers_move_points_between_customers() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let (a, b) = (new_customer(), new_customer());
        app.adjust(&a, 100).await.expect("seed");
        let transfer = |from: &str, to: &str, points| pb::TransferRequest {
            from_customer: from.into(),
            to_customer: to.into(),
            points,
            reason: "gift".into(),
            request_id: rid(),
        };
        let out = app
            .client
            .transfer(transfer(&a, &b, 60))
            .await
            .expect("gift")
            .into_inner();
        assert_eq!(out.from_balance.map(|x| x.available), Some(40));
        let debit = out.debit.expect("debit");
        let credit = out.credit.expect("credit");
        assert_eq!((debit.wallet_delta, credit.wallet_delta), (-60, 60));
        assert_eq!(debit.related, credit.name);
        assert_eq!(app.balance(&b).await.available, 60);
        let err = app
            .client
            .transfer(transfer(&a, &b, 41))
            .await
            .expect_err("short");
        assert_status(&err, Code::FailedPrecondition, "INSUFFICIENT_POINTS");
        let err = app
            .client
            .transfer(transfer(&a, &a, 1))
            .await
            .expect_err("self");
        assert_eq!(violations(&err), ["to_customer"]);
        app.assert_consistent().await;

        let mut closed =
            spawn_app_with(backend, |s| s.loyalty.program.transfers_allowed = false).await;
        let err = closed
            .client
            .transfer(transfer(&a, &b, 1))
            .await
            .expect_err("disabled");
        assert_status(&err, Code::FailedPrecondition, "TRANSFERS_DISABLED");
    })
    .await;
}

#[tokio::test]
async fn verify_ledger_finds_an_altered_entry() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = new_customer();
        app.purchase(&c, "order-1", 50_000).await;
        app.redeem(&c, 100).await.expect("redeem");
        let ok = app.assert_consistent().await;
        assert_eq!((ok.accounts_checked, ok.transactions_checked), (1, 2));
        let db = sea_orm::Database::connect(app.db_url.as_str())
            .await
            .expect("db");
        db.execute_unprepared(
            "UPDATE loyalty_transactions SET reason = 'forged' WHERE kind = 'redeem'",
        )
        .await
        .expect("tamper");
        let v = app
            .client
            .verify_ledger(pb::VerifyLedgerRequest {
                customer: c.clone(),
            })
            .await
            .expect("verify")
            .into_inner();
        assert!(!v.consistent);
        let i = v.first_inconsistency.expect("found");
        assert_eq!((i.customer.as_str(), i.sequence), (c.as_str(), 2));
        // The hash covers the text's digest: altered text no longer matches it.
        assert!(i.problem.contains("altered"), "{}", i.problem);
        db.execute_unprepared("UPDATE loyalty_wallets SET balance = balance + 7")
            .await
            .expect("tamper wallet");
        db.execute_unprepared("UPDATE loyalty_transactions SET reason = '' WHERE kind = 'redeem'")
            .await
            .expect("undo");
        let v = app.verify().await;
        let i = v.first_inconsistency.expect("found");
        assert!(i.problem.contains("postings sum"), "{}", i.problem);
    })
    .await;
}

#[tokio::test]
async fn the_background_job_expires_due_points() {
    each_backend(|backend| async move {
        let mut app = spawn_app_with(backend, |s| s.loyalty.expire_interval_secs = 1).await;
        let c = new_customer();
        app.client
            .earn(pb::EarnRequest {
                customer: c.clone(),
                source: Some(pb::earn_request::Source::Action("review".into())),
                expire_time: Some(ts(chrono::Utc::now() + chrono::Duration::milliseconds(500))),
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect("earn");
        let mut expired = 0;
        for _ in 0..40 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            expired = app.balance(&c).await.lifetime_expired;
            if expired > 0 {
                break;
            }
        }
        assert_eq!(expired, 50, "the job expired the review points");
        app.assert_consistent().await;
    })
    .await;
}
