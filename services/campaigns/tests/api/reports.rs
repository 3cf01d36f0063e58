//! GetCampaignReport end to end: purchases and bookings published on the customers stream go
//! through the customers consumer, which attributes them to the deliveries whose window
//! holds them; the report shows each arm's recipients, sends, conversions, revenue, the lift
//! over the holdout (the same numbers as domain::report's) and the timeline.
use crate::harness::*;
use crate::read_model::{producer, ts};
use crate::sending::{gold, member, sending_app};
use chrono::{DateTime, Duration, TimeDelta, Utc};
use crm_campaigns::domain::campaign::{Channel, DeliveryState, Reason};
use crm_campaigns::domain::report::{Z95, lift};
use crm_campaigns::domain::{self, CampaignId, CustomerId};
use crm_campaigns::store::deliveries::{self, Attempt, NewDelivery, Outcome};
use crm_campaigns::store::entities::member_order;
use crm_platform::testing::events::{PATIENCE, Producer};
use crm_proto::campaigns as pb;
use crm_proto::customers::ActivityKind;
use crm_proto::events as ev;
use crm_proto::events::event::Payload;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tonic::Code;
use uuid::Uuid;

/// A purchase (or a booking, without an order) of `customer` at `at`, and its activity id.
fn activity_payload(
    customer: &str,
    kind: ActivityKind,
    money: Option<(&str, i64)>,
    at: DateTime<Utc>,
) -> (Uuid, Payload) {
    let id = Uuid::now_v7();
    let payload = Payload::ActivityRecorded(ev::ActivityRecorded {
        activity: format!("{customer}/activities/{id}"),
        customer: customer.into(),
        kind: kind as i32,
        occur_time: ts(at),
        order: money.map(|(currency, amount)| ev::Order {
            order_id: format!("o-{id}"),
            amount: Some(crm_proto::common::Money {
                currency_code: currency.into(),
                amount_minor: amount,
            }),
            items: vec![],
        }),
        ..Default::default()
    });
    (id, payload)
}

/// Publishes [`activity_payload`]; returns its activity id.
async fn activity(
    customers: &Producer,
    customer: &str,
    kind: ActivityKind,
    money: Option<(&str, i64)>,
    at: DateTime<Utc>,
) -> Uuid {
    let (id, payload) = activity_payload(customer, kind, money, at);
    customers.send(customer, payload).await;
    id
}

async fn purchase(
    customers: &Producer,
    customer: &str,
    currency: &str,
    amount: i64,
    at: DateTime<Utc>,
) -> Uuid {
    let money = Some((currency, amount));
    activity(customers, customer, ActivityKind::Purchase, money, at).await
}

/// Waits until the consumer has applied every one of `purchases` (each is a member order).
async fn applied(app: &TestApp, purchases: &[Uuid]) {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let n = member_order::Entity::find()
            .filter(member_order::Column::ActivityId.is_in(purchases.iter().copied()))
            .count(app.service.db())
            .await
            .expect("count orders");
        if n == purchases.len() as u64 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} of {} purchases applied",
            purchases.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

impl TestApp {
    async fn report(&mut self, campaign: &str) -> pb::CampaignReport {
        self.client
            .get_campaign_report(pb::GetCampaignReportRequest {
                name: format!("{campaign}/report"),
            })
            .await
            .expect("report")
            .into_inner()
    }

