//! The shape every service shares. A service implements [`Service`] (its names, settings,
//! migrator, how it builds its use cases and routes) and gets from here, generically:
//! [`component`] (what a server serves, used by a service's own binary and by the suite),
//! [`application`] (a bound server for one service), [`migrate`] (the `migrate` subcommand)
//! and [`main`] (the whole command line).
//!
//! What stays in a service is declared with the macros of this crate:
//! - `settings.rs`: [`service_settings!`](crate::service_settings) (its `Settings` and
//!   `load`); its own sections check their keys with [`Paging::validate`](crate::paging::Paging::validate)
//!   and [`idempotency::validate_retention`](crate::idempotency::validate_retention).
//! - `migration/mod.rs`: [`migrator!`](crate::migrator).
//! - `service/mod.rs`: a [`Mutations`](crate::mutation::Mutations) field, a
//!   [`Paging`](crate::paging::Paging), `pub use crm_platform::paging::Page`, and
//!   [`write_path!`](crate::write_path) for the `begin`/`commit`/`invalidate` its use cases call.
//! - `lib.rs`: the [`Service`] impl and [`service_api!`](crate::service_api) (the crate's
//!   `SERVICE`, `GRPC_SERVICE`, `Application`, `component`, `application`, `migrate`).
//! - `main.rs`: the global allocator and `crm_platform::app::main::<crm_widgets::Widgets>()`
//!   under `#[tokio::main]`.
//! - `tests/api/harness.rs`: `crm_platform::testing::spawn` (feature `testing`) and the service's request
//!   builders.
//!
//! A service's `lib.rs`, in short:
//! ```ignore
//! pub struct Widgets;
//!
//! impl crm_platform::app::Service for Widgets {
//!     const NAME: &'static str = "widgets";
//!     const GRPC_SERVICE: &'static str = "crm.widgets.v1.WidgetService";
//!     type Settings = Settings;
//!     type Migrator = migration::Migrator;
//!     type UseCases = WidgetsService;
//!
//!     async fn build(settings: &Settings, parts: &mut Parts) -> anyhow::Result<WidgetsService> {
//!         let w = &settings.widgets;
//!         parts.jobs.purge_idempotency(parts.db.clone(), w.idempotency_retention_hours);
//!         Ok(WidgetsService::new(parts.db.clone(), parts.cache()?, parts.tokens.clone(), w.clone()))
//!     }
//!
//!     fn routes(svc: WidgetsService, server: &ServerSettings, routes: &mut RoutesBuilder) {
//!         routes.add_service(crm_platform::configure_service!(
//!             WidgetServiceServer::new(WidgetsGrpc::new(svc)),
//!             server
//!         ));
//!     }
//! }
//!
//! crm_platform::service_api!(Widgets);
//! ```
use crate::cache::Cache;
use crate::config::{CacheSettings, ConfigError, EventsSettings, PlatformSettings, ServerSettings};
use crate::db::SchemaReadiness;
use crate::jobs::Jobs;
use crate::page_token::PageTokens;
use crate::server::{Application, Component};
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use std::future::Future;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;
use tonic::service::RoutesBuilder;

/// The result type of the functions here (and of those [`service_api!`](crate::service_api)
/// declares).
pub type Result<T> = anyhow::Result<T>;

/// A service's settings: the platform sections plus its own (see
/// [`Loader::service`](crate::config::Loader::service)).
pub trait ServiceSettings: Send + Sync + Sized + 'static {
    /// Embedded defaults -> `file` -> `CRM_*` env, validated, every problem at once.
    fn load(file: Option<&Path>) -> std::result::Result<Self, ConfigError>;
    fn platform(&self) -> &PlatformSettings;
    fn platform_mut(&mut self) -> &mut PlatformSettings;
}

