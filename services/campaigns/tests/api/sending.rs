//! The send path end to end in one service: a campaign to a segment of the read model runs
//! through the start job, the dispatcher's sending rules and the sender (the file sender,
//! read back), and every recipient ends sent or skipped with its reason.
use crate::harness::*;
use chrono::{Duration, Utc};
use crm_campaigns::domain::CustomerId;
use crm_campaigns::domain::member::{ConsentFact, Profile, Snapshot, TicketFact};
use crm_campaigns::store;
use crm_platform::testing::Backend;
use crm_proto::campaigns as pb;
use std::path::PathBuf;
use tonic::Code;

/// The app with the file sender writing to a file of its own, fast jobs, and `quiet` hours
/// (empty: none).
pub async fn sending_app(b: Backend, quiet: (&str, &str), cap: u32) -> (TestApp, PathBuf) {
    sending_app_with(b, quiet, cap, |_| {}).await
}

/// [`sending_app`] with its settings changed by `configure` last (a job's pace).
pub async fn sending_app_with(
    b: Backend,
    quiet: (&str, &str),
    cap: u32,
    configure: impl FnOnce(&mut crm_campaigns::Settings),
) -> (TestApp, PathBuf) {
    let file = std::env::temp_dir()
        .join("crm-tests")
        .join(format!("sent-{}.jsonl", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(file.parent().expect("dir")).expect("mkdir");
    let path = file.display().to_string();
    let (start, end) = (quiet.0.to_owned(), quiet.1.to_owned());
    let app = spawn_app_with(b, move |s| {
        let c = &mut s.campaigns;
        c.sender.kind = "file".into();
        c.sender.file_path = path;
        c.sending.quiet_hours_start = start;
        c.sending.quiet_hours_end = end;
        c.sending.start_interval_ms = 50;
        c.sending.dispatch_interval_ms = 50;
        for f in &mut c.sending.frequency_caps {
            f.max = cap;
        }
        configure(s);
    })
    .await;
    (app, file)
}

/// A gold member of the read model as the refresh would write it.
pub async fn member(
    app: &TestApp,
    given: &str,
    email: &str,
    tz: &str,
    email_consent: bool,
) -> String {
    let db = app.service.db();
    let keys = app.service.keys().await.expect("keys");
    let id = CustomerId::generate();
    let now = Utc::now();
    store::members::ensure(db, &[id], now)
        .await
        .expect("ensure");
    let snapshot = Snapshot {
        profile: Profile {
            given_name: given.into(),
            primary_email: email.into(),
            ..Default::default()
        },
        time_zone: tz.into(),
        consents: vec![ConsentFact {
            channel: crm_proto::customers::Channel::Email as i32,
            granted: email_consent,
            time: now,
        }],
        ..Default::default()
    };
    store::members::write_snapshot(db, &keys, id, &snapshot, now)
        .await
        .expect("snapshot");
    store::members::set_tier(db, id, "gold", now)
        .await
        .expect("tier");
    id.name()
}

pub async fn open_complaint(app: &TestApp, customer: &str) {
    let id = CustomerId::parse_name(customer).expect("name");
    let fact = TicketFact {
        ticket: uuid::Uuid::now_v7(),
        customer: id,
        category: Some(crm_proto::tickets::Category::Complaint as i32),
        open: true,
        time: Utc::now(),
    };
    store::members::set_ticket(app.service.db(), &fact, Utc::now())
        .await
        .expect("ticket");
}

pub fn gold() -> pb::Rule {
    pb::Rule {
        node: Some(pb::rule::Node::Condition(pb::Condition {
            condition: Some(pb::condition::Condition::Tier(pb::ValueIn {
                values: vec!["gold".into()],
            })),
        })),
    }
}

impl TestApp {
    pub async fn segment(&mut self, rule: pb::Rule) -> String {
        self.client
            .create_segment(pb::CreateSegmentRequest {
                segment: Some(pb::Segment {
                    display_name: "gold".into(),
                    rule: Some(rule),
                    ..Default::default()
                }),
                request_id: rid(),
            })
            .await
            .expect("segment")
            .into_inner()
            .name
    }

    /// Creates and schedules `c`; returns its name.
    pub async fn launch(&mut self, c: pb::Campaign) -> String {
        let created = self.create_campaign(c).await;
        self.client
            .schedule_campaign(pb::ScheduleCampaignRequest {
                name: created.name.clone(),
                etag: created.etag,
                request_id: rid(),
            })
            .await
            .expect("schedule");
        created.name
    }

    pub async fn await_state(
        &mut self,
        campaign: &str,
        state: pb::campaign::State,
    ) -> pb::Campaign {
        for _ in 0..200 {
            let c = self
                .client
                .get_campaign(pb::GetCampaignRequest {
                    name: campaign.into(),
                })
                .await
                .expect("get")
                .into_inner();
            if c.state == state as i32 {
                return c;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{campaign} never reached {state:?}");
    }

    pub async fn deliveries(&mut self, campaign: &str) -> Vec<pb::Delivery> {
        self.client
            .list_deliveries(pb::ListDeliveriesRequest {
                parent: campaign.into(),
                page_size: 1000,
                ..Default::default()
            })
            .await
            .expect("deliveries")
            .into_inner()
            .deliveries
    }

    pub async fn explain(&mut self, campaign: &str, customer: &str) -> pb::DeliveryExplanation {
        self.client
            .explain_delivery(pb::ExplainDeliveryRequest {
                campaign: campaign.into(),
                customer: customer.into(),
            })
            .await
            .expect("explain")
            .into_inner()
    }
}

/// The JSON lines the file sender wrote.
pub fn sent_lines(file: &PathBuf) -> Vec<serde_json::Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn of<'a>(ds: &'a [pb::Delivery], customer: &str) -> &'a pb::Delivery {
    ds.iter()
        .find(|d| d.customer == customer)
        .unwrap_or_else(|| panic!("no delivery for {customer}: {ds:?}"))
}

#[tokio::test]
async fn a_campaign_sends_to_whom_the_rules_allow_and_says_why_not_to_the_others() {
    each_backend(|b| async move {
        let (mut app, file) = sending_app(b, ("", ""), 1).await;
        let wei = member(&app, "Wei", "wei@example.com", "Asia/Shanghai", true).await;
        let fang = member(&app, "Fang", "fang@example.com", "Asia/Shanghai", true).await;
        let jun = member(&app, "Jun", "jun@example.com", "", false).await;
        let lin = member(&app, "Lin", "", "Europe/Berlin", true).await;
        open_complaint(&app, &fang).await;
        let segment = app.segment(gold()).await;

        let first = app.launch(email_campaign(&segment)).await;
        app.await_state(&first, pb::campaign::State::Completed)
            .await;
        let ds = app.deliveries(&first).await;
        assert_eq!(ds.len(), 4, "{ds:?}");
        assert_eq!(
            of(&ds, &wei).state,
            pb::delivery::State::Sent as i32,
            "{ds:?}"
        );
        let skipped = |d: &pb::Delivery| (d.state, d.reason);
        let skip = |r: pb::delivery::Reason| (pb::delivery::State::Skipped as i32, r as i32);
        assert_eq!(
            skipped(of(&ds, &fang)),
            skip(pb::delivery::Reason::OpenComplaint)
        );
        assert_eq!(
            skipped(of(&ds, &jun)),
            skip(pb::delivery::Reason::NoConsent)
        );
        assert_eq!(
            skipped(of(&ds, &lin)),
            skip(pb::delivery::Reason::NoAddress)
        );

        // What went out: one rendered message, to Wei's address, with the delivery as its key.
        let lines = sent_lines(&file);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["to"], "wei@example.com");
        assert_eq!(lines[0]["subject"], "Hello Wei");
        assert_eq!(lines[0]["body"], "Your tier: gold. Code WINTER10");
        assert_eq!(lines[0]["delivery"], of(&ds, &wei).name);
        let why = app.explain(&first, &fang).await;
        assert!(why.in_segment && why.known, "{why:?}");
        assert!(why.summary.contains("open complaint"), "{}", why.summary);

        // A second marketing e-mail the same week: Wei is at the cap (1 here) and skipped;
        // a transactional one still goes, and ignores the complaint too.
        let second = app.launch(email_campaign(&segment)).await;
        app.await_state(&second, pb::campaign::State::Completed)
            .await;
        let ds = app.deliveries(&second).await;
        assert_eq!(
            skipped(of(&ds, &wei)),
            skip(pb::delivery::Reason::FrequencyCap)
        );
        assert!(of(&ds, &wei).detail.contains("cap 1"), "{ds:?}");
        let mut notice = email_campaign(&segment);
        notice.transactional = true;
        let third = app.launch(notice).await;
        let done = app
            .await_state(&third, pb::campaign::State::Completed)
            .await;
        let ds = app.deliveries(&third).await;
        for c in [&wei, &fang] {
            assert_eq!(of(&ds, c).state, pb::delivery::State::Sent as i32, "{ds:?}");
        }
        assert_eq!(
            skipped(of(&ds, &jun)),
            skip(pb::delivery::Reason::NoConsent),
            "consent still applies"
        );
        let stats = done.stats.expect("stats");
        assert_eq!((stats.recipients, stats.sent, stats.skipped), (4, 2, 2));
        assert_eq!(sent_lines(&file).len(), 3);
        let _ = std::fs::remove_file(&file);
    })
    .await;
}

#[tokio::test]
async fn quiet_hours_defer_marketing_to_their_end_in_the_recipients_zone() {
    each_backend(|b| async move {
        // Quiet now in UTC (an hour either side), over by then in Shanghai (UTC+8).
        let now = Utc::now();
        let hhmm = |t: chrono::DateTime<Utc>| t.format("%H:%M").to_string();
        let (start, end) = (
            hhmm(now - Duration::hours(1)),
            hhmm(now + Duration::hours(1)),
        );
        let (mut app, file) = sending_app(b, (&start, &end), 3).await;
        let utc = member(&app, "Ann", "ann@example.com", "", true).await;
        let shanghai = member(&app, "Wei", "wei@example.com", "Asia/Shanghai", true).await;
        let segment = app.segment(gold()).await;
        let campaign = app.launch(email_campaign(&segment)).await;
        let mut ds = Vec::new();
        for _ in 0..200 {
            ds = app.deliveries(&campaign).await;
            if ds.len() == 2
                && ds
                    .iter()
                    .all(|d| d.reason != 0 || d.state == pb::delivery::State::Sent as i32)
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(
            of(&ds, &shanghai).state,
            pb::delivery::State::Sent as i32,
            "{ds:?}"
        );
        let deferred = of(&ds, &utc);
        assert_eq!(
            (deferred.state, deferred.reason),
            (
                pb::delivery::State::Pending as i32,
                pb::delivery::Reason::QuietHours as i32
            )
        );
        let due = deferred.due_time.as_ref().expect("due").seconds;
        let quiet_end = (now + Duration::hours(1)).timestamp();
        assert!(
            (due - quiet_end).abs() <= 60,
            "deferred to the end of quiet hours: {due} vs {quiet_end}"
        );
        let why = app.explain(&campaign, &utc).await;
        assert!(why.summary.starts_with("waiting until"), "{}", why.summary);
        let running = app.campaign(&campaign).await;
        assert_eq!(
            running.state,
            pb::campaign::State::Running as i32,
            "not completed while one waits"
        );
        assert_eq!(sent_lines(&file).len(), 1);
        let _ = std::fs::remove_file(&file);
    })
    .await;
}

#[tokio::test]
async fn receipts_move_forward_only_and_an_unsubscribe_revokes_consent() {
    each_backend(|b| async move {
        let (mut app, file) = sending_app(b, ("", ""), 3).await;
        let wei = member(&app, "Wei", "wei@example.com", "", true).await;
        let jun = member(&app, "Jun", "jun@example.com", "", false).await;
        let segment = app.segment(gold()).await;
        let campaign = app.launch(email_campaign(&segment)).await;
        app.await_state(&campaign, pb::campaign::State::Completed)
            .await;
        let ds = app.deliveries(&campaign).await;
        let receipt = |d: &pb::Delivery, kind: pb::ReceiptKind| pb::RecordDeliveryReceiptRequest {
            delivery: d.name.clone(),
            kind: kind as i32,
            occur_time: Some(std::time::SystemTime::now().into()),
            request_id: rid(),
        };
        let sent = of(&ds, &wei).clone();
        let clicked = app
            .client
            .record_delivery_receipt(receipt(&sent, pb::ReceiptKind::Clicked))
            .await
            .expect("clicked")
            .into_inner();
        assert_eq!(clicked.state, pb::delivery::State::Clicked as i32);
        let late = app
            .client
            .record_delivery_receipt(receipt(&sent, pb::ReceiptKind::Delivered))
            .await
            .expect("a late delivered")
            .into_inner();
        assert_eq!(
            late.state,
            pb::delivery::State::Clicked as i32,
            "never backwards"
        );
        let unsent = app
            .client
            .record_delivery_receipt(receipt(of(&ds, &jun), pb::ReceiptKind::Opened))
            .await
            .expect_err("jun was skipped");
        assert_status(&unsent, Code::FailedPrecondition, "DELIVERY_NOT_SENT");
        let req = receipt(&sent, pb::ReceiptKind::Unsubscribed);
        let first = app
            .client
            .record_delivery_receipt(req.clone())
            .await
            .expect("unsubscribe")
            .into_inner();
        let replay = app
            .client
            .record_delivery_receipt(req)
            .await
            .expect("replay")
            .into_inner();
        assert_eq!(first, replay);
        let member = app
            .client
            .get_member(pb::GetMemberRequest {
                name: wei.replacen("customers/", "members/", 1),
            })
            .await
            .expect("member")
            .into_inner();
        assert!(member.consented_channels.is_empty(), "{member:?}");
        let told = outbox_types(&app).await;
        assert_eq!(
            told.iter()
                .filter(|t| *t == "crm.campaigns.v1.recipient.unsubscribed")
                .count(),
            1,
            "{told:?}"
        );
        assert!(
            told.iter().any(|t| t == "crm.campaigns.v1.message.sent"),
            "{told:?}"
        );
        let _ = std::fs::remove_file(&file);
    })
    .await;
}

/// Every event type campaigns put in its outbox, in order.
async fn outbox_types(app: &TestApp) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Statement};
    let db = app.service.db();
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT event_type FROM event_outbox ORDER BY seq",
    ))
    .await
    .expect("outbox")
    .iter()
    .map(|r| r.try_get::<String>("", "event_type").expect("type"))
    .collect()
}