    /// The report once `done` holds for it.
    async fn report_until(
        &mut self,
        campaign: &str,
        what: &str,
        done: impl Fn(&pb::CampaignReport) -> bool,
    ) -> pb::CampaignReport {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            let r = self.report(campaign).await;
            if done(&r) {
                return r;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never: {what}; {r:#?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// A recipient of `campaign` written as the start job and the sender would: held out or
/// pending until `due`, then sent or skipped at `due` when `end` says so.
async fn recipient(
    app: &TestApp,
    campaign: &str,
    variant: &str,
    state: DeliveryState,
    due: DateTime<Utc>,
    end: Option<DeliveryState>,
) -> String {
    let db = app.service.db();
    let campaign = CampaignId::parse_name(campaign).expect("campaign");
    let customer = CustomerId::generate();
    let row = NewDelivery {
        customer: customer.0,
        variant: variant.into(),
        due,
        state,
        occasion: String::new(),
    };
    deliveries::insert_recipients(db, campaign, Channel::Email, false, vec![row], due)
        .await
        .expect("insert");
    let d = deliveries::find(db, campaign, customer, "")
        .await
        .expect("find")
        .expect("written");
    match end {
        Some(DeliveryState::Sent) => {
            let queued = Outcome::Queue {
                message: vec![],
                pii_key: None,
                variant: variant.into(),
            };
            deliveries::settle(db, d.id, queued, due)
                .await
                .expect("queue");
            let sent = deliveries::finish_attempt(db, d.id, d.attempts, Attempt::Sent, due)
                .await
                .expect("send");
            assert!(sent);
        }
        Some(DeliveryState::Skipped) => {
            let skip = Outcome::Skip(Reason::NoConsent, "no consent".into());
            deliveries::settle(db, d.id, skip, due).await.expect("skip");
        }
        _ => {}
    }
    customer.name()
}

fn campaign_with(segment: &str, kind: pb::goal::Kind, holdout_percent: i32) -> pb::Campaign {
    let mut c = email_campaign(segment);
    c.goal = Some(pb::Goal {
        kind: kind as i32,
        window_days: 7,
    });
    let mut b = c.variants[0].clone();
    b.id = "b".into();
    c.variants.push(b);
    c.holdout_percent = holdout_percent;
    c
}

fn revenue(arm: &pb::ArmReport) -> Vec<(String, i64)> {
    arm.revenue
        .iter()
        .map(|m| (m.currency_code.clone(), m.amount_minor))
        .collect()
}

/// (recipients, pending, sent, converted, conversions) of an arm.
fn counts(arm: &pb::ArmReport) -> (i64, i64, i64, i64, i64) {
    (
        arm.recipients,
        arm.pending,
        arm.sent,
        arm.converted,
        arm.conversions,
    )
}

fn date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

#[tokio::test]
async fn purchases_on_the_customers_stream_convert_the_deliveries_whose_window_holds_them() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let customers = producer(&app, "customers");
        let segment = any_segment(&mut app).await;
        let sale = app
            .create_campaign(campaign_with(&segment, pb::goal::Kind::Purchase, 10))
            .await
            .name;
        let stay = app
            .create_campaign(campaign_with(&segment, pb::goal::Kind::Booking, 0))
            .await
            .name;
        // Sent (and due) ten days ago; a window of 7 days.
        let t0 = domain::now() - Duration::days(10);
        let (s, d) = (Some(DeliveryState::Sent), DeliveryState::Pending);
        let ann = recipient(&app, &sale, "a", d, t0, s).await;
        let sam = recipient(&app, &sale, "a", d, t0, Some(DeliveryState::Skipped)).await;
        let bob = recipient(&app, &sale, "b", d, t0, s).await;
        let pia = recipient(&app, &sale, "b", d, Utc::now() + Duration::days(1), None).await;
        let hal = recipient(&app, &sale, "", DeliveryState::HeldOut, t0, None).await;
        // Ann also got the booking campaign's message: her booking converts that one only.
        let ann_stay = CustomerId::parse_name(&ann).expect("ann");
        let row = NewDelivery {
            customer: ann_stay.0,
            variant: String::new(),
            due: t0,
            state: DeliveryState::HeldOut,
            occasion: String::new(),
        };
        let stay_id = CampaignId::parse_name(&stay).expect("stay");
        let db = app.service.db();
        deliveries::insert_recipients(db, stay_id, Channel::Email, false, vec![row], t0)
            .await
            .expect("insert");
        let day = |d: i64| t0 + Duration::days(d);

        activity(&customers, &ann, ActivityKind::Booking, None, day(1)).await;
        let mut bought = vec![
            // Before the send, and the day the window closed: not the campaign's.
            purchase(&customers, &ann, "CNY", 99_000, t0 - TimeDelta::hours(1)).await,
            purchase(&customers, &ann, "CNY", 98_000, day(7)).await,
            // Within: twice for Ann, once for Sam (skipped still counts: intent-to-treat).
            purchase(&customers, &ann, "CNY", 10_000, day(1)).await,
            purchase(&customers, &ann, "CNY", 5_000, day(2)).await,
            purchase(&customers, &sam, "CNY", 1_000, day(4)).await,
            purchase(&customers, &bob, "EUR", 2_500, day(3)).await,
            // The holdout is measured from its due time.
            purchase(&customers, &hal, "CNY", 4_000, day(1)).await,
            // Not due yet: no window.
            purchase(&customers, &pia, "EUR", 700, Utc::now()).await,
        ];
        // A redelivery of the same event counts once (the inbox, and the conversions' key).
        let (id, again) =
            activity_payload(&bob, ActivityKind::Purchase, Some(("EUR", 500)), day(5));
        let again = customers.envelope(&bob, again);
        customers.publish(std::slice::from_ref(&again)).await;
        customers.publish(std::slice::from_ref(&again)).await;
        bought.push(id);
        applied(&app, &bought).await;
        let r = app
            .report_until(&sale, "Bob's second purchase", |r| {
                r.variants.get(1).is_some_and(|b| b.conversions == 2)
            })
            .await;

        assert_eq!(r.name, format!("{sale}/report"));
        let [a, b] = &r.variants[..] else {
            panic!("variants a and b: {r:#?}")
        };
        assert_eq!((a.variant.as_str(), b.variant.as_str()), ("a", "b"));
        assert_eq!(counts(a), (2, 0, 1, 2, 3), "{a:#?}");
        assert_eq!(
            a.skipped,
            vec![pb::ReasonCount {
                reason: pb::delivery::Reason::NoConsent as i32,
                count: 1
            }]
        );
        assert_eq!(revenue(a), vec![("CNY".into(), 16_000)]);
        assert_eq!(counts(b), (1, 1, 1, 1, 2), "{b:#?}");
        assert_eq!(revenue(b), vec![("EUR".into(), 3_000)]);
        let h = r.holdout.as_ref().expect("a holdout");
        assert_eq!(counts(h), (1, 0, 0, 1, 1));
        assert_eq!(revenue(h), vec![("CNY".into(), 4_000)]);
        assert_eq!((a.conversion_rate, b.conversion_rate), (1.0, 1.0));

        // The lifts are domain::report's on the same counts.
        assert_eq!(r.lifts.len(), 2, "{:?}", r.lifts);
        for (l, (x, n)) in r.lifts.iter().zip([(2, 2), (1, 1)]) {
            let want = lift(x, n, 1, 1, Z95);
            assert_eq!(
                (l.absolute, l.lower, l.upper, l.relative, l.significant),
                (
                    want.absolute,
                    want.lower,
                    want.upper,
                    want.relative,
                    want.significant()
                )
            );
        }
        assert_eq!(r.confidence_level, 0.95);

        let timeline: Vec<(String, &str, i64)> = r
            .timeline
            .iter()
            .map(|d| (d.date.clone(), d.variant.as_str(), d.conversions))
            .collect();
        assert_eq!(
            timeline,
            vec![
                (date(day(1)), "a", 1),
                (date(day(1)), "", 1),
                (date(day(2)), "a", 1),
                (date(day(3)), "b", 1),
                (date(day(4)), "a", 1),
                (date(day(5)), "b", 1),
            ]
        );
        assert_eq!(
            r.timeline[0].revenue,
            vec![crm_proto::common::Money {
                currency_code: "CNY".into(),
                amount_minor: 10_000
            }]
        );

        // An erased customer's purchases go with them; the delivery stays a recipient.
        let erased = Payload::CustomerErased(ev::CustomerErased {
            customer: sam.clone(),
            merged_customers: vec![],
            erase_time: ts(Utc::now()),
        });
        customers.send(&sam, erased).await;
        let r = app
            .report_until(&sale, "Sam's erasure", |r| r.variants[0].converted == 1)
            .await;
        assert_eq!(counts(&r.variants[0]), (2, 0, 1, 1, 2));
        assert_eq!(revenue(&r.variants[0]), vec![("CNY".into(), 15_000)]);

        // The booking converted the booking campaign (its holdout: Ann is held out there),
        // and no purchase did.
        let r = app
            .report_until(&stay, "the booking", |r| {
                r.holdout.as_ref().is_some_and(|h| h.converted == 1)
            })
            .await;
        let h = r.holdout.expect("a holdout: it has held-out rows");
        assert_eq!((h.conversions, h.revenue.len()), (1, 0));
        assert!(
            r.lifts.is_empty(),
            "no variant has recipients: {:?}",
            r.lifts
        );
    })
    .await;
}

#[tokio::test]
async fn a_sent_campaign_reports_the_purchases_after_its_send_per_arm() {
    each_backend(|b| async move {
        let (mut app, _file) = sending_app(b, ("", ""), 100).await;
        let customers = producer(&app, "customers");
        let mut members = Vec::new();
        for i in 0..8 {
            let email = format!("m{i}@example.com");
            members.push(member(&app, "Mei", &email, "Asia/Shanghai", true).await);
        }
        let segment = app.segment(gold()).await;
        let before = Utc::now() - TimeDelta::minutes(5);
        let sale = app
            .launch(campaign_with(&segment, pb::goal::Kind::Purchase, 50))
            .await;
        app.await_state(&sale, pb::campaign::State::Completed).await;
        let ds = app.deliveries(&sale).await;
        assert_eq!(ds.len(), members.len());
        // Every recipient buys twice: once before the campaign (not counted), once now.
        let mut bought = Vec::new();
        for m in &members {
            bought.push(purchase(&customers, m, "CNY", 100, before).await);
            bought.push(purchase(&customers, m, "CNY", 1_000, Utc::now()).await);
        }
        applied(&app, &bought).await;
        let r = app.report(&sale).await;
        let held = ds
            .iter()
            .filter(|d| d.state == pb::delivery::State::HeldOut as i32)
            .count() as i64;
        let sent_to = |v: &str| {
            ds.iter()
                .filter(|d| d.variant == v && d.state == pb::delivery::State::Sent as i32)
                .count() as i64
        };
        for arm in &r.variants {
            let n = sent_to(&arm.variant);
            assert_eq!(counts(arm), (n, 0, n, n, n), "{arm:#?}");
            assert_eq!(revenue(arm).iter().map(|(_, a)| a).sum::<i64>(), 1_000 * n);
        }
        let h = r.holdout.as_ref().expect("holdout 50%");
        assert_eq!(counts(h), (held, 0, 0, held, held));
        let total: i64 = r.variants.iter().map(|a| a.recipients).sum::<i64>() + held;
        assert_eq!(total, members.len() as i64, "{r:#?}");
        let want = |a: &pb::ArmReport| {
            lift(
                a.converted as u64,
                a.recipients as u64,
                held as u64,
                held as u64,
                Z95,
            )
        };
        let with_recipients: Vec<&pb::ArmReport> =
            r.variants.iter().filter(|a| a.recipients > 0).collect();
        if held > 0 {
            assert_eq!(r.lifts.len(), with_recipients.len());
            for (l, a) in r.lifts.iter().zip(with_recipients) {
                assert_eq!((l.lower, l.upper), (want(a).lower, want(a).upper));
                assert_eq!(l.absolute, 0.0, "everyone converted in every arm");
            }
        } else {
            assert!(r.lifts.is_empty());
        }
        let today = date(Utc::now());
        assert!(
            r.timeline.iter().all(|d| d.date == today),
            "only today's purchases count: {:?}",
            r.timeline
        );
    })
    .await;
}

#[tokio::test]
async fn a_click_goal_counts_the_clicked_recipients() {
    each_backend(|b| async move {
        let (mut app, _file) = sending_app(b, ("", ""), 100).await;
        let mut members = Vec::new();
        for i in 0..3 {
            let email = format!("c{i}@example.com");
            members.push(member(&app, "Chen", &email, "Asia/Shanghai", true).await);
        }
        let segment = app.segment(gold()).await;
        let mut c = campaign_with(&segment, pb::goal::Kind::Click, 0);
        c.variants.truncate(1);
        let news = app.launch(c).await;
        app.await_state(&news, pb::campaign::State::Completed).await;
        let ds = app.deliveries(&news).await;
        for (kind, d) in [pb::ReceiptKind::Clicked, pb::ReceiptKind::Opened]
            .into_iter()
            .zip(&ds)
        {
            app.client
                .record_delivery_receipt(pb::RecordDeliveryReceiptRequest {
                    delivery: d.name.clone(),
                    kind: kind as i32,
                    occur_time: ts(Utc::now()),
                    request_id: rid(),
                })
                .await
                .expect("receipt");
        }
        let r = app.report(&news).await;
        let a = &r.variants[0];
        assert_eq!(counts(a), (3, 0, 3, 1, 1), "{a:#?}");
        assert_eq!((a.opened, a.clicked), (2, 1));
        assert!((a.conversion_rate - 1.0 / 3.0).abs() < 1e-12);
        assert!(r.holdout.is_none() && r.lifts.is_empty() && r.timeline.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_report_is_asked_by_its_name() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        for (name, field) in [
            ("", "name"),
            ("campaigns/nope/report", "name"),
            (&CampaignId::generate().name(), "name"),
        ] {
            let err = app
                .client
                .get_campaign_report(pb::GetCampaignReportRequest { name: name.into() })
                .await
                .expect_err(name);
            assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
            assert_eq!(violations(&err), vec![field.to_owned()], "{name}");
        }
        let unknown = format!("{}/report", CampaignId::generate().name());
        let err = app
            .client
            .get_campaign_report(pb::GetCampaignReportRequest { name: unknown })
            .await
            .expect_err("unknown");
        assert_eq!(err.code(), Code::NotFound);
        // A draft has an empty report: its arms, nothing counted.
        let segment = any_segment(&mut app).await;
        let draft = app
            .create_campaign(campaign_with(&segment, pb::goal::Kind::Purchase, 10))
            .await
            .name;
        let r = app.report(&draft).await;
        assert_eq!(r.variants.len(), 2);
        assert!(r.variants.iter().all(|a| counts(a) == (0, 0, 0, 0, 0)));
        assert_eq!(r.holdout.map(|h| h.recipients), Some(0));
        assert!(r.lifts.is_empty() && r.timeline.is_empty() && r.winner_variant.is_empty());
    })
    .await;
}