/// What a service provides for the platform to wire, serve and migrate it.
pub trait Service: 'static {
    /// Name of the database (`{service}` in the URL), cache keys and telemetry.
    const NAME: &'static str;
    /// Fully-qualified gRPC service name, reported by health.
    const GRPC_SERVICE: &'static str;
    type Settings: ServiceSettings;
    type Migrator: MigratorTrait + 'static;
    /// The use-case handle: served through the routes, and inspected by tests and benchmarks.
    type UseCases: Clone + Send + Sync + 'static;
    /// The scope of every RPC (the service's `grpc/policy.rs`): the server refuses to start
    /// when a method of the descriptor has no rule.
    const POLICY: &'static [crate::auth::Rule];

    /// Builds the use cases on the started `parts`, adding the service's background jobs to
    /// `parts.jobs` (e.g. [`Jobs::purge_idempotency`]).
    fn build(
        settings: &Self::Settings,
        parts: &mut Parts,
    ) -> impl Future<Output = Result<Self::UseCases>> + Send;

    /// Adds the service's gRPC routes (its adapter over `use_cases`), configured with
    /// [`configure_service!`](crate::configure_service) from `server`.
    fn routes(use_cases: Self::UseCases, server: &ServerSettings, routes: &mut RoutesBuilder);

    /// Called when the service runs in a suite (several services on one port, see
    /// [`suite`](crate::suite)) before it is built: e.g. point unset client URLs of services
    /// in the same process at `own_url`. Nothing by default.
    fn in_suite(settings: &mut Self::Settings, own_url: &str) {
        let _ = (settings, own_url);
    }
}

/// What every service is built on, started by [`component`].
pub struct Parts {
    /// A lazy pool on the service's database (see [`db::connect`](crate::db::connect)).
    pub db: DatabaseConnection,
    /// Page tokens signed with the configured secret.
    pub tokens: PageTokens,
    /// The component's background jobs (the start-up migration retry may be in it already).
    pub jobs: Jobs,
    name: &'static str,
    cache: CacheSettings,
    events: EventsSettings,
    pii: crate::pii::PiiSettings,
}

/// What the use cases of a service with a cache hold: the pool, the cache, signed page
/// tokens, page sizes and the write path. Clones share the pool and the cache.
#[derive(Clone)]
pub struct Core {
    pub db: DatabaseConnection,
    pub cache: Cache,
    pub tokens: PageTokens,
    pub paging: crate::paging::Paging,
    /// Begin/commit of idempotent mutations, dropping touched ids from `cache` after commit.
    pub writes: crate::mutation::Mutations,
}

impl Parts {
    /// The [`Core`] of a service's use cases, with its cache and `paging`.
    pub fn core(&self, paging: crate::paging::Paging) -> Result<Core> {
        let cache = self.cache()?;
        Ok(Core {
            writes: crate::mutation::Mutations::with_cache(self.db.clone(), cache.clone()),
            db: self.db.clone(),
            cache,
            tokens: self.tokens.clone(),
            paging,
        })
    }

    /// The service's two-tier cache with its shared generation (the service's migrator must
    /// include [`CreateCacheGeneration`](crate::cache_generation::CreateCacheGeneration)).
    pub fn cache(&self) -> Result<Cache> {
        Cache::with_generation(&self.cache, self.name, self.db.clone())
    }

    /// The service's personal-data keys (the migrator must include
    /// [`CreatePiiDataKeys`](crate::pii::CreatePiiDataKeys)): a wrong or missing
    /// key-encryption key fails here, so the service does not start.
    pub fn pii(&self) -> impl Future<Output = Result<crate::pii::Pii>> + Send + 'static {
        // Owns what it needs: `Parts` (its jobs' stop hooks) is not shared across the await.
        let (db, settings) = (self.db.clone(), self.pii.clone());
        async move { crate::pii::Pii::open(db, &settings).await }
    }

    /// The service's access to the event backbone (see [`events`](crate::events)): the
    /// service's migrator must include `CreateEventOutbox` to produce (then call
    /// `start_relay(&mut parts.jobs)`), `CreateEventInbox` to consume.
    pub fn events(&self) -> Result<crate::events::Events> {
        crate::events::Events::new(&self.events, self.name, self.db.clone())
    }
}

