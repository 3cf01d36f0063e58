//! The erasure status: which of the services expected to scrub an erased customer have
//! reported it done (`ErasureCompleted`), and which reports count.
use super::CustomerId;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Most services an erasure waits for (`customers.erasure.reporting_services`).
pub const MAX_REPORTING_SERVICES: usize = 16;

/// An erasure as customers committed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    pub customer: CustomerId,
    pub erase_time: DateTime<Utc>,
    /// The CustomerErased event's id; `None` for an erasure committed before it was recorded.
    pub event_id: Option<Uuid>,
}

/// One service's report that it scrubbed an erased customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub customer: CustomerId,
    pub service: String,
    /// The CustomerErased event the report answers.
    pub erasure_event_id: Uuid,
    /// The ErasureCompleted event's own id.
    pub event_id: Uuid,
    pub complete_time: DateTime<Utc>,
    pub scrubbed_records: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    Completed,
}

/// One expected service and its report, if it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceErasure {
    pub service: String,
    pub completion: Option<Completion>,
}

impl ServiceErasure {
    pub fn state(&self) -> State {
        match self.completion {
            Some(_) => State::Completed,
            None => State::Pending,
        }
    }
}

/// An erasure across the suite: one entry per expected service, in configuration order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureStatus {
    pub erasure: Erasure,
    pub services: Vec<ServiceErasure>,
}

impl ErasureStatus {
    /// The status of `erasure` given the reports stored for it; reports of services no
    /// longer expected are left out.
    pub fn of(erasure: Erasure, expected: &[String], mut reports: Vec<Completion>) -> Self {
        let services = expected
            .iter()
            .map(|service| ServiceErasure {
                service: service.clone(),
                completion: reports
                    .iter()
                    .position(|r| &r.service == service)
                    .map(|i| reports.swap_remove(i)),
            })
            .collect();
        Self { erasure, services }
    }

    /// Completed once every expected service reported (at once when none is expected).
    pub fn state(&self) -> State {
        if self.services.iter().all(|s| s.state() == State::Completed) {
            State::Completed
        } else {
            State::Pending
        }
    }
}

/// Why a well-formed report is acknowledged without being stored: retrying it would not
/// change anything, so it is logged, never retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// The report names another service than the stream it came on.
    OtherService { reported: String, stream: String },
    /// The service is not in `customers.erasure.reporting_services`.
    NotExpected(String),
    /// No such customer here (another environment's event, a restored database).
    UnknownCustomer,
    /// The customer exists and was not erased: nothing asked for this report.
    NotErased,
    /// It answers another CustomerErased event than the customer's erasure.
    OtherErasure { recorded: Uuid },
}

impl std::fmt::Display for Ignored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OtherService { reported, stream } => {
                write!(f, "reports service {reported:?} on the {stream:?} stream")
            }
            Self::NotExpected(s) => write!(f, "service {s:?} is not a reporting service"),
            Self::UnknownCustomer => f.write_str("no such customer"),
            Self::NotErased => f.write_str("the customer was not erased"),
            Self::OtherErasure { recorded } => {
                write!(
                    f,
                    "answers another erasure than the customer's ({recorded})"
                )
            }
        }
    }
}

/// Whether `report`, read on the stream of service `stream`, is one to store, given what
/// customers holds about the customer it names. An erasure without a recorded event id
/// (committed before ids were recorded) accepts any: a customer is erased only once.
pub fn check(
    report: &Completion,
    stream: &str,
    expected: &[String],
    found: Found,
) -> Result<(), Ignored> {
    if report.service != stream {
        return Err(Ignored::OtherService {
            reported: report.service.clone(),
            stream: stream.to_owned(),
        });
    }
    if !expected.contains(&report.service) {
        return Err(Ignored::NotExpected(report.service.clone()));
    }
    match found {
        Found::Unknown => Err(Ignored::UnknownCustomer),
        Found::NotErased => Err(Ignored::NotErased),
        Found::Erased(e) => match e.event_id {
            Some(recorded) if recorded != report.erasure_event_id => {
                Err(Ignored::OtherErasure { recorded })
            }
            _ => Ok(()),
        },
    }
}

/// What customers holds about the customer a report names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Unknown,
    NotErased,
    Erased(Erasure),
}

