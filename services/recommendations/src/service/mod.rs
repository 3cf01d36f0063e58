//! The use cases. No tonic or proto types here: the gRPC adapter parses requests into domain
//! values, calls these methods and converts the results back.
//!
//! - [`catalogue`], items (create, get, list, update, delete, import).
//! - [`interactions`], RecordInteractions.
//! - [`events`], the consumers of customers' and loyalty's streams (interactions, merges,
//!   erasures, profile changes, tiers).
//! - [`profiles`], the profile refresh job (customers' GetCustomer for cold start).
//! - [`rebuild`], the model build and publish, its job and the `rebuild` subcommand.
//! - [`serving`], RecommendForCustomer, SimilarItems, BoughtTogether, PopularItems, the hot
//!   list cache; [`served`], the served log written behind; [`feedback`], RecordFeedback
//!   and the purge of served answers.
pub mod catalogue;
pub mod events;
pub mod feedback;
pub mod interactions;
pub mod profiles;
pub mod rebuild;
pub mod served;
pub mod serving;

use crate::clients::Clients;
use crate::domain::Item;
use crate::domain::ItemId;
use crate::settings::RecommendationsSettings;
use crm_platform::app::Core;
use crm_platform::cache::Cache;
use crm_platform::events::Events;
use crm_platform::jobs::Jobs;
use crm_platform::mutation::Touched;
use sea_orm::DatabaseConnection;
use served::ServedLog;
use serving::{CurrentModel, Uncatalogued};
use std::sync::Arc;

#[derive(Clone)]
pub struct RecommendationService {
    core: Core,
    events: Events,
    settings: Arc<RecommendationsSettings>,
    clients: Clients,
    served: ServedLog,
}

impl RecommendationService {
    /// The use cases; the served log's writer runs in `jobs`.
    pub fn new(
        core: Core,
        events: Events,
        settings: RecommendationsSettings,
        clients: Clients,
        jobs: &mut Jobs,
    ) -> Self {
        let served = ServedLog::start(core.db.clone(), &settings.serving, jobs);
        Self {
            core,
            events,
            settings: Arc::new(settings),
            clients,
            served,
        }
    }

    pub fn served_log(&self) -> &ServedLog {
        &self.served
    }

    pub fn core(&self) -> &Core {
        &self.core
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.core.db
    }

    pub fn events(&self) -> &Events {
        &self.events
    }

    pub fn settings(&self) -> &RecommendationsSettings {
        &self.settings
    }

    pub fn clients(&self) -> &Clients {
        &self.clients
    }
}

/// What serving caches that a write changes (the hot lists are keyed by model version and
/// never change).
#[derive(Debug, Clone)]
pub enum Cached {
    /// A catalogue row (created, updated, deleted or imported).
    Item(ItemId),
    /// The current model version (a publish).
    Model,
}

impl Touched for Cached {
    async fn invalidate(&self, cache: &Cache) {
        match self {
            Cached::Item(id) => {
                cache.invalidate::<Item>(id.as_str()).await;
                cache.invalidate::<Uncatalogued>(id.as_str()).await;
            }
            Cached::Model => cache.invalidate::<CurrentModel>(CurrentModel::KEY).await,
        }
    }
}
