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
//!   list cache; [`feedback`], RecordFeedback and the purge of served answers.
pub mod catalogue;
pub mod events;
pub mod feedback;
pub mod interactions;
pub mod profiles;
pub mod rebuild;
pub mod serving;

use crate::clients::Clients;
use crate::settings::RecommendationsSettings;
use crm_platform::app::Core;
use crm_platform::events::Events;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

#[derive(Clone)]
pub struct RecommendationService {
    core: Core,
    events: Events,
    settings: Arc<RecommendationsSettings>,
    clients: Clients,
}

impl RecommendationService {
    pub fn new(
        core: Core,
        events: Events,
        settings: RecommendationsSettings,
        clients: Clients,
    ) -> Self {
        Self {
            core,
            events,
            settings: Arc::new(settings),
            clients,
        }
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
