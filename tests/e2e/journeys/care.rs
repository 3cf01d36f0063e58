//! Campaigns part 2 across services: care journeys and an experiment, driven by customers'
//! profiles and purchases, loyalty's tiers and tickets' complaints as they reach campaigns'
//! read model by events.
//! - A birthday journey sends each customer the variant of their loyalty tier (a gift for
//!   gold, a coupon from a pool for silver, a greeting for the rest), once.
//! - A win-back journey reaches the customer whose last purchase lapsed, not the one who
//!   bought again, and skips the one with an open complaint.
//! - A test-then-winner campaign's report counts the purchases recorded after its send, the
//!   variant that converted wins, and the rest of the audience gets it.
use super::campaigns::condition;
use crate::harness::{Deadline, Suite, on_every_topology};
use crm_e2e::requests::{complaint, customer, days_ago, purchase};
use crm_platform::testing::rid;
use crm_proto::campaigns as mpb;
use crm_proto::common::Date;
use crm_proto::customers as cpb;
use std::time::Duration;

const ARRIVAL: Duration = Duration::from_secs(30);

on_every_topology!(
    a_birthday_offer_follows_the_loyalty_tier,
    a_lapsed_customer_gets_one_win_back_unless_complaining,
    a_test_then_winner_campaign_reports_conversions_after_its_send,
);

/// Customers of this run (tagged `run`).
fn ours(run: &str) -> mpb::Rule {
    condition(mpb::condition::Condition::Trait(mpb::TraitCondition {
        field: "tags".into(),
        operator: mpb::trait_condition::Operator::Contains as i32,
        values: vec![run.into()],
    }))
}

fn email_consent() -> Vec<cpb::Consent> {
    vec![cpb::Consent {
        channel: cpb::Channel::Email as i32,
        state: cpb::ConsentState::Granted as i32,
        source: "signup".into(),
        update_time: None,
    }]
}

fn variant(id: &str, body: &str) -> mpb::Variant {
    mpb::Variant {
        id: id.into(),
        weight: 1,
        subject: "For you, {{ customer.given_name }}".into(),
        body: body.into(),
        ..Default::default()
    }
}

fn journey(
    display_name: &str,
    segment: &str,
    trigger: mpb::Trigger,
    variants: Vec<mpb::Variant>,
) -> mpb::Campaign {
    mpb::Campaign {
        display_name: display_name.into(),
        goal: Some(mpb::Goal {
            kind: mpb::goal::Kind::Purchase as i32,
            window_days: 7,
        }),
        segment: segment.into(),
        channel: mpb::Channel::Email as i32,
        variants,
        schedule: Some(mpb::Schedule {
            when: Some(mpb::schedule::When::Trigger(trigger)),
        }),
        ..Default::default()
    }
}

impl Suite {
    /// A customer of this run in Shanghai, consenting to e-mail, born on `birth_date`.
    async fn create_member(
        &mut self,
        run: &str,
        given_name: &str,
        birth_date: Option<Date>,
    ) -> String {
        let mut c = customer(given_name);
        c.time_zone = "Asia/Shanghai".into();
        c.tags = vec![run.into()];
        c.consents = email_consent();
        c.birth_date = birth_date;
        self.customers
            .create_customer(cpb::CreateCustomerRequest {
                customer: Some(c),
                request_id: rid(),
            })
            .await
            .expect("create customer")
            .into_inner()
            .name
    }

    /// Waits until campaigns' read model says of `customer` what `ready` wants.
    async fn await_member(
        &mut self,
        customer: &str,
        what: &str,
        ready: impl Fn(&mpb::Member) -> bool,
    ) {
        let name = customer.replacen("customers/", "members/", 1);
        let deadline = Deadline::after(ARRIVAL, "campaigns read model");
        loop {
            let got = self
                .campaigns
                .get_member(mpb::GetMemberRequest { name: name.clone() })
                .await;
            match got {
                Ok(m) if ready(m.get_ref()) => return,
                other => assert!(
                    !deadline.passed(),
                    "timed out: {customer} never got {what}: {other:?}"
                ),
            }
            deadline.wait().await;
        }
    }

    /// Creates and schedules `c`; returns its name.
    async fn launch(&mut self, c: mpb::Campaign) -> String {
        let created = self
            .campaigns
            .create_campaign(mpb::CreateCampaignRequest {
                campaign: Some(c),
                request_id: rid(),
            })
            .await
            .expect("create campaign")
            .into_inner();
        self.campaigns
            .schedule_campaign(mpb::ScheduleCampaignRequest {
                name: created.name.clone(),
                etag: created.etag,
                request_id: rid(),
            })
            .await
            .expect("schedule");
        created.name
    }

