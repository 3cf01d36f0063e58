//! sea-orm entities, one module per table (schema in `migration`).
macro_rules! no_relations {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod wallet {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "loyalty_wallets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: Uuid,
        pub sequence: i64,
        pub last_hash: String,
        pub balance: i64,
        pub held: i64,
        pub lifetime_earned: i64,
        pub lifetime_redeemed: i64,
        pub lifetime_expired: i64,
        pub owed: i64,
        pub tier: String,
        pub update_time: ChronoDateTimeUtc,
        /// The survivor this customer was merged into (none: an open wallet).
        pub merged_into: Option<Uuid>,
    }

    no_relations!();
}

pub mod transaction {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "loyalty_transactions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub customer_id: Uuid,
        pub sequence: i64,
        pub kind: String,
        pub order_id: String,
        #[sea_orm(column_type = "Text")]
        pub reason: String,
        pub actor: String,
        /// SHA-256 of reason and actor (empty on rows from before digests).
        pub text_digest: String,
        pub shortfall: i64,
        pub related: String,
        pub qualifying_delta: i64,
        pub qualify_time: ChronoDateTimeUtc,
        pub wallet_after: i64,
        pub held_after: i64,
        pub create_time: ChronoDateTimeUtc,
        pub prev_hash: String,
        pub hash: String,
    }

    no_relations!();
}

pub mod posting {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "loyalty_postings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub transaction_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub idx: i32,
        pub account: String,
        pub amount: i64,
    }

    no_relations!();
}

pub mod lot {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "loyalty_lots")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub customer_id: Uuid,
        pub order_id: String,
        pub earn_time: ChronoDateTimeUtc,
        pub available_time: ChronoDateTimeUtc,
        pub expire_time: ChronoDateTimeUtc,
        pub amount: i64,
        pub remaining: i64,
    }

    no_relations!();
}

pub mod hold {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "loyalty_holds")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub customer_id: Uuid,
        pub points: i64,
        pub captured: i64,
        pub state: String,
        pub order_id: String,
        /// The lots the held points came from (`[Consumption]`).
        pub lots: Json,
        pub create_time: ChronoDateTimeUtc,
        pub expire_time: ChronoDateTimeUtc,
    }

    no_relations!();
}

pub mod order {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "loyalty_orders")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub order_id: String,
        pub purchase_amount_minor: Option<i64>,
        pub currency: String,
        pub earned: i64,
        pub earn_time: Option<ChronoDateTimeUtc>,
        pub refunded_minor: i64,
        pub clawed_back: i64,
        pub shortfall: i64,
        pub redeemed: i64,
        pub restored: i64,
        pub fully_reversed: bool,
        pub base_points: Option<i64>,
    }

    no_relations!();
}

pub mod tier_change {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "loyalty_tier_changes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub customer_id: Uuid,
        pub from_tier: String,
        pub to_tier: String,
        pub qualifying_points: i64,
        pub transaction: String,
        pub change_time: ChronoDateTimeUtc,
    }

    no_relations!();
}
