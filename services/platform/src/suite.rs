//! Several services in one process on one port (`crm-suite`, `make run`). Each keeps its own
//! settings, database (`{service}` in the URL) and cache keys; they share the listener and the
//! health and reflection services. The suite binary lists its services, one line each:
//! ```ignore
//! crm_platform::suite::main(|s| {
//!     s.add::<crm_customers::Customers>();
//!     s.add::<crm_widgets::Widgets>();
//! })
//! ```
use crate::app::{self, Service, ServiceSettings};
use crate::config::{ConfigError, PlatformSettings, Problems, TelemetrySettings};
use crate::server::Component;
use futures::future::BoxFuture;
use std::net::SocketAddr;
use std::path::Path;

/// One loaded service of the suite, with its type erased so the suite can hold a list.
trait Member: Send + Sync {
    fn name(&self) -> &'static str;
    fn platform(&self) -> &PlatformSettings;
    fn serve_at(&mut self, own_url: &str);
    fn migrate(&self) -> BoxFuture<'_, app::Result<()>>;
    fn component(&self) -> BoxFuture<'_, app::Result<Component>>;
}

struct Loaded<S: Service>(S::Settings);

impl<S: Service> Member for Loaded<S>
where
    S::Settings: Sync,
{
    fn name(&self) -> &'static str {
        S::NAME
    }
    fn platform(&self) -> &PlatformSettings {
        self.0.platform()
    }
    fn serve_at(&mut self, own_url: &str) {
        S::in_suite(&mut self.0, own_url);
    }
    fn migrate(&self) -> BoxFuture<'_, app::Result<()>> {
        Box::pin(app::migrate::<S>(&self.0))
    }
    fn component(&self) -> BoxFuture<'_, app::Result<Component>> {
        Box::pin(async move { Ok(app::component::<S>(&self.0).await?.0) })
    }
}

/// The services of a suite, loaded from one config file; [`Suite::add`] collects every
/// service's config problems instead of stopping at the first.
pub struct Suite {
    file: Option<std::path::PathBuf>,
    members: Vec<Box<dyn Member>>,
    problems: Problems,
}

impl Suite {
    /// Loads `S`'s settings from the suite's file and adds it (its problems are kept).
    pub fn add<S: Service>(&mut self) -> &mut Self
    where
        S::Settings: Sync,
    {
        if let Some(settings) = self.problems.take(S::Settings::load(self.file.as_deref())) {
            self.members.push(Box::new(Loaded::<S>(settings)));
        }
        self
    }

    /// The suite `services` declares, or every problem of every service in one error.
    pub fn load(
        file: Option<&Path>,
        services: impl FnOnce(&mut Suite),
    ) -> Result<Suite, ConfigError> {
        let mut suite = Suite {
            file: file.map(Path::to_path_buf),
            members: Vec::new(),
            problems: Problems::default(),
        };
        services(&mut suite);
        let problems = std::mem::take(&mut suite.problems);
        let complete = (!suite.members.is_empty()).then_some(suite);
        problems.finish(complete)
    }

    /// The names of the services, in the order they were added.
    pub fn names(&self) -> Vec<&'static str> {
        self.members.iter().map(|m| m.name()).collect()
    }

    /// The platform sections (shared by every service; the first service's are used).
    fn platform(&self) -> &PlatformSettings {
        self.members[0].platform()
    }

    /// Applies every service's pending migrations, in order.
    pub async fn migrate(&self) -> app::Result<()> {
        for m in &self.members {
            m.migrate().await?;
        }
        Ok(())
    }

    /// Binds the shared listen address and serves every service on it until SIGTERM/SIGINT.
    pub async fn serve(mut self) -> app::Result<()> {
        let server = self.platform().server.clone();
        let listener = crate::server::bind(&server).await?;
        let addr = listener.local_addr()?;
        let own = own_url(addr);
        for m in &mut self.members {
            m.serve_at(&own);
        }
        let mut components = Vec::with_capacity(self.members.len());
        for m in &self.members {
            components.push(m.component().await?);
        }
        println!(
            "\nCRM suite listening on {addr} (services: {})",
            self.names().join(", ")
        );
        if self.platform().auth.mode == crate::auth::AuthMode::Off {
            println!(
                "\n!!! authentication is OFF (auth.mode = \"off\", the embedded default for a laptop): any process that reaches {addr} may call every method. See README \"Security\" to turn it on. !!!"
            );
        }
        println!("try:\n  grpcurl -plaintext {addr} list");
        println!(
            "  grpcurl -plaintext -d '{{\"request_id\":\"{}\",\"customer\":{{\"display_name\":\"Li Wei\",\"primary_email\":\"li.wei@example.com\"}}}}' {addr} crm.customers.v1.CustomerService/CreateCustomer\n",
            uuid::Uuid::new_v4()
        );
        crate::server::serve(
            &server,
            &self.platform().auth,
            &self.platform().tls,
            listener,
            components,
            crate::server::shutdown_signal(),
        )
        .await
    }
}

/// The URL other services of the suite reach this process at (calls between them go through
/// the same server).
fn own_url(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        addr.ip()
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// The suite's command line (`serve | migrate | healthcheck`) over the services `services`
/// adds.
pub async fn main(services: fn(&mut Suite)) -> app::Result<()> {
    SERVICES
        .set(services)
        .map_err(|_| anyhow::anyhow!("suite::main called twice"))?;
    crate::cli::run::<Binary>().await
}

static SERVICES: std::sync::OnceLock<fn(&mut Suite)> = std::sync::OnceLock::new();

struct Binary;

impl crate::cli::Binary for Binary {
    type Settings = Suite;
    const NAME: &'static str = "crm-suite";

    fn load(file: Option<&Path>) -> Result<Suite, ConfigError> {
        let services = SERVICES
            .get()
            .ok_or_else(|| ConfigError(vec!["the suite lists no services".into()]))?;
        Suite::load(file, services)
    }
    fn telemetry(suite: &Suite) -> &TelemetrySettings {
        &suite.platform().telemetry
    }
    fn events(suite: &Suite) -> &crate::config::EventsSettings {
        &suite.platform().events
    }
    fn auth(suite: &Suite) -> &crate::auth::AuthSettings {
        &suite.platform().auth
    }
    async fn migrate(suite: &Suite) -> app::Result<()> {
        suite.migrate().await
    }
    async fn serve(suite: Suite) -> app::Result<()> {
        suite.serve().await
    }
}