    /// The deliveries of `campaign` once `done` says they are all there.
    async fn await_deliveries(
        &mut self,
        campaign: &str,
        what: &str,
        done: impl Fn(&[mpb::Delivery]) -> bool,
    ) -> Vec<mpb::Delivery> {
        self.await_deliveries_within(campaign, what, ARRIVAL * 2, done)
            .await
    }

    /// [`Self::await_deliveries`] waiting at most `within`.
    async fn await_deliveries_within(
        &mut self,
        campaign: &str,
        what: &str,
        within: Duration,
        done: impl Fn(&[mpb::Delivery]) -> bool,
    ) -> Vec<mpb::Delivery> {
        let deadline = Deadline::after(within, "campaign deliveries");
        loop {
            let got = self.deliveries(campaign).await;
            if done(&got) {
                return got;
            }
            assert!(!deadline.passed(), "timed out waiting for {what}: {got:?}");
            deadline.wait().await;
        }
    }

    async fn report(&mut self, campaign: &str) -> mpb::CampaignReport {
        self.campaigns
            .get_campaign_report(mpb::GetCampaignReportRequest {
                name: format!("{campaign}/report"),
            })
            .await
            .expect("report")
            .into_inner()
    }
}

/// Past pending and queued: sent, skipped, held out, ...
fn decided(d: &mpb::Delivery) -> bool {
    use mpb::delivery::State;
    ![State::Pending, State::Queued, State::AwaitingWinner]
        .iter()
        .any(|s| *s as i32 == d.state)
}

fn sent(d: &mpb::Delivery) -> bool {
    d.state == mpb::delivery::State::Sent as i32
}

fn of<'a>(deliveries: &'a [mpb::Delivery], customer: &str) -> &'a mpb::Delivery {
    deliveries
        .iter()
        .find(|d| d.customer == customer)
        .unwrap_or_else(|| panic!("no delivery for {customer}: {deliveries:?}"))
}

/// Today in Shanghai, in year 1990.
fn birthday_today() -> Date {
    use chrono::Datelike;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    // Feb 29 has no 1990: the journey keeps a Feb 29 birthday on Feb 28 of a common year.
    let (month, day) = match (today.month(), today.day()) {
        (2, 29) => (2, 28),
        md => md,
    };
    Date {
        year: 1990,
        month: i32::try_from(month).expect("month"),
        day: i32::try_from(day).expect("day"),
    }
}

pub(crate) async fn a_birthday_offer_follows_the_loyalty_tier(mut s: Suite) {
    let run = format!("run-{}", uuid::Uuid::new_v4().simple());
    let today = Some(birthday_today());
    let gold = s.create_member(&run, "Wei", today).await;
    let silver = s.create_member(&run, "Fang", today).await;
    let regular = s.create_member(&run, "Jun", today).await;
    // Loyalty makes them gold (6,000 points) and silver (2,000) from customers' purchases.
    s.record(&gold, purchase(&format!("{run}-g"), 600_000, None))
        .await;
    s.record(&silver, purchase(&format!("{run}-s"), 200_000, None))
        .await;
    s.await_member(&gold, "gold", |m| m.tier == "gold").await;
    s.await_member(&silver, "silver", |m| m.tier == "silver")
        .await;
    s.await_member(&regular, "a profile", |m| !m.time_zone.is_empty())
        .await;

    let pool = s
        .campaigns
        .create_coupon_pool(mpb::CreateCouponPoolRequest {
            coupon_pool: Some(mpb::CouponPool {
                display_name: "Birthday 15% off".into(),
                ..Default::default()
            }),
            request_id: rid(),
        })
        .await
        .expect("pool")
        .into_inner()
        .name;
    s.campaigns
        .generate_coupon_codes(mpb::GenerateCouponCodesRequest {
            pool: pool.clone(),
            count: 5,
            prefix: "BDAY-".into(),
            length: 10,
            request_id: rid(),
        })
        .await
        .expect("codes");

    let segment = s.create_segment("this run", ours(&run)).await;
    let gift = mpb::Variant {
        tiers: vec!["gold".into()],
        ..variant(
            "gift",
            "Happy birthday! A gift awaits you at the front desk.",
        )
    };
    let coupon = mpb::Variant {
        tiers: vec!["silver".into()],
        coupon_pool: pool.clone(),
        ..variant("coupon", "Happy birthday! Your code: {{ coupon_code }}")
    };
    let greeting = variant("greeting", "Happy birthday, {{ customer.given_name }}!");
    let birthday = mpb::Trigger {
        kind: mpb::trigger::Kind::Date as i32,
        date_kind: "birthday".into(),
        days_before: 0,
        time_of_day: "00:00".into(),
        ..Default::default()
    };
    let campaign = s
        .launch(journey(
            "Birthday care",
            &segment,
            birthday,
            vec![gift, coupon, greeting],
        ))
        .await;

    let deliveries = s
        .await_deliveries(&campaign, "three birthday messages", |d| {
            d.len() == 3 && d.iter().all(sent)
        })
        .await;
    let year = birthday_today_year();
    for (who, want) in [(&gold, "gift"), (&silver, "coupon"), (&regular, "greeting")] {
        let d = of(&deliveries, who);
        assert_eq!(d.variant, want, "{who}: {d:?}");
        assert_eq!(d.occasion, format!("birthday-{year}"), "{d:?}");
    }
    let claimed = s
        .campaigns
        .get_coupon_pool(mpb::GetCouponPoolRequest { name: pool })
        .await
        .expect("pool")
        .into_inner();
    assert_eq!((claimed.code_count, claimed.claimed_count), (5, 1));

    // Later runs of the journey job find the same birthdays: nobody enters twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.deliveries(&campaign).await.len(), 3);
}

