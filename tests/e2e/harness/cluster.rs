//! `Topology::Cluster`: services deployed by someone else (`make cluster-test`: the chart on
//! the local Kubernetes, each Service reached through `kubectl port-forward`), found by the
//! URLs in `CRM_E2E_CLUSTER_{CUSTOMERS,LOYALTY,TICKETS,CAMPAIGNS,RECOMMENDATIONS}_URL`. Nothing to start or own: their
//! storage, settings and replicas are the deployment's; the token the journeys send is
//! `CRM_E2E_TOKEN`'s.
use super::{Service, Suite};
use std::time::Duration;

/// How long each service may take to answer its health check: a port-forward just opened,
/// a rollout finishing.
const REACHABLE: Duration = Duration::from_secs(30);

/// Clients of the cluster's services, once each is SERVING. Fails loudly when a URL is not
/// set: these tests run only when asked (`--ignored`), so a missing URL is a mistake, never a
/// reason to skip.
pub(super) async fn connect() -> Suite {
    let urls = Service::ALL.map(url);
    for (service, url) in Service::ALL.iter().zip(&urls) {
        await_serving(service.label(), url).await;
    }
    Suite::connect(urls, &token(), Vec::new(), None, None)
}

/// The bearer token the journeys call the cluster with, from `CRM_E2E_TOKEN` (the chart's
/// default is authentication on; `make cluster-test` mints one). Unset: calls go without one,
/// which only a cluster deployed with authentication off accepts.
fn token() -> String {
    let token = std::env::var("CRM_E2E_TOKEN").unwrap_or_default();
    if token.is_empty() {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "\n=== CRM_E2E_TOKEN is not set: calling the cluster without a token ===\n"
        );
    }
    token
}

fn url(service: Service) -> String {
    let var = format!("CRM_E2E_CLUSTER_{}_URL", service.label().to_uppercase());
    match std::env::var(&var) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{var} is not set: the cluster tests call the services of a running cluster \
             (`make cluster-test` port-forwards them and sets CRM_E2E_CLUSTER_CUSTOMERS_URL, \
             _LOYALTY_URL, _TICKETS_URL, _CAMPAIGNS_URL and _RECOMMENDATIONS_URL, e.g. http://127.0.0.1:PORT)"
        ),
    }
}

/// Polls grpc.health.v1 (the whole server) at `url` until SERVING, at most [`REACHABLE`].
async fn await_serving(label: &str, url: &str) {
    if let Err(e) = crm_platform::cli::healthcheck_within(
        url,
        "",
        Duration::from_secs(2),
        REACHABLE,
        &Default::default(),
    )
    .await
    {
        panic!("{label} at {url} is not SERVING after {REACHABLE:?}: {e:#}")
    }
}
