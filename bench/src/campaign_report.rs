//! Campaigns: `GetCampaignReport` of one campaign with `CRM_BENCH_REPORT_DELIVERIES`
//! deliveries (1,000,000 by default: variants a and b, a 10% holdout) and a tenth as many
//! attributed conversions (100,000, over 80% as many distinct recipients, in two currencies
//! over 35 days), on PostgreSQL, beside the same aggregates written by hand in SQL on the
//! same database in the same round. The rows are bulk-loaded with `generate_series` (sending
//! a million messages would take the send path's hour), then read through the real server.
//! One call at a time: the goal is a latency (under 2 s), not a rate.
use crate::{Args, Stats, drive_with};
use crm_proto::campaigns as pb;
use crm_proto::campaigns::campaign_service_client::CampaignServiceClient;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use std::time::Instant;
use tonic::transport::Channel;

fn deliveries() -> usize {
    std::env::var("CRM_BENCH_REPORT_DELIVERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn report_name(size: usize) -> String {
    format!(
        "campaign report: GetCampaignReport (2 variants + 10% holdout) @ {size} deliveries, {} conversions",
        size / 10
    )
}

fn hand_name(size: usize) -> String {
    format!("campaign report: the same aggregates in hand-written SQL @ {size} deliveries")
}

/// The names `CRM_BENCH_ONLY` matches (`CRM_BENCH_ONLY="campaign report"`); the hand-written
/// SQL is the report's baseline and runs whenever either is wanted.
pub fn scenarios(size: usize) -> [String; 2] {
    [report_name(size), hand_name(size)]
}

/// Delivery i (1..=$2) of campaign $1: every tenth held out, the others alternate a and b;
/// of those, by (i / 10) % 20: 2 skipped (no consent, frequency cap), 1 failed, 5 sent, 5
/// delivered, 3 opened, 2 clicked, 1 bounced, 1 pending. Sent five days ago.
const SEED_DELIVERIES: &str = "
INSERT INTO deliveries (id, campaign_id, step, customer_id, variant, channel, transactional,
    state, reason, detail, due_time, lease_until, send_time, attempts, receipt_time, message,
    pii_key, update_time, occasion, open_time, click_time)
SELECT ('00000000-0000-7000-a000-' || lpad(to_hex(i), 12, '0'))::uuid, $1::uuid, 1,
    ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
    CASE WHEN i % 10 = 0 THEN '' WHEN i % 2 = 0 THEN 'a' ELSE 'b' END, 1, false,
    s.state, s.reason, '', now() - interval '5 days', NULL,
    CASE WHEN s.state IN ('sent', 'delivered', 'opened', 'clicked', 'bounced')
         THEN now() - interval '5 days' END,
    1, NULL, NULL, NULL, now(), '',
    CASE WHEN s.state IN ('opened', 'clicked') THEN now() - interval '4 days' END,
    CASE WHEN s.state = 'clicked' THEN now() - interval '4 days' END
FROM generate_series(1, $2::int) AS i,
LATERAL (SELECT CASE WHEN i % 10 = 0 THEN 'held_out' ELSE
    (ARRAY['skipped', 'skipped', 'failed', 'sent', 'sent', 'sent', 'sent', 'sent',
           'delivered', 'delivered', 'delivered', 'delivered', 'delivered', 'opened',
           'opened', 'opened', 'clicked', 'clicked', 'bounced', 'pending'])[1 + (i / 10) % 20]
    END AS state,
    CASE WHEN i % 10 <> 0 AND (i / 10) % 20 = 0 THEN 1
         WHEN i % 10 <> 0 AND (i / 10) % 20 = 1 THEN 2
         WHEN i % 10 <> 0 AND (i / 10) % 20 = 2 THEN 9 ELSE 0 END AS reason) AS s";

/// Conversion k (1..=$2 / 10) of delivery j = (k % (8 * $2 / 100)) * 9973 % $2 + 1 (9973 is
/// prime to 10^6: distinct deliveries for distinct k below the modulus, so 80% of the
/// conversions have a recipient of their own), carrying that delivery's variant; every
/// fifth in EUR, over the 35 days up to now.
const SEED_CONVERSIONS: &str = "
INSERT INTO conversions (delivery_id, activity_id, campaign_id, variant, customer_id,
    occur_time, occur_day, currency_code, amount_minor)
SELECT ('00000000-0000-7000-a000-' || lpad(to_hex(j), 12, '0'))::uuid,
    ('00000000-0000-7000-b000-' || lpad(to_hex(k), 12, '0'))::uuid, $1::uuid,
    CASE WHEN j % 10 = 0 THEN '' WHEN j % 2 = 0 THEN 'a' ELSE 'b' END,
    ('00000000-0000-7000-8000-' || lpad(to_hex(j), 12, '0'))::uuid,
    t, floor(extract(epoch FROM t) / 86400)::int,
    CASE WHEN k % 5 = 0 THEN 'EUR' ELSE 'CNY' END, 100 + (k * 37) % 100000
FROM generate_series(1, $2::int / 10) AS k,
LATERAL (SELECT (k::bigint % greatest(8 * $2::bigint / 100, 1)) * 9973 % $2::bigint + 1 AS j,
                now() - ((k % 35) || ' days')::interval AS t) AS c";

/// What a person would write for the report: deliveries per variant, state and reason with
/// opens and clicks; conversions and revenue per variant and currency; distinct converted
/// recipients per variant; the last 120 days per day, variant and currency.
const HAND: [&str; 4] = [
    "SELECT variant, state, reason, COUNT(*) AS n, COUNT(open_time) AS opened,
            COUNT(click_time) AS clicked
     FROM deliveries WHERE campaign_id = $1 GROUP BY variant, state, reason",
    "SELECT variant, currency_code, COUNT(*) AS n, SUM(amount_minor)::bigint AS revenue
     FROM conversions WHERE campaign_id = $1 GROUP BY variant, currency_code",
    "SELECT variant, COUNT(DISTINCT delivery_id) AS n
     FROM conversions WHERE campaign_id = $1 GROUP BY variant",
    "SELECT occur_day, variant, currency_code, COUNT(*) AS n, SUM(amount_minor)::bigint AS revenue
     FROM conversions WHERE campaign_id = $1
       AND occur_day > (SELECT MAX(occur_day) FROM conversions WHERE campaign_id = $1) - 120
     GROUP BY occur_day, variant, currency_code ORDER BY occur_day",
];

/// The hand-written queries; returns (conversions, revenue in all currencies).
async fn by_hand(
    db: &DatabaseConnection,
    campaign: uuid::Uuid,
) -> Result<(i64, i64), sea_orm::DbErr> {
    let mut totals = (0, 0);
    for (i, sql) in HAND.iter().enumerate() {
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                *sql,
                [campaign.into()],
            ))
            .await?;
        if i == 1 {
            for r in rows {
                totals.0 += r.try_get::<i64>("", "n")?;
                totals.1 += r.try_get::<i64>("", "revenue")?;
            }
        }
    }
    Ok(totals)
}

