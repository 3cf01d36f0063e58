//! sea-orm entities, one module per table (schema in `migration`).
pub mod customer {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "customers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub display_name: String,
        pub full_name_key: String,
        pub birth_date: Option<ChronoDate>,
        pub primary_email: Option<String>,
        pub external_id: Option<String>,
        pub lifecycle_stage: String,
        pub state: String,
        pub merged_into: Option<Uuid>,
        /// The whole profile in plain text when `pii_key` is none (encryption off) or
        /// `legacy`; JSON null when sealed. The columns above are blind indexes or blanks then.
        pub profile: Json,
        /// The data key `sealed` is sealed with (see crm_platform::pii).
        pub pii_key: Option<String>,
        /// The profile JSON sealed under `pii_key`, bound to the row id.
        pub sealed: Option<Vec<u8>>,
        pub revision: i64,
        pub create_time: ChronoDateTimeUtc,
        pub update_time: ChronoDateTimeUtc,
        pub delete_time: Option<ChronoDateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Search keys: e-mails, phones and name keys of active and deleted customers.
pub mod contact {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "customer_contacts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub value: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One row per tag of an active or deleted customer, with copies of its stage and sort keys
/// so a tag-filtered list is one ordered index range (`idx_tags_*`).
pub mod tag {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "customer_tags")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub tag: String,
        pub lifecycle_stage: String,
        pub create_time: ChronoDateTimeUtc,
        pub update_time: ChronoDateTimeUtc,
        pub display_name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod activity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "activities")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub customer_id: Uuid,
        pub kind: String,
        pub occur_time: ChronoDateTimeUtc,
        pub currency: Option<String>,
        pub amount_minor: Option<i64>,
        /// channel, items, reference, text, item_id, rating in plain text when `pii_key` is
        /// none or `legacy`; JSON null when sealed.
        pub data: Json,
        /// The data key `sealed` is sealed with (see crm_platform::pii).
        pub pii_key: Option<String>,
        /// The data JSON sealed under `pii_key`, bound to the row id.
        pub sealed: Option<Vec<u8>>,
        pub create_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod audit {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "customer_audit")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub customer_id: Uuid,
        pub action: String,
        pub actor: String,
        #[sea_orm(column_type = "Text")]
        pub details: String,
        pub create_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One erasure: the CustomerErased event the other services answer.
pub mod erasure {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "customer_erasures")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: Uuid,
        pub erasure_event_id: Uuid,
        pub erase_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A service's report that it scrubbed an erased customer; the first per service stays.
pub mod erasure_completion {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "erasure_completions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub service: String,
        pub erasure_event_id: Uuid,
        pub completion_event_id: Uuid,
        pub complete_time: ChronoDateTimeUtc,
        pub scrubbed_records: i64,
        pub record_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
