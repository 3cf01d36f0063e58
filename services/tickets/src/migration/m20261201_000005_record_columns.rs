//! Every field of a record becomes a column; the JSON `doc` column each row carried (the
//! record as the domain type's serde wrote it, which a renamed field broke and SQL could not
//! transform) goes. List-valued fields become JSON columns in the versioned format of
//! `store::lists` (`json_version` 1), scalars columns of their own.
//!
//! Existing rows are rewritten a page at a time in key order (bounded memory, whatever the
//! table size): each row's doc is read with the document types it was written with
//! ([`legacy`], frozen here) and its fields written to the new columns as bound values, so
//! timestamps and ids are encoded exactly as the store writes them on either backend (a
//! JSON-to-column conversion in SQL would leave SQLite timestamps in the document's text
//! form, which does not sort with the store's). `down` writes each row's doc back from its
//! columns in the same document form, so the previous code reads the rows again.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, QueryResult, TryGetable};
use sea_orm_migration::sea_query::Value;

mod legacy;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Rows read per statement.
const PAGE: u64 = 500;

/// The SQL type of a new column; each has a default, so it can be added to a table that has
/// rows (the rewrite then sets the real value).
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    BigInt,
    Bool,
    /// Not null; the default (the epoch) never survives the rewrite.
    Time,
    TimeNull,
    UuidNull,
    /// JSON text, empty as the given document.
    Json(&'static str),
    /// `json_version`.
    Version,
}

/// What changes in one table.
struct Change {
    table: &'static str,
    /// The columns beside the doc that the doc repeats (read to write it back).
    kept: &'static [&'static str],
    added: &'static [(&'static str, Kind)],
}

const CHANGES: &[Change] = &[
    Change {
        table: "tickets",
        kept: &[
            "id",
            "customer_id",
            "status",
            "priority",
            "channel",
            "category",
            "team_id",
            "assignee_id",
            "customer_check",
            "create_time",
            "update_time",
            "revision",
        ],
        added: &[
            ("subject", Kind::Text),
            ("description", Kind::Text),
            ("tags", Kind::Json("[]")),
            ("order_id", Kind::Text),
            ("booking_id", Kind::Text),
            ("sla_policy", Kind::Text),
            ("sla_first_response_due", Kind::TimeNull),
            ("sla_next_response_due", Kind::TimeNull),
            ("sla_resolution_due", Kind::TimeNull),
            ("sla_paused_since", Kind::TimeNull),
            ("sla_missed", Kind::Json("[]")),
            ("sla_finished", Kind::Bool),
            ("sla_unanswered", Kind::Bool),
            ("first_response_time", Kind::TimeNull),
            ("solve_time", Kind::TimeNull),
            ("close_time", Kind::TimeNull),
            ("merged_into", Kind::UuidNull),
            ("merged_from", Kind::Json("[]")),
            ("escalations", Kind::Int),
            ("survey_token", Kind::Text),
            ("survey", Kind::Int),
            ("json_version", Kind::Version),
        ],
    },
    Change {
        table: "ticket_messages",
        kept: &["id", "ticket_id", "origin_ticket_id", "kind", "create_time"],
        added: &[
            ("author_kind", Kind::Text),
            ("author_id", Kind::UuidNull),
            ("body", Kind::Text),
            ("attachments", Kind::Json("[]")),
            ("json_version", Kind::Version),
        ],
    },
    Change {
        table: "teams",
        kept: &["id", "create_time", "revision"],
        added: &[
            ("display_name", Kind::Text),
            ("routing_strategy", Kind::Text),
            ("categories", Kind::Json("[]")),
            ("category_skills", Kind::Json("{}")),
            ("escalation_team", Kind::Bool),
            ("update_time", Kind::Time),
            ("json_version", Kind::Version),
        ],
    },
    Change {
        table: "agents",
        kept: &[
            "id",
            "team_id",
            "open_tickets",
            "max_open_tickets",
            "available",
            "last_assigned",
            "create_time",
            "revision",
        ],
        added: &[
            ("display_name", Kind::Text),
            ("email", Kind::Text),
            ("skills", Kind::Json("[]")),
            ("update_time", Kind::Time),
            ("json_version", Kind::Version),
        ],
    },
    Change {
        table: "macros",
        kept: &["code", "create_time"],
        added: &[("title", Kind::Text), ("body", Kind::Text)],
    },
    Change {
        table: "survey_answers",
        kept: &[
            "ticket_id",
            "survey",
            "survey_token",
            "overall",
            "submit_time",
            "goodwill_pending",
        ],
        added: &[
            ("service", Kind::Int),
            ("product_quality", Kind::Int),
            ("logistics", Kind::Int),
            ("comment", Kind::Text),
            ("goodwill_points", Kind::BigInt),
        ],
    },
];