/// Wires `S` for a server: a lazy pool, the start-up migration (when configured; a database
/// that does not answer yet is retried in the background while health says NOT_SERVING), the
/// use cases and their jobs, the routes, and readiness (database reachable, schema current).
pub async fn component<S: Service>(settings: &S::Settings) -> Result<(Component, S::UseCases)> {
    let p = settings.platform();
    let db = crate::db::connect(&p.database, S::NAME).await?;
    let mut jobs = Jobs::new();
    crate::db::migrate_on_start::<S::Migrator>(&p.database, S::NAME, &mut jobs).await;
    let mut parts = Parts {
        db: db.clone(),
        tokens: PageTokens::from_secret(&p.security.page_token_secret),
        jobs,
        name: S::NAME,
        cache: p.cache.clone(),
        events: p.events.clone(),
        pii: p.pii.clone(),
    };
    let use_cases = S::build(settings, &mut parts).await?;
    let served = use_cases.clone();
    let server = p.server.clone();
    let component = Component {
        service_name: S::GRPC_SERVICE,
        register: Box::new(move |routes| S::routes(served, &server, routes)),
        readiness: Arc::new(SchemaReadiness::<S::Migrator>::new(db, &p.database)),
        jobs: parts.jobs,
        policy: S::POLICY,
    };
    Ok((component, use_cases))
}

/// Connects, migrates (when configured), binds the listen address: `S` alone on a server.
pub async fn application<S: Service>(settings: S::Settings) -> Result<Application<S::UseCases>> {
    let (component, use_cases) = component::<S>(&settings).await?;
    let p = settings.platform();
    Application::new(&p.server, &p.auth, &p.tls, component, use_cases).await
}

/// Applies the pending migrations of `S` and returns (the `migrate` subcommand).
pub async fn migrate<S: Service>(settings: &S::Settings) -> Result<()> {
    crate::db::migrate_service::<S::Migrator>(&settings.platform().database, S::NAME).await
}

/// The command line of `S`'s own binary: `serve | migrate | healthcheck`.
pub async fn main<S: Service>() -> Result<()> {
    crate::cli::run::<Binary<S>>().await
}

/// [`cli::Binary`](crate::cli::Binary) for one service.
pub struct Binary<S>(PhantomData<fn() -> S>);

impl<S: Service> crate::cli::Binary for Binary<S> {
    type Settings = S::Settings;
    const NAME: &'static str = S::NAME;

    fn load(file: Option<&Path>) -> std::result::Result<S::Settings, ConfigError> {
        S::Settings::load(file)
    }
    fn telemetry(settings: &S::Settings) -> &crate::config::TelemetrySettings {
        &settings.platform().telemetry
    }
    fn events(settings: &S::Settings) -> &crate::config::EventsSettings {
        &settings.platform().events
    }
    fn auth(settings: &S::Settings) -> &crate::auth::AuthSettings {
        &settings.platform().auth
    }
    async fn migrate(settings: &S::Settings) -> Result<()> {
        migrate::<S>(settings).await
    }
    async fn serve(settings: S::Settings) -> Result<()> {
        application::<S>(settings).await?.run_until_stopped().await
    }
}

/// Paths the macros below expand to, so a service crate needs no direct dependency for them.
#[doc(hidden)]
pub mod __private {
    pub use sea_orm::DatabaseTransaction;
    pub use sea_orm_migration::{MigrationTrait, MigratorTrait};
    pub use serde::Serialize;
    pub use serde::de::DeserializeOwned;
}