/// The year of today in Shanghai (the occasion's).
fn birthday_today_year() -> i32 {
    use chrono::Datelike;
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .year()
}

pub(crate) async fn a_lapsed_customer_gets_one_win_back_unless_complaining(mut s: Suite) {
    let run = format!("run-{}", uuid::Uuid::new_v4().simple());
    let lapsed = s.create_member(&run, "Mei", None).await;
    let complaining = s.create_member(&run, "Lan", None).await;
    let returning = s.create_member(&run, "Hui", None).await;
    for (c, order) in [(&lapsed, "m"), (&complaining, "l"), (&returning, "h")] {
        s.record(
            c,
            purchase(&format!("{run}-{order}"), 20_000, Some(days_ago(120))),
        )
        .await;
    }
    s.record(&returning, purchase(&format!("{run}-h2"), 20_000, None))
        .await;
    s.create_ticket(complaint(&complaining))
        .await
        .expect("complaint");
    // The facts the journey decides on have reached campaigns before it starts.
    s.await_member(&returning, "two orders", |m| m.order_count == 2)
        .await;
    s.await_member(&complaining, "an open complaint", |m| {
        m.open_complaints == 1
    })
    .await;
    s.await_member(&lapsed, "an order", |m| m.order_count == 1)
        .await;

    let segment = s.create_segment("this run", ours(&run)).await;
    let win_back = mpb::Trigger {
        kind: mpb::trigger::Kind::WinBack as i32,
        inactive_days: 90,
        ..Default::default()
    };
    let campaign = s
        .launch(journey(
            "We miss you",
            &segment,
            win_back,
            vec![variant("a", "It has been a while: 10% off your next stay.")],
        ))
        .await;
    let deliveries = s
        .await_deliveries(&campaign, "the win-back of two lapsed customers", |d| {
            d.len() == 2 && d.iter().all(decided)
        })
        .await;
    assert!(sent(of(&deliveries, &lapsed)), "{deliveries:?}");
    let skipped = of(&deliveries, &complaining);
    assert_eq!(
        (skipped.state, skipped.reason),
        (
            mpb::delivery::State::Skipped as i32,
            mpb::delivery::Reason::OpenComplaint as i32
        ),
        "{skipped:?}"
    );
    assert!(
        of(&deliveries, &lapsed).occasion.starts_with("winback-"),
        "{deliveries:?}"
    );
    assert!(
        deliveries.iter().all(|d| d.customer != returning),
        "the returning customer bought again: {deliveries:?}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.deliveries(&campaign).await.len(), 2, "once per lapse");
}

pub(crate) async fn a_test_then_winner_campaign_reports_conversions_after_its_send(mut s: Suite) {
    let run = format!("run-{}", uuid::Uuid::new_v4().simple());
    let mut customers = Vec::new();
    for i in 0..30 {
        customers.push(s.create_member(&run, &format!("Guest{i}"), None).await);
    }
    for c in &customers {
        // The audience is chosen once, at the start: every profile (its tags, by the
        // read model's refresh) and consent must be there first.
        s.await_member(c, "its profile and consent", |m| {
            m.tags.contains(&run) && !m.consented_channels.is_empty()
        })
        .await;
    }
    let segment = s.create_segment("this run", ours(&run)).await;
    // Long enough for the purchases to reach the report on a loaded 2-core CI machine.
    let test = Duration::from_secs(60);
    let campaign = s
        .launch(mpb::Campaign {
            display_name: "Spring offer A/B".into(),
            goal: Some(mpb::Goal {
                kind: mpb::goal::Kind::Purchase as i32,
                window_days: 7,
            }),
            segment,
            channel: mpb::Channel::Email as i32,
            variants: vec![
                variant("a", "Spring is here."),
                variant("b", "Spring is here: 20% off this week only."),
            ],
            schedule: Some(mpb::Schedule {
                when: Some(mpb::schedule::When::Immediately(true)),
            }),
            experiment: Some(mpb::Experiment {
                test_percent: 50,
                test_duration: Some(prost_types::Duration {
                    seconds: i64::try_from(test.as_secs()).expect("secs"),
                    nanos: 0,
                }),
                metric: mpb::experiment::Metric::ConversionRate as i32,
            }),
            holdout_percent: 20,
            ..Default::default()
        })
        .await;
    let started = std::time::Instant::now();

    // The test share is sent; the rest waits; the holdout gets nothing.
    use mpb::delivery::State;
    let deliveries = s
        .await_deliveries(&campaign, "the test share sent", |d| {
            d.len() == customers.len()
                && d.iter().all(|d| {
                    [State::Sent, State::HeldOut, State::AwaitingWinner]
                        .iter()
                        .any(|s| *s as i32 == d.state)
                })
        })
        .await;
    let in_state = |s: State| deliveries.iter().filter(|d| d.state == s as i32).count();
    let (tested, held_out, waiting) = (
        in_state(State::Sent),
        in_state(State::HeldOut),
        in_state(State::AwaitingWinner),
    );
    assert_eq!(tested + held_out + waiting, customers.len());
    // b converts: its recipients buy after the send (a's do not); so does one held-out
    // customer, whose purchase counts for the holdout.
    let b_buyers: Vec<String> = deliveries
        .iter()
        .filter(|d| sent(d) && d.variant == "b")
        .map(|d| d.customer.clone())
        .collect();
    let held: Vec<String> = deliveries
        .iter()
        .filter(|d| d.state == State::HeldOut as i32)
        .map(|d| d.customer.clone())
        .collect();
    for (i, c) in b_buyers.iter().chain(held.iter().take(1)).enumerate() {
        s.record(c, purchase(&format!("{run}-{i}"), 30_000, None))
            .await;
    }
    let holdout_buyers = held.len().min(1);
    let want = |r: &mpb::CampaignReport| {
        let b = r.variants.iter().find(|v| v.variant == "b");
        b.is_some_and(|b| b.converted == b_buyers.len() as i64)
            && r.holdout.as_ref().map_or(0, |h| h.converted) == holdout_buyers as i64
    };
    let deadline = Deadline::after(ARRIVAL, "the report's conversions");
    let report = loop {
        let r = s.report(&campaign).await;
        if want(&r) {
            break r;
        }
        assert!(!deadline.passed(), "timed out: {r:?}");
        deadline.wait().await;
    };
    assert!(
        started.elapsed() < test,
        "the conversions must arrive before the test ends for the winner to follow them"
    );
    let b = report
        .variants
        .iter()
        .find(|v| v.variant == "b")
        .expect("b");
    let revenue: i64 = b.revenue.iter().map(|m| m.amount_minor).sum();
    assert_eq!(revenue, 30_000 * b_buyers.len() as i64, "{b:?}");
    let a = report
        .variants
        .iter()
        .find(|v| v.variant == "a")
        .expect("a");
    assert_eq!(a.converted, 0, "a's recipients did not buy: {a:?}");
    assert_eq!(
        report.holdout.as_ref().map_or(0, |h| h.recipients),
        held_out as i64
    );

    // After the test the variant with the higher conversion rate wins (a on a tie: the
    // campaign's first), and the rest of the audience gets it.
    let winner = if b_buyers.is_empty() { "a" } else { "b" };
    // The rest is due when the test ends: the wait counts from then, not from now.
    let until_test_end = test.saturating_sub(started.elapsed());
    let done = s
        .await_deliveries_within(
            &campaign,
            "the winner sent to the rest",
            until_test_end + ARRIVAL * 2,
            |d| d.iter().all(decided),
        )
        .await;
    let rest: Vec<&mpb::Delivery> = done
        .iter()
        .filter(|d| {
            sent(d)
                && !deliveries
                    .iter()
                    .any(|t| t.customer == d.customer && sent(t))
        })
        .collect();
    assert_eq!(rest.len(), waiting, "{done:?}");
    assert!(rest.iter().all(|d| d.variant == winner), "{rest:?}");
    let c = s.campaign(&campaign).await;
    assert_eq!(c.winner_variant, winner);
    let report = s.report(&campaign).await;
    assert_eq!(report.winner_variant, winner);
    // One lift per variant over the holdout (none without a holdout: 0.8^30 of the runs).
    let lifts = if held_out > 0 { 2 } else { 0 };
    assert_eq!(report.lifts.len(), lifts, "{report:?}");
}
