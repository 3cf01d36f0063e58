//! RebuildReadModel's rows (table `read_model_rebuilds`, its entity here: only the rebuild
//! reads it): every member marked stale at the request, then customers' and tickets'
//! listings paged by the rebuild job, each page's token saved with its effects.
use crate::store::entities::member;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

pub mod read_model_rebuild {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "read_model_rebuilds")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub customers_token: String,
        pub customers_done: bool,
        pub tickets_token: String,
        pub tickets_done: bool,
        pub request_time: ChronoDateTimeUtc,
        pub update_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use read_model_rebuild::Model as Rebuild;

/// Marks every member for a refresh and records a rebuild to page the listings; returns the
/// members marked.
pub async fn start_rebuild(
    conn: &impl ConnectionTrait,
    id: Uuid,
    tickets: bool,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    use member::Column as C;
    let marked = member::Entity::update_many()
        .col_expr(C::ProfileStale, Expr::value(true))
        .col_expr(C::LoyaltyStale, Expr::value(true))
        .col_expr(C::RefreshAfter, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(C::SegmentsDirty, Expr::value(true))
        .col_expr(C::UpdateTime, Expr::value(now))
        .exec(conn)
        .await?
        .rows_affected;
    read_model_rebuild::Entity::insert(read_model_rebuild::ActiveModel {
        id: Set(id),
        customers_token: Set(String::new()),
        customers_done: Set(false),
        tickets_token: Set(String::new()),
        // Without a tickets client there is no listing to page.
        tickets_done: Set(!tickets),
        request_time: Set(now),
        update_time: Set(now),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(marked)
}

/// The oldest rebuild not finished.
pub async fn next_rebuild(conn: &impl ConnectionTrait) -> Result<Option<Rebuild>, Error> {
    use read_model_rebuild::Column as C;
    Ok(read_model_rebuild::Entity::find()
        .filter(
            Condition::any()
                .add(C::CustomersDone.eq(false))
                .add(C::TicketsDone.eq(false)),
        )
        .order_by_asc(C::RequestTime)
        .order_by_asc(C::Id)
        .one(conn)
        .await?)
}

/// Which listing a rebuild pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    Customers,
    Tickets,
}

/// Moves `rebuild`'s `listing` from token `from` to `next` (empty: done); false when
/// another replica moved it first (its page is applied again, which is harmless).
pub async fn advance_rebuild(
    conn: &impl ConnectionTrait,
    rebuild: Uuid,
    listing: Listing,
    from: &str,
    next: &str,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    use read_model_rebuild::Column as C;
    let (token, done) = match listing {
        Listing::Customers => (C::CustomersToken, C::CustomersDone),
        Listing::Tickets => (C::TicketsToken, C::TicketsDone),
    };
    let n = read_model_rebuild::Entity::update_many()
        .col_expr(token, Expr::value(next))
        .col_expr(done, Expr::value(next.is_empty()))
        .col_expr(C::UpdateTime, Expr::value(now))
        .filter(C::Id.eq(rebuild))
        .filter(token.eq(from))
        .filter(done.eq(false))
        .exec(conn)
        .await?
        .rows_affected;
    Ok(n > 0)
}
