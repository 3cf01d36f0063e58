//! Earning, redeeming, idempotency and validation.
use crate::harness::*;
use crm_proto::loyalty as pb;
use tonic::Code;

#[tokio::test]
async fn purchases_earn_through_the_rules_and_the_tier_multiplier() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = new_customer();
        let first = app.purchase(&c, "order-1", 120_000).await;
        let t = first.transaction.expect("transaction");
        assert_eq!(t.wallet_delta, 1200, "1 point per CNY at x1.0");
        assert_eq!(t.kind, pb::TransactionKind::Earn as i32);
        assert_eq!(t.postings.iter().map(|p| p.amount).sum::<i64>(), 0);
        let b = first.balance.expect("balance");
        assert_eq!(b.available, 1200);
        assert_eq!(b.tier.as_ref().map(|t| t.tier.as_str()), Some("silver"));
        let second = app.purchase(&c, "order-2", 10_050).await;
        assert_eq!(
            second.transaction.expect("t").wallet_delta,
            125,
            "100 whole units at silver x1.25"
        );
        let b = app.balance(&c).await;
        assert_eq!((b.available, b.pending, b.held), (1325, 0, 0));
        assert_eq!(b.lifetime_earned, 1325);
        let tier = b.tier.expect("tier");
        assert_eq!(
            (
                tier.tier.as_str(),
                tier.qualifying_points,
                tier.next_tier.as_str()
            ),
            ("silver", 1325, "gold")
        );
        assert_eq!(tier.points_to_next_tier, 5000 - 1325);
        let direct = app.tier(&c).await;
        assert_eq!(
            (direct.tier.as_str(), direct.multiplier_permille),
            ("silver", 1250)
        );
        assert_eq!(b.expiring.len(), 0, "nothing expires within 30 days");
        let history = app
            .client
            .list_tier_history(pb::ListTierHistoryRequest {
                customer: c.clone(),
                ..Default::default()
            })
            .await
            .expect("history")
            .into_inner();
        let changes: Vec<_> = history
            .changes
            .iter()
            .map(|h| (h.from_tier.as_str(), h.to_tier.as_str()))
            .collect();
        assert_eq!(changes, [("regular", "silver")]);
        let again = app
            .client
            .earn(purchase_request(&c, "order-1", 5_000))
            .await
            .expect_err("same order twice");
        assert_status(&again, Code::AlreadyExists, "ALREADY_EXISTS");
        let program = app
            .client
            .get_program(pb::GetProgramRequest {
                name: "programs/default".into(),
            })
            .await
            .expect("program")
            .into_inner();
        let tiers: Vec<_> = program
            .tiers
            .iter()
            .map(|t| (t.code.as_str(), t.multiplier_permille))
            .collect();
        assert_eq!(tiers, [("regular", 1000), ("silver", 1250), ("gold", 1500)]);
        assert_eq!(
            program.expiry_policy.map(|e| e.expire_after_months),
            Some(24)
        );
        app.assert_consistent().await;
    })
    .await;
}

#[tokio::test]
async fn actions_and_goodwill_award_fixed_points() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = new_customer();
        let review = app
            .client
            .earn(pb::EarnRequest {
                customer: c.clone(),
                source: Some(pb::earn_request::Source::Action("review".into())),
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect("review")
            .into_inner();
        assert_eq!(review.transaction.expect("t").wallet_delta, 50);
        let goodwill = app
            .client
            .earn(pb::EarnRequest {
                customer: c.clone(),
                source: Some(pb::earn_request::Source::Goodwill(pb::Goodwill {
                    points: 30,
                    reason: "late delivery".into(),
                    actor: "agent-7".into(),
                })),
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect("goodwill")
            .into_inner();
        let t = goodwill.transaction.expect("t");
        assert_eq!((t.wallet_delta, t.actor.as_str()), (30, "agent-7"));
        let b = goodwill.balance.expect("balance");
        assert_eq!(b.available, 80);
        assert_eq!(
            b.tier.map(|t| t.qualifying_points),
            Some(50),
            "goodwill does not qualify for tiers"
        );
        let err = app
            .client
            .earn(pb::EarnRequest {
                customer: c.clone(),
                source: Some(pb::earn_request::Source::Action("dance".into())),
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect_err("unknown action");
        assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
        assert_eq!(violations(&err), ["action"]);
    })
    .await;
}

#[tokio::test]
async fn redeem_is_all_or_nothing_unless_up_to_available() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = new_customer();
        app.adjust(&c, 100).await.expect("seed");
        let err = app.redeem(&c, 150).await.expect_err("short");
        assert_status(&err, Code::FailedPrecondition, "INSUFFICIENT_POINTS");
        let info = tonic_types::StatusExt::get_details_error_info(&err).expect("info");
        assert_eq!(
            info.metadata.get("available").map(String::as_str),
            Some("100")
        );
        assert_eq!(app.balance(&c).await.available, 100, "nothing was taken");
        let partial = app
            .client
            .redeem(pb::RedeemRequest {
                customer: c.clone(),
                points: 150,
                up_to_available: true,
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect("up to available")
            .into_inner();
        assert_eq!(partial.transaction.expect("t").wallet_delta, -100);
        let b = partial.balance.expect("balance");
        assert_eq!((b.available, b.lifetime_redeemed), (0, 100));
        let err = app.redeem(&c, 1).await.expect_err("empty wallet");
        assert_status(&err, Code::FailedPrecondition, "INSUFFICIENT_POINTS");
        app.assert_consistent().await;
    })
    .await;
}

#[tokio::test]
async fn request_id_replays_the_first_result_and_rejects_another_payload() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = new_customer();
        let req = purchase_request(&c, "order-7", 30_000);
        let first = app
            .client
            .earn(req.clone())
            .await
            .expect("earn")
            .into_inner();
        let replay = app
            .client
            .earn(req.clone())
            .await
            .expect("replay")
            .into_inner();
        assert_eq!(first, replay, "the replay returns the stored response");
        assert_eq!(app.balance(&c).await.available, 300, "posted once");
        let mut other = req.clone();
        other.source = Some(pb::earn_request::Source::Action("review".into()));
        let err = app.client.earn(other).await.expect_err("reused id");
        assert_status(&err, Code::AlreadyExists, "IDEMPOTENCY_KEY_REUSED");
        let redeem = pb::RedeemRequest {
            customer: c.clone(),
            points: 100,
            request_id: rid(),
            ..Default::default()
        };
        app.client.redeem(redeem.clone()).await.expect("redeem");
        app.client.redeem(redeem).await.expect("replay redeem");
        assert_eq!(app.balance(&c).await.available, 200, "redeemed once");
        app.assert_consistent().await;
    })
    .await;
}

