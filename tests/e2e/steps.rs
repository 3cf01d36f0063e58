//! What a journey does, one public RPC per step (the request shapes are the shared ones of
//! `crm_e2e::requests`, which the load generator sends too).
mod activities;
mod erasure;
mod ledger;

pub use crm_e2e::requests::{complaint, days_ago, purchase, refund};

use crate::harness::Suite;
use crm_platform::testing::rid;
use crm_proto::{customers as cpb, loyalty as lpb, tickets as tpb};

/// A customer name nobody created.
pub fn unknown_customer() -> String {
    format!("customers/{}", uuid::Uuid::now_v7())
}

/// The answer to a survey with only the overall score.
pub fn score(ticket: &str, survey_token: &str, overall: i32) -> tpb::SubmitSatisfactionRequest {
    tpb::SubmitSatisfactionRequest {
        name: ticket.into(),
        survey_token: survey_token.into(),
        satisfaction: Some(tpb::Satisfaction {
            overall,
            ..Default::default()
        }),
        request_id: rid(),
    }
}

impl Suite {
    /// Creates a customer and returns its name (`customers/{id}`).
    pub async fn create_customer(&mut self, given_name: &str) -> String {
        self.customers
            .create_customer(cpb::CreateCustomerRequest {
                customer: Some(crm_e2e::requests::customer(given_name)),
                request_id: rid(),
            })
            .await
            .expect("create customer")
            .into_inner()
            .name
    }

    /// Earns the points of a purchase of `amount_minor` fen (1 point per yuan by default).
    pub async fn earn_purchase(&mut self, customer: &str, order_id: &str, amount_minor: i64) {
        self.loyalty
            .earn(lpb::EarnRequest {
                customer: customer.into(),
                source: Some(lpb::earn_request::Source::Purchase(lpb::Purchase {
                    order_id: order_id.into(),
                    amount: crm_e2e::requests::yuan(amount_minor),
                    items: vec![],
                    purchase_time: None,
                })),
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect("earn");
    }

    pub async fn tier(&mut self, customer: &str) -> String {
        self.tier_status(customer).await.tier
    }

    pub async fn tier_status(&mut self, customer: &str) -> lpb::TierStatus {
        self.loyalty
            .get_tier(lpb::GetTierRequest {
                customer: customer.into(),
            })
            .await
            .expect("tier")
            .into_inner()
    }

    pub async fn balance(&mut self, customer: &str) -> lpb::Balance {
        self.loyalty
            .get_balance(lpb::GetBalanceRequest {
                customer: customer.into(),
            })
            .await
            .expect("balance")
            .into_inner()
    }

    /// The customer's Earn transactions awarded by tickets (goodwill), oldest first.
    pub async fn goodwill_awards(&mut self, customer: &str) -> Vec<lpb::Transaction> {
        let mut awards = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .loyalty
                .list_transactions(lpb::ListTransactionsRequest {
                    customer: customer.into(),
                    page_size: 1000,
                    page_token,
                    kinds: vec![lpb::TransactionKind::Earn as i32],
                    ..Default::default()
                })
                .await
                .expect("list transactions")
                .into_inner();
            awards.extend(
                page.transactions
                    .into_iter()
                    .filter(|t| t.actor == "tickets"),
            );
            if page.next_page_token.is_empty() {
                return awards;
            }
            page_token = page.next_page_token;
        }
    }

    /// VerifyLedger of one customer's chain: consistent, or the problems.
    pub async fn assert_ledger_consistent(&mut self, customer: &str) {
        let v = self
            .loyalty
            .verify_ledger(lpb::VerifyLedgerRequest {
                customer: customer.into(),
            })
            .await
            .expect("verify ledger")
            .into_inner();
        assert!(v.consistent, "ledger of {customer}: {v:?}");
    }

    pub async fn create_ticket(&mut self, t: tpb::Ticket) -> Result<tpb::Ticket, tonic::Status> {
        self.tickets
            .create_ticket(tpb::CreateTicketRequest {
                ticket: Some(t),
                request_id: rid(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn get_ticket(&mut self, name: &str) -> tpb::Ticket {
        self.tickets
            .get_ticket(tpb::GetTicketRequest { name: name.into() })
            .await
            .expect("get ticket")
            .into_inner()
    }

    /// Marks the ticket solved; the answer carries the new survey's token.
    pub async fn solve(&mut self, name: &str) -> tpb::Ticket {
        self.tickets
            .change_status(tpb::ChangeStatusRequest {
                name: name.into(),
                status: tpb::Status::Solved as i32,
                etag: String::new(),
                request_id: rid(),
            })
            .await
            .expect("solve")
            .into_inner()
    }

    /// Every message of a ticket, oldest first.
    pub async fn messages(&mut self, ticket: &str) -> Vec<tpb::Message> {
        self.tickets
            .list_messages(tpb::ListMessagesRequest {
                parent: ticket.into(),
                page_size: 1000,
                ..Default::default()
            })
            .await
            .expect("list messages")
            .into_inner()
            .messages
    }

    /// The bodies of a ticket's system notes, oldest first.
    pub async fn system_notes(&mut self, ticket: &str) -> Vec<String> {
        self.messages(ticket)
            .await
            .into_iter()
            .filter(|m| m.kind == tpb::MessageKind::System as i32)
            .map(|m| m.body)
            .collect()
    }

    /// The system notes of a ticket that report a goodwill award.
    pub async fn goodwill_notes(&mut self, ticket: &str) -> usize {
        self.system_notes(ticket)
            .await
            .iter()
            .filter(|body| body.contains("goodwill points awarded"))
            .count()
    }
}