/// Declares a service crate's entry points from its [`Service`] impl `$service`: the
/// constants `SERVICE` (its [`Service::NAME`]) and `GRPC_SERVICE`, `Application` (its bound
/// server), `component(&settings)` (what a server serves, plus the use cases),
/// `application(settings)` and `migrate(&settings)`.
#[macro_export]
macro_rules! service_api {
    ($service:ty) => {
        /// Name used for the database file, cache keys and telemetry.
        pub const SERVICE: &str = <$service as $crate::app::Service>::NAME;
        /// The gRPC service name reported by health.
        pub const GRPC_SERVICE: &str = <$service as $crate::app::Service>::GRPC_SERVICE;

        /// This service's server, bound and ready to run.
        pub type Application =
            $crate::server::Application<<$service as $crate::app::Service>::UseCases>;

        /// Wires the service for a server (see `crm_platform::app::component`).
        pub async fn component(
            settings: &<$service as $crate::app::Service>::Settings,
        ) -> $crate::app::Result<(
            $crate::server::Component,
            <$service as $crate::app::Service>::UseCases,
        )> {
            $crate::app::component::<$service>(settings).await
        }

        /// Connects, migrates (when configured), binds the listen address.
        pub async fn application(
            settings: <$service as $crate::app::Service>::Settings,
        ) -> $crate::app::Result<Application> {
            $crate::app::application::<$service>(settings).await
        }

        /// Applies migrations and returns (the `migrate` subcommand).
        pub async fn migrate(
            settings: &<$service as $crate::app::Service>::Settings,
        ) -> $crate::app::Result<()> {
            $crate::app::migrate::<$service>(settings).await
        }
    };
}

/// Declares a service's `Settings`: the platform sections plus one field per own section,
/// named as the section, read over the embedded `$defaults` TOML by `Settings::load(file)`
/// (see [`Loader::service`](crate::config::Loader::service)), and its [`ServiceSettings`]:
/// ```ignore
/// crm_platform::service_settings!(Settings, DEFAULTS, { widgets: WidgetsSettings });
/// ```
#[macro_export]
macro_rules! service_settings {
    ($name:ident, $defaults:expr, { $($section:ident: $ty:ty),+ $(,)? }) => {
        /// The platform sections plus this service's own.
        #[derive(Debug, Clone)]
        pub struct $name {
            pub platform: $crate::config::PlatformSettings,
            $(pub $section: $ty,)+
        }

        impl $name {
            /// Embedded defaults -> `file` -> `CRM_*` env, validated, every problem at once.
            pub fn load(
                file: Option<&std::path::Path>,
            ) -> Result<Self, $crate::config::ConfigError> {
                let (platform, ($($section,)+)) =
                    $crate::config::Loader::service($defaults, file, |l| {
                        $(let $section = l.section::<$ty>(stringify!($section));)+
                        Some(($($section?,)+))
                    })?;
                Ok(Self {
                    platform,
                    $($section,)+
                })
            }
        }

        impl $crate::app::ServiceSettings for $name {
            fn load(
                file: Option<&std::path::Path>,
            ) -> Result<Self, $crate::config::ConfigError> {
                <$name>::load(file)
            }
            fn platform(&self) -> &$crate::config::PlatformSettings {
                &self.platform
            }
            fn platform_mut(&mut self) -> &mut $crate::config::PlatformSettings {
                &mut self.platform
            }
        }
    };
}

/// Declares a service's migrator: `migrator!(Migrator: [first::Migration, second::Migration])`,
/// the migrations in the order they were released (never reordered or edited afterwards).
/// Platform tables are listed like the service's own, e.g.
/// [`CreateIdempotencyKeys`](crate::idempotency::CreateIdempotencyKeys) first.
#[macro_export]
macro_rules! migrator {
    ($(#[$meta:meta])* $name:ident: [$($migration:expr),+ $(,)?]) => {
        $(#[$meta])*
        pub struct $name;

        impl $crate::app::__private::MigratorTrait for $name {
            fn migrations() -> Vec<Box<dyn $crate::app::__private::MigrationTrait>> {
                vec![$(Box::new($migration)),+]
            }
        }
    };
}
