//! Tickets scenarios: CreateTicket (customer check off, routing on: category -> team ->
//! least-loaded agent with a capacity claim, SLA computed) and ListTickets (a filtered first
//! page of 50, newest first).
use crate::{Args, Stats, channels, drive, platform_settings};
use crm_proto::tickets as pb;
use crm_proto::tickets::ticket_service_client::TicketServiceClient;
use crm_tickets::Settings;
use tonic::transport::Channel;

const CREATE: &str = "CreateTicket (routed)";
const LIST: &str = "ListTickets (filtered page of 50)";
pub const SCENARIOS: [&str; 2] = [CREATE, LIST];

pub struct Bench {
    clients: Vec<TicketServiceClient<Channel>>,
}

fn ticket(n: u64) -> pb::Ticket {
    let categories = [
        pb::Category::Complaint,
        pb::Category::Inquiry,
        pb::Category::Repair,
    ];
    pb::Ticket {
        customer: format!("customers/{}", uuid::Uuid::now_v7()),
        channel: pb::Channel::Email as i32,
        category: categories[(n % 3) as usize] as i32,
        subject: "The kettle leaks".into(),
        description: "Bought last week; it leaks from the base.".into(),
        ..Default::default()
    }
}

fn create(n: u64) -> pb::CreateTicketRequest {
    pb::CreateTicketRequest {
        ticket: Some(ticket(n)),
        request_id: uuid::Uuid::new_v4().to_string(),
    }
}

impl Bench {
    pub async fn prepare(args: &Args, db_url: &str) -> anyhow::Result<Self> {
        let mut s = Settings::load(None)?;
        platform_settings(&mut s.platform, db_url, &args.redis_url, true);
        // Measured alone: no customers/loyalty calls, no background jobs.
        s.tickets.sla_interval_secs = 0;
        s.tickets.verify_interval_secs = 0;
        let app = crm_tickets::application(s).await?;
        let port = app.port();
        tokio::spawn(app.run_until(std::future::pending()));
        let clients: Vec<_> = channels(port, args.connections)
            .await?
            .into_iter()
            .map(TicketServiceClient::new)
            .collect();
        let mut c = clients[0].clone();
        let team = c
            .create_team(pb::CreateTeamRequest {
                team: Some(pb::Team {
                    display_name: "Care".into(),
                    routing_strategy: pb::RoutingStrategy::LeastLoaded as i32,
                    categories: vec![pb::Category::Complaint as i32, pb::Category::Repair as i32],
                    ..Default::default()
                }),
                request_id: uuid::Uuid::new_v4().to_string(),
            })
            .await?
            .into_inner();
        for i in 0..10 {
            c.create_agent(pb::CreateAgentRequest {
                agent: Some(pb::Agent {
                    display_name: format!("Agent {i}"),
                    team: team.name.clone(),
                    max_open_tickets: 1000,
                    available: true,
                    ..Default::default()
                }),
                request_id: uuid::Uuid::new_v4().to_string(),
            })
            .await?;
        }
        for n in 0..args.customers as u64 {
            c.create_ticket(create(n)).await?;
        }
        Ok(Self { clients })
    }

    pub async fn round(&self, args: &Args) -> Vec<Stats> {
        let mut stats = Vec::new();
        if args.wants(CREATE) {
            stats.push(
                drive(CREATE, args, &self.clients, |mut c, n| async move {
                    c.create_ticket(create(n)).await.is_ok()
                })
                .await,
            );
        }
        if args.wants(LIST) {
            stats.push(
                drive(LIST, args, &self.clients, |mut c, _| async move {
                    c.list_tickets(pb::ListTicketsRequest {
                        page_size: 50,
                        category: pb::Category::Complaint as i32,
                        status: pb::Status::New as i32,
                        ..Default::default()
                    })
                    .await
                    .is_ok()
                })
                .await,
            );
        }
        stats
    }
}
