//! Campaigns: `PreviewSegment` over a read model of `--campaigns-members` customers (1,000,000
//! by default) on PostgreSQL, beside the same rule written by hand in SQL on the same
//! database in the same round. The read model is bulk-loaded with `generate_series` (events
//! would take hours for a million), then read through the real server. One call at a time:
//! the goal is a latency (under 1 s, within 1.2x of the hand-written query), not a rate.
//!
//! The rule: tier in (gold, silver) AND bought item sku-1 at least 2 times in the last 90
//! days AND NOT an open complaint AND e-mail consent granted. The hand-written SQL answers
//! what the RPC answers: the count and the first page of 20 in id order.
use crate::{Args, Stats, channels, drive_with, platform_settings};

/// The campaigns service on `db_url` with every background job idle (refresh, membership,
/// start, dispatch, winner, journeys), so a scenario measures its calls alone; and
/// `args.connections` clients of it.
pub async fn idle_service(
    args: &Args,
    db_url: &str,
) -> anyhow::Result<Vec<CampaignServiceClient<Channel>>> {
    let mut s = crm_campaigns::Settings::load(None)?;
    platform_settings(&mut s.platform, db_url, &args.redis_url, true);
    let c = &mut s.campaigns;
    c.read_model.refresh_interval_ms = 3_600_000;
    c.read_model.membership_interval_ms = 3_600_000;
    c.read_model.full_evaluation_secs = 7 * 86_400;
    c.sending.start_interval_ms = 3_600_000;
    c.sending.dispatch_interval_ms = 3_600_000;
    c.experiments.winner_interval_ms = 3_600_000;
    c.journeys.interval_ms = 3_600_000;
    let app = crm_campaigns::application(s).await?;
    let port = app.port();
    tokio::spawn(app.run_until(std::future::pending()));
    Ok(channels(port, args.connections)
        .await?
        .into_iter()
        .map(CampaignServiceClient::new)
        .collect())
}
use crm_proto::campaigns as pb;
use crm_proto::campaigns::campaign_service_client::CampaignServiceClient;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use std::time::Instant;
use tonic::transport::Channel;

/// The sample page both sides return.
const PAGE: i32 = 20;
const ITEM: &str = "sku-1";
const MIN_COUNT: i32 = 2;
const WITHIN_DAYS: i32 = 90;
const TIERS: [&str; 2] = ["gold", "silver"];
/// crm.customers.v1.Channel.CHANNEL_EMAIL and crm.tickets.v1.Category.CATEGORY_COMPLAINT, as
/// the read model stores them.
const EMAIL: i32 = 1;
const COMPLAINT: i32 = 2;

fn preview_name(size: usize) -> String {
    format!(
        "segment preview: PreviewSegment (tier, sku-1 x2 in 90 d, no complaint, e-mail consent) @ {size}"
    )
}

fn hand_name(size: usize) -> String {
    format!("segment preview: the same rule in hand-written SQL (count + first page) @ {size}")
}

/// The names `CRM_BENCH_ONLY` matches (e.g. `CRM_BENCH_ONLY="segment preview"`); the
/// hand-written query is the preview's baseline and runs whenever either is wanted.
pub fn scenarios(size: usize) -> [String; 2] {
    [preview_name(size), hand_name(size)]
}

pub struct Bench {
    size: usize,
    /// The hand-written row's name, for `Stats::versus` (which takes a static name).
    hand: &'static str,
    /// PreviewSegment answers (else only the hand-written baseline runs).
    preview_ready: bool,
    clients: Vec<CampaignServiceClient<Channel>>,
    db: DatabaseConnection,
}

/// tier IN (gold, silver) AND purchased sku-1 >= 2 times in 90 days AND NOT open complaint
/// AND e-mail consent granted.
pub fn rule() -> pb::Rule {
    use pb::condition::Condition as C;
    let condition = |c: C| pb::Rule {
        node: Some(pb::rule::Node::Condition(pb::Condition {
            condition: Some(c),
        })),
    };
    pb::Rule {
        node: Some(pb::rule::Node::All(pb::RuleGroup {
            rules: vec![
                condition(C::Tier(pb::ValueIn {
                    values: TIERS.iter().map(|t| (*t).to_owned()).collect(),
                })),
                condition(C::Purchased(pb::PurchaseCondition {
                    item_id: ITEM.into(),
                    min_count: MIN_COUNT,
                    within_days: WITHIN_DAYS,
                })),
                pb::Rule {
                    node: Some(pb::rule::Node::Not(Box::new(condition(C::OpenComplaint(
                        true,
                    ))))),
                },
                condition(C::Consent(pb::ConsentCondition {
                    channel: EMAIL,
                    granted: true,
                })),
            ],
        })),
    }
}

