//! Every RPC of every service in the descriptor set, with the empty request, a plausible valid
//! request, and that request with ONE field at a time replaced by a bad value (empty, huge,
//! NUL, control characters, extreme and negative numbers, years 0 and 10000, an unknown
//! enum, 10,000 list entries, a Struct nested 90 levels), on SQLite and on
//! PostgreSQL + Redis.
//!
//! Every answer must be OK (only where the value is in range), or a documented error:
//! INVALID_ARGUMENT with `BadRequest` field violations (a bounded number), NOT_FOUND,
//! FAILED_PRECONDITION, ALREADY_EXISTS or ABORTED, always with an `ErrorInfo` reason. A
//! refused call writes nothing (row counts of every service's tables), the server still
//! reports SERVING after each method, the valid request still works after the bad ones, and
//! what a mutation accepted does not break the service's reads (each read method runs again,
//! on the resources just written: no panic, no timestamp JSON cannot render). Methods are discovered from
//! `crm_proto::FILE_DESCRIPTOR_SET`, so a new service is covered by adding its spawner to
//! `tests/common/mod.rs` (the test fails until then). All failures are collected and printed
//! as one table.
//!
//! `cargo test -p crm-suite --test bad_input -- --nocapture`
#[path = "../common/mod.rs"]
mod common;

mod cases;
mod check;
mod codec;
mod comments;
mod generate;
mod names;
mod report;
mod rows;

use cases::{Bad, Case};
pub use check::describe;
use check::{check, check_response, check_status};
use crm_platform::testing::Backend;
use generate::{Generator, Pool};
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, ServiceDescriptor};
use report::{Failure, Report};
use std::sync::OnceLock;

/// The services that exist today; more may come, none may go missing.
const KNOWN: &[&str] = &[
    "crm.customers.v1.CustomerService",
    "crm.loyalty.v1.LoyaltyService",
    "crm.tickets.v1.TicketService",
    "crm.campaigns.v1.CampaignService",
];
/// Cases per method at most (a bounded run time); the table says when a method hit it.
const MAX_CASES: usize = 400;
/// How many times every Create* method runs before each method, so it has fresh resources
/// to name (two of each: merges name two).
const FIXTURE_ROUNDS: usize = 2;
/// Methods that run as fixtures besides Create*: points to redeem, hold and transfer.
const FIXTURE_METHODS: &[&str] = &["crm.loyalty.v1.LoyaltyService.Earn"];
/// Methods whose valid request needs a resource in a particular state: what runs (once,
/// with its valid request) right before them.
const PREPARE: &[(&str, &[&str])] = &[
    (
        "crm.customers.v1.CustomerService.UndeleteCustomer",
        &["crm.customers.v1.CustomerService.DeleteCustomer"],
    ),
    (
        "crm.loyalty.v1.LoyaltyService.CaptureHold",
        &["crm.loyalty.v1.LoyaltyService.Hold"],
    ),
    (
        "crm.loyalty.v1.LoyaltyService.ReleaseHold",
        &["crm.loyalty.v1.LoyaltyService.Hold"],
    ),
    (
        "crm.tickets.v1.TicketService.SubmitSatisfaction",
        &["crm.tickets.v1.TicketService.ChangeStatus"],
    ),
    (
        "crm.tickets.v1.TicketService.DeleteTeam",
        &["crm.tickets.v1.TicketService.CreateTeam"],
    ),
    // The fixtures' campaigns use the newest segments: a fresh one is deletable.
    (
        "crm.campaigns.v1.CampaignService.DeleteSegment",
        &["crm.campaigns.v1.CampaignService.CreateSegment"],
    ),
    // A new campaign is a draft; scheduled "immediately" it runs once the start job sees it.
    (
        "crm.campaigns.v1.CampaignService.ScheduleCampaign",
        &["crm.campaigns.v1.CampaignService.CreateCampaign"],
    ),
    (
        "crm.campaigns.v1.CampaignService.PauseCampaign",
        &["crm.campaigns.v1.CampaignService.ScheduleCampaign"],
    ),
    (
        "crm.campaigns.v1.CampaignService.ResumeCampaign",
        &[
            "crm.campaigns.v1.CampaignService.ScheduleCampaign",
            "crm.campaigns.v1.CampaignService.PauseCampaign",
        ],
    ),
    // A new pool is empty: a claim needs codes in it.
    (
        "crm.campaigns.v1.CampaignService.ClaimCoupon",
        &["crm.campaigns.v1.CampaignService.GenerateCouponCodes"],
    ),
];

pub fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(crm_proto::FILE_DESCRIPTOR_SET).expect("descriptor set decodes")
    })
}

