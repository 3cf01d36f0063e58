//! Campaigns: messages per second through the whole send path, on the backend of the run.
//! A read model of `CRM_BENCH_CAMPAIGN_RECIPIENTS` customers (5,000 by default; sealed
//! profiles as the refresh writes them, e-mail consent granted), then per round one
//! marketing e-mail campaign to all of them, created and scheduled through the generated
//! client; timed from ScheduleCampaign to COMPLETED: the start job writes the audience, the
//! dispatcher applies consent, the open-complaint check, every frequency cap (counted per
//! recipient) and quiet hours (a window elsewhere in the day, so nothing is deferred but
//! every recipient's zone is computed), renders the two templates, seals and queues each
//! message, and the sender run leases, opens and hands it to the `log` sender, then writes
//! SENT and `message.sent` to the outbox. Throttle 10,000/s: the pace is the service's.
use crate::{Args, Stats, channels, platform_settings};
use crm_campaigns::domain::CustomerId;
use crm_campaigns::domain::member::{ConsentFact, Profile, Snapshot};

use crm_proto::campaigns as pb;
use crm_proto::campaigns::campaign_service_client::CampaignServiceClient;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

pub const SCENARIO: &str = "campaign sends: ScheduleCampaign -> every recipient SENT through the rules, outbox and log sender (messages/s)";

/// How long one campaign may take before the round gives up.
const ROUND_LIMIT: Duration = Duration::from_secs(600);

pub struct Bench {
    client: CampaignServiceClient<Channel>,
    segment: String,
    recipients: usize,
}

