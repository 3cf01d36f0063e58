//! Care journeys end to end: a journey (a campaign with a trigger schedule) enters customers
//! from customers' events (welcome, purchase follow-up) and from the journey job (birthday,
//! win-back), once per occasion; each message goes out at its due time in the recipient's
//! zone, with the variant of their loyalty tier (the file sender, read back), or is skipped
//! when the recipient left the journey's segment.
use crate::harness::*;
use crate::read_model::{producer, ts};
use crate::sending::{gold, member, sent_lines};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use crm_campaigns::domain::CustomerId;
use crm_campaigns::domain::experiment::{Arm, assign};
use crm_campaigns::domain::member::{ConsentFact, OrderFact, Profile, Snapshot};
use crm_campaigns::store;
use crm_platform::testing::Backend;
use crm_platform::testing::events::eventually;
use crm_proto::campaigns as pb;
use crm_proto::customers::ActivityKind;
use crm_proto::events as ev;
use crm_proto::events::event::Payload;
use std::path::{Path, PathBuf};

/// The app with the file sender, no quiet hours, caps out of the way, fast sending jobs and
/// the journey job every `job_ms` (a test driving the job itself makes that long).
async fn journey_app(b: Backend, job_ms: u64) -> (TestApp, PathBuf) {
    crate::sending::sending_app_with(b, ("", ""), 100, move |s| {
        s.campaigns.journeys.interval_ms = job_ms;
    })
    .await
}

/// The journey job never runs by itself in these tests: they run it.
const BY_HAND: u64 = 3_600_000;

/// A member with an e-mail address and consent, in `tz`, of `tier` ("" none), born on
/// `birthday` (month, day).
async fn person(
    app: &TestApp,
    given: &str,
    tz: &str,
    tier: &str,
    birthday: Option<(u32, u32)>,
) -> String {
    let db = app.service.db();
    let id = CustomerId::generate();
    let now = Utc::now();
    store::members::ensure(db, &[id], now)
        .await
        .expect("ensure");
    write_profile(app, id, given, tz, birthday).await;
    if !tier.is_empty() {
        store::members::set_tier(db, id, tier, now)
            .await
            .expect("tier");
    }
    id.name()
}

/// What a refresh writes: the profile (e-mail `<given>@example.com`), zone, birthday and
/// e-mail consent.
async fn write_profile(
    app: &TestApp,
    id: CustomerId,
    given: &str,
    tz: &str,
    birthday: Option<(u32, u32)>,
) {
    let db = app.service.db();
    let keys = app.service.keys().await.expect("keys");
    let now = Utc::now();
    let snapshot = Snapshot {
        profile: Profile {
            given_name: given.into(),
            primary_email: format!("{}@example.com", given.to_lowercase()),
            ..Default::default()
        },
        time_zone: tz.into(),
        birthday: birthday.map(|(m, d)| (m as i16, d as i16)),
        consents: vec![ConsentFact {
            channel: crm_proto::customers::Channel::Email as i32,
            granted: true,
            time: now,
        }],
        ..Default::default()
    };
    store::members::write_snapshot(db, &keys, id, &snapshot, now)
        .await
        .expect("snapshot");
}

fn today_in(tz: &str) -> NaiveDate {
    let zone: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::UTC);
    Utc::now().with_timezone(&zone).date_naive()
}

fn month_day(d: NaiveDate) -> Option<(u32, u32)> {
    Some((d.month(), d.day()))
}

fn tiers(values: &[&str]) -> pb::Rule {
    pb::Rule {
        node: Some(pb::rule::Node::Condition(pb::Condition {
            condition: Some(pb::condition::Condition::Tier(pb::ValueIn {
                values: values.iter().map(|v| (*v).to_owned()).collect(),
            })),
        })),
    }
}

fn email_consent() -> pb::Rule {
    pb::Rule {
        node: Some(pb::rule::Node::Condition(pb::Condition {
            condition: Some(pb::condition::Condition::Consent(pb::ConsentCondition {
                channel: crm_proto::customers::Channel::Email as i32,
                granted: true,
            })),
        })),
    }
}

