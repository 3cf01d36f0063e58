//! Purchase -> points and refund -> reversal: activities recorded in customers, earned or
//! reversed by loyalty from the event backbone, read back from loyalty.
use crate::harness::{Suite, on_every_topology};
use crate::steps::{days_ago, purchase, refund};
use crm_proto::loyalty::TransactionKind;
use std::time::Duration;

/// Bound on the arrival of an event's effect (a relay pass and one consumer read, plus a
/// loaded CI machine).
const ARRIVAL: Duration = Duration::from_secs(20);

on_every_topology!(
    a_purchase_earns_points_once_at_the_tier_multiplier,
    a_year_of_past_orders_gives_todays_tier,
    a_refund_reverses_the_orders_points_in_proportion
);

/// A purchase recorded in customers earns 1 point per yuan in loyalty; once gold (5,000
/// qualifying points), the next purchase earns x1.5. One Earn per order.
pub(crate) async fn a_purchase_earns_points_once_at_the_tier_multiplier(mut s: Suite) {
    let wei = s.create_customer("Wei").await;
    s.record(&wei, purchase("order-1", 600_000, None)).await;
    s.await_available(&wei, 6_000, ARRIVAL).await;
    assert_eq!(s.tier(&wei).await, "gold");

    s.record(&wei, purchase("order-2", 10_000, None)).await;
    s.await_available(&wei, 6_000 + 150, ARRIVAL).await;

    let earns = s.transactions(&wei, &[TransactionKind::Earn]).await;
    let mut per_order: Vec<(&str, i64)> = earns
        .iter()
        .map(|t| (t.order_id.as_str(), t.wallet_delta))
        .collect();
    per_order.sort();
    assert_eq!(per_order, [("order-1", 6_000), ("order-2", 150)]);
    s.assert_ledger_consistent(&wei).await;
}

/// Orders loaded after the fact earn as of their purchase time. Fang's two orders of the
/// last year, recorded newest first: 1,000 yuan 300 days ago made her silver, so 4,000 yuan
/// 200 days ago earns x1.25 (1,000 + 5,000 = 6,000, gold). Rated in arrival order they
/// would give 5,250, without re-rating the newer one 5,000. Ming's single bigger order of
/// 380 days ago is outside the 365-day tier window: its points count, its tier does not.
/// Today's purchase then earns at each one's tier.
pub(crate) async fn a_year_of_past_orders_gives_todays_tier(mut s: Suite) {
    let fang = s.create_customer("Fang").await;
    let ming = s.create_customer("Ming").await;
    s.record(&fang, purchase("order-200", 400_000, Some(days_ago(200))))
        .await;
    s.record(&fang, purchase("order-300", 100_000, Some(days_ago(300))))
        .await;
    s.record(&ming, purchase("order-380", 600_000, Some(days_ago(380))))
        .await;
    s.await_available(&fang, 1_000 + 5_000, ARRIVAL).await;
    s.await_available(&ming, 6_000, ARRIVAL).await;
    let (fang_tier, ming_tier) = (s.tier_status(&fang).await, s.tier_status(&ming).await);
    assert_eq!(
        (fang_tier.tier.as_str(), fang_tier.qualifying_points),
        ("gold", 6_000)
    );
    assert_eq!(
        (ming_tier.tier.as_str(), ming_tier.qualifying_points),
        ("regular", 0)
    );

    s.record(&fang, purchase("order-f1", 10_000, None)).await;
    s.record(&ming, purchase("order-m1", 10_000, None)).await;
    s.await_available(&fang, 6_000 + 150, ARRIVAL).await;
    s.await_available(&ming, 6_000 + 100, ARRIVAL).await;
    s.assert_ledger_consistent(&fang).await;
    s.assert_ledger_consistent(&ming).await;
}

/// Refunds of half an order, then the rest: each reverses its share of the order's points,
/// and the first already takes Lan back below silver (1,000).
pub(crate) async fn a_refund_reverses_the_orders_points_in_proportion(mut s: Suite) {
    let lan = s.create_customer("Lan").await;
    s.record(&lan, purchase("order-1", 120_000, None)).await;
    s.await_available(&lan, 1_200, ARRIVAL).await;
    assert_eq!(s.tier(&lan).await, "silver");

    s.record(&lan, refund("order-1", 60_000)).await;
    s.await_available(&lan, 600, ARRIVAL).await;
    assert_eq!(s.tier(&lan).await, "regular");
    s.record(&lan, refund("order-1", 60_000)).await;
    s.await_available(&lan, 0, ARRIVAL).await;

    let reversals = s.transactions(&lan, &[TransactionKind::Reverse]).await;
    let per_order: Vec<(&str, i64)> = reversals
        .iter()
        .map(|t| (t.order_id.as_str(), t.wallet_delta))
        .collect();
    assert_eq!(per_order, [("order-1", -600), ("order-1", -600)]);
    s.assert_ledger_consistent(&lan).await;
}
