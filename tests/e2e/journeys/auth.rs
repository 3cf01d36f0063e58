//! Authentication is on in every topology: a call without a token is refused by each service
//! (the journeys' own calls carry one, and tickets calls customers and loyalty with its own).
use crate::harness::{Service, Suite, on_every_topology};
use crm_proto::customers::customer_service_client::CustomerServiceClient;
use crm_proto::loyalty::loyalty_service_client::LoyaltyServiceClient;
use crm_proto::tickets::ticket_service_client::TicketServiceClient;
use crm_proto::{customers, loyalty, tickets};
use tonic::Code;

on_every_topology!(every_service_refuses_a_call_without_a_token);

pub(crate) async fn every_service_refuses_a_call_without_a_token(s: Suite) {
    let id = "00000000-0000-7000-8000-000000000000";
    let answers = [
        CustomerServiceClient::new(s.anonymous_channel(Service::Customers))
            .get_customer(customers::GetCustomerRequest {
                name: format!("customers/{id}"),
            })
            .await
            .map(|_| ()),
        LoyaltyServiceClient::new(s.anonymous_channel(Service::Loyalty))
            .get_balance(loyalty::GetBalanceRequest {
                customer: format!("customers/{id}"),
            })
            .await
            .map(|_| ()),
        TicketServiceClient::new(s.anonymous_channel(Service::Tickets))
            .get_ticket(tickets::GetTicketRequest {
                name: format!("tickets/{id}"),
            })
            .await
            .map(|_| ()),
    ];
    for (service, answer) in Service::ALL.iter().zip(answers) {
        let status = answer.expect_err("a call without a token");
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{service:?}: {status:?}"
        );
        assert_eq!(
            crm_platform::grpc::reason_of(&status).as_deref(),
            Some("UNAUTHENTICATED"),
            "{service:?}: {status:?}"
        );
    }
}
