//! The whole suite in-process on one port (as `crm-suite` runs it), each service on its own
//! fresh storage, for the suite-wide tests.
//!
//! A new service adds ONE entry to [`SPAWNERS`] (its gRPC service name, its `POLICY` and a
//! function that builds its component); `bad_input` fails loudly for a service of the descriptor set that
//! has none.
#![allow(dead_code)]
use crm_platform::app::Service as _;
use crm_platform::auth::Rule;
use crm_platform::config::PlatformSettings;
use crm_platform::server::Component;
use crm_platform::testing::{Backend, Storage, auth, settings};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

/// Builds one service's component on `storage`; `own` is the suite's address
/// (`http://127.0.0.1:PORT`), for services that call other services.
pub type Spawner =
    fn(Storage, String) -> Pin<Box<dyn Future<Output = anyhow::Result<Component>> + Send>>;

/// Every service the suite serves: gRPC service name, its authorization table, spawner.
pub const SPAWNERS: &[(&str, &[Rule], Spawner)] = &[
    (
        crm_customers::GRPC_SERVICE,
        crm_customers::Customers::POLICY,
        |s, _| Box::pin(customers(s)),
    ),
    (
        crm_loyalty::GRPC_SERVICE,
        crm_loyalty::Loyalty::POLICY,
        |s, _| Box::pin(loyalty(s)),
    ),
    (
        crm_tickets::GRPC_SERVICE,
        crm_tickets::Tickets::POLICY,
        |s, own| Box::pin(tickets(s, own)),
    ),
    (
        crm_campaigns::GRPC_SERVICE,
        crm_campaigns::Campaigns::POLICY,
        |s, own| Box::pin(campaigns(s, own)),
    ),
    (
        crm_recommendations::GRPC_SERVICE,
        crm_recommendations::Recommendations::POLICY,
        |s, own| Box::pin(recommendations(s, own)),
    ),
    // The skeleton new services are copied from: not in the suite binary, but in its proto.
    (
        crm_template::GRPC_SERVICE,
        crm_template::Template::POLICY,
        |s, _| Box::pin(template(s)),
    ),
];

/// The authorization table registered for `service`, if any.
pub fn policy(service: &str) -> Option<&'static [Rule]> {
    SPAWNERS
        .iter()
        .find(|(n, _, _)| *n == service)
        .map(|(_, p, _)| *p)
}

async fn customers(storage: Storage) -> anyhow::Result<Component> {
    let s = settings::<crm_customers::Customers>(&storage, |_| {});
    Ok(crm_customers::component(&s).await?.0)
}

async fn loyalty(storage: Storage) -> anyhow::Result<Component> {
    // Background jobs off: they would write while a test compares row counts.
    let s = settings::<crm_loyalty::Loyalty>(&storage, |s| s.loyalty.expire_interval_secs = 0);
    Ok(crm_loyalty::component(&s).await?.0)
}

async fn template(storage: Storage) -> anyhow::Result<Component> {
    let s = settings::<crm_template::Template>(&storage, |_| {});
    Ok(crm_template::component(&s).await?.0)
}

async fn tickets(storage: Storage, own: String) -> anyhow::Result<Component> {
    let s = settings::<crm_tickets::Tickets>(&storage, |s| {
        s.tickets.sla_interval_secs = 0;
        s.tickets.verify_interval_secs = 0;
        s.clients.customers_url.clone_from(&own);
        s.clients.loyalty_url = own;
        auth::send_as(&mut s.platform, auth::TICKETS_SUBJECT, auth::TICKETS_CALLS);
    });
    Ok(crm_tickets::component(&s).await?.0)
}

/// The identity campaigns calls customers, loyalty and tickets with (as the chart grants it):
/// profiles with names in clear (to render and address messages), balances, open tickets.
pub const CAMPAIGNS_SUBJECT: &str = "crm-campaigns";
pub const CAMPAIGNS_CALLS: &[&str] = &[
    "customers.read",
    "customers.pii.read",
    "loyalty.read",
    "tickets.read",
];

