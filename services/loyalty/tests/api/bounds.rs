//! Hardening: every number bounded, arithmetic checked, one bad call never failing another.
use crate::harness::*;
use crm_platform::testing::Backend;
use crm_proto::loyalty as pb;
use tonic::Code;

fn review(customer: &str) -> pb::EarnRequest {
    pb::EarnRequest {
        customer: customer.into(),
        source: Some(pb::earn_request::Source::Action("review".into())),
        request_id: rid(),
        ..Default::default()
    }
}

fn adjust_request(customer: &str, points: i64) -> pb::AdjustRequest {
    pb::AdjustRequest {
        customer: customer.into(),
        points,
        reason: "correction".into(),
        actor: "agent-1".into(),
        request_id: rid(),
    }
}

fn goodwill(customer: &str, points: i64) -> pb::EarnRequest {
    pb::EarnRequest {
        customer: customer.into(),
        source: Some(pb::earn_request::Source::Goodwill(pb::Goodwill {
            points,
            reason: "sorry".into(),
            actor: "agent-1".into(),
        })),
        request_id: rid(),
        ..Default::default()
    }
}

/// Adjusts of +-i64::MAX among 19 concurrent Earns on the same and other wallets: every Earn
/// succeeds, each Adjust is refused on its own, the ledger verifies. Once with the default
/// limits (refused by the adapter) and once with limits that let the values reach the
/// group-commit writer (refused by its checked arithmetic; it used to panic there and fail
/// the whole batch with UNAVAILABLE).
async fn extreme_adjusts_among_earns(backend: Backend, unlimited: bool) {
    let mut app = spawn_app_with(backend, |s| {
        if unlimited {
            s.loyalty.program.limits.max_points_per_call = i64::MAX;
            s.loyalty.program.limits.max_balance = i64::MAX;
        }
    })
    .await;
    let wallets = [new_customer(), new_customer(), new_customer()];
    for w in &wallets {
        app.client.earn(review(w)).await.expect("first earn");
    }
    let mut adjusts = Vec::new();
    for points in [i64::MAX, -i64::MAX, i64::MIN] {
        let mut client = app.client.clone();
        let req = adjust_request(&wallets[0], points);
        adjusts.push(tokio::spawn(async move { client.adjust(req).await }));
    }
    let mut earns = Vec::new();
    for i in 0..19 {
        let mut client = app.client.clone();
        let req = review(&wallets[i % 3]);
        earns.push(tokio::spawn(async move { client.earn(req).await }));
    }
    for e in futures::future::join_all(earns).await {
        e.expect("task").expect("every earn succeeds");
    }
    for a in futures::future::join_all(adjusts).await {
        let err = a.expect("task").expect_err("refused");
        assert!(
            matches!(err.code(), Code::InvalidArgument | Code::FailedPrecondition),
            "{err:?}"
        );
        if unlimited && err.code() == Code::FailedPrecondition {
            let reason = crm_platform::grpc::reason_of(&err).unwrap_or_default();
            assert!(
                ["BALANCE_LIMIT", "INSUFFICIENT_POINTS"].contains(&reason.as_str()),
                "{err:?}"
            );
        }
    }
    let expected = [50 * 8, 50 * 7, 50 * 7];
    for (w, points) in wallets.iter().zip(expected) {
        assert_eq!(app.balance(w).await.available, points, "{w}");
    }
    let v = app.assert_consistent().await;
    assert_eq!(v.transactions_checked, 22);
}

#[tokio::test]
async fn extreme_adjusts_fail_alone_among_concurrent_earns() {
    for backend in crm_platform::testing::backends() {
        for unlimited in [false, true] {
            eprintln!("-- {backend:?}, unlimited {unlimited}");
            extreme_adjusts_among_earns(backend, unlimited).await;
        }
    }
}

