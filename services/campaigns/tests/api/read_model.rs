//! The read model fed by events: customers', loyalty's and tickets' events, appended to their
//! streams on the app's bus (in process on SQLite, Redis on PostgreSQL) as their relays
//! would, become what GetMember shows; redeliveries and out-of-order arrivals change
//! nothing twice; merges collapse members into the survivor; erasures remove them and are
//! answered with ErasureCompleted.
use crate::harness::*;
use chrono::{DateTime, TimeDelta, Utc};
use crm_platform::testing::events::{Producer, Tap, eventually};
use crm_platform::validate::to_timestamp;
use crm_proto::campaigns as pb;
use crm_proto::customers::{ActivityKind, Channel, ConsentState};
use crm_proto::events as ev;
use crm_proto::events::event::Payload;
use crm_proto::tickets as tpb;
use tonic::Code;

pub fn events_settings(app: &TestApp) -> crm_platform::config::EventsSettings {
    let s = crm_platform::testing::settings::<crm_campaigns::Campaigns>(&app.storage, |_| {});
    crm_platform::app::ServiceSettings::platform(&s)
        .events
        .clone()
}

pub fn producer(app: &TestApp, source: &str) -> Producer {
    Producer::new(&events_settings(app), source)
}

pub fn new_customer() -> String {
    format!("customers/{}", uuid::Uuid::now_v7())
}

pub fn member_name(customer: &str) -> String {
    customer.replacen("customers/", "members/", 1)
}

pub fn ts(t: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(to_timestamp(t))
}

pub fn created(customer: &str) -> Payload {
    Payload::CustomerCreated(ev::CustomerCreated {
        customer: customer.into(),
        lifecycle_stage: crm_proto::customers::LifecycleStage::New as i32,
        create_time: ts(Utc::now()),
        ..Default::default()
    })
}

pub fn purchase(customer: &str, amount: i64, items: &[(&str, i32)], at: DateTime<Utc>) -> Payload {
    Payload::ActivityRecorded(ev::ActivityRecorded {
        activity: format!("{customer}/activities/{}", uuid::Uuid::now_v7()),
        customer: customer.into(),
        kind: ActivityKind::Purchase as i32,
        occur_time: ts(at),
        order: Some(ev::Order {
            order_id: "o-1".into(),
            amount: Some(crm_proto::common::Money {
                currency_code: "CNY".into(),
                amount_minor: amount,
            }),
            items: items
                .iter()
                .map(|(id, q)| crm_proto::customers::PurchaseItem {
                    item_id: (*id).into(),
                    quantity: *q,
                    unit_price: None,
                })
                .collect(),
        }),
        ..Default::default()
    })
}

pub fn consent(customer: &str, granted: bool, at: DateTime<Utc>) -> Payload {
    Payload::ConsentChanged(ev::ConsentChanged {
        customer: customer.into(),
        channel: Channel::Email as i32,
        state: if granted {
            ConsentState::Granted
        } else {
            ConsentState::Revoked
        } as i32,
        update_time: ts(at),
        ..Default::default()
    })
}

pub fn complaint(customer: &str, ticket: &str) -> Payload {
    Payload::TicketCreated(ev::TicketCreated {
        ticket: ticket.into(),
        customer: customer.into(),
        category: tpb::Category::Complaint as i32,
        create_time: ts(Utc::now()),
        ..Default::default()
    })
}

