//! "Nothing written", without per-method code: the row count of every table of every
//! service's database, before and after a refused call.
use crm_platform::testing::{Backend, Storage};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use std::collections::BTreeMap;

pub struct Databases {
    dbs: Vec<(String, DatabaseConnection, String)>,
}

/// `service.table` -> rows.
pub type Counts = BTreeMap<String, i64>;

impl Databases {
    /// Connects to each service's database (after the services migrated it).
    pub async fn connect(storages: &BTreeMap<String, Storage>) -> Self {
        let mut dbs = Vec::new();
        for (service, storage) in storages {
            let db = Database::connect(storage.database_url.as_str())
                .await
                .expect("connect to a service database");
            let list = match storage.backend {
                Backend::Sqlite => {
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
                }
                Backend::Postgres => {
                    "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
                }
            };
            let tables: Vec<String> = db
                .query_all_raw(Statement::from_string(db.get_database_backend(), list))
                .await
                .expect("list tables")
                .iter()
                .map(|r| r.try_get::<String>("", "name").expect("table name"))
                .filter(|t| t != "seaql_migrations")
                .collect();
            assert!(!tables.is_empty(), "{service} has no tables");
            let short = service.rsplit('.').next().unwrap_or(service).to_owned();
            let sql = tables
                .iter()
                .map(|t| {
                    format!(
                        "SELECT '{short}.{t}' AS t, COUNT(*) AS n FROM \"{t}\"{}",
                        only_transactional(t)
                    )
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            dbs.push((service.clone(), db, sql));
        }
        Self { dbs }
    }

    pub async fn counts(&self) -> Counts {
        let mut out = Counts::new();
        for (_, db, sql) in &self.dbs {
            let rows = db
                .query_all_raw(Statement::from_string(
                    db.get_database_backend(),
                    sql.clone(),
                ))
                .await
                .expect("count rows");
            for r in rows {
                let t: String = r.try_get("", "t").expect("table");
                let n: i64 = r.try_get("", "n").expect("count");
                out.insert(t, n);
            }
        }
        out
    }
}

/// The rows of `table` a call writes in its own transaction. Access records of reads and
/// exports are written later in batches (crm_platform::audit), so they land during whatever
/// call runs next and are not counted; those of erasures, merges and adjustments are.
/// Recommendations' served answers are all written that way (its served log).
fn only_transactional(table: &str) -> &'static str {
    match table {
        "access_records" => " WHERE action NOT IN ('read', 'export')",
        "recommendations" => " WHERE 1 = 0",
        _ => "",
    }
}

/// `customers.customers +1, customers.idempotency_keys +1`, or empty when equal.
pub fn diff(before: &Counts, after: &Counts) -> String {
    after
        .iter()
        .filter_map(|(t, n)| {
            let b = before.get(t).copied().unwrap_or_default();
            (b != *n).then(|| format!("{t} {:+}", n - b))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
