//! Campaigns follow the other services' events: a saved segment's membership moves as
//! loyalty tiers and complaint tickets change, and a running campaign sends by the rules
//! (consent, open complaints) with every skip explained.
use crate::harness::{Deadline, Suite, on_every_topology};
use crm_e2e::requests::{complaint, customer, purchase};
use crm_platform::testing::rid;
use crm_proto::campaigns as mpb;
use crm_proto::customers as cpb;
use std::time::Duration;

const ARRIVAL: Duration = Duration::from_secs(30);

on_every_topology!(a_segment_follows_events_and_a_campaign_sends_by_the_rules);

/// A rule of one condition.
pub(crate) fn condition(c: mpb::condition::Condition) -> mpb::Rule {
    mpb::Rule {
        node: Some(mpb::rule::Node::Condition(mpb::Condition {
            condition: Some(c),
        })),
    }
}

/// Gold customers of this run (tagged `run`: a cluster's database has other journeys'
/// customers, gold ones among them).
fn gold(run: &str) -> mpb::Rule {
    let tier = condition(mpb::condition::Condition::Tier(mpb::ValueIn {
        values: vec!["gold".into()],
    }));
    let ours = condition(mpb::condition::Condition::Trait(mpb::TraitCondition {
        field: "tags".into(),
        operator: mpb::trait_condition::Operator::Contains as i32,
        values: vec![run.into()],
    }));
    mpb::Rule {
        node: Some(mpb::rule::Node::All(mpb::RuleGroup {
            rules: vec![tier, ours],
        })),
    }
}

/// Gold customers of this run without an open complaint.
fn gold_and_calm(run: &str) -> mpb::Rule {
    let calm = mpb::Rule {
        node: Some(mpb::rule::Node::Not(Box::new(condition(
            mpb::condition::Condition::OpenComplaint(true),
        )))),
    };
    mpb::Rule {
        node: Some(mpb::rule::Node::All(mpb::RuleGroup {
            rules: vec![gold(run), calm],
        })),
    }
}

