//! Loyalty scenarios: committed ledger postings per second through gRPC (each Earn is one
//! transaction of two postings, acknowledged after a durable commit), over many wallets and
//! over 10 hot wallets, next to pgbench TPC-B on the same PostgreSQL.
use crate::{Args, Stats, channels, drive, platform_settings};
use crm_loyalty::Settings;
use crm_proto::loyalty as pb;
use crm_proto::loyalty::loyalty_service_client::LoyaltyServiceClient;
use std::sync::Arc;
use tonic::transport::Channel;

const SPREAD: &str = "Earn, 10k wallets";
const HOT: &str = "Earn, 10 hot wallets";
const REDEEM: &str = "Earn+Redeem mix, 10 hot wallets";
/// Postings per Earn/Redeem transaction (one debit, one credit).
const POSTINGS: f64 = 2.0;

/// One loyalty server: group commit on or off.
/// Each has wallets of its own, so one's history never slows the other.
struct Server {
    label: &'static str,
    clients: Vec<LoyaltyServiceClient<Channel>>,
    wallets: Arc<Vec<String>>,
}

pub struct Bench {
    servers: Vec<Server>,
}

fn earn(customer: String) -> pb::EarnRequest {
    pb::EarnRequest {
        customer,
        source: Some(pb::earn_request::Source::Action("review".into())),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    }
}

impl Bench {
    /// Two servers on one database: one transaction per call, and group commit.
    pub async fn prepare(args: &Args, db_url: &str) -> anyhow::Result<Self> {
        let mut servers = Vec::new();
        for (label, group_commit) in [("per-call commit", false), ("group commit", true)] {
            let mut s = Settings::load(None)?;
            platform_settings(&mut s.platform, db_url, &args.redis_url, true);
            s.loyalty.group_commit = group_commit;
            let app = crm_loyalty::application(s).await?;
            let port = app.port();
            tokio::spawn(app.run_until(std::future::pending()));
            let clients = channels(port, args.connections)
                .await?
                .into_iter()
                .map(LoyaltyServiceClient::new)
                .collect();
            let wallets = (0..10_000)
                .map(|_| format!("customers/{}", uuid::Uuid::now_v7()))
                .collect();
            servers.push(Server {
                label,
                clients,
                wallets: Arc::new(wallets),
            });
        }
        Ok(Self { servers })
    }

    pub async fn round(&self, args: &Args) -> Vec<Stats> {
        let mut stats = Vec::new();
        for server in &self.servers {
            for scenario in [SPREAD, HOT, REDEEM] {
                let name = format!("{scenario}, {} (postings/s)", server.label);
                if args.wants(&name) {
                    let s = run(args, &name, scenario, server).await;
                    stats.push(s.per_call(POSTINGS).against_pgbench());
                }
            }
        }
        stats
    }
}

async fn run(args: &Args, name: &str, scenario: &str, server: &Server) -> Stats {
    let w = server.wallets.clone();
    // Spread: a different wallet each call; hot: ten wallets; the mix redeems on every
    // fourth call what three earns added, so wallets stay solvent.
    let (spread, mix) = (scenario == SPREAD, scenario == REDEEM);
    drive(name, args, &server.clients, move |mut c, n| {
        let customer = if spread {
            w[(n as usize).wrapping_mul(7919) % w.len()].clone()
        } else {
            w[(n as usize) % 10].clone()
        };
        async move {
            if mix && n % 4 == 3 {
                c.redeem(pb::RedeemRequest {
                    customer,
                    points: 5,
                    up_to_available: true,
                    request_id: uuid::Uuid::new_v4().to_string(),
                    ..Default::default()
                })
                .await
                .is_ok()
            } else {
                c.earn(earn(customer)).await.is_ok()
            }
        }
    })
    .await
}
