//! The events of activities: each recorded one once (not again on a replay, none when
//! refused), and one customer's events in commit order under concurrent writers.
use crate::event_tap::kinds;
use crate::harness::*;
use crm_platform::client::TracedChannel;
use crm_proto::customers as pb;
use crm_proto::customers::customer_service_client::CustomerServiceClient;
use crm_proto::events::event::Payload;
use crm_proto::events::{self as ev, types};
use tonic::Code;

async fn record(
    client: &mut CustomerServiceClient<TracedChannel>,
    parent: &str,
    activity: pb::Activity,
    request_id: &str,
) -> Result<pb::Activity, tonic::Status> {
    client
        .record_activity(pb::RecordActivityRequest {
            parent: parent.into(),
            activity: Some(activity),
            request_id: request_id.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

fn money(amount_minor: i64) -> Option<crm_proto::common::Money> {
    Some(crm_proto::common::Money {
        currency_code: "CNY".into(),
        amount_minor,
    })
}

/// When every order of these tests happened.
fn occur_time() -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: 1_700_000_000,
        nanos: 0,
    })
}

/// Two of one item, together `amount_minor`.
fn two_items(amount_minor: i64) -> Vec<pb::PurchaseItem> {
    vec![pb::PurchaseItem {
        item_id: "sku-1".into(),
        quantity: 2,
        unit_price: money(amount_minor / 2),
    }]
}

fn order_activity(kind: pb::ActivityKind, order: &str, amount_minor: i64) -> pb::Activity {
    pb::Activity {
        kind: kind as i32,
        occur_time: occur_time(),
        channel: "store".into(),
        amount: money(amount_minor),
        items: two_items(amount_minor),
        reference: order.into(),
        ..Default::default()
    }
}
#[tokio::test]
async fn activities_publish_their_order_once_even_when_replayed() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = app.create(person("Bo", "bo@example.com")).await;
        let mut tap = app.tap_events().await;
        let once = rid();
        let purchase = order_activity(pb::ActivityKind::Purchase, "order-1", 2000);
        let first = record(&mut app.client, &c.name, purchase.clone(), &once)
            .await
            .expect("purchase");
        let replay = record(&mut app.client, &c.name, purchase, &once)
            .await
            .expect("replayed purchase");
        assert_eq!(replay.name, first.name, "a replay, not a second purchase");
        // Refused: a refund must name its order; nothing is published.
        let refund_of = |order: &str| order_activity(pb::ActivityKind::Refund, order, 500);
        let refused = record(&mut app.client, &c.name, refund_of(""), &rid())
            .await
            .expect_err("refund without order");
        assert_eq!(refused.code(), Code::InvalidArgument);
        let refund = record(&mut app.client, &c.name, refund_of("order-1"), &rid())
            .await
            .expect("refund");
        let seen = pb::Activity {
            kind: pb::ActivityKind::View as i32,
            occur_time: Some(prost_types::Timestamp {
                seconds: 1_700_000_100,
                nanos: 0,
            }),
            item_id: "sku-9".into(),
            ..Default::default()
        };
        let view = record(&mut app.client, &c.name, seen, &rid())
            .await
            .expect("view");

        let events = app.published(&mut tap).await;
        let name = c.name.as_str();
        assert_eq!(
            kinds(&events),
            [
                (types::ACTIVITY_RECORDED, name),
                (types::REFUND_RECORDED, name),
                (types::ACTIVITY_RECORDED, name),
            ]
        );
        let order = |amount_minor| ev::Order {
            order_id: "order-1".into(),
            amount: money(amount_minor),
            items: two_items(amount_minor),
        };
        let occur = occur_time();
        let payloads: Vec<Payload> = events.into_iter().filter_map(|e| e.payload).collect();
        assert_eq!(
            payloads[0],
            Payload::ActivityRecorded(ev::ActivityRecorded {
                activity: first.name.clone(),
                customer: name.into(),
                kind: pb::ActivityKind::Purchase as i32,
                occur_time: occur,
                channel: "store".into(),
                order: Some(order(2000)),
                item_id: String::new(),
                rating: 0,
            })
        );
        assert_eq!(
            payloads[1],
            Payload::RefundRecorded(ev::RefundRecorded {
                activity: refund.name.clone(),
                customer: name.into(),
                occur_time: occur,
                channel: "store".into(),
                order: Some(order(500)),
            })
        );
        let Payload::ActivityRecorded(v) = &payloads[2] else {
            panic!("{:?}", payloads[2])
        };
        assert_eq!(
            (
                v.activity.as_str(),
                v.kind,
                v.item_id.as_str(),
                v.order.is_none()
            ),
            (
                view.name.as_str(),
                pb::ActivityKind::View as i32,
                "sku-9",
                true
            )
        );
    })
    .await;
}
#[tokio::test]
async fn one_customers_events_follow_commit_order_under_concurrent_writers() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = app.create(person("Eve", "eve@example.com")).await;
        let mut tap = app.tap_events().await;
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let (mut buyer, mut editor) = (app.client.clone(), app.client.clone());
                let c = c.clone();
                tokio::spawn(async move {
                    let order = format!("order-{i}");
                    let activity = order_activity(pb::ActivityKind::Purchase, &order, 100);
                    let (parent, request_id) = (c.name.clone(), rid());
                    let purchase = record(&mut buyer, &parent, activity, &request_id);
                    let update = editor.update_customer(pb::UpdateCustomerRequest {
                        customer: Some(pb::Customer {
                            display_name: format!("Eve {i}"),
                            etag: String::new(),
                            ..c
                        }),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["display_name".into()],
                        }),
                        request_id: rid(),
                    });
                    let (p, u) = tokio::join!(purchase, update);
                    (p.is_ok(), u.map(|r| r.into_inner().etag).ok())
                })
            })
            .collect();
        let mut purchases = 0;
        let mut etags = Vec::new();
        for w in writers {
            let (bought, etag) = w.await.expect("writer");
            purchases += usize::from(bought);
            etags.extend(etag);
        }
        assert!(!etags.is_empty(), "some updates commit");

        let events = app.published(&mut tap).await;
        assert!(events.iter().all(|e| e.subject == c.name));
        let published: Vec<String> = events
            .iter()
            .filter_map(|e| match &e.payload {
                Some(Payload::CustomerUpdated(u)) => Some(u.etag.clone()),
                _ => None,
            })
            .collect();
        // One event per committed update (an ABORTED one publishes none), in revision order,
        // which is the order the compare-and-set writes committed.
        let revision = |etag: &str| crm_platform::etag::parse(etag).expect("our etag");
        let mut committed: Vec<i64> = etags.iter().map(|e| revision(e)).collect();
        committed.sort_unstable();
        let order: Vec<i64> = published.iter().map(|e| revision(e)).collect();
        assert_eq!(order, committed);
        let recorded = events
            .iter()
            .filter(|e| e.r#type == types::ACTIVITY_RECORDED)
            .count();
        assert_eq!(recorded, purchases);
    })
    .await;
}
