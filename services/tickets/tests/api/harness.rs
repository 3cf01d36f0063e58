//! `spawn_app()` and request builders shared by the tests.
#![allow(dead_code)]
use crm_platform::client::TracedChannel;
use crm_platform::testing::{Backend, auth};
use crm_proto::tickets as pb;
use crm_proto::tickets::ticket_service_client::TicketServiceClient;
use crm_tickets::Settings;

pub use crm_platform::testing::{Storage, assert_status, each_backend, rid, violations};

pub struct TestApp {
    pub client: TicketServiceClient<TracedChannel>,
    pub port: u16,
    pub service: crm_tickets::service::TicketsService,
    pub storage: Storage,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(Storage::fresh(backend).await, |_| {}).await
}

/// Starts an app on `storage` (a second app on the same storage is a replica). Background
/// jobs are off: tests run them through the service so results are deterministic.
pub async fn spawn_app_with(storage: Storage, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let app = crm_platform::testing::spawn::<crm_tickets::Tickets>(&storage, |s| {
        s.tickets.sla_interval_secs = 0;
        s.tickets.verify_interval_secs = 0;
        // Round the clock, so due times do not depend on when the tests run.
        s.tickets.calendar.time_zone = "UTC".into();
        s.tickets.calendar.week = std::array::from_fn(|_| "00:00-24:00".to_owned());
        s.tickets.calendar.holidays.clear();
        // Its own identity on calls to customers and loyalty, with only what it needs.
        auth::send_as(&mut s.platform, auth::TICKETS_SUBJECT, auth::TICKETS_CALLS);
        tweak(s);
    })
    .await;
    TestApp {
        client: TicketServiceClient::new(app.channel),
        port: app.port,
        service: app.service,
        storage,
    }
}

pub fn new_customer() -> String {
    format!("customers/{}", uuid::Uuid::now_v7())
}

pub fn ticket(customer: &str, category: pb::Category) -> pb::Ticket {
    pb::Ticket {
        customer: customer.into(),
        channel: pb::Channel::Email as i32,
        category: category as i32,
        subject: "The kettle leaks".into(),
        description: "Bought last week, leaks from the base.".into(),
        tags: vec!["kettle".into()],
        ..Default::default()
    }
}

/// A time on the wire (the platform's one conversion).
pub fn ts(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    crm_platform::validate::to_timestamp(t)
}

impl TestApp {
    /// The same server called with a token of `subject` with `scopes` (e.g. a customer's own).
    pub async fn as_caller(&self, subject: &str, scopes: &[&str]) -> TestApp {
        TestApp {
            client: TicketServiceClient::new(auth::channel_as(self.port, subject, scopes).await),
            port: self.port,
            service: self.service.clone(),
            storage: self.storage.clone(),
        }
    }

    /// GetTicketStats over every team from `start` to a minute from now.
    pub async fn stats_since(&mut self, start: chrono::DateTime<chrono::Utc>) -> pb::TicketStats {
        self.client
            .get_ticket_stats(pb::GetTicketStatsRequest {
                start_time: Some(ts(start)),
                end_time: Some(ts(chrono::Utc::now() + chrono::Duration::minutes(1))),
                team: String::new(),
            })
            .await
            .expect("stats")
            .into_inner()
    }

    pub async fn create(&mut self, t: pb::Ticket) -> pb::Ticket {
        self.try_create(t).await.expect("create ticket")
    }

    pub async fn try_create(&mut self, t: pb::Ticket) -> Result<pb::Ticket, tonic::Status> {
        self.client
            .create_ticket(pb::CreateTicketRequest {
                ticket: Some(t),
                request_id: rid(),
            })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn get(&mut self, name: &str) -> pb::Ticket {
        self.client
            .get_ticket(pb::GetTicketRequest { name: name.into() })
            .await
            .expect("get ticket")
            .into_inner()
    }

    pub async fn status(
        &mut self,
        name: &str,
        status: pb::Status,
    ) -> Result<pb::Ticket, tonic::Status> {
        self.client
            .change_status(pb::ChangeStatusRequest {
                name: name.into(),
                status: status as i32,
                etag: String::new(),
                request_id: rid(),
            })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn team(
        &mut self,
        name: &str,
        categories: &[pb::Category],
        strategy: pb::RoutingStrategy,
        escalation: bool,
    ) -> pb::Team {
        self.client
            .create_team(pb::CreateTeamRequest {
                team: Some(pb::Team {
                    display_name: name.into(),
                    routing_strategy: strategy as i32,
                    categories: categories.iter().map(|c| *c as i32).collect(),
                    escalation_team: escalation,
                    ..Default::default()
                }),
                request_id: rid(),
            })
            .await
            .expect("create team")
            .into_inner()
    }

    pub async fn agent(&mut self, team: &str, name: &str, capacity: i32) -> pb::Agent {
        self.client
            .create_agent(pb::CreateAgentRequest {
                agent: Some(pb::Agent {
                    display_name: name.into(),
                    email: format!("{}@example.com", name.to_lowercase()),
                    team: team.into(),
                    max_open_tickets: capacity,
                    available: true,
                    ..Default::default()
                }),
                request_id: rid(),
            })
            .await
            .expect("create agent")
            .into_inner()
    }

    pub async fn get_agent(&mut self, name: &str) -> pb::Agent {
        self.client
            .get_agent(pb::GetAgentRequest { name: name.into() })
            .await
            .expect("get agent")
            .into_inner()
    }

    pub async fn reply(
        &mut self,
        ticket: &str,
        author: &str,
        kind: pb::MessageKind,
        body: &str,
    ) -> Result<pb::Message, tonic::Status> {
        self.client
            .add_message(pb::AddMessageRequest {
                parent: ticket.into(),
                message: Some(pb::Message {
                    kind: kind as i32,
                    author: author.into(),
                    body: body.into(),
                    ..Default::default()
                }),
                request_id: rid(),
            })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn messages(&mut self, ticket: &str) -> Vec<pb::Message> {
        self.client
            .list_messages(pb::ListMessagesRequest {
                parent: ticket.into(),
                page_size: 1000,
                ..Default::default()
            })
            .await
            .expect("list messages")
            .into_inner()
            .messages
    }

    /// Answers the survey of a solved ticket with an overall score.
    pub async fn survey(
        &mut self,
        ticket: &str,
        token: &str,
        overall: i32,
    ) -> Result<pb::Satisfaction, tonic::Status> {
        self.client
            .submit_satisfaction(pb::SubmitSatisfactionRequest {
                name: ticket.into(),
                survey_token: token.into(),
                satisfaction: Some(pb::Satisfaction {
                    overall,
                    ..Default::default()
                }),
                request_id: rid(),
            })
            .await
            .map(|r| r.into_inner())
    }
}
