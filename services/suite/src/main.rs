//! `crm-suite`: every CRM service in one process on one port, for laptops and demos
//! (`make run`). Each service keeps its own database (`{service}` in the URL) and cache keys.
//! A new service is one line here.
use crm_platform::suite::Suite;

// mimalloc: fewer cycles per call than the system allocator on the request path (see
// BENCHMARKS.md), and much faster than musl's in the static container images.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The services of the suite, in start order.
fn services(suite: &mut Suite) {
    suite.add::<crm_customers::Customers>();
    suite.add::<crm_loyalty::Loyalty>();
    suite.add::<crm_tickets::Tickets>();
    suite.add::<crm_campaigns::Campaigns>();
    suite.add::<crm_recommendations::Recommendations>();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    crm_platform::suite::main(services).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_platform::config::ConfigError;

    fn load_file(toml: &str) -> Result<Suite, ConfigError> {
        let file = std::env::temp_dir().join(format!("crm-suite-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(&file, toml).expect("write config");
        let loaded = Suite::load(Some(&file), services);
        std::fs::remove_file(&file).ok();
        loaded
    }

    #[test]
    fn the_defaults_load_every_service() {
        let suite = load_file("").expect("defaults load");
        assert_eq!(
            suite.names(),
            [
                "customers",
                "loyalty",
                "tickets",
                "campaigns",
                "recommendations"
            ]
        );
    }

    #[test]
    fn a_config_bad_in_two_services_reports_both() {
        let err = load_file(
            "[customers]\nmax_batch = 0\n[tickets]\nlow_score_threshold = 9\n[server]\nconcurrency_limit = 0\n",
        )
        .err()
        .expect("two services refuse it");
        let text = err.to_string();
        for want in [
            "customers.max_batch",
            "tickets.low_score_threshold",
            "server.concurrency_limit",
        ] {
            assert!(text.contains(want), "{want} missing from: {text}");
        }
        // The platform section every service reads is one problem, not one per service.
        let shared = err.0.iter().filter(|p| p.contains("server.")).count();
        assert_eq!((err.0.len(), shared), (3, 1), "{:?}", err.0);
    }
}
