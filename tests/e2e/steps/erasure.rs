//! Erasure: EraseCustomer, the status customers keeps per service (GetErasureStatus), and
//! what is left to read in tickets.
use crate::harness::{Deadline, Suite};
use crm_platform::testing::rid;
use crm_proto::customers as cpb;
use std::time::Duration;

impl Suite {
    pub async fn erase(&mut self, customer: &str) {
        self.customers
            .erase_customer(cpb::EraseCustomerRequest {
                name: customer.into(),
                request_id: rid(),
                actor: "e2e".into(),
            })
            .await
            .expect("erase customer");
    }

    /// The bodies of every message of a ticket, oldest first.
    pub async fn message_bodies(&mut self, ticket: &str) -> Vec<String> {
        self.messages(ticket)
            .await
            .into_iter()
            .map(|m| m.body)
            .collect()
    }

    pub async fn erasure_status(&mut self, customer: &str) -> cpb::ErasureStatus {
        self.customers
            .get_erasure_status(cpb::GetErasureStatusRequest {
                name: customer.into(),
            })
            .await
            .expect("erasure status")
            .into_inner()
    }

    /// Waits (at most `timeout`) until customers shows `service`'s part of the erasure of
    /// `customer` COMPLETED, answering this erasure's event; returns the whole status.
    pub async fn await_erasure_reported(
        &mut self,
        customer: &str,
        service: &str,
        timeout: Duration,
    ) -> cpb::ErasureStatus {
        let completed = cpb::ErasureState::Completed as i32;
        let deadline = Deadline::after(timeout, "the service to report the erasure");
        loop {
            let status = self.erasure_status(customer).await;
            let part = status.services.iter().find(|s| s.service == service);
            let part = part.unwrap_or_else(|| panic!("{service} is not expected: {status:?}"));
            if part.state == completed {
                assert_eq!(part.erasure_event_id, status.erasure_event_id, "{status:?}");
                assert!(part.complete_time.is_some(), "{status:?}");
                return status;
            }
            assert!(
                !deadline.passed(),
                "erasure of {customer} still pending in {service}: {status:?}"
            );
            deadline.wait().await;
        }
    }
}
