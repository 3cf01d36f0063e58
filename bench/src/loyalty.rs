//! Loyalty scenarios: committed ledger postings per second through gRPC (each Earn is one
//! transaction of two postings, acknowledged after a durable commit), over many wallets and
//! over 10 hot wallets, next to pgbench TPC-B on the same PostgreSQL.
use crate::{Args, Stats, channels, drive, platform_settings};
use crm_loyalty::Settings;
use crm_proto::loyalty as pb;
use crm_proto::loyalty::loyalty_service_client::LoyaltyServiceClient;
use std::sync::Arc;
use tonic::transport::Channel;

const SPREAD: &str = "Earn, 10k wallets (postings/s)";
const HOT: &str = "Earn, 10 hot wallets (postings/s)";
const REDEEM: &str = "Earn+Redeem mix, 10 hot wallets (postings/s)";
/// Postings per Earn/Redeem transaction (one debit, one credit).
const POSTINGS: f64 = 2.0;

pub struct Bench {
    clients: Vec<LoyaltyServiceClient<Channel>>,
    wallets: Arc<Vec<String>>,
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
    pub async fn prepare(args: &Args, db_url: &str) -> anyhow::Result<Self> {
        let mut s = Settings::load(None)?;
        platform_settings(&mut s.platform, db_url, &args.redis_url, true);
        s.loyalty.group_commit = args.group_commit;
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
        Ok(Self {
            clients,
            wallets: Arc::new(wallets),
        })
    }

    pub async fn round(&self, args: &Args) -> Vec<Stats> {
        let mut stats = Vec::new();
        if args.wants(SPREAD) {
            let w = self.wallets.clone();
            let s = drive(SPREAD, args, &self.clients, move |mut c, n| {
                let customer = w[(n as usize).wrapping_mul(7919) % w.len()].clone();
                async move { c.earn(earn(customer)).await.is_ok() }
            })
            .await;
            stats.push(s.per_call(POSTINGS).against_pgbench());
        }
        if args.wants(HOT) {
            let w = self.wallets.clone();
            let s = drive(HOT, args, &self.clients, move |mut c, n| {
                let customer = w[(n as usize) % 10].clone();
                async move { c.earn(earn(customer)).await.is_ok() }
            })
            .await;
            stats.push(s.per_call(POSTINGS).against_pgbench());
        }
        if args.wants(REDEEM) {
            // Every fourth call redeems what three earns added, so wallets stay solvent.
            let w = self.wallets.clone();
            let s = drive(REDEEM, args, &self.clients, move |mut c, n| {
                let customer = w[(n as usize) % 10].clone();
                async move {
                    if n % 4 == 3 {
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
            .await;
            stats.push(s.per_call(POSTINGS).against_pgbench());
        }
        stats
    }
}