impl Suite {
    pub(crate) async fn create_consenting(
        &mut self,
        run: &str,
        given_name: &str,
        email_consent: bool,
    ) -> String {
        let mut c = customer(given_name);
        c.time_zone = "Asia/Shanghai".into();
        c.tags = vec![run.into()];
        if email_consent {
            c.consents = vec![cpb::Consent {
                channel: cpb::Channel::Email as i32,
                state: cpb::ConsentState::Granted as i32,
                source: "checkout-form".into(),
                update_time: None,
            }];
        }
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

    pub(crate) async fn create_segment(&mut self, name: &str, rule: mpb::Rule) -> String {
        self.campaigns
            .create_segment(mpb::CreateSegmentRequest {
                segment: Some(mpb::Segment {
                    display_name: name.into(),
                    rule: Some(rule),
                    ..Default::default()
                }),
                request_id: rid(),
            })
            .await
            .expect("create segment")
            .into_inner()
            .name
    }

    /// The customers of `segment` now (evaluated on demand).
    pub(crate) async fn members(&mut self, segment: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .campaigns
            .list_segment_members(mpb::ListSegmentMembersRequest {
                segment: segment.into(),
                page_size: 100,
                page_token: String::new(),
            })
            .await
            .expect("members")
            .into_inner()
            .members
            .into_iter()
            .map(|m| m.customer)
            .collect();
        out.sort();
        out
    }

    pub(crate) async fn await_members(&mut self, segment: &str, want: &[&String]) {
        let mut want: Vec<String> = want.iter().map(|s| (*s).clone()).collect();
        want.sort();
        let deadline = Deadline::after(ARRIVAL, "campaigns");
        loop {
            let got = self.members(segment).await;
            if got == want {
                return;
            }
            assert!(
                !deadline.passed(),
                "timed out: {}",
                &format!("{segment} members {got:?}, want {want:?}")
            );
            deadline.wait().await;
        }
    }

    pub(crate) async fn campaign(&mut self, name: &str) -> mpb::Campaign {
        self.campaigns
            .get_campaign(mpb::GetCampaignRequest { name: name.into() })
            .await
            .expect("get campaign")
            .into_inner()
    }

    pub(crate) async fn deliveries(&mut self, campaign: &str) -> Vec<mpb::Delivery> {
        self.campaigns
            .list_deliveries(mpb::ListDeliveriesRequest {
                parent: campaign.into(),
                page_size: 100,
                ..Default::default()
            })
            .await
            .expect("deliveries")
            .into_inner()
            .deliveries
    }
}

pub(crate) async fn a_segment_follows_events_and_a_campaign_sends_by_the_rules(mut s: Suite) {
    let run = format!("run-{}", uuid::Uuid::new_v4().simple());
    let wei = s.create_consenting(&run, "Wei", true).await;
    let fang = s.create_consenting(&run, "Fang", true).await;
    let jun = s.create_consenting(&run, "Jun", false).await;
    let gold_segment = s.create_segment("gold", gold(&run)).await;
    let calm_segment = s
        .create_segment("gold, no open complaint", gold_and_calm(&run))
        .await;
    s.await_members(&gold_segment, &[]).await;

    // Purchases in customers make all three gold in loyalty; the tiers reach campaigns.
    for (c, order) in [(&wei, "w-1"), (&fang, "f-1"), (&jun, "j-1")] {
        s.record(c, purchase(&format!("{run}-{order}"), 600_000, None))
            .await;
    }
    s.await_members(&gold_segment, &[&wei, &fang, &jun]).await;
    s.await_members(&calm_segment, &[&wei, &fang, &jun]).await;

    // Fang's complaint in tickets takes Fang out of the calm segment, not out of gold.
    s.create_ticket(complaint(&fang)).await.expect("complaint");
    s.await_members(&calm_segment, &[&wei, &jun]).await;
    assert_eq!(s.members(&gold_segment).await.len(), 3);

    // A marketing e-mail to gold: Wei gets it, Fang is suppressed (open complaint), Jun has
    // no e-mail consent.
    let campaign = s
        .campaigns
        .create_campaign(mpb::CreateCampaignRequest {
            campaign: Some(mpb::Campaign {
                display_name: "Gold winter offer".into(),
                goal: Some(mpb::Goal {
                    kind: mpb::goal::Kind::Purchase as i32,
                    window_days: 7,
                }),
                segment: gold_segment.clone(),
                channel: mpb::Channel::Email as i32,
                variants: vec![mpb::Variant {
                    id: "a".into(),
                    weight: 1,
                    subject: "For you, {{ customer.given_name }}".into(),
                    body: "As a {{ loyalty.tier }} member: {{ coupon_code }}".into(),
                    ..Default::default()
                }],
                schedule: Some(mpb::Schedule {
                    when: Some(mpb::schedule::When::Immediately(true)),
                }),
                coupon_code: "GOLD10".into(),
                ..Default::default()
            }),
            request_id: rid(),
        })
        .await
        .expect("create campaign")
        .into_inner();
    s.campaigns
        .schedule_campaign(mpb::ScheduleCampaignRequest {
            name: campaign.name.clone(),
            etag: campaign.etag.clone(),
            request_id: rid(),
        })
        .await
        .expect("schedule");
    let deadline = Deadline::after(ARRIVAL, "campaigns");
    loop {
        let c = s.campaign(&campaign.name).await;
        if c.state == mpb::campaign::State::Completed as i32 {
            break;
        }
        assert!(
            !deadline.passed(),
            "timed out: {}",
            &format!("campaign still {:?}", c.state)
        );
        deadline.wait().await;
    }
    let deliveries = s.deliveries(&campaign.name).await;
    let of = |c: &str| {
        deliveries
            .iter()
            .find(|d| d.customer == c)
            .unwrap_or_else(|| panic!("no delivery for {c}: {deliveries:?}"))
    };
    assert_eq!(
        of(&wei).state,
        mpb::delivery::State::Sent as i32,
        "{deliveries:?}"
    );
    assert_eq!(
        (of(&fang).state, of(&fang).reason),
        (
            mpb::delivery::State::Skipped as i32,
            mpb::delivery::Reason::OpenComplaint as i32
        )
    );
    assert_eq!(
        (of(&jun).state, of(&jun).reason),
        (
            mpb::delivery::State::Skipped as i32,
            mpb::delivery::Reason::NoConsent as i32
        )
    );
    let stats = s.campaign(&campaign.name).await.stats.expect("stats");
    assert_eq!((stats.recipients, stats.sent, stats.skipped), (3, 1, 2));

    // "Why didn't Fang get it?"
    let why = s
        .campaigns
        .explain_delivery(mpb::ExplainDeliveryRequest {
            campaign: campaign.name.clone(),
            customer: fang.clone(),
        })
        .await
        .expect("explain")
        .into_inner();
    assert!(why.summary.contains("open complaint"), "{}", why.summary);

    // Wei unsubscribes from the message: customers revokes Wei's e-mail consent.
    s.campaigns
        .record_delivery_receipt(mpb::RecordDeliveryReceiptRequest {
            delivery: of(&wei).name.clone(),
            kind: mpb::ReceiptKind::Unsubscribed as i32,
            occur_time: Some(std::time::SystemTime::now().into()),
            request_id: rid(),
        })
        .await
        .expect("unsubscribe receipt");
    let deadline = Deadline::after(ARRIVAL, "campaigns");
    loop {
        let c = s
            .customers
            .get_customer(cpb::GetCustomerRequest { name: wei.clone() })
            .await
            .expect("get wei")
            .into_inner();
        let email = c
            .consents
            .iter()
            .find(|x| x.channel == cpb::Channel::Email as i32)
            .map(|x| x.state);
        if email == Some(cpb::ConsentState::Revoked as i32) {
            break;
        }
        assert!(
            !deadline.passed(),
            "timed out: {}",
            &format!("wei's e-mail consent still {email:?}")
        );
        deadline.wait().await;
    }
}