fn request(campaign: &str) -> pb::GetCampaignReportRequest {
    pb::GetCampaignReportRequest {
        name: format!("{campaign}/report"),
    }
}

pub struct Bench {
    size: usize,
    /// The hand-written row's name, for `Stats::versus` (which takes a static name).
    hand: &'static str,
    campaign: String,
    id: uuid::Uuid,
    clients: Vec<CampaignServiceClient<Channel>>,
    db: DatabaseConnection,
}

async fn seed(db: &DatabaseConnection, campaign: uuid::Uuid, size: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    for sql in [SEED_DELIVERIES, SEED_CONVERSIONS] {
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [campaign.into(), i32::try_from(size)?.into()],
        ))
        .await?;
    }
    // Statistics and the visibility map, as autovacuum would have left them after a load.
    db.execute_unprepared("VACUUM ANALYZE").await?;
    eprintln!(
        "campaign report: seeded {size} deliveries and {} conversions in {:?}",
        size / 10,
        started.elapsed()
    );
    Ok(())
}

/// A draft campaign (nothing of the service's jobs touches it) with variants a and b and a
/// 10% holdout; returns its name.
async fn campaign(client: &mut CampaignServiceClient<Channel>) -> anyhow::Result<String> {
    let segment = client
        .create_segment(pb::CreateSegmentRequest {
            segment: Some(pb::Segment {
                display_name: "gold".into(),
                rule: Some(pb::Rule {
                    node: Some(pb::rule::Node::Condition(pb::Condition {
                        condition: Some(pb::condition::Condition::Tier(pb::ValueIn {
                            values: vec!["gold".into()],
                        })),
                    })),
                }),
                ..Default::default()
            }),
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await?
        .into_inner()
        .name;
    let variant = |id: &str| pb::Variant {
        id: id.into(),
        weight: 1,
        subject: "Spring offer".into(),
        body: "Hello {{ customer.given_name }}".into(),
        ..Default::default()
    };
    let c = pb::Campaign {
        display_name: "Bench report".into(),
        goal: Some(pb::Goal {
            kind: pb::goal::Kind::Purchase as i32,
            window_days: 7,
        }),
        segment,
        channel: pb::Channel::Email as i32,
        variants: vec![variant("a"), variant("b")],
        schedule: Some(pb::Schedule {
            when: Some(pb::schedule::When::Immediately(true)),
        }),
        holdout_percent: 10,
        ..Default::default()
    };
    Ok(client
        .create_campaign(pb::CreateCampaignRequest {
            campaign: Some(c),
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await?
        .into_inner()
        .name)
}

impl Bench {
    /// None when the run does not want these scenarios or is not on PostgreSQL (said on
    /// stderr).
    pub async fn prepare(
        args: &Args,
        fresh_db: impl AsyncFn() -> anyhow::Result<String>,
    ) -> anyhow::Result<Option<Self>> {
        let size = deliveries();
        if size == 0 || !scenarios(size).iter().any(|s| args.wants(s)) {
            return Ok(None);
        }
        let db_url = fresh_db().await?;
        if !db_url.starts_with("postgres") {
            eprintln!("campaigns: campaign report scenarios skipped (PostgreSQL only)");
            return Ok(None);
        }
        let clients = crate::campaigns::idle_service(args, &db_url).await?;
        let name = campaign(&mut clients[0].clone()).await?;
        let id = uuid::Uuid::parse_str(name.trim_start_matches("campaigns/"))?;
        let db = sea_orm::Database::connect(db_url.as_str()).await?;
        seed(&db, id, size).await?;
        // Both sides must answer the same before either is timed.
        let (conversions, revenue) = by_hand(&db, id).await?;
        let r = clients[0]
            .clone()
            .get_campaign_report(request(&name))
            .await?
            .into_inner();
        let arms = || r.variants.iter().chain(r.holdout.iter());
        let rows: i64 = arms().map(|a| a.recipients + a.pending).sum();
        let got: i64 = arms().map(|a| a.conversions).sum();
        let got_revenue: i64 = arms()
            .flat_map(|a| &a.revenue)
            .map(|m| m.amount_minor)
            .sum();
        anyhow::ensure!(
            rows == size as i64 && (got, got_revenue) == (conversions, revenue),
            "GetCampaignReport counts {rows} deliveries, {got} conversions, revenue {got_revenue}; the hand-written SQL {size}, {conversions}, {revenue}"
        );
        eprintln!(
            "campaign report: lifts {:?}",
            r.lifts
                .iter()
                .map(|l| (l.variant.as_str(), l.absolute, l.lower, l.upper))
                .collect::<Vec<_>>()
        );
        let hand = Box::leak(hand_name(size).into_boxed_str());
        Ok(Some(Self {
            size,
            hand,
            campaign: name,
            id,
            clients,
            db,
        }))
    }

    pub async fn round(&self, args: &Args) -> Vec<Stats> {
        let (hand, name) = (self.hand, report_name(self.size));
        let dbs = [(self.db.clone(), self.id)];
        let mut stats = vec![
            drive_with(hand, args.seconds, 1, &dbs, |(db, id), _| async move {
                by_hand(&db, id).await.is_ok()
            })
            .await,
        ];
        if args.wants(&name) {
            let campaign = self.campaign.clone();
            let row = drive_with(&name, args.seconds, 1, &self.clients, move |mut c, _| {
                let req = request(&campaign);
                async move { c.get_campaign_report(req).await.is_ok() }
            })
            .await;
            // Compared with the hand-written SQL of the same round: the rate ratio is its
            // latency over ours, at one call in flight.
            stats.push(row.versus(hand, "hand SQL"));
        }
        stats
    }
}