async fn campaigns(storage: Storage, own: String) -> anyhow::Result<Component> {
    let s = settings::<crm_campaigns::Campaigns>(&storage, |s| {
        // Background jobs as good as off (their intervals cannot be 0): they would write
        // while a test compares row counts.
        let (rm, send) = (&mut s.campaigns.read_model, &mut s.campaigns.sending);
        rm.refresh_interval_ms = 3_600_000;
        rm.membership_interval_ms = 3_600_000;
        rm.full_evaluation_secs = 7 * 86_400;
        send.start_interval_ms = 3_600_000;
        send.dispatch_interval_ms = 60_000;
        let c = &mut s.campaigns.clients;
        c.customers_url.clone_from(&own);
        c.loyalty_url.clone_from(&own);
        c.tickets_url = own;
        auth::send_as(&mut s.platform, CAMPAIGNS_SUBJECT, CAMPAIGNS_CALLS);
    });
    Ok(crm_campaigns::component(&s).await?.0)
}

/// The identity recommendations calls customers with (as the chart grants it): profiles for
/// cold start, no personal data in clear.
pub const RECOMMENDATIONS_SUBJECT: &str = "crm-recommendations";
pub const RECOMMENDATIONS_CALLS: &[&str] = &["customers.read"];

async fn recommendations(storage: Storage, own: String) -> anyhow::Result<Component> {
    let s = settings::<crm_recommendations::Recommendations>(&storage, |s| {
        // Background jobs off: they would write while a test compares row counts.
        s.recommendations.rebuild.interval_secs = 0;
        s.recommendations.profiles.refresh_interval_ms = 0;
        s.recommendations.clients.customers_url = own;
        auth::send_as(
            &mut s.platform,
            RECOMMENDATIONS_SUBJECT,
            RECOMMENDATIONS_CALLS,
        );
    });
    Ok(crm_recommendations::component(&s).await?.0)
}

/// A running suite: its address and each service's storage and authorization table.
pub struct Suite {
    pub addr: String,
    pub port: u16,
    /// gRPC service name -> where that service keeps its rows.
    pub storages: BTreeMap<String, Storage>,
    /// gRPC service name -> the scope of each of its methods, as served.
    pub policies: BTreeMap<String, &'static [Rule]>,
    /// A test issuer's token with every scope of every served service.
    pub token: String,
}

impl Suite {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The spawner registered for `service`, if any.
pub fn spawner(service: &str) -> Option<Spawner> {
    SPAWNERS
        .iter()
        .find(|(n, _, _)| *n == service)
        .map(|(_, _, s)| *s)
}

/// Starts `services` (every one must have a spawner) on one port on `backend`, each on a
/// fresh database, with authentication on (the test issuer), and waits until the server
/// reports SERVING.
pub async fn spawn_suite(backend: Backend, services: &[String]) -> Suite {
    spawn_suite_with(backend, services, auth::enable).await
}

/// [`spawn_suite`] with the server's authentication as the embedded defaults have it (what
/// `make run` serves).
pub async fn spawn_suite_as_make_run(backend: Backend, services: &[String]) -> Suite {
    spawn_suite_with(backend, services, |_| {}).await
}

async fn spawn_suite_with(
    backend: Backend,
    services: &[String],
    server_auth: impl FnOnce(&mut PlatformSettings),
) -> Suite {
    let mut platform = crm_customers::Settings::load(None)
        .expect("default settings")
        .platform;
    server_auth(&mut platform);
    let auth_settings = platform.auth;
    let tls_settings = platform.tls;
    let mut settings = platform.server;
    settings.host = "127.0.0.1".into();
    settings.port = 0;
    let listener = crm_platform::server::bind(&settings).await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let addr = format!("127.0.0.1:{port}");
    let mut storages = BTreeMap::new();
    let mut components = Vec::new();
    let mut policies = BTreeMap::new();
    for name in services {
        let spawn = spawner(name).unwrap_or_else(|| panic!("no in-process spawner for {name}"));
        let storage = Storage::fresh(backend).await;
        let component = spawn(storage.clone(), format!("http://{addr}"))
            .await
            .unwrap_or_else(|e| panic!("{name} starts: {e:#}"));
        policies.insert(name.clone(), component.policy);
        components.push(component);
        storages.insert(name.clone(), storage);
    }
    let every_rule: Vec<Rule> = policies.values().flat_map(|p| p.iter().copied()).collect();
    let token = auth::token_for(&every_rule);
    tokio::spawn(async move {
        crm_platform::server::serve(
            &settings,
            &auth_settings,
            &tls_settings,
            listener,
            components,
            std::future::pending(),
        )
        .await
        .expect("suite serves");
    });
    assert!(
        crm_platform::testing::wait_serving(&addr, "").await,
        "suite at {addr} never became SERVING"
    );
    Suite {
        addr,
        port,
        storages,
        policies,
        token,
    }
}