#[tokio::test]
async fn a_wallet_never_exceeds_the_maximum_balance() {
    each_backend(|backend| async move {
        let mut app = spawn_app_with(backend, |s| {
            s.loyalty.program.limits.max_balance = 1_000;
            s.loyalty.program.limits.max_points_per_call = 600;
        })
        .await;
        let (c, other) = (new_customer(), new_customer());
        app.adjust(&c, 600).await.expect("within the limit");
        let err = app.adjust(&c, 600).await.expect_err("beyond the limit");
        assert_status(&err, Code::FailedPrecondition, "BALANCE_LIMIT");
        let err = app
            .client
            .earn(goodwill(&c, 401))
            .await
            .expect_err("goodwill beyond");
        assert_status(&err, Code::FailedPrecondition, "BALANCE_LIMIT");
        app.client
            .earn(goodwill(&c, 400))
            .await
            .expect("up to the limit");
        app.adjust(&other, 100).await.expect("other");
        let err = app
            .client
            .transfer(pb::TransferRequest {
                from_customer: other.clone(),
                to_customer: c.clone(),
                points: 1,
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect_err("a full wallet takes no transfer");
        assert_status(&err, Code::FailedPrecondition, "BALANCE_LIMIT");
        // A full wallet still spends and holds; a release gives back what was held.
        let hold = app
            .client
            .hold(pb::HoldRequest {
                customer: c.clone(),
                points: 300,
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect("hold")
            .into_inner();
        app.client
            .release_hold(pb::ReleaseHoldRequest {
                name: hold.hold.expect("hold").name,
                request_id: rid(),
            })
            .await
            .expect("release");
        app.redeem(&c, 10).await.expect("redeem");
        let b = app.balance(&c).await;
        assert_eq!((b.available, b.held), (990, 0));
        assert_eq!(app.balance(&other).await.available, 100, "nothing moved");
        app.assert_consistent().await;
    })
    .await;
}

#[tokio::test]
async fn points_amounts_and_lists_are_bounded() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = new_customer();
        let too_many = 10_000_001;
        let err = app
            .client
            .earn(goodwill(&c, too_many))
            .await
            .expect_err("goodwill");
        assert_eq!(violations(&err), ["goodwill.points"]);
        for points in [too_many, -too_many, i64::MIN] {
            let err = app.adjust(&c, points).await.expect_err("adjust");
            assert_eq!(violations(&err), ["points"], "{points}");
        }
        let err = app.redeem(&c, too_many).await.expect_err("redeem");
        assert_eq!(violations(&err), ["points"]);
        let err = app
            .client
            .hold(pb::HoldRequest {
                customer: c.clone(),
                points: too_many,
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect_err("hold");
        assert_eq!(violations(&err), ["points"]);
        let err = app
            .client
            .transfer(pb::TransferRequest {
                from_customer: c.clone(),
                to_customer: new_customer(),
                points: too_many,
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect_err("transfer");
        assert_eq!(violations(&err), ["points"]);
        // 10^9 CNY is the largest purchase; ZZZ is no currency.
        let err = app
            .client
            .earn(purchase_request(&c, "o-1", 100_000_000_001))
            .await
            .expect_err("amount");
        assert_eq!(violations(&err), ["purchase.amount.amount_minor"]);
        let err = app
            .client
            .earn(purchase_request(&c, "o-1", i64::MAX))
            .await
            .expect_err("i64::MAX amount");
        assert_eq!(violations(&err), ["purchase.amount.amount_minor"]);
        let mut zzz = purchase_request(&c, "o-1", 10_000);
        if let Some(pb::earn_request::Source::Purchase(p)) = zzz.source.as_mut() {
            p.amount = Some(money("ZZZ", 10_000));
        }
        let err = app.client.earn(zzz).await.expect_err("ZZZ");
        assert_eq!(violations(&err), ["purchase.amount.currency_code"]);
        let mut many = purchase_request(&c, "o-1", 10_000);
        if let Some(pb::earn_request::Source::Purchase(p)) = many.source.as_mut() {
            p.items = (0..101)
                .map(|i| pb::PurchaseItem {
                    item_id: format!("item-{i}"),
                    quantity: 1,
                    unit_price: None,
                })
                .collect();
        }
        let err = app.client.earn(many).await.expect_err("items");
        assert_eq!(violations(&err), ["purchase.items"]);
        let mut bulk = purchase_request(&c, "o-1", 10_000);
        if let Some(pb::earn_request::Source::Purchase(p)) = bulk.source.as_mut() {
            p.items[0].quantity = i32::MAX;
            p.items[0].unit_price = Some(money("CNY", i64::MAX));
        }
        let err = app.client.earn(bulk).await.expect_err("quantity");
        assert_eq!(
            violations(&err),
            [
                "purchase.items[0].quantity",
                "purchase.items[0].unit_price.amount_minor"
            ]
        );
        // 2 * 10^7 CNY is a valid amount but earns more points than one call may.
        let err = app
            .client
            .earn(purchase_request(&c, "o-1", 2_000_000_000))
            .await
            .expect_err("too many points");
        assert_eq!(violations(&err), ["purchase.amount.amount_minor"]);
        let err = app
            .client
            .list_transactions(pb::ListTransactionsRequest {
                customer: c.clone(),
                kinds: vec![
                    pb::TransactionKind::Earn as i32;
                    crm_loyalty::domain::TxKind::ALL.len() + 1
                ],
                ..Default::default()
            })
            .await
            .expect_err("kinds");
        assert_eq!(violations(&err), ["kinds"]);
        app.purchase(&c, "o-2", 10_000).await;
        let err = app
            .client
            .reverse(pb::ReverseRequest {
                customer: c.clone(),
                order_id: "o-2".into(),
                refund_amount: Some(money("CNY", i64::MAX)),
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect_err("refund");
        assert_eq!(violations(&err), ["refund_amount.amount_minor"]);
        let v = app.assert_consistent().await;
        assert_eq!(
            v.transactions_checked, 1,
            "only the valid purchase was written"
        );
    })
    .await;
}

#[tokio::test]
async fn page_sizes_are_lowered_to_the_maximum() {
    each_backend(|backend| async move {
        let mut app = spawn_app_with(backend, |s| {
            s.loyalty.max_page_size = 1;
            s.loyalty.default_page_size = 1;
        })
        .await;
        let c = new_customer();
        for n in 1..=3 {
            app.adjust(&c, n).await.expect("adjust");
        }
        // 1,000 and then 4,000 points: silver, then gold.
        app.purchase(&c, "o-1", 100_000).await;
        app.purchase(&c, "o-2", 400_000).await;
        let page = app
            .client
            .list_transactions(pb::ListTransactionsRequest {
                customer: c.clone(),
                page_size: i32::MAX,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        assert_eq!(page.transactions.len(), 1);
        assert!(!page.next_page_token.is_empty());
        let tiers = app
            .client
            .list_tier_history(pb::ListTierHistoryRequest {
                customer: c.clone(),
                page_size: i32::MAX,
                ..Default::default()
            })
            .await
            .expect("tiers")
            .into_inner();
        assert_eq!(tiers.changes.len(), 1);
        assert!(!tiers.next_page_token.is_empty(), "two tier changes");
        let err = app
            .client
            .list_tier_history(pb::ListTierHistoryRequest {
                customer: c.clone(),
                page_size: -1,
                ..Default::default()
            })
            .await
            .expect_err("negative");
        assert_eq!(violations(&err), ["page_size"]);
    })
    .await;
}
