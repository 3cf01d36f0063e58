//! sea-orm entities, one module per table (schema in `migration`). Every field of a record
//! is a column; list-valued fields are JSON columns in the format `json_version` names (see
//! [`super::lists`]).
macro_rules! no_relations {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod ticket {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tickets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub customer_id: Uuid,
        pub status: String,
        pub priority: String,
        pub channel: String,
        pub category: String,
        pub team_id: Option<Uuid>,
        pub assignee_id: Option<Uuid>,
        pub sla_state: String,
        pub customer_check: String,
        pub next_check: Option<ChronoDateTimeUtc>,
        pub create_time: ChronoDateTimeUtc,
        pub update_time: ChronoDateTimeUtc,
        pub revision: i64,
        #[sea_orm(column_type = "Text")]
        pub subject: String,
        #[sea_orm(column_type = "Text")]
        pub description: String,
        /// JSON: `[tag]`.
        #[sea_orm(column_type = "Text")]
        pub tags: String,
        pub order_id: String,
        pub booking_id: String,
        pub sla_policy: String,
        pub sla_first_response_due: Option<ChronoDateTimeUtc>,
        pub sla_next_response_due: Option<ChronoDateTimeUtc>,
        pub sla_resolution_due: Option<ChronoDateTimeUtc>,
        pub sla_paused_since: Option<ChronoDateTimeUtc>,
        /// JSON: `[{target, due}]`.
        #[sea_orm(column_type = "Text")]
        pub sla_missed: String,
        pub sla_finished: bool,
        pub sla_unanswered: bool,
        pub first_response_time: Option<ChronoDateTimeUtc>,
        pub solve_time: Option<ChronoDateTimeUtc>,
        pub close_time: Option<ChronoDateTimeUtc>,
        pub merged_into: Option<Uuid>,
        /// JSON: `[ticket id]`, in merge order.
        #[sea_orm(column_type = "Text")]
        pub merged_from: String,
        pub escalations: i32,
        pub survey_token: String,
        pub survey: i32,
        pub json_version: i32,
        pub first_response_seconds: Option<i64>,
        pub first_response_business_seconds: Option<i64>,
        pub resolution_seconds: Option<i64>,
        pub resolution_business_seconds: Option<i64>,
        pub merged: bool,
        pub columns_version: i32,
    }

    no_relations!();
}

pub mod message {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ticket_messages")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub ticket_id: Uuid,
        pub origin_ticket_id: Option<Uuid>,
        pub kind: String,
        pub create_time: ChronoDateTimeUtc,
        /// `agent`, `customer` or `system` (no id).
        pub author_kind: String,
        pub author_id: Option<Uuid>,
        #[sea_orm(column_type = "Text")]
        pub body: String,
        /// JSON: `[{file_name, content_type, size_bytes, uri}]`.
        #[sea_orm(column_type = "Text")]
        pub attachments: String,
        pub json_version: i32,
    }

    no_relations!();
}

pub mod team {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "teams")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub create_time: ChronoDateTimeUtc,
        pub revision: i64,
        #[sea_orm(column_type = "Text")]
        pub display_name: String,
        pub routing_strategy: String,
        /// JSON: `[category]`.
        #[sea_orm(column_type = "Text")]
        pub categories: String,
        /// JSON: `{category: skill}`.
        #[sea_orm(column_type = "Text")]
        pub category_skills: String,
        pub escalation_team: bool,
        pub update_time: ChronoDateTimeUtc,
        pub json_version: i32,
    }

    no_relations!();
}

pub mod agent {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "agents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub team_id: Uuid,
        pub open_tickets: i32,
        pub max_open_tickets: i32,
        pub available: bool,
        pub last_assigned: Option<ChronoDateTimeUtc>,
        pub create_time: ChronoDateTimeUtc,
        pub revision: i64,
        #[sea_orm(column_type = "Text")]
        pub display_name: String,
        pub email: String,
        /// JSON: `[skill]`.
        #[sea_orm(column_type = "Text")]
        pub skills: String,
        pub update_time: ChronoDateTimeUtc,
        pub json_version: i32,
    }

    no_relations!();
}

pub mod macro_ {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "macros")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: String,
        pub create_time: ChronoDateTimeUtc,
        #[sea_orm(column_type = "Text")]
        pub title: String,
        #[sea_orm(column_type = "Text")]
        pub body: String,
    }

    no_relations!();
}

pub mod team_claim {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "team_claims")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub claim: String,
        pub team_id: Uuid,
    }

    no_relations!();
}

pub mod satisfaction {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "survey_answers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ticket_id: Uuid,
        /// The survey's number on its ticket (1 for the first solve).
        #[sea_orm(primary_key, auto_increment = false)]
        pub survey: i32,
        pub survey_token: String,
        pub overall: i32,
        pub submit_time: ChronoDateTimeUtc,
        pub goodwill_pending: bool,
        pub service: i32,
        pub product_quality: i32,
        pub logistics: i32,
        #[sea_orm(column_type = "Text")]
        pub comment: String,
        pub goodwill_points: i64,
    }

    no_relations!();
}

pub mod sla_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sla_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ticket_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub target: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub due_time: ChronoDateTimeUtc,
        pub create_time: ChronoDateTimeUtc,
        #[sea_orm(column_type = "Text")]
        pub action: String,
    }

    no_relations!();
}

pub mod customer_merge {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "customer_merges")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub loser: Uuid,
        pub survivor: Uuid,
        pub merge_time: ChronoDateTimeUtc,
    }

    no_relations!();
}