fn services() -> Vec<ServiceDescriptor> {
    pool().services().collect()
}

/// The services found, after checking the known ones are there and every one can be
/// started in-process.
fn discovered() -> (Vec<ServiceDescriptor>, Vec<String>) {
    let services = services();
    let names: Vec<String> = services.iter().map(|s| s.full_name().to_owned()).collect();
    for known in KNOWN {
        assert!(
            names.iter().any(|n| n == known),
            "{known} is missing from the descriptor set"
        );
    }
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| common::spawner(n).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "no in-process spawner for {missing:?}: add one line for each to SPAWNERS in services/suite/tests/common/mod.rs"
    );
    (services, names)
}

#[test]
fn every_service_of_the_descriptor_set_can_be_spawned() {
    let (services, _) = discovered();
    assert!(services.iter().all(|s| s.methods().len() > 0));
}

/// The per-method tables name methods and fields that exist (a rename fails here, instead
/// of silently weakening the run).
#[test]
fn the_tables_name_real_methods_and_fields() {
    let method = |name: &str| {
        let (service, _) = name.rsplit_once('.').expect("a full name");
        pool()
            .get_service_by_name(service)
            .is_some_and(|s| s.methods().any(|m| m.full_name() == name))
    };
    for name in FIXTURE_METHODS.iter().chain(
        PREPARE
            .iter()
            .flat_map(|(m, before)| std::iter::once(m).chain(before.iter())),
    ) {
        assert!(method(name), "no method {name}");
    }
    for name in generate::override_fields() {
        let (message, field) = name.rsplit_once('.').expect("a full name");
        assert!(
            pool()
                .get_message_by_name(message)
                .is_some_and(|m| m.get_field_by_name(field).is_some()),
            "no field {name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_refuses_bad_input() {
    let (services, names) = discovered();
    eprintln!(
        "discovered {} services, {} methods: {}",
        names.len(),
        services.iter().map(|s| s.methods().len()).sum::<usize>(),
        names.join(", ")
    );
    let mut failed = 0;
    for backend in crm_platform::testing::backends() {
        let report = run(backend, &services, &names).await;
        report.print(backend);
        failed += report.failures.len();
    }
    assert_eq!(failed, 0, "{failed} bad-input failures (tables above)");
}

async fn run(backend: Backend, services: &[ServiceDescriptor], names: &[String]) -> Report {
    let started = std::time::Instant::now();
    let suite = common::spawn_suite(backend, names).await;
    let endpoint = codec::Target::new(suite.url(), &suite.token);
    let dbs = rows::Databases::connect(&suite.storages).await;
    let mut pool = Pool::default();
    let mut report = Report::default();
    for service in services {
        for method in service.methods() {
            let t = std::time::Instant::now();
            fixtures(&endpoint, services, &mut pool).await;
            prepare(&endpoint, &method, &mut pool).await;
            let n = exercise(&endpoint, &dbs, service, &method, &mut pool, &mut report).await;
            if is_mutation(&method) {
                read_back(&endpoint, service, &method, &pool, &mut report).await;
            }
            if let Err(e) = crm_platform::cli::healthcheck(
                &suite.addr,
                service.full_name(),
                std::time::Duration::from_secs(2),
            )
            .await
            {
                report.fail(Failure::new(
                    service,
                    &method,
                    "",
                    None,
                    format!("health not SERVING after the method: {e:#}"),
                ));
            }
            eprintln!(
                "  {:?} {}/{}: {n} cases, {} ms",
                backend,
                service.name(),
                method.name(),
                t.elapsed().as_millis()
            );
        }
    }
    eprintln!("-- {backend:?}: {} s", started.elapsed().as_secs());
    report
}

/// Runs every Create* method of every service `FIXTURE_ROUNDS` times with a valid request,
/// collecting the names they return.
async fn fixtures(endpoint: &codec::Target, services: &[ServiceDescriptor], pool: &mut Pool) {
    for service in services {
        let fixtures = service
            .methods()
            .filter(|m| m.name().starts_with("Create") || FIXTURE_METHODS.contains(&m.full_name()));
        for method in fixtures {
            for _ in 0..FIXTURE_ROUNDS {
                let request = Generator::new(pool, service.full_name(), &method).request();
                if let Ok(Some(resp)) = codec::call(endpoint, &method, request).await {
                    pool.collect(service.full_name(), &method, &resp);
                }
            }
        }
    }
}

/// By the suite's conventions every mutation takes a `request_id`.
fn is_mutation(method: &MethodDescriptor) -> bool {
    method.input().get_field_by_name("request_id").is_some()
}

/// What a mutation's accepted values did to later reads: every read of the service (its
/// methods without a request id) with a valid request for the newest resources, which the
/// mutation's cases just wrote. A stored value may not make a read fail (e.g. a sum that
/// overflows) or a response unrenderable (a timestamp outside years 1..9999).
async fn read_back(
    endpoint: &codec::Target,
    service: &ServiceDescriptor,
    after: &MethodDescriptor,
    pool: &Pool,
    report: &mut Report,
) {
    for read in service.methods().filter(|m| !is_mutation(m)) {
        let request = Generator::new(pool, service.full_name(), &read).request();
        let label = format!("(valid {} after {})", read.name(), after.name());
        match codec::call(endpoint, &read, request).await {
            Ok(Some(resp)) => check_response(report, service, after, &label, None, &resp),
            Ok(None) => {}
            Err(status) => check_status(report, service, after, &label, None, &status, None),
        }
    }
}

/// Runs the methods `PREPARE` lists for `method`.
async fn prepare(endpoint: &codec::Target, method: &MethodDescriptor, pool: &mut Pool) {
    let Some((_, first)) = PREPARE.iter().find(|(m, _)| *m == method.full_name()) else {
        return;
    };
    for name in *first {
        let (service_name, _) = name.rsplit_once('.').expect("a method's full name");
        let service = crate::pool()
            .get_service_by_name(service_name)
            .unwrap_or_else(|| panic!("PREPARE names an unknown service: {name}"));
        let m = service
            .methods()
            .find(|m| m.full_name() == *name)
            .unwrap_or_else(|| panic!("PREPARE names an unknown method: {name}"));
        let request = Generator::new(pool, service_name, &m).request();
        if let Ok(Some(resp)) = codec::call(endpoint, &m, request).await {
            pool.collect(service_name, &m, &resp);
        }
    }
}

/// Sends every case of one method and checks each answer; returns how many were sent.
async fn exercise(
    endpoint: &codec::Target,
    dbs: &rows::Databases,
    service: &ServiceDescriptor,
    method: &MethodDescriptor,
    pool: &mut Pool,
    report: &mut Report,
) -> usize {
    let (valid, mut cases) = {
        let mut generator = Generator::new(pool, service.full_name(), method);
        let valid = generator.request();
        let variants = cases::variants(&valid, &mut generator);
        (valid, variants)
    };
    let empty = DynamicMessage::new(method.input());
    let required_top = method.input().fields().any(|f| generate::is_required(&f));

    // The empty request.
    let before = dbs.counts().await;
    let got = codec::call(endpoint, method, empty).await;
    let after = dbs.counts().await;
    check(
        report,
        service,
        method,
        "(empty request)",
        None,
        !required_top,
        &got,
        &before,
        &after,
        None,
    );

    // The valid one: OK expected, but a documented error is tolerated (e.g. not enough
    // points); it is listed, so a wrong generator is visible.
    let got_valid = codec::call(endpoint, method, valid.clone()).await;
    let valid_ok = got_valid.is_ok();
    match &got_valid {
        Ok(Some(resp)) => {
            pool.collect(service.full_name(), method, resp);
            check_response(report, service, method, "(valid request)", None, resp);
        }
        Ok(None) => {}
        Err(status) => {
            report.note_valid(service, method, status);
            check_status(
                report,
                service,
                method,
                "(valid request)",
                None,
                status,
                None,
            );
        }
    }

    let total = cases.len();
    if total > MAX_CASES {
        report.truncated(service, method, total);
        cases.truncate(MAX_CASES);
    }
    for Case {
        path,
        field,
        bad,
        request,
    } in cases
    {
        let before = dbs.counts().await;
        let got = codec::call(endpoint, method, request).await;
        let after = dbs.counts().await;
        let bad = bad.expect("a variant has a bad value");
        let field = field.expect("a variant has a field");
        let may_succeed = bad.may_succeed(&field);
        let related = (valid_ok && bad != Bad::DeepStruct).then_some(path.as_str());
        check(
            report,
            service,
            method,
            &path,
            Some(bad),
            may_succeed,
            &got,
            &before,
            &after,
            related,
        );
        if let Ok(Some(resp)) = &got {
            pool.collect(service.full_name(), method, resp);
        }
    }

    // One bad call never hurts another: the valid request still gets a proper answer (a
    // documented error is fine: it may have been used up, e.g. deleted already).
    let mut again = valid;
    generate::refresh_request_ids(&mut again);
    if let Err(status) = codec::call(endpoint, method, again).await {
        check_status(
            report,
            service,
            method,
            "(valid request, after the bad ones)",
            None,
            &status,
            None,
        );
    }
    total.min(MAX_CASES) + 3
}