fn column_def(name: &str, kind: Kind) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    match kind {
        Kind::Text => c.text().not_null().default(""),
        Kind::Json(empty) => c.text().not_null().default(empty),
        Kind::Int => c.integer().not_null().default(0),
        Kind::Version => c.integer().not_null().default(1),
        Kind::BigInt => c.big_integer().not_null().default(0),
        Kind::Bool => c.boolean().not_null().default(false),
        Kind::Time => c
            .timestamp_with_time_zone()
            .not_null()
            .default("1970-01-01T00:00:00Z"),
        Kind::TimeNull => c.timestamp_with_time_zone().null(),
        Kind::UuidNull => c.uuid().null(),
    };
    c.to_owned()
}

/// The type of a key column.
#[derive(Clone, Copy)]
enum Key {
    Uuid,
    Text,
    Int,
}

/// Each table's primary key, the order its rows are rewritten in.
fn key_of(table: &str) -> &'static [(&'static str, Key)] {
    match table {
        "macros" => &[("code", Key::Text)],
        "survey_answers" => &[("ticket_id", Key::Uuid), ("survey", Key::Int)],
        _ => &[("id", Key::Uuid)],
    }
}

fn key_value(row: &QueryResult, (col, key): (&str, Key)) -> Result<Value, DbErr> {
    Ok(match key {
        Key::Uuid => get::<uuid::Uuid>(row, col)?.into(),
        Key::Text => get::<String>(row, col)?.into(),
        Key::Int => get::<i32>(row, col)?.into(),
    })
}

/// A column of a row read whole.
fn get<T: TryGetable>(row: &QueryResult, col: &str) -> Result<T, DbErr> {
    row.try_get("", col)
}

/// The new values of one row: (column, value).
type Assignments = Vec<(&'static str, Value)>;

/// Sets the columns `rewrite` gives for every row of `table` (reading its key and `reads`), a
/// page at a time in key order. The columns are named: a statement cached from before the
/// table changed would read `*` with the old column list.
async fn rewrite_rows(
    m: &SchemaManager<'_>,
    table: &str,
    reads: &[&str],
    rewrite: fn(&QueryResult) -> Result<Assignments, String>,
) -> Result<(), DbErr> {
    let db = m.get_connection();
    let key = key_of(table);
    let cols = || key.iter().map(|(c, _)| Expr::col(Alias::new(*c)));
    let mut after: Option<Vec<Value>> = None;
    loop {
        let mut page = Query::select();
        page.from(Alias::new(table)).limit(PAGE);
        let others = reads.iter().filter(|c| !key.iter().any(|(k, _)| k == *c));
        for c in key.iter().map(|(c, _)| c).chain(others) {
            page.column(Alias::new(*c));
        }
        for (c, _) in key {
            page.order_by(Alias::new(*c), Order::Asc);
        }
        if let Some(a) = after.take() {
            page.and_where(Expr::tuple(cols()).gt(Expr::tuple(a.into_iter().map(Expr::val))));
        }
        let rows = db.query_all(&page).await?;
        for row in &rows {
            let k = key
                .iter()
                .map(|c| key_value(row, *c))
                .collect::<Result<Vec<_>, _>>()?;
            let set =
                rewrite(row).map_err(|e| DbErr::Migration(format!("{table} row {k:?}: {e}")))?;
            let mut update = Query::update();
            update
                .table(Alias::new(table))
                .values(set.into_iter().map(|(c, v)| (Alias::new(c), Expr::val(v))));
            for ((c, _), v) in key.iter().zip(&k) {
                update.and_where(Expr::col(Alias::new(*c)).eq(v.clone()));
            }
            db.execute(&update).await?;
            after = Some(k);
        }
        if (rows.len() as u64) < PAGE {
            return Ok(());
        }
    }
}

fn alter(table: &str) -> TableAlterStatement {
    Table::alter().table(Alias::new(table)).to_owned()
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for Change { table, added, .. } in CHANGES {
            // One column per statement: SQLite alters one at a time.
            for (name, kind) in *added {
                m.alter_table(alter(table).add_column(column_def(name, *kind)).to_owned())
                    .await?;
            }
            rewrite_rows(m, table, &["doc"], legacy::columns_of(table)).await?;
            m.alter_table(alter(table).drop_column(Alias::new("doc")).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for Change { table, kept, added } in CHANGES {
            let doc = ColumnDef::new(Alias::new("doc"))
                .text()
                .not_null()
                .default("")
                .to_owned();
            m.alter_table(alter(table).add_column(doc).to_owned())
                .await?;
            let reads: Vec<&str> = kept
                .iter()
                .copied()
                .chain(added.iter().map(|(c, _)| *c))
                .collect();
            rewrite_rows(m, table, &reads, legacy::doc_of(table)).await?;
            for (name, _) in *added {
                m.alter_table(alter(table).drop_column(Alias::new(*name)).to_owned())
                    .await?;
            }
        }
        Ok(())
    }
}