fn recipients() -> usize {
    std::env::var("CRM_BENCH_CAMPAIGN_RECIPIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000)
}

/// Quiet hours of one minute, twelve hours from now (UTC): computed for everyone, due for
/// no one.
fn elsewhere_in_the_day() -> (String, String) {
    let at = chrono::Utc::now() + chrono::Duration::hours(12);
    let hhmm = |t: chrono::DateTime<chrono::Utc>| t.format("%H:%M").to_string();
    (hhmm(at), hhmm(at + chrono::Duration::minutes(1)))
}

impl Bench {
    pub async fn prepare(
        args: &Args,
        fresh_db: impl AsyncFn() -> anyhow::Result<String>,
    ) -> anyhow::Result<Option<Self>> {
        if !args.wants(SCENARIO) {
            return Ok(None);
        }
        let db_url = fresh_db().await?;
        let mut s = crm_campaigns::Settings::load(None)?;
        platform_settings(&mut s.platform, &db_url, &args.redis_url, true);
        let c = &mut s.campaigns;
        c.read_model.refresh_interval_ms = 3_600_000;
        c.read_model.membership_interval_ms = 3_600_000;
        c.sending.start_interval_ms = 20;
        c.sending.dispatch_interval_ms = 20;
        c.sending.dispatch_batch = 1000;
        (c.sending.quiet_hours_start, c.sending.quiet_hours_end) = elsewhere_in_the_day();
        // Each round sends one e-mail to everyone: caps above the rounds, still counted.
        for cap in &mut c.sending.frequency_caps {
            cap.max = 10_000;
        }
        let app = crm_campaigns::application(s).await?;
        let port = app.port();
        let svc = app.service().clone();
        tokio::spawn(app.run_until(std::future::pending()));
        let n = recipients();
        let started = Instant::now();
        let keys = svc.keys().await?;
        let now = chrono::Utc::now();
        let ids: Vec<CustomerId> = (0..n).map(|_| CustomerId::generate()).collect();
        for chunk in ids.chunks(500) {
            crm_campaigns::store::members::ensure(svc.db(), chunk, now).await?;
        }
        for (i, id) in ids.iter().enumerate() {
            let snapshot = Snapshot {
                profile: Profile {
                    given_name: format!("Wei {i}"),
                    primary_email: format!("wei.{i}@example.com"),
                    ..Default::default()
                },
                time_zone: ["Asia/Shanghai", "Europe/Paris", "America/New_York", ""][i % 4].into(),
                consents: vec![ConsentFact {
                    channel: crm_proto::customers::Channel::Email as i32,
                    granted: true,
                    time: now,
                }],
                ..Default::default()
            };
            crm_campaigns::store::members::write_snapshot(svc.db(), &keys, *id, &snapshot, now)
                .await?;
        }
        eprintln!(
            "campaign sends: {n} recipients in the read model in {:?}",
            started.elapsed()
        );
        let mut client = channels(port, 1)
            .await?
            .into_iter()
            .map(CampaignServiceClient::new)
            .next()
            .ok_or_else(|| anyhow::anyhow!("no channel"))?;
        let everyone = pb::Rule {
            node: Some(pb::rule::Node::Condition(pb::Condition {
                condition: Some(pb::condition::Condition::OrderCount(pb::Comparison {
                    operator: pb::comparison::Operator::GreaterOrEqual as i32,
                    value: 0,
                })),
            })),
        };
        let segment = client
            .create_segment(pb::CreateSegmentRequest {
                segment: Some(pb::Segment {
                    display_name: "everyone".into(),
                    rule: Some(everyone),
                    ..Default::default()
                }),
                request_id: uuid::Uuid::new_v4().to_string(),
            })
            .await?
            .into_inner()
            .name;
        Ok(Some(Self {
            client,
            segment,
            recipients: n,
        }))
    }

    fn campaign(&self) -> pb::Campaign {
        pb::Campaign {
            display_name: "Bench offer".into(),
            goal: Some(pb::Goal {
                kind: pb::goal::Kind::Purchase as i32,
                window_days: 7,
            }),
            segment: self.segment.clone(),
            channel: pb::Channel::Email as i32,
            variants: vec![pb::Variant {
                id: "a".into(),
                weight: 1,
                subject: "Hello {{ customer.given_name }}".into(),
                body: "As a {{ loyalty.tier | default(\"valued\") }} member: {{ coupon_code }}"
                    .into(),
                ..Default::default()
            }],
            schedule: Some(pb::Schedule {
                when: Some(pb::schedule::When::Immediately(true)),
            }),
            throttle_per_second: 10_000,
            coupon_code: "BENCH10".into(),
            ..Default::default()
        }
    }

    /// One campaign to everyone: recipients SENT per second of wall time.
    pub async fn round(&self) -> anyhow::Result<Stats> {
        let mut client = self.client.clone();
        let created = client
            .create_campaign(pb::CreateCampaignRequest {
                campaign: Some(self.campaign()),
                request_id: uuid::Uuid::new_v4().to_string(),
            })
            .await?
            .into_inner();
        let started = Instant::now();
        client
            .schedule_campaign(pb::ScheduleCampaignRequest {
                name: created.name.clone(),
                etag: created.etag,
                request_id: uuid::Uuid::new_v4().to_string(),
            })
            .await?;
        let stats = loop {
            let c = client
                .get_campaign(pb::GetCampaignRequest {
                    name: created.name.clone(),
                })
                .await?
                .into_inner();
            if c.state == pb::campaign::State::Completed as i32 {
                break c.stats.unwrap_or_default();
            }
            anyhow::ensure!(
                started.elapsed() < ROUND_LIMIT,
                "campaign not completed in {ROUND_LIMIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let elapsed = started.elapsed();
        let sent = usize::try_from(stats.sent).unwrap_or(0);
        Ok(Stats {
            name: SCENARIO.to_owned(),
            requests: sent,
            errors: self.recipients.saturating_sub(sent),
            elapsed,
            // One wall-time figure per message: the average time a message took.
            latencies_us: vec![
                u32::try_from(elapsed.as_micros() / sent.max(1) as u128).unwrap_or(u32::MAX),
            ],
            postings_per_call: 0.0,
            vs_pgbench: false,
            versus: None,
        })
    }
}
