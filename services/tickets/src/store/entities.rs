//! sea-orm entities, one module per table (schema in `migration`).
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
        pub doc: String,
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
        #[sea_orm(column_type = "Text")]
        pub doc: String,
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
        pub doc: String,
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
        pub doc: String,
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
        pub doc: String,
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
        #[sea_orm(column_type = "Text")]
        pub doc: String,
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