fn preview() -> pb::PreviewSegmentRequest {
    pb::PreviewSegmentRequest {
        rule: Some(rule()),
        page_size: PAGE,
    }
}

/// The rule as a person would write it against the read model (member_order_items counts one
/// row per purchase of an item, as the segment compiler does). $1, $2 tiers, $3 item,
/// $4 since, $5 min count, $6 complaint category, $7 channel.
const WHERE: &str = "m.state = 'active'
  AND m.tier IN ($1, $2)
  AND m.id IN (SELECT i.customer_id FROM member_order_items i
               WHERE i.item_id = $3 AND i.occur_time >= $4
               GROUP BY i.customer_id HAVING COUNT(*) >= $5)
  AND NOT EXISTS (SELECT 1 FROM member_tickets t
                  WHERE t.customer_id = m.id AND t.category = $6 AND t.open)
  AND EXISTS (SELECT 1 FROM member_consents c
              WHERE c.customer_id = m.id AND c.channel = $7 AND c.granted)";

fn values() -> Vec<sea_orm::Value> {
    let since = chrono::Utc::now() - chrono::Duration::days(WITHIN_DAYS.into());
    vec![
        TIERS[0].into(),
        TIERS[1].into(),
        ITEM.into(),
        since.into(),
        i64::from(MIN_COUNT).into(),
        COMPLAINT.into(),
        EMAIL.into(),
    ]
}

/// The hand-written query: (count, first page of ids).
async fn by_hand(db: &DatabaseConnection) -> Result<(i64, usize), sea_orm::DbErr> {
    let count = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("SELECT COUNT(*) AS n FROM members m WHERE {WHERE}"),
            values(),
        ))
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or_default();
    let page = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("SELECT m.id FROM members m WHERE {WHERE} ORDER BY m.id LIMIT {PAGE}"),
            values(),
        ))
        .await?;
    Ok((count, page.len()))
}

/// The read model of `size` customers, straight into its tables (the server migrated them):
/// tiers gold 20% / silver 30% / bronze 50%; three item purchases each in the last 180 days,
/// two of them sku-1 for 27% of customers (sku-1 is 18% of all purchase rows); an open
/// complaint for 1.9%, a solved one for another 1.9%; e-mail consent granted for 6 in 7,
/// refused for the rest. The shares use different moduli so they are independent (about 3%
/// match the rule). Every row fresh (nothing stale or dirty): the jobs have nothing to do.
const SEED: &[&str] = &[
    "INSERT INTO members (id, state, language_code, time_zone, lifecycle_stage, birth_month,
        birth_day, tier, available_points, order_count, last_purchase_time, rfm_segment,
        profile_stale, loyalty_stale, segments_dirty, update_time)
     SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'active', 'en',
        (ARRAY['Europe/Paris', 'Asia/Shanghai', 'America/New_York', ''])[1 + i % 4], 2,
        1 + i % 12, 1 + i % 28,
        CASE WHEN i % 10 < 2 THEN 'gold' WHEN i % 10 < 5 THEN 'silver' ELSE 'bronze' END,
        (i * 37) % 10000, 3, now() - ((i % 30) || ' days')::interval,
        (ARRAY['champions', 'loyal', 'at_risk', 'hibernating'])[1 + i % 4],
        false, false, false, now()
     FROM generate_series(1, $1::int) AS i",
    "INSERT INTO member_order_items (activity_id, item_id, customer_id, occur_time, quantity)
     SELECT ('00000000-0000-7000-8' || lpad(to_hex(k), 3, '0') || '-' || lpad(to_hex(i), 12, '0'))::uuid,
        CASE WHEN i % 11 < 3 AND k <= 2 THEN 'sku-1' ELSE 'sku-' || (2 + (i * k) % 500) END,
        ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
        now() - (((i * k * 37) % 180) || ' days')::interval, 1
     FROM generate_series(1, $1::int) AS i, generate_series(1, 3) AS k",
    "INSERT INTO member_tickets (ticket_id, customer_id, category, open, update_time)
     SELECT ('00000000-0000-7000-9000-' || lpad(to_hex(i), 12, '0'))::uuid,
        ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
        2, i % 53 = 0, now()
     FROM generate_series(1, $1::int) AS i WHERE i % 53 IN (0, 1)",
    "INSERT INTO member_consents (customer_id, channel, granted, update_time)
     SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 1, i % 7 <> 0, now()
     FROM generate_series(1, $1::int) AS i",
    // Statistics, and the visibility map autovacuum would have set after a load: without it
    // the covering indexes cannot answer alone (index-only scans), on either side.
    "VACUUM ANALYZE",
];

