//! The events loyalty publishes: each ledger write exactly its facts, appended in the
//! transaction of the write (refused, rolled-back and replayed calls publish nothing), on
//! every write path (each call alone, and group commit).
use crate::event_tap::kinds;
use crate::harness::*;
use crm_proto::events::event::Payload;
use crm_proto::events::{self as ev, types};
use crm_proto::loyalty as pb;
use tonic::Code;

fn payload(e: &ev::Event) -> &Payload {
    e.payload.as_ref().expect("payload")
}

fn earned(e: &ev::Event) -> &ev::PointsEarned {
    match payload(e) {
        Payload::PointsEarned(p) => p,
        other => panic!("not PointsEarned: {other:?}"),
    }
}

fn tier_changed(e: &ev::Event) -> (&str, &str, ev::TierChangeReason) {
    match payload(e) {
        Payload::TierChanged(t) => (t.from_tier.as_str(), t.to_tier.as_str(), t.reason()),
        other => panic!("not TierChanged: {other:?}"),
    }
}

fn goodwill(customer: &str, points: i64) -> pb::EarnRequest {
    pb::EarnRequest {
        customer: customer.into(),
        source: Some(pb::earn_request::Source::Goodwill(pb::Goodwill {
            points,
            reason: "a late delivery".into(),
            actor: "agent-7".into(),
        })),
        request_id: rid(),
        ..Default::default()
    }
}