fn variant(id: &str, tiers: &[&str], body: &str) -> pb::Variant {
    pb::Variant {
        id: id.into(),
        weight: 1,
        subject: "For you".into(),
        body: body.into(),
        tiers: tiers.iter().map(|t| (*t).to_owned()).collect(),
        ..Default::default()
    }
}

fn seconds(s: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration {
        seconds: s,
        nanos: 0,
    })
}

/// A marketing e-mail journey to `segment` on `trigger`, one greeting variant.
fn journey(segment: &str, trigger: pb::Trigger) -> pb::Campaign {
    pb::Campaign {
        display_name: "Care".into(),
        goal: Some(pb::Goal {
            kind: pb::goal::Kind::Purchase as i32,
            window_days: 7,
        }),
        segment: segment.into(),
        channel: pb::Channel::Email as i32,
        variants: vec![variant("hello", &[], "Hello {{ customer.given_name }}")],
        schedule: Some(pb::Schedule {
            when: Some(pb::schedule::When::Trigger(trigger)),
        }),
        ..Default::default()
    }
}

fn trigger(kind: pb::trigger::Kind) -> pb::Trigger {
    pb::Trigger {
        kind: kind as i32,
        ..Default::default()
    }
}

impl TestApp {
    /// Launches `c` and waits until it runs (a journey runs until cancelled).
    async fn run_journey(&mut self, c: pb::Campaign) -> String {
        let name = self.launch(c).await;
        self.await_state(&name, pb::campaign::State::Running).await;
        name
    }

    /// One run of the journey job: the entries it wrote.
    async fn job(&self) -> u64 {
        self.service.run_journeys().await.expect("journey job")
    }
}

/// Waits until the file sender wrote `n` messages.
async fn sent(file: &Path, n: usize) -> Vec<serde_json::Value> {
    let file = file.to_path_buf();
    eventually(&format!("{n} messages sent"), || {
        let file = file.clone();
        async move { sent_lines(&file).len() >= n }
    })
    .await;
    sent_lines(&file)
}

fn of<'a>(ds: &'a [pb::Delivery], customer: &str) -> Vec<&'a pb::Delivery> {
    ds.iter().filter(|d| d.customer == customer).collect()
}

fn line_to<'a>(lines: &'a [serde_json::Value], to: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|l| l["to"] == to)
        .unwrap_or_else(|| panic!("nothing sent to {to}: {lines:?}"))
}