async fn seed(db: &DatabaseConnection, size: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    for sql in SEED {
        let values: Vec<sea_orm::Value> = if sql.contains("$1") {
            vec![(size as i64).into()]
        } else {
            Vec::new()
        };
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            *sql,
            values,
        ))
        .await?;
    }
    eprintln!(
        "seeded a campaigns read model of {size} customers in {:?}",
        started.elapsed()
    );
    Ok(())
}

impl Bench {
    /// None when the run does not want these scenarios or is not on PostgreSQL (said on
    /// stderr). While the server does not implement PreviewSegment, only the SQL runs.
    pub async fn prepare(
        args: &Args,
        fresh_db: impl AsyncFn() -> anyhow::Result<String>,
    ) -> anyhow::Result<Option<Self>> {
        let size = args.campaigns_members;
        if size == 0 || !scenarios(size).iter().any(|s| args.wants(s)) {
            return Ok(None);
        }
        let db_url = fresh_db().await?;
        if !db_url.starts_with("postgres") {
            eprintln!("campaigns: segment preview scenarios skipped (PostgreSQL only)");
            return Ok(None);
        }
        let clients = idle_service(args, &db_url).await?;
        let db = sea_orm::Database::connect(db_url.as_str()).await?;
        seed(&db, size).await?;
        // Both sides must answer the same before either is timed.
        let (want, page) = by_hand(&db).await?;
        eprintln!("campaigns: the rule matches {want} of {size} customers (hand-written SQL)");
        let preview_ready = match clients[0].clone().preview_segment(preview()).await {
            Ok(r) => {
                let got = r.into_inner();
                anyhow::ensure!(
                    got.member_count == want && got.members.len() == page,
                    "PreviewSegment answers {} members (page {}), the hand-written SQL {want} (page {page})",
                    got.member_count,
                    got.members.len()
                );
                true
            }
            Err(s) if s.code() == tonic::Code::Unimplemented => {
                eprintln!("campaigns: PreviewSegment is not implemented yet: only the SQL runs");
                false
            }
            Err(s) => anyhow::bail!("PreviewSegment: {s}"),
        };
        let hand = Box::leak(hand_name(size).into_boxed_str());
        Ok(Some(Self {
            size,
            hand,
            preview_ready,
            clients,
            db,
        }))
    }

    pub async fn round(&self, args: &Args) -> Vec<Stats> {
        let mut stats = Vec::new();
        let (hand, name) = (self.hand, preview_name(self.size));
        let run_preview = self.preview_ready && args.wants(&name);
        if run_preview || args.wants(hand) {
            let dbs = [self.db.clone()];
            stats.push(
                drive_with(hand, args.seconds, 1, &dbs, |db, _| async move {
                    by_hand(&db).await.is_ok()
                })
                .await,
            );
        }
        if run_preview {
            let row = drive_with(
                &name,
                args.seconds,
                1,
                &self.clients,
                |mut c, _| async move { c.preview_segment(preview()).await.is_ok() },
            )
            .await;
            // Compared with the hand-written query of the same round: the rate ratio is its
            // latency over ours, at one call in flight.
            stats.push(row.versus(hand, "hand SQL"));
        }
        stats
    }
}