#[tokio::test]
async fn each_ledger_write_publishes_exactly_its_events() {
    for (backend, group_commit) in backends_with_and_without_group_commit() {
        eprintln!("-- {backend:?}, group commit {group_commit}");
        let mut app = spawn_app_with(backend, |s| s.loyalty.group_commit = group_commit).await;
        let mut tap = app.tap_events().await;
        let c = new_customer();
        let other = new_customer();
        let cl = &mut app.client;

        // A purchase of 1000 points: earned, and silver reached.
        let first = purchase_request(&c, "o-1", 100_000);
        let earn = cl.earn(first.clone()).await.expect("earn").into_inner();
        // A replay, and the same order again: nothing more.
        cl.earn(first).await.expect("replay");
        let again = cl.earn(purchase_request(&c, "o-1", 100_000)).await;
        assert_eq!(again.expect_err("order earned").code(), Code::AlreadyExists);
        cl.earn(pb::EarnRequest {
            customer: c.clone(),
            source: Some(pb::earn_request::Source::Action("review".into())),
            request_id: rid(),
            ..Default::default()
        })
        .await
        .expect("review");
        cl.earn(goodwill(&c, 30)).await.expect("goodwill");
        app.redeem(&c, 100).await.expect("redeem");
        let refused = app.redeem(&c, 1_000_000).await.expect_err("too many");
        assert_eq!(refused.code(), Code::FailedPrecondition);
        let cl = &mut app.client;
        let hold = cl
            .hold(pb::HoldRequest {
                customer: c.clone(),
                points: 20,
                order_id: "o-2".into(),
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect("hold")
            .into_inner();
        let hold_name = hold.hold.expect("hold").name;
        cl.capture_hold(pb::CaptureHoldRequest {
            name: hold_name.clone(),
            points: 15,
            request_id: rid(),
        })
        .await
        .expect("capture");
        app.adjust(&c, 5).await.expect("adjust");
        let cl = &mut app.client;
        cl.transfer(pb::TransferRequest {
            from_customer: c.clone(),
            to_customer: other.clone(),
            points: 5,
            reason: "gift".into(),
            request_id: rid(),
        })
        .await
        .expect("transfer");
        // Half the order refunded: 500 points back, 550 qualifying points left: regular.
        let reversal = cl
            .reverse(pb::ReverseRequest {
                customer: c.clone(),
                order_id: "o-1".into(),
                refund_amount: Some(money("CNY", 50_000)),
                reason: "returned".into(),
                request_id: rid(),
            })
            .await
            .expect("reverse")
            .into_inner();
        let refused = cl
            .reverse(pb::ReverseRequest {
                customer: c.clone(),
                order_id: "o-404".into(),
                reason: "nothing".into(),
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect_err("unknown order");
        assert_eq!(refused.code(), Code::NotFound);

        let got = app.published(&mut tap).await;
        assert_eq!(
            kinds(&got),
            [
                (types::POINTS_EARNED, c.as_str()),
                (types::TIER_CHANGED, c.as_str()),
                (types::POINTS_EARNED, c.as_str()),
                (types::POINTS_EARNED, c.as_str()),
                (types::POINTS_REDEEMED, c.as_str()),
                (types::POINTS_REDEEMED, c.as_str()),
                (types::POINTS_REVERSED, c.as_str()),
                (types::TIER_CHANGED, c.as_str()),
            ],
            "{got:#?}"
        );
        let purchase = earned(&got[0]);
        let t = earn.transaction.expect("transaction");
        assert_eq!(purchase.customer, c);
        assert_eq!(purchase.transaction, t.name);
        assert_eq!(purchase.source(), ev::EarnSource::Purchase);
        assert_eq!((purchase.points, purchase.order_id.as_str()), (1000, "o-1"));
        assert_eq!(purchase.amount, Some(money("CNY", 100_000)));
        assert_eq!(purchase.multiplier_permille, 1000);
        let secs = |t: &Option<prost_types::Timestamp>| t.as_ref().expect("a time").seconds;
        assert_eq!(secs(&purchase.available_time), secs(&purchase.earn_time));
        assert!(secs(&purchase.expire_time) > secs(&purchase.earn_time));
        assert_eq!(
            tier_changed(&got[1]),
            ("regular", "silver", ev::TierChangeReason::Earned)
        );
        let review = earned(&got[2]);
        assert_eq!(review.source(), ev::EarnSource::Action);
        assert_eq!((review.points, review.reason.as_str()), (50, "review"));
        let gift = earned(&got[3]);
        assert_eq!(gift.source(), ev::EarnSource::Goodwill);
        // A reason code, never the ledger's free text.
        assert_eq!((gift.points, gift.reason.as_str()), (30, "goodwill"));
        let Payload::PointsRedeemed(redeemed) = payload(&got[4]) else {
            panic!("{got:#?}")
        };
        assert_eq!(redeemed.points, 100);
        let Payload::PointsRedeemed(captured) = payload(&got[5]) else {
            panic!("{got:#?}")
        };
        assert_eq!((captured.points, captured.order_id.as_str()), (15, "o-2"));
        let Payload::PointsReversed(reversed) = payload(&got[6]) else {
            panic!("{got:#?}")
        };
        let rt = reversal.transaction.expect("transaction");
        assert_eq!(reversed.transaction, rt.name);
        assert_eq!(reversed.order_id, "o-1");
        assert_eq!(reversed.refund_amount, Some(money("CNY", 50_000)));
        assert_eq!(
            (reversed.clawed_back_points, reversed.shortfall_points),
            (500, 0)
        );
        assert_eq!(
            tier_changed(&got[7]),
            ("silver", "regular", ev::TierChangeReason::Reversed)
        );
        app.assert_consistent().await;
    }
}

#[tokio::test]
async fn expiry_publishes_the_points_it_expires() {
    each_backend(|backend| async move {
        // Purchases back-dated beyond a one-month expiry are due at once.
        let mut app = spawn_app_with(backend, |s| s.loyalty.program.expire_after_months = 1).await;
        let mut tap = app.tap_events().await;
        let (by_rpc, by_job) = (new_customer(), new_customer());
        let old = chrono::Utc::now() - chrono::TimeDelta::days(40);
        for c in [&by_rpc, &by_job] {
            app.client
                .earn(purchase_at(c, "o-old", 20_000, Some(old)))
                .await
                .expect("earn");
        }
        let expired = app
            .client
            .expire(pb::ExpireRequest {
                customer: by_rpc.clone(),
                request_id: rid(),
            })
            .await
            .expect("expire")
            .into_inner();
        assert_eq!(expired.expired_points, 200);
        let job = app.service.expire_due().await.expect("expiry job");
        assert_eq!(job.expired_points, 200);
        let got = app.published(&mut tap).await;
        let expired: Vec<(&str, i64)> = got
            .iter()
            .filter_map(|e| match payload(e) {
                Payload::PointsExpired(x) => Some((x.customer.as_str(), x.points)),
                _ => None,
            })
            .collect();
        assert_eq!(
            expired,
            [(by_rpc.as_str(), 200), (by_job.as_str(), 200)],
            "{got:#?}"
        );
        // A second run expires nothing, and publishes nothing.
        app.service.expire_due().await.expect("expiry job");
        let got = app.published(&mut tap).await;
        assert!(got.is_empty(), "{got:#?}");
        app.assert_consistent().await;
    })
    .await;
}

/// Many concurrent calls on one wallet, some refused and some replays: in a group commit a
/// refusal rolls the batch back and the rest go again, so only what committed is published.
#[tokio::test]
async fn concurrent_writes_publish_only_what_committed() {
    for (backend, group_commit) in backends_with_and_without_group_commit() {
        eprintln!("-- {backend:?}, group commit {group_commit}");
        let mut app = spawn_app_with(backend, |s| s.loyalty.group_commit = group_commit).await;
        let c = new_customer();
        app.adjust(&c, 100).await.expect("adjust");
        let mut tap = app.tap_events().await;
        let replayed = purchase_request(&c, "o-1", 1_000);
        let mut calls = Vec::new();
        for i in 0..20 {
            let mut cl = app.client.clone();
            let c = c.clone();
            let replayed = replayed.clone();
            calls.push(tokio::spawn(async move {
                if i % 2 == 0 {
                    // A replay racing the first call may be told to retry; never a second earn.
                    return cl.earn(replayed).await.map(|_| false).or(Ok(false));
                }
                cl.redeem(pb::RedeemRequest {
                    customer: c,
                    points: 20,
                    request_id: rid(),
                    ..Default::default()
                })
                .await
                .map(|_| true)
            }));
        }
        let mut redeemed = 0;
        for call in calls {
            match call.await.expect("call") {
                Ok(true) => redeemed += 1,
                Ok(false) => {}
                Err(s) => assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}"),
            }
        }
        // 100 points adjusted + 10 earned: five redemptions of 20 fit.
        assert_eq!(redeemed, 5);
        let got = app.published(&mut tap).await;
        let count = |t: &str| got.iter().filter(|e| e.r#type == t).count();
        assert_eq!(count(types::POINTS_EARNED), 1, "{got:#?}");
        assert_eq!(count(types::POINTS_REDEEMED), 5, "{got:#?}");
        assert_eq!(got.len(), 6, "{got:#?}");
        app.assert_consistent().await;
    }
}

/// A back-dated purchase that raises the tier a later one earned at publishes its own
/// PointsEarned, then one per re-rate top-up (reason "tier re-rate", the new multiplier).
#[tokio::test]
async fn a_back_dated_purchase_publishes_its_re_rates() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let mut tap = app.tap_events().await;
        let c = new_customer();
        let days = |n| Some(chrono::Utc::now() - chrono::TimeDelta::days(n));
        let cl = &mut app.client;
        cl.earn(purchase_at(&c, "o-late", 10_000, days(10)))
            .await
            .expect("later purchase, at regular");
        cl.earn(purchase_at(&c, "o-early", 100_000, days(20)))
            .await
            .expect("earlier purchase");
        let got = app.published(&mut tap).await;
        let earned: Vec<(&str, i64, &str, i32)> = got
            .iter()
            .filter_map(|e| match payload(e) {
                Payload::PointsEarned(p) => Some((
                    p.order_id.as_str(),
                    p.points,
                    p.reason.as_str(),
                    p.multiplier_permille,
                )),
                _ => None,
            })
            .collect();
        assert_eq!(
            earned,
            [
                ("o-late", 100, "", 1000),
                ("o-early", 1000, "", 1000),
                ("o-late", 25, "tier re-rate", 1250),
            ],
            "{got:#?}"
        );
        assert_eq!(
            tier_changed(got.last().expect("events")),
            ("regular", "silver", ev::TierChangeReason::Earned)
        );
        assert_eq!(app.balance(&c).await.lifetime_earned, 1125);
        app.assert_consistent().await;
    })
    .await;
}
