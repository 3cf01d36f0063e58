//! The journeys again, on `Topology::Cluster`: the chart on the local Kubernetes, reached
//! through `kubectl port-forward` (`make cluster-test`; by hand:
//! `CRM_E2E_CLUSTER_{CUSTOMERS,LOYALTY,TICKETS,CAMPAIGNS}_URL=http://127.0.0.1:PORT CRM_E2E_TOKEN=<jwt>
//! cargo test -p crm-e2e --test e2e cluster -- --ignored`; the token needs every scope the
//! journeys use, e.g. `customers.*`, `loyalty.*`, `tickets.*` of the services' tables). The same journey functions as on the other
//! topologies, so the cluster proves what they prove, with the events crossing pods over
//! Redis Streams and tickets calling customers and loyalty through their Services.
//!
//! What the harness sets and the chart does not: the journeys wait at most 20 s for an
//! event's effect, and with the services' embedded defaults (relay every 50 ms, a consumer
//! read blocking at most 1 s) an event arrives in about a second; only a delivery lost with a
//! killed consumer waits `claim_idle_ms` (30 s), and nothing here kills pods. A fixed
//! `security.page_token_secret` matters only past one page (the journeys read pages of
//! 1,000). The fault tests stop and kill processes, so they do not run here: pods deleted
//! under load are the load generator's part (`crm-loadgen`).
//!
//! Ignored by default (`make test` lists them as ignored); run, they fail loudly without the
//! URLs.
use crate::harness::{Suite, Topology};

/// `on_the_cluster!(module::journey, ..)`: a test `cluster::journey` per journey of
/// `crate::journeys::module`.
macro_rules! on_the_cluster {
    ($($module:ident :: $journey:ident),+ $(,)?) => {$(
        #[tokio::test]
        #[ignore = "needs the local cluster: make cluster-test runs it"]
        async fn $journey() {
            let suite = Suite::start(Topology::Cluster).await.expect("a cluster is never skipped");
            crate::journeys::$module::$journey(suite).await;
        }
    )+};
}

on_the_cluster!(
    auth::every_service_refuses_a_call_without_a_token,
    goodwill::a_gold_customers_low_score_earns_goodwill_once,
    points::a_purchase_earns_points_once_at_the_tier_multiplier,
    points::a_year_of_past_orders_gives_todays_tier,
    points::a_refund_reverses_the_orders_points_in_proportion,
    merge::a_merge_moves_the_losers_points_and_tickets_to_the_survivor,
    erase::an_erasure_scrubs_every_service_and_is_reported_done,
    campaigns::a_segment_follows_events_and_a_campaign_sends_by_the_rules,
    care::a_birthday_offer_follows_the_loyalty_tier,
    care::a_lapsed_customer_gets_one_win_back_unless_complaining,
    care::a_test_then_winner_campaign_reports_conversions_after_its_send,
);