/// GetMember, or the status it failed with.
pub async fn member(app: &TestApp, customer: &str) -> Result<pb::Member, tonic::Status> {
    app.client
        .clone()
        .get_member(pb::GetMemberRequest {
            name: member_name(customer),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Waits until GetMember of `customer` satisfies `check`.
pub async fn member_until(
    app: &TestApp,
    customer: &str,
    what: &str,
    check: impl Fn(&pb::Member) -> bool,
) -> pb::Member {
    let deadline = std::time::Instant::now() + crm_platform::testing::events::PATIENCE;
    loop {
        let m = member(app, customer).await;
        match m {
            Ok(m) if check(&m) => return m,
            _ if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            m => panic!("never happened: {what}; last {m:?}"),
        }
    }
}

#[tokio::test]
async fn events_of_three_services_build_the_member() {
    each_backend(|backend| async move {
        let app = spawn_app(backend).await;
        let customers = producer(&app, "customers");
        let loyalty = producer(&app, "loyalty");
        let tickets = producer(&app, "tickets");
        let c = new_customer();
        let now = Utc::now();

        customers.send(&c, created(&c)).await;
        let bought = purchase(&c, 12_000, &[("spa", 2)], now - TimeDelta::days(3));
        let bought = customers.send(&c, bought).await;
        // A redelivery of the same purchase counts once.
        customers.publish(std::slice::from_ref(&bought)).await;
        customers
            .send(&c, purchase(&c, 5_000, &[], now - TimeDelta::days(10)))
            .await;
        // A newer grant, then an older revoke arriving late: the grant stays.
        customers.send(&c, consent(&c, true, now)).await;
        customers
            .send(&c, consent(&c, false, now - TimeDelta::hours(1)))
            .await;
        loyalty
            .send(
                &c,
                Payload::TierChanged(ev::TierChanged {
                    customer: c.clone(),
                    from_tier: "silver".into(),
                    to_tier: "gold".into(),
                    change_time: ts(now),
                    ..Default::default()
                }),
            )
            .await;
        let ticket = format!("tickets/{}", uuid::Uuid::now_v7());
        tickets.send(&ticket, complaint(&c, &ticket)).await;

        let m = member_until(&app, &c, "every event applied", |m| {
            m.tier == "gold"
                && m.open_complaints == 1
                && m.order_count == 2
                && !m.consented_channels.is_empty()
        })
        .await;
        assert_eq!(m.name, member_name(&c));
        assert_eq!(m.customer, c);
        assert_eq!(m.consented_channels, vec![Channel::Email as i32]);
        assert_eq!(
            m.last_purchase_time.map(|t| t.seconds),
            Some((now - TimeDelta::days(3)).timestamp()),
            "the latest purchase, whatever the arrival order"
        );
        assert_eq!(
            m.lifecycle_stage,
            crm_proto::customers::LifecycleStage::New as i32
        );

        // A refund is no order; the complaint solved is no longer open.
        customers
            .send(
                &c,
                Payload::RefundRecorded(ev::RefundRecorded {
                    activity: format!("{c}/activities/{}", uuid::Uuid::now_v7()),
                    customer: c.clone(),
                    occur_time: ts(Utc::now()),
                    order: Some(ev::Order {
                        order_id: "o-1".into(),
                        amount: Some(crm_proto::common::Money {
                            currency_code: "CNY".into(),
                            amount_minor: 5_000,
                        }),
                        items: Vec::new(),
                    }),
                    ..Default::default()
                }),
            )
            .await;
        tickets
            .send(
                &ticket,
                Payload::TicketSolved(ev::TicketSolved {
                    ticket: ticket.clone(),
                    customer: c.clone(),
                    category: tpb::Category::Complaint as i32,
                    solve_time: ts(Utc::now() + TimeDelta::seconds(1)),
                    ..Default::default()
                }),
            )
            .await;
        let m = member_until(&app, &c, "complaint solved", |m| m.open_complaints == 0).await;
        assert_eq!(m.order_count, 2, "a refund is no order");
        // A revoke published after: consent gone.
        customers
            .send(&c, consent(&c, false, Utc::now() + TimeDelta::seconds(5)))
            .await;
        member_until(&app, &c, "consent revoked", |m| {
            m.consented_channels.is_empty()
        })
        .await;
        let id = crm_campaigns::domain::CustomerId::parse_name(&c).expect("ok");
        let db = app.service.db();
        assert!(
            !crm_campaigns::store::members::consent_granted(db, id, Channel::Email as i32)
                .await
                .expect("ok")
        );
        assert_eq!(
            crm_campaigns::store::members::open_complaints(db, id)
                .await
                .expect("ok"),
            0
        );
        assert_eq!(
            producer(&app, "customers")
                .pending("campaigns.customers")
                .await,
            0,
            "nothing failing"
        );
    })
    .await;
}

#[tokio::test]
async fn a_merge_collapses_the_losers_into_the_survivor() {
    each_backend(|backend| async move {
        let app = spawn_app(backend).await;
        let customers = producer(&app, "customers");
        let tickets = producer(&app, "tickets");
        let (survivor, loser) = (new_customer(), new_customer());
        let at = Utc::now() - TimeDelta::days(1);
        customers
            .send(&survivor, purchase(&survivor, 100, &[], at))
            .await;
        customers
            .send(&loser, purchase(&loser, 200, &[("tea", 1)], at))
            .await;
        let ticket = format!("tickets/{}", uuid::Uuid::now_v7());
        tickets.send(&ticket, complaint(&loser, &ticket)).await;
        member_until(&app, &loser, "loser's facts", |m| {
            m.order_count == 1 && m.open_complaints == 1
        })
        .await;
        customers
            .send(
                &survivor,
                Payload::CustomerMerged(ev::CustomerMerged {
                    survivor: survivor.clone(),
                    losers: vec![loser.clone()],
                    merge_time: ts(Utc::now()),
                    ..Default::default()
                }),
            )
            .await;
        let m = member_until(&app, &survivor, "survivor has both", |m| {
            m.order_count == 2 && m.open_complaints == 1
        })
        .await;
        assert_eq!(m.customer, survivor);
        let l = member(&app, &loser).await.expect("a merged member is kept");
        assert_eq!(
            (l.order_count, l.open_complaints),
            (0, 0),
            "its facts moved"
        );
        let id = crm_campaigns::domain::CustomerId::parse_name(&loser).expect("ok");
        let found = crm_campaigns::store::members::find(app.service.db(), id)
            .await
            .expect("ok")
            .expect("ok");
        assert_eq!(
            found.state,
            crm_campaigns::domain::member::MemberState::Merged
        );
        // A later event about the loser's ticket lands on the survivor.
        tickets
            .send(
                &ticket,
                Payload::TicketStatusChanged(ev::TicketStatusChanged {
                    ticket: ticket.clone(),
                    customer: loser.clone(),
                    from_status: tpb::Status::New as i32,
                    to_status: tpb::Status::Closed as i32,
                    change_time: ts(Utc::now() + TimeDelta::seconds(1)),
                    ..Default::default()
                }),
            )
            .await;
        member_until(&app, &survivor, "survivor's complaint closed", |m| {
            m.open_complaints == 0
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn an_erasure_removes_the_member_and_is_answered() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let mut tap = Tap::new(&events_settings(&app), "campaigns");
        let customers = producer(&app, "customers");
        let (c, merged) = (new_customer(), new_customer());
        customers.send(&c, created(&c)).await;
        customers.send(&c, consent(&c, true, Utc::now())).await;
        customers
            .send(&merged, purchase(&merged, 100, &[("x", 1)], Utc::now()))
            .await;
        member_until(&app, &c, "member known", |m| {
            !m.consented_channels.is_empty()
        })
        .await;
        member_until(&app, &merged, "merged known", |m| m.order_count == 1).await;
        // In a tracked segment: the erasure takes it out of the count too.
        producer(&app, "loyalty")
            .send(
                &c,
                Payload::TierChanged(ev::TierChanged {
                    customer: c.clone(),
                    from_tier: "silver".into(),
                    to_tier: "gold".into(),
                    change_time: ts(Utc::now()),
                    ..Default::default()
                }),
            )
            .await;
        let segment =
            crate::segments::create(&mut app, "gold", crate::segments::tier(&["gold"])).await;
        let count = |app: &TestApp| {
            let mut client = app.client.clone();
            let name = segment.name.clone();
            async move {
                client
                    .get_segment(pb::GetSegmentRequest { name })
                    .await
                    .expect("segment")
                    .into_inner()
                    .member_count
            }
        };
        eventually("member counted in the segment", || async {
            count(&app).await == 1
        })
        .await;
        let erased = customers
            .send(
                &c,
                Payload::CustomerErased(ev::CustomerErased {
                    customer: c.clone(),
                    merged_customers: vec![merged.clone()],
                    erase_time: ts(Utc::now()),
                }),
            )
            .await;
        eventually("member gone", || async {
            matches!(member(&app, &c).await, Err(s) if s.code() == Code::NotFound)
        })
        .await;
        let s = member(&app, &merged).await.expect_err("an error");
        assert_eq!(s.code(), Code::NotFound);
        assert_eq!(count(&app).await, 0, "out of the segment's count");
        // The answer: ErasureCompleted from "campaigns", naming the erasure.
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + crm_platform::testing::events::PATIENCE;
        let done = loop {
            assert!(
                std::time::Instant::now() < deadline,
                "no ErasureCompleted; saw {seen:?}"
            );
            let found = tap.read().await.into_iter().find_map(|e| match e.payload {
                Some(Payload::ErasureCompleted(done)) => Some(done),
                other => {
                    seen.push(format!("{other:?}"));
                    None
                }
            });
            if let Some(done) = found {
                break done;
            }
        };
        assert_eq!(done.service, "campaigns");
        assert_eq!(done.customer, c);
        assert_eq!(done.erasure_event_id, erased.id.to_string());
        assert!(done.scrubbed_records >= 4, "{done:?}");
    })
    .await;
}