/// Waits until `journey` has deliveries satisfying `check`; returns them.
async fn deliveries_until(
    app: &mut TestApp,
    journey: &str,
    what: &str,
    check: impl Fn(&[pb::Delivery]) -> bool,
) -> Vec<pb::Delivery> {
    let deadline = std::time::Instant::now() + crm_platform::testing::events::PATIENCE;
    loop {
        let ds = app.deliveries(journey).await;
        if check(&ds) {
            return ds;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}; last {ds:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn is(d: &pb::Delivery, state: pb::delivery::State) -> bool {
    d.state == state as i32
}

/// Every delivery past the sender (its file line is written before the state).
fn all_sent(ds: &[pb::Delivery]) -> bool {
    ds.iter().all(|d| is(d, pb::delivery::State::Sent))
}

#[tokio::test]
async fn a_birthday_journey_sends_each_tier_its_offer_in_their_zone_once() {
    each_backend(|b| async move {
        let (mut app, file) = journey_app(b, BY_HAND).await;
        // Birthdays today where each lives.
        let (sh, ny) = ("Asia/Shanghai", "America/New_York");
        let wei = person(&app, "Wei", sh, "gold", month_day(today_in(sh))).await;
        let ann = person(&app, "Ann", ny, "silver", month_day(today_in(ny))).await;
        let bo = person(&app, "Bo", "", "bronze", month_day(today_in("UTC"))).await;
        // Not yet: in ten days. Not in the segment: no tier.
        let later = today_in(sh) + Duration::days(10);
        let _lin = person(&app, "Lin", sh, "gold", month_day(later)).await;
        let _kim = person(&app, "Kim", "", "", month_day(today_in("UTC"))).await;
        let segment = app.segment(tiers(&["gold", "silver", "bronze"])).await;
        let mut c = journey(
            &segment,
            pb::Trigger {
                kind: pb::trigger::Kind::Date as i32,
                date_kind: "birthday".into(),
                time_of_day: "00:00".into(),
                ..Default::default()
            },
        );
        // The seed: a gift offer for gold, a coupon for silver, a greeting for the rest.
        c.variants = vec![
            variant(
                "gift",
                &["gold"],
                "A gift for you, {{ customer.given_name }}",
            ),
            variant("coupon", &["silver"], "Your coupon {{ coupon_code }}"),
            variant("greeting", &[], "Happy birthday {{ customer.given_name }}"),
        ];
        c.coupon_code = "BDAY20".into();
        let birthday = app.run_journey(c).await;

        assert_eq!(app.job().await, 3, "Wei, Ann and Bo enter");
        assert_eq!(app.job().await, 0, "nobody twice");
        let lines = sent(&file, 3).await;
        let body = |to: &str| line_to(&lines, to)["body"].as_str().map(str::to_owned);
        let variant_of = |to: &str| line_to(&lines, to)["variant"].as_str().map(str::to_owned);
        assert_eq!(
            body("wei@example.com").as_deref(),
            Some("A gift for you, Wei")
        );
        assert_eq!(variant_of("wei@example.com").as_deref(), Some("gift"));
        assert_eq!(
            body("ann@example.com").as_deref(),
            Some("Your coupon BDAY20")
        );
        assert_eq!(variant_of("ann@example.com").as_deref(), Some("coupon"));
        assert_eq!(body("bo@example.com").as_deref(), Some("Happy birthday Bo"));
        assert_eq!(variant_of("bo@example.com").as_deref(), Some("greeting"));

        let ds = deliveries_until(&mut app, &birthday, "three sent", all_sent).await;
        assert_eq!(ds.len(), 3, "{ds:?}");
        for (who, tz, variant) in [
            (&wei, sh, "gift"),
            (&ann, ny, "coupon"),
            (&bo, "UTC", "greeting"),
        ] {
            let mine = of(&ds, who);
            assert_eq!(mine.len(), 1, "{ds:?}");
            let occasion = format!("birthday-{}", today_in(tz).year());
            assert_eq!(mine[0].occasion, occasion);
            assert!(
                mine[0].name.ends_with(&format!("-{occasion}")),
                "{}",
                mine[0].name
            );
            assert_eq!(mine[0].variant, variant, "the variant sent is stored");
            assert!(is(mine[0], pb::delivery::State::Sent), "{ds:?}");
        }
        assert_eq!(app.job().await, 0, "sent ones do not enter again");
        assert_eq!(sent_lines(&file).len(), 3);
        let running = app
            .await_state(&birthday, pb::campaign::State::Running)
            .await;
        assert_eq!(
            running.stats.expect("stats").sent,
            3,
            "a journey never completes"
        );
        let _ = std::fs::remove_file(&file);
    })
    .await;
}

#[tokio::test]
async fn an_anniversary_days_before_is_due_at_the_local_time_of_that_day() {
    each_backend(|b| async move {
        let (mut app, file) = journey_app(b, BY_HAND).await;
        let sh = "Asia/Shanghai";
        let wei = person(&app, "Wei", sh, "gold", None).await;
        let id = CustomerId::parse_name(&wei).expect("id");
        // Their wedding anniversary is in two days, in Shanghai.
        let date = today_in(sh) + Duration::days(2);
        let keys = app.service.keys().await.expect("keys");
        let snapshot = Snapshot {
            profile: Profile {
                given_name: "Wei".into(),
                primary_email: "wei@example.com".into(),
                ..Default::default()
            },
            time_zone: sh.into(),
            dates: vec![(
                "wedding_anniversary".into(),
                date.month() as i16,
                date.day() as i16,
            )],
            ..Default::default()
        };
        store::members::write_snapshot(app.service.db(), &keys, id, &snapshot, Utc::now())
            .await
            .expect("snapshot");
        let segment = app.segment(gold()).await;
        let c = journey(
            &segment,
            pb::Trigger {
                kind: pb::trigger::Kind::Date as i32,
                date_kind: "wedding_anniversary".into(),
                days_before: 1,
                time_of_day: "23:59".into(),
                ..Default::default()
            },
        );
        let anniversary = app.run_journey(c).await;
        assert_eq!(app.job().await, 1);
        let ds = app.deliveries(&anniversary).await;
        assert_eq!(ds.len(), 1, "{ds:?}");
        let d = &ds[0];
        assert_eq!(d.occasion, format!("wedding-anniversary-{}", date.year()));
        assert!(is(d, pb::delivery::State::Pending), "not due yet: {d:?}");
        // Tomorrow 23:59 in Shanghai (UTC+8, no DST).
        let day_before = (date - Duration::days(1))
            .and_hms_opt(23, 59, 0)
            .expect("t");
        let due = day_before.and_utc() - Duration::hours(8);
        assert_eq!(
            d.due_time.as_ref().map(|t| t.seconds),
            Some(due.timestamp())
        );
        assert!(sent_lines(&file).is_empty());
        let _ = std::fs::remove_file(&file);
    })
    .await;
}

/// A CustomerCreated event at `at`.
fn created_at(customer: &str, at: DateTime<Utc>) -> Payload {
    Payload::CustomerCreated(ev::CustomerCreated {
        customer: customer.into(),
        lifecycle_stage: crm_proto::customers::LifecycleStage::New as i32,
        create_time: ts(at),
        ..Default::default()
    })
}

#[tokio::test]
async fn a_new_customer_is_welcomed_once_and_a_replayed_creation_enters_nobody() {
    each_backend(|b| async move {
        let (mut app, file) = journey_app(b, BY_HAND).await;
        let segment = app.segment(email_consent()).await;
        let mut c = journey(&segment, trigger(pb::trigger::Kind::Welcome));
        c.variants = vec![variant("hi", &[], "Welcome, {{ customer.given_name }}")];
        let welcome = app.run_journey(c).await;
        let customers = producer(&app, "customers");
        let now = Utc::now();

        // Ann's profile is in already (the refresh came first); Bo's has not arrived.
        let ann = CustomerId::generate();
        store::members::ensure(app.service.db(), &[ann], now)
            .await
            .expect("ensure");
        write_profile(&app, ann, "Ann", "", None).await;
        let bo = CustomerId::generate();
        // A replay of a creation a month ago.
        let old = CustomerId::generate();
        customers
            .send(
                &old.name(),
                created_at(&old.name(), now - Duration::days(30)),
            )
            .await;
        let first = customers
            .send(&ann.name(), created_at(&ann.name(), now))
            .await;
        customers
            .send(&bo.name(), created_at(&bo.name(), now))
            .await;
        // The same creation again, and a second one: still one welcome.
        customers.publish(std::slice::from_ref(&first)).await;
        customers
            .send(&ann.name(), created_at(&ann.name(), now))
            .await;

        let lines = sent(&file, 1).await;
        assert_eq!(line_to(&lines, "ann@example.com")["body"], "Welcome, Ann");
        let ds = deliveries_until(&mut app, &welcome, "Ann sent, Bo waiting", |ds| {
            let waiting = |d: &pb::Delivery| {
                d.customer == bo.name() && d.reason == pb::delivery::Reason::ProfilePending as i32
            };
            let sent =
                |d: &pb::Delivery| d.customer == ann.name() && is(d, pb::delivery::State::Sent);
            ds.iter().any(waiting) && ds.iter().any(sent)
        })
        .await;
        let annd = of(&ds, &ann.name());
        assert_eq!(annd.len(), 1, "{ds:?}");
        assert_eq!(annd[0].occasion, "welcome");
        assert!(is(annd[0], pb::delivery::State::Sent), "{ds:?}");
        let bod = of(&ds, &bo.name());
        assert!(is(bod[0], pb::delivery::State::Pending), "{ds:?}");
        assert!(of(&ds, &old.name()).is_empty(), "a stale creation: {ds:?}");
        assert_eq!(ds.len(), 2, "{ds:?}");
        assert_eq!(sent_lines(&file).len(), 1);
        let _ = std::fs::remove_file(&file);
    })
    .await;
}

/// A purchase (or booking) of `customer` at `at`; returns it and its activity id.
fn activity(customer: &str, kind: ActivityKind, at: DateTime<Utc>) -> (Payload, uuid::Uuid) {
    let id = uuid::Uuid::now_v7();
    let p = Payload::ActivityRecorded(ev::ActivityRecorded {
        activity: format!("{customer}/activities/{id}"),
        customer: customer.into(),
        kind: kind as i32,
        occur_time: ts(at),
        order: Some(ev::Order {
            order_id: "o-1".into(),
            amount: Some(crm_proto::common::Money {
                currency_code: "CNY".into(),
                amount_minor: 10_000,
            }),
            items: vec![],
        }),
        ..Default::default()
    });
    (p, id)
}

#[tokio::test]
async fn a_purchase_follow_up_is_due_after_its_delay_and_skipped_outside_the_segment() {
    each_backend(|b| async move {
        let (mut app, file) = journey_app(b, BY_HAND).await;
        let wei = member(&app, "Wei", "wei@example.com", "", true).await;
        let jun = member(&app, "Jun", "jun@example.com", "", true).await;
        let jun_id = CustomerId::parse_name(&jun).expect("id");
        store::members::set_tier(app.service.db(), jun_id, "silver", Utc::now())
            .await
            .expect("tier");
        let segment = app.segment(gold()).await;
        let mut t = trigger(pb::trigger::Kind::Purchase);
        t.delay = seconds(3600);
        let mut c = journey(&segment, t);
        c.variants = vec![variant(
            "survey",
            &[],
            "How was it, {{ customer.given_name }}?",
        )];
        let follow_up = app.run_journey(c).await;
        let customers = producer(&app, "customers");
        let now = Utc::now();
        let hours = Duration::hours;

        // Ten days ago (a replay), a booking, then two purchases: two hours ago (due an hour
        // ago) and now (due in an hour); Jun is silver, not in the segment.
        let (stale, stale_id) = activity(&wei, ActivityKind::Purchase, now - Duration::days(10));
        customers.send(&wei, stale).await;
        let (booking, booking_id) = activity(&wei, ActivityKind::Booking, now - hours(2));
        customers.send(&wei, booking).await;
        let (past, past_id) = activity(&wei, ActivityKind::Purchase, now - hours(2));
        customers.send(&wei, past).await;
        let (fresh, fresh_id) = activity(&wei, ActivityKind::Purchase, now);
        customers.send(&wei, fresh).await;
        let (juns, juns_id) = activity(&jun, ActivityKind::Purchase, now - hours(2));
        customers.send(&jun, juns).await;

        let ds = deliveries_until(&mut app, &follow_up, "three entries settled", |ds| {
            ds.len() >= 3
                && ds
                    .iter()
                    .filter(|d| {
                        is(d, pb::delivery::State::Sent) || is(d, pb::delivery::State::Skipped)
                    })
                    .count()
                    == 2
        })
        .await;
        let occasion = |id: uuid::Uuid| format!("order-{}", id.simple());
        let find = |id: uuid::Uuid| ds.iter().find(|d| d.occasion == occasion(id));
        assert!(find(stale_id).is_none(), "a replayed purchase: {ds:?}");
        assert!(
            find(booking_id).is_none(),
            "a booking is not a purchase: {ds:?}"
        );
        let sent_one = find(past_id).expect("the purchase two hours ago");
        assert!(is(sent_one, pb::delivery::State::Sent), "{ds:?}");
        let waiting = find(fresh_id).expect("the purchase now");
        assert!(is(waiting, pb::delivery::State::Pending), "{ds:?}");
        assert_eq!(
            waiting.due_time.as_ref().map(|t| t.seconds),
            Some((now + hours(1)).timestamp()),
            "due an hour after the purchase"
        );
        let skipped = find(juns_id).expect("Jun's purchase");
        assert_eq!(
            (skipped.state, skipped.reason),
            (
                pb::delivery::State::Skipped as i32,
                pb::delivery::Reason::NotInSegment as i32
            ),
            "{ds:?}"
        );
        assert_eq!(ds.len(), 3, "{ds:?}");
        let why = app.explain(&follow_up, &jun).await;
        assert!(!why.in_segment, "{why:?}");
        let lines = sent_lines(&file);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["body"], "How was it, Wei?");
        assert_eq!(lines[0]["delivery"], sent_one.name);
        let _ = std::fs::remove_file(&file);
    })
    .await;
}

/// A purchase of `customer` at `at`, as the read model records it.
async fn bought(app: &TestApp, customer: &str, at: DateTime<Utc>) {
    let fact = OrderFact {
        activity: uuid::Uuid::now_v7(),
        customer: CustomerId::parse_name(customer).expect("id"),
        occur_time: at,
        currency_code: "CNY".into(),
        amount_minor: 5_000,
        items: vec![],
    };
    store::members::record_order(app.service.db(), &fact, Utc::now())
        .await
        .expect("order");
}

#[tokio::test]
async fn the_journey_job_wins_back_lapsed_customers_once_per_lapse() {
    each_backend(|b| async move {
        let (mut app, file) = journey_app(b, 100).await;
        let now = Utc::now();
        let ann = member(&app, "Ann", "ann@example.com", "", true).await;
        let bo = member(&app, "Bo", "bo@example.com", "", true).await;
        let _cy = member(&app, "Cy", "cy@example.com", "", true).await;
        let last = now - Duration::days(40);
        bought(&app, &ann, now - Duration::days(90)).await;
        bought(&app, &ann, last).await;
        bought(&app, &bo, now - Duration::days(5)).await;
        let segment = app.segment(gold()).await;
        let mut t = trigger(pb::trigger::Kind::WinBack);
        t.inactive_days = 30;
        let mut c = journey(&segment, t);
        c.variants = vec![variant(
            "miss",
            &[],
            "We miss you, {{ customer.given_name }}",
        )];
        let win_back = app.run_journey(c).await;

        // The job (every 100 ms here) finds Ann; Bo bought lately, Cy never did.
        let lines = sent(&file, 1).await;
        assert_eq!(
            line_to(&lines, "ann@example.com")["body"],
            "We miss you, Ann"
        );
        assert_eq!(app.job().await, 0, "once per lapse");
        let ds = app.deliveries(&win_back).await;
        assert_eq!(ds.len(), 1, "{ds:?}");
        assert_eq!(ds[0].customer, ann);
        assert_eq!(ds[0].occasion, format!("winback-{}", last.format("%Y%m%d")));
        // A purchase recorded late, from within the lapse, does not start another.
        bought(&app, &ann, now - Duration::days(35)).await;
        assert_eq!(app.job().await, 0);
        assert_eq!(app.deliveries(&win_back).await.len(), 1);
        let _ = std::fs::remove_file(&file);
    })
    .await;
}

#[tokio::test]
async fn a_journeys_holdout_is_entered_and_never_sent() {
    each_backend(|b| async move {
        let (mut app, file) = journey_app(b, BY_HAND).await;
        let now = Utc::now();
        let mut customers = Vec::new();
        for i in 0..16 {
            let c = member(&app, "Ann", &format!("ann{i}@example.com"), "", true).await;
            bought(&app, &c, now - Duration::days(60)).await;
            customers.push(c);
        }
        let segment = app.segment(gold()).await;
        let mut t = trigger(pb::trigger::Kind::WinBack);
        t.inactive_days = 30;
        let mut c = journey(&segment, t);
        c.holdout_percent = 50;
        let win_back = app.run_journey(c).await;
        let campaign = crm_campaigns::domain::CampaignId::parse_name(&win_back).expect("id");
        assert_eq!(app.job().await, 16);
        let held: Vec<&String> = customers
            .iter()
            .filter(|c| {
                let id = CustomerId::parse_name(c).expect("id");
                assign(campaign.0, id.0, 50, None) == Arm::Holdout
            })
            .collect();
        let lines = sent(&file, 16 - held.len()).await;
        let ds = deliveries_until(&mut app, &win_back, "every one settled", |ds| {
            ds.iter().all(|d| {
                !is(d, pb::delivery::State::Pending) && !is(d, pb::delivery::State::Queued)
            })
        })
        .await;
        assert_eq!(ds.len(), 16, "{ds:?}");
        for d in &ds {
            let out = held.contains(&&d.customer);
            let state = if out {
                pb::delivery::State::HeldOut
            } else {
                pb::delivery::State::Sent
            };
            assert!(is(d, state), "held out: {out}; {d:?}");
            assert_eq!(d.variant.is_empty(), out, "{d:?}");
        }
        assert_eq!(lines.len(), 16 - held.len(), "{lines:?}");
        let _ = std::fs::remove_file(&file);
    })
    .await;
}

#[tokio::test]
async fn trigger_fields_are_validated_and_nothing_is_written() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let segment = any_segment(&mut app).await;
        let bad = |t: pb::Trigger| journey(&segment, t);
        let create = |c: pb::Campaign| pb::CreateCampaignRequest {
            campaign: Some(c),
            request_id: rid(),
        };
        let cases: Vec<(pb::Campaign, Vec<&str>)> = vec![
            (
                bad(pb::Trigger::default()),
                vec!["campaign.schedule.trigger.kind"],
            ),
            (
                bad(pb::Trigger {
                    kind: pb::trigger::Kind::Date as i32,
                    date_kind: "Birthday!".into(),
                    days_before: 31,
                    time_of_day: "25:00".into(),
                    inactive_days: 3,
                    ..Default::default()
                }),
                vec![
                    "campaign.schedule.trigger.date_kind",
                    "campaign.schedule.trigger.days_before",
                    "campaign.schedule.trigger.inactive_days",
                    "campaign.schedule.trigger.time_of_day",
                ],
            ),
            (
                bad(pb::Trigger {
                    kind: pb::trigger::Kind::WinBack as i32,
                    date_kind: "birthday".into(),
                    inactive_days: 0,
                    ..Default::default()
                }),
                vec![
                    "campaign.schedule.trigger.date_kind",
                    "campaign.schedule.trigger.inactive_days",
                ],
            ),
            (
                bad(pb::Trigger {
                    kind: pb::trigger::Kind::WinBack as i32,
                    inactive_days: 3651,
                    ..Default::default()
                }),
                vec!["campaign.schedule.trigger.inactive_days"],
            ),
            (
                bad(pb::Trigger {
                    kind: pb::trigger::Kind::Purchase as i32,
                    delay: seconds(365 * 86_400 + 1),
                    ..Default::default()
                }),
                vec!["campaign.schedule.trigger.delay"],
            ),
            (
                bad(pb::Trigger {
                    kind: pb::trigger::Kind::Welcome as i32,
                    delay: Some(prost_types::Duration {
                        seconds: -1,
                        nanos: 0,
                    }),
                    ..Default::default()
                }),
                vec!["campaign.schedule.trigger.delay"],
            ),
            (
                {
                    let mut c = bad(trigger(pb::trigger::Kind::Welcome));
                    c.variants.push(variant("b", &["Gold Tier"], "x"));
                    c
                },
                vec!["campaign.variants[1].tiers[0]"],
            ),
        ];
        for (c, fields) in cases {
            let err = app
                .client
                .create_campaign(create(c))
                .await
                .expect_err("a bad trigger");
            assert_status(&err, tonic::Code::InvalidArgument, "INVALID_ARGUMENT");
            assert_eq!(violations(&err), fields);
        }
        // The bounds themselves are fine.
        let ok = bad(pb::Trigger {
            kind: pb::trigger::Kind::Date as i32,
            date_kind: "wedding_anniversary".into(),
            days_before: 30,
            time_of_day: "23:59".into(),
            ..Default::default()
        });
        app.create_campaign(ok).await;
        let mut t = trigger(pb::trigger::Kind::WinBack);
        t.inactive_days = 3650;
        app.create_campaign(bad(t)).await;
        let list = app
            .client
            .list_campaigns(pb::ListCampaignsRequest::default())
            .await
            .expect("list")
            .into_inner();
        assert_eq!(list.campaigns.len(), 2, "only the good ones");
    })
    .await;
}
