//! Recommendations fed by the backbone: purchases recorded in customers become
//! recommendations' interactions (its consumer of customers' stream, across processes over
//! Redis Streams, or in the suite's process), a RebuildModel reads them, and an erasure in
//! customers completes only once recommendations has dropped what it held and reported it.
//!
//! The serving RPCs are checked by [`serving_from_the_events`] once they answer (see there).
use crate::harness::{Deadline, Service, Suite, Topology, on_every_topology};
use crm_platform::testing::rid;
use crm_proto::customers as cpb;
use crm_proto::recommendations as rpb;
use std::time::Duration;

const ARRIVAL: Duration = Duration::from_secs(20);

on_every_topology!(
    purchases_in_customers_feed_the_model,
    an_erasure_waits_for_recommendations
);

/// A purchase of `items` (one of each) in order `order_id`.
fn purchase_of(order_id: &str, items: &[&str]) -> cpb::Activity {
    cpb::Activity {
        items: items
            .iter()
            .map(|i| cpb::PurchaseItem {
                item_id: (*i).into(),
                quantity: 1,
                unit_price: crm_e2e::requests::yuan(1_000),
            })
            .collect(),
        ..crm_e2e::requests::purchase(order_id, 1_000 * items.len() as i64, None)
    }
}

impl Suite {
    async fn model(&mut self) -> rpb::Model {
        self.recommendations
            .get_model(rpb::GetModelRequest {
                name: "model".into(),
            })
            .await
            .expect("get model")
            .into_inner()
    }

    /// Waits until recommendations counts `n` interactions recorded since its last build.
    async fn await_pending_interactions(&mut self, n: i64) {
        let deadline = Deadline::after(ARRIVAL, "recommendations to record the interactions");
        loop {
            let m = self.model().await;
            if m.pending_interaction_count == n {
                return;
            }
            assert!(
                !deadline.passed(),
                "recommendations has {} pending interactions, not {n}",
                m.pending_interaction_count
            );
            deadline.wait().await;
        }
    }

    async fn rebuild(&mut self) -> rpb::Model {
        self.recommendations
            .rebuild_model(rpb::RebuildModelRequest { request_id: rid() })
            .await
            .expect("rebuild model")
            .into_inner()
    }
}

/// Ann buys tea and cups, Bo tea, cups and a kettle, Cai tea and a kettle, all recorded in
/// customers: recommendations records each item once (seven interactions, a retried
/// RecordActivity adding none), and a rebuild reads exactly them.
pub(crate) async fn purchases_in_customers_feed_the_model(mut s: Suite) {
    let ann = s.create_customer("Ann").await;
    let bo = s.create_customer("Bo").await;
    let cai = s.create_customer("Cai").await;
    // Sent twice with one request id (a client's retry): one activity, one event.
    let (retried, anns) = (rid(), purchase_of("r-a1", &["tea", "cups"]));
    s.record_with(&ann, anns.clone(), retried.clone()).await;
    s.record_with(&ann, anns, retried).await;
    s.record(&bo, purchase_of("r-b1", &["tea", "cups", "kettle"]))
        .await;
    s.record(&cai, purchase_of("r-c1", &["tea", "kettle"]))
        .await;
    s.await_pending_interactions(7).await;

    let built = s.rebuild().await;
    assert!(built.version >= 1, "{built:?}");
    assert_eq!(
        (
            built.interaction_count,
            built.customer_count,
            built.item_count
        ),
        (7, 3, 3),
        "{built:?}"
    );
    assert_eq!(s.model().await.pending_interaction_count, 0);
    // After the build, a new purchase counts as pending again.
    s.record(&cai, purchase_of("r-c2", &["cups"])).await;
    s.await_pending_interactions(1).await;

    serving_from_the_events(&mut s, &ann).await;
}

/// The serving RPCs on the model built from the events above.
async fn serving_from_the_events(s: &mut Suite, ann: &str) {
    let similar = s
        .recommendations
        .similar_items(rpb::SimilarItemsRequest {
            item: "items/cups".into(),
            max_results: 10,
            ..Default::default()
        })
        .await
        .expect("similar items")
        .into_inner();
    let items: Vec<&str> = similar.items.iter().map(|i| i.item.as_str()).collect();
    assert!(items.contains(&"items/tea"), "{similar:?}");
    assert!(!items.contains(&"items/cups"), "never the item itself");
    assert!(!similar.recommendation_id.is_empty());

    // Ann has tea and cups: the kettle (bought with both by Bo) is what is left for her.
    let mine = s
        .recommendations
        .recommend_for_customer(rpb::RecommendForCustomerRequest {
            customer: ann.into(),
            max_results: 10,
            ..Default::default()
        })
        .await
        .expect("recommend for customer")
        .into_inner();
    let items: Vec<&str> = mine.items.iter().map(|i| i.item.as_str()).collect();
    assert_eq!(items.first(), Some(&"items/kettle"), "{mine:?}");
    assert!(!items.contains(&"items/tea") && !items.contains(&"items/cups"));
    assert!(!mine.cold_start, "{mine:?}");
}

/// Dan's purchase reaches recommendations; after EraseCustomer, recommendations deletes his
/// interaction and profile and reports it, customers' status shows recommendations among
/// the services and COMPLETED with what it scrubbed, and the interaction is gone.
pub(crate) async fn an_erasure_waits_for_recommendations(mut s: Suite) {
    let dan = s.create_customer("Dan").await;
    let before = s.model().await.pending_interaction_count;
    s.record(&dan, purchase_of("r-d1", &["tea", "kettle"]))
        .await;
    s.await_pending_interactions(before + 2).await;

    s.erase(&dan).await;
    let status = s
        .await_erasure_reported(&dan, "recommendations", ARRIVAL)
        .await;
    let part = status
        .services
        .iter()
        .find(|p| p.service == "recommendations")
        .expect("recommendations is a reporting service");
    // Two interactions and the profile its creation made.
    assert_eq!(part.scrubbed_records, 3, "{status:?}");
    assert_eq!(s.model().await.pending_interaction_count, before);
}

/// Separate processes only: with recommendations stopped, an erasure that every other
/// service has reported stays PENDING on recommendations; once it is back, it catches up on
/// the stream, reports, and the erasure is COMPLETED.
#[tokio::test]
async fn an_erasure_is_pending_until_recommendations_reports() {
    let Some(mut s) = Suite::start(Topology::Separate).await else {
        return;
    };
    let eve = s.create_customer("Eve").await;
    s.record(&eve, purchase_of("r-e1", &["tea"])).await;
    s.await_pending_interactions(1).await;

    s.process(Service::Recommendations).stop().await;
    s.erase(&eve).await;
    for other in ["loyalty", "tickets", "campaigns"] {
        s.await_erasure_reported(&eve, other, ARRIVAL).await;
    }
    let pending = s.erasure_status(&eve).await;
    assert_eq!(
        pending.state,
        cpb::ErasureState::Pending as i32,
        "{pending:?}"
    );
    let part = pending
        .services
        .iter()
        .find(|p| p.service == "recommendations")
        .expect("recommendations is a reporting service");
    assert_eq!(part.state, cpb::ErasureState::Pending as i32, "{pending:?}");

    s.restart(Service::Recommendations).await;
    s.await_erasure_reported(&eve, "recommendations", ARRIVAL)
        .await;
    let done = s.erasure_status(&eve).await;
    assert_eq!(done.state, cpb::ErasureState::Completed as i32, "{done:?}");
    assert_eq!(s.model().await.pending_interaction_count, 0);
}