#[tokio::test]
async fn two_replicas_send_each_message_once() {
    each_backend(|b| async move {
        let (mut app, file) = sending_app(b, ("", ""), 3).await;
        let path = file.display().to_string();
        let second =
            crm_platform::testing::spawn::<crm_campaigns::Campaigns>(&app.storage, move |s| {
                let c = &mut s.campaigns;
                c.sender.kind = "file".into();
                c.sender.file_path = path;
                c.sending.quiet_hours_start.clear();
                c.sending.quiet_hours_end.clear();
                c.sending.start_interval_ms = 50;
                c.sending.dispatch_interval_ms = 50;
            })
            .await;
        let mut customers = Vec::new();
        for i in 0..60 {
            customers.push(member(&app, "Wei", &format!("wei{i}@example.com"), "", true).await);
        }
        let segment = app.segment(gold()).await;
        let mut c = email_campaign(&segment);
        c.throttle_per_second = 20;
        let campaign = app.launch(c).await;
        app.await_state(&campaign, pb::campaign::State::Completed)
            .await;
        let lines = sent_lines(&file);
        let mut keys: Vec<String> = lines.iter().map(|l| l["delivery_id"].to_string()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!((lines.len(), keys.len()), (60, 60), "each of 60 once");
        drop(second);
        let _ = std::fs::remove_file(&file);
    })
    .await;
}
