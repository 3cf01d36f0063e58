//! Macro rows, keyed by code.
use super::convert::{macro_from_row, macro_row};
use super::entities::macro_;
use crate::domain::Macro;
use crm_platform::Error;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// False when the code is taken.
pub async fn insert_macro(conn: &impl ConnectionTrait, m: &Macro) -> Result<bool, Error> {
    let n = macro_::Entity::insert(macro_row(m))
        .on_conflict_do_nothing()
        .exec_without_returning(conn)
        .await?;
    Ok(matches!(n, sea_orm::TryInsertResult::Inserted(1)))
}

pub async fn find_macro(conn: &impl ConnectionTrait, code: &str) -> Result<Option<Macro>, Error> {
    Ok(macro_::Entity::find_by_id(code.to_owned())
        .one(conn)
        .await?
        .map(macro_from_row))
}

/// One ListMacros page, in code order after `after`.
pub fn list_macros_select(after: Option<String>, limit: u64) -> sea_orm::Select<macro_::Entity> {
    let mut s = macro_::Entity::find();
    if let Some(a) = after {
        s = s.filter(macro_::Column::Code.gt(a));
    }
    s.order_by_asc(macro_::Column::Code).limit(limit)
}

pub async fn list_macros(
    conn: &impl ConnectionTrait,
    after: Option<String>,
    limit: u64,
) -> Result<Vec<Macro>, Error> {
    Ok(list_macros_select(after, limit)
        .all(conn)
        .await?
        .into_iter()
        .map(macro_from_row)
        .collect())
}

pub async fn delete_macro(conn: &impl ConnectionTrait, code: &str) -> Result<bool, Error> {
    Ok(macro_::Entity::delete_by_id(code.to_owned())
        .exec(conn)
        .await?
        .rows_affected
        == 1)
}