/// Problems with `reporting_services`, for the settings' validation.
pub fn validate_reporting_services(services: &[String], p: &mut Vec<String>) {
    const KEY: &str = "customers.erasure.reporting_services";
    if services.len() > MAX_REPORTING_SERVICES {
        p.push(format!("{KEY}: at most {MAX_REPORTING_SERVICES} services"));
    }
    for (i, s) in services.iter().enumerate() {
        let name_ok = (1..=32).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            p.push(format!(
                "{KEY}[{i}]: {s:?} is no service name (lower case letters, digits, '-'; at most 32)"
            ));
        } else if s == "customers" {
            p.push(format!(
                "{KEY}[{i}]: customers erases its own data in the erasure itself"
            ));
        } else if services[..i].contains(s) {
            p.push(format!("{KEY}[{i}]: {s:?} is listed twice"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected() -> Vec<String> {
        vec!["loyalty".into(), "tickets".into()]
    }

    fn erasure(event_id: Option<Uuid>) -> Erasure {
        Erasure {
            customer: CustomerId(Uuid::nil()),
            erase_time: Utc::now(),
            event_id,
        }
    }

    fn report(service: &str, erasure_event_id: Uuid) -> Completion {
        Completion {
            customer: CustomerId(Uuid::nil()),
            service: service.into(),
            erasure_event_id,
            event_id: Uuid::now_v7(),
            complete_time: Utc::now(),
            scrubbed_records: 3,
        }
    }

    #[test]
    fn completed_only_when_every_expected_service_reported() {
        let id = Uuid::now_v7();
        let none = ErasureStatus::of(erasure(Some(id)), &expected(), vec![]);
        assert_eq!(none.state(), State::Pending);
        assert!(none.services.iter().all(|s| s.state() == State::Pending));

        let one = ErasureStatus::of(erasure(Some(id)), &expected(), vec![report("tickets", id)]);
        assert_eq!(one.state(), State::Pending);
        let states: Vec<_> = one
            .services
            .iter()
            .map(|s| (s.service.as_str(), s.state()))
            .collect();
        assert_eq!(
            states,
            [("loyalty", State::Pending), ("tickets", State::Completed)]
        );

        let both = ErasureStatus::of(
            erasure(Some(id)),
            &expected(),
            vec![
                report("tickets", id),
                report("campaigns", id),
                report("loyalty", id),
            ],
        );
        assert_eq!(both.state(), State::Completed);
        assert_eq!(
            both.services.len(),
            2,
            "a service no longer expected is left out"
        );

        assert_eq!(
            ErasureStatus::of(erasure(None), &[], vec![]).state(),
            State::Completed
        );
    }

    #[test]
    fn only_reports_answering_the_customers_erasure_are_stored() {
        let id = Uuid::now_v7();
        let erased = || Found::Erased(erasure(Some(id)));
        assert_eq!(
            check(&report("loyalty", id), "loyalty", &expected(), erased()),
            Ok(())
        );
        assert!(matches!(
            check(&report("campaigns", id), "loyalty", &expected(), erased()),
            Err(Ignored::OtherService { .. })
        ));
        assert_eq!(
            check(&report("campaigns", id), "campaigns", &expected(), erased()),
            Err(Ignored::NotExpected("campaigns".into()))
        );
        assert_eq!(
            check(
                &report("loyalty", id),
                "loyalty",
                &expected(),
                Found::Unknown
            ),
            Err(Ignored::UnknownCustomer)
        );
        assert_eq!(
            check(
                &report("loyalty", id),
                "loyalty",
                &expected(),
                Found::NotErased
            ),
            Err(Ignored::NotErased)
        );
        assert_eq!(
            check(
                &report("loyalty", Uuid::now_v7()),
                "loyalty",
                &expected(),
                erased()
            ),
            Err(Ignored::OtherErasure { recorded: id })
        );
        // Erased before erasure ids were recorded: any erasure id is this one.
        let old = Found::Erased(erasure(None));
        assert_eq!(
            check(
                &report("loyalty", Uuid::now_v7()),
                "loyalty",
                &expected(),
                old
            ),
            Ok(())
        );
    }

    #[test]
    fn reporting_services_are_checked() {
        let check = |names: &[&str]| {
            let mut p = Vec::new();
            let v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
            validate_reporting_services(&v, &mut p);
            p.len()
        };
        assert_eq!(check(&["loyalty", "tickets", "recommendations"]), 0);
        assert_eq!(check(&[]), 0);
        assert_eq!(
            check(&["Loyalty", "", "customers", "tickets", "tickets"]),
            4
        );
        let many: Vec<String> = (0..17).map(|i| format!("s{i}")).collect();
        let mut p = Vec::new();
        validate_reporting_services(&many, &mut p);
        assert_eq!(p.len(), 1, "{p:?}");
    }
}