#[tokio::test]
async fn invalid_requests_list_every_bad_field() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let err = app
            .client
            .earn(pb::EarnRequest {
                customer: "people/1".into(),
                source: Some(pb::earn_request::Source::Purchase(pb::Purchase {
                    order_id: String::new(),
                    amount: Some(money("yuan", -5)),
                    items: vec![pb::PurchaseItem {
                        item_id: "x".into(),
                        quantity: 0,
                        unit_price: None,
                    }],
                    purchase_time: None,
                })),
                request_id: "not-a-uuid".into(),
                ..Default::default()
            })
            .await
            .expect_err("bad earn");
        assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
        assert_eq!(
            violations(&err),
            [
                "customer",
                "purchase.amount.amount_minor",
                "purchase.amount.currency_code",
                "purchase.items[0].quantity",
                "purchase.order_id",
                "request_id",
            ]
        );
        let err = app
            .client
            .redeem(pb::RedeemRequest {
                customer: "customers/nope".into(),
                points: 0,
                ..Default::default()
            })
            .await
            .expect_err("bad redeem");
        assert_eq!(violations(&err), ["customer", "points", "request_id"]);
        let err = app
            .client
            .adjust(pb::AdjustRequest {
                customer: new_customer(),
                points: 0,
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect_err("bad adjust");
        assert_eq!(violations(&err), ["actor", "points", "reason"]);
        let err = app
            .client
            .earn(pb::EarnRequest {
                customer: new_customer(),
                source: Some(pb::earn_request::Source::Action("review".into())),
                expire_time: Some(ts(chrono::Utc::now() - chrono::Duration::days(1))),
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect_err("expiry in the past");
        assert_eq!(violations(&err), ["expire_time"]);
        let err = app
            .client
            .earn(purchase_request(&new_customer(), "o", 99))
            .await
            .expect_err("less than one unit");
        assert_eq!(violations(&err), ["purchase.amount.amount_minor"]);
    })
    .await;
}

#[tokio::test]
async fn pending_points_cannot_be_spent_before_they_are_available() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = new_customer();
        let mut req = purchase_request(&c, "stay-1", 50_000);
        req.available_time = Some(ts(chrono::Utc::now() + chrono::Duration::days(3)));
        app.client.earn(req).await.expect("earn");
        let b = app.balance(&c).await;
        assert_eq!((b.available, b.pending), (0, 500));
        let err = app.redeem(&c, 1).await.expect_err("pending");
        assert_status(&err, Code::FailedPrecondition, "INSUFFICIENT_POINTS");
        app.assert_consistent().await;
    })
    .await;
}

#[tokio::test]
async fn bonus_items_earn_extra_points() {
    each_backend(|backend| async move {
        let mut app = spawn_app_with(backend, |s| {
            s.loyalty.program.item_bonuses = vec![crm_loyalty::domain::ItemBonus {
                item_id_prefix: "spa-".into(),
                multiplier_permille: 2000,
            }];
        })
        .await;
        let c = new_customer();
        let item = |id: &str, qty, currency: &str, price| pb::PurchaseItem {
            item_id: id.into(),
            quantity: qty,
            unit_price: Some(money(currency, price)),
        };
        let mut req = purchase_request(&c, "order-spa", 10_000);
        if let Some(pb::earn_request::Source::Purchase(p)) = req.source.as_mut() {
            p.items = vec![
                item("spa-massage", 2, "CNY", 3_000),
                item("room", 1, "CNY", 4_000),
            ];
        }
        let out = app
            .client
            .earn(req.clone())
            .await
            .expect("earn")
            .into_inner();
        assert_eq!(
            out.transaction.expect("t").wallet_delta,
            160,
            "100 base + 60 spa bonus"
        );
        let program = app
            .client
            .get_program(pb::GetProgramRequest {
                name: "programs/default".into(),
            })
            .await
            .expect("program")
            .into_inner();
        let bonuses = program.earning_rules.expect("rules").item_bonuses;
        assert_eq!(bonuses.len(), 1);
        if let Some(pb::earn_request::Source::Purchase(p)) = req.source.as_mut() {
            p.order_id = "order-2".into();
            p.items = vec![item("spa-x", 1, "USD", -1)];
        }
        req.request_id = rid();
        let err = app.client.earn(req).await.expect_err("bad item price");
        assert_eq!(
            violations(&err),
            [
                "purchase.items[0].unit_price.amount_minor",
                "purchase.items[0].unit_price.currency_code"
            ]
        );
    })
    .await;
}
