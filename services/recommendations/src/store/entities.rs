//! The sea-orm entities, one module per table (schema in `migration`). Row <-> domain
//! conversions live next to the queries of each table (`store::{items, interactions, ...}`).
use sea_orm::entity::prelude::*;

pub mod item {
    use super::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "items")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub title: String,
        pub category: String,
        /// JSON array.
        pub tags: String,
        /// JSON object of text values.
        pub attributes: String,
        /// JSON object of numbers.
        pub numeric_attributes: String,
        pub availability: i16,
        pub bookable_from: Option<ChronoDateTimeUtc>,
        pub bookable_until: Option<ChronoDateTimeUtc>,
        pub revision: i64,
        pub create_time: ChronoDateTimeUtc,
        pub update_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Tombstones of deleted items (serving never returns them; see the migration).
pub mod deleted_item {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "deleted_items")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub delete_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Tombstones of erased customers (the served log drops their late answers; see the
/// migration).
pub mod erased_customer {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "erased_customers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: Uuid,
        pub erase_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod interaction {
    use super::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "interactions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub source_key: String,
        pub customer_id: Uuid,
        pub item_id: String,
        pub kind: i16,
        pub weight: f64,
        pub rating: i16,
        pub quantity: i32,
        pub basket_id: String,
        pub occur_time: ChronoDateTimeUtc,
        pub record_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod profile {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "profiles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: Uuid,
        pub language_code: String,
        pub city: String,
        pub tier: String,
        /// JSON array.
        pub tags: String,
        pub stale: bool,
        pub update_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod model_version {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "model_versions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i64,
        pub similarity: String,
        pub build_time: ChronoDateTimeUtc,
        pub build_duration_ms: i64,
        pub interaction_count: i64,
        pub customer_count: i64,
        pub item_count: i64,
        pub last_interaction_record_time: Option<ChronoDateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod item_model {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "item_models")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub item_id: String,
        /// JSON list of `domain::model::Neighbour`.
        pub neighbours: String,
        /// JSON list of `domain::model::Rule`.
        pub rules: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod popular_list {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "popular_lists")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub scope: String,
        /// JSON list of `domain::model::Popular`.
        pub items: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod recommendation {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "recommendations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub customer_id: Option<Uuid>,
        pub method: String,
        pub scenario: String,
        /// JSON array of item ids, in served order.
        pub items: String,
        pub model_version: i64,
        pub create_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod feedback {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "feedback")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub recommendation_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub item_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: i16,
        pub occur_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
