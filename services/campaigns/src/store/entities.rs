//! The sea-orm entities of every table (schema in `migration`). Row <-> domain conversions
//! live in the store module that owns the table (`members`, `segments`, `campaigns`,
//! `deliveries`).
use sea_orm::entity::prelude::*;

macro_rules! plain_entity {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod member {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// "active", "deleted" or "merged".
        pub state: String,
        pub merged_into: Option<Uuid>,
        /// Sealed `domain::member::Profile` JSON; None until the first refresh.
        pub profile: Option<Vec<u8>>,
        pub pii_key: Option<String>,
        pub language_code: String,
        pub time_zone: String,
        pub lifecycle_stage: i32,
        pub birth_month: Option<i16>,
        pub birth_day: Option<i16>,
        pub tier: String,
        pub available_points: i64,
        pub order_count: i64,
        pub last_purchase_time: Option<ChronoDateTimeUtc>,
        pub rfm_segment: String,
        pub profile_stale: bool,
        pub loyalty_stale: bool,
        pub refresh_after: Option<ChronoDateTimeUtc>,
        pub segments_dirty: bool,
        pub update_time: ChronoDateTimeUtc,
    }
    plain_entity!();
}

pub mod member_tag {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "member_tags")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub tag: String,
    }
    plain_entity!();
}

pub mod member_attribute {
    use super::*;

    /// A custom attribute as a blind index: `key_hash` = index("attribute.key", key),
    /// `value_hash` = index("attribute.value", key + "\u{0}" + value text).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "member_attributes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub key_hash: String,
        pub value_hash: String,
    }
    plain_entity!();
}

pub mod member_date {
    use super::*;

    /// An important date (month and day; the year is not kept).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "member_dates")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        pub month: i16,
        pub day: i16,
    }
    plain_entity!();
}

pub mod member_consent {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "member_consents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: Uuid,
        /// crm.customers.v1.Channel number.
        #[sea_orm(primary_key, auto_increment = false)]
        pub channel: i32,
        pub granted: bool,
        pub update_time: ChronoDateTimeUtc,
    }
    plain_entity!();
}

pub mod member_order {
    use super::*;

    /// A purchase (amount > 0) or refund (amount < 0), by activity id.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "member_orders")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub activity_id: Uuid,
        pub customer_id: Uuid,
        pub occur_time: ChronoDateTimeUtc,
        pub currency_code: String,
        pub amount_minor: i64,
    }
    plain_entity!();
}

pub mod member_order_item {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "member_order_items")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub activity_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub item_id: String,
        pub customer_id: Uuid,
        pub occur_time: ChronoDateTimeUtc,
        pub quantity: i32,
    }
    plain_entity!();
}

pub mod member_ticket {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "member_tickets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ticket_id: Uuid,
        pub customer_id: Uuid,
        /// crm.tickets.v1.Category number.
        pub category: i32,
        pub open: bool,
        pub update_time: ChronoDateTimeUtc,
    }
    plain_entity!();
}

pub mod segment {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "segments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub display_name: String,
        pub description: String,
        /// `domain::segment::Rule` as JSON.
        pub rule: String,
        pub member_count: i64,
        pub revision: i64,
        pub create_time: ChronoDateTimeUtc,
        pub update_time: ChronoDateTimeUtc,
    }
    plain_entity!();
}

pub mod segment_member {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "segment_members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub segment_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: Uuid,
        pub enter_time: ChronoDateTimeUtc,
    }
    plain_entity!();
}

pub mod campaign {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "campaigns")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub display_name: String,
        pub state: String,
        pub segment_id: Uuid,
        /// crm.campaigns.v1.Channel number.
        pub channel: i32,
        pub transactional: bool,
        pub throttle_per_second: i32,
        /// `domain::campaign::Spec` as JSON.
        pub spec: String,
        pub start_at: Option<ChronoDateTimeUtc>,
        pub audience_cursor: Option<Uuid>,
        pub audience_done: bool,
        pub revision: i64,
        pub create_time: ChronoDateTimeUtc,
        pub update_time: ChronoDateTimeUtc,
        pub start_time: Option<ChronoDateTimeUtc>,
        pub end_time: Option<ChronoDateTimeUtc>,
        /// "" for a scheduled campaign, else `domain::journey::TriggerKind::code`.
        pub trigger_kind: String,
        pub winner_variant: Option<String>,
        pub winner_time: Option<ChronoDateTimeUtc>,
    }
    plain_entity!();
}

pub mod delivery {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub campaign_id: Uuid,
        pub step: i32,
        pub customer_id: Uuid,
        pub variant: String,
        pub channel: i32,
        pub transactional: bool,
        /// `domain::campaign::DeliveryState` code, e.g. "pending".
        pub state: String,
        /// crm.campaigns.v1.Delivery.Reason number.
        pub reason: i32,
        pub detail: String,
        pub due_time: ChronoDateTimeUtc,
        pub lease_until: Option<ChronoDateTimeUtc>,
        pub send_time: Option<ChronoDateTimeUtc>,
        pub attempts: i32,
        pub receipt_time: Option<ChronoDateTimeUtc>,
        /// Sealed rendered message while queued.
        pub message: Option<Vec<u8>>,
        pub pii_key: Option<String>,
        pub update_time: ChronoDateTimeUtc,
        /// A journey's occasion; "" for a one-off campaign.
        pub occasion: String,
        /// The first open / click receipt (a later state does not hide them).
        pub open_time: Option<ChronoDateTimeUtc>,
        pub click_time: Option<ChronoDateTimeUtc>,
    }
    plain_entity!();
}

pub mod conversion {
    use super::*;

    /// A purchase or booking attributed to a delivery (its attribution window held it).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "conversions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub delivery_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub activity_id: Uuid,
        pub campaign_id: Uuid,
        /// "" for the holdout.
        pub variant: String,
        pub customer_id: Uuid,
        pub occur_time: ChronoDateTimeUtc,
        /// Days since 1970-01-01 (UTC).
        pub occur_day: i32,
        pub currency_code: String,
        pub amount_minor: i64,
    }
    plain_entity!();
}

pub mod coupon_pool {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "coupon_pools")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub display_name: String,
        pub revision: i64,
        pub create_time: ChronoDateTimeUtc,
        pub update_time: ChronoDateTimeUtc,
    }
    plain_entity!();
}

pub mod coupon_code {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "coupon_codes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub pool_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: String,
        pub claimed: bool,
        /// "customers/{id}" or "deliveries/{id}"; unique per pool.
        pub claim_key: Option<String>,
        pub customer_id: Option<Uuid>,
        pub claim_time: Option<ChronoDateTimeUtc>,
    }
    plain_entity!();
}
