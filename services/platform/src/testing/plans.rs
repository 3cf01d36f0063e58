//! Query plans: tests assert that a list, search or job query reads an index range on both
//! backends, never a full scan or a sort of the table (issue 10: a filtered first page went
//! from 28 ms to 1,113 ms between 5,000 and 212,000 rows). Statements are built by the same
//! store function the service runs, so a changed query is checked again.
//!
//! On PostgreSQL the session prices out sequential scans, bitmap scans and sorts
//! ([`planning_session`]), so a tiny test table shows which index path exists at scale.
use super::Backend;
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, Statement,
    TransactionTrait,
};

/// A connection and a transaction in which plans are read (PostgreSQL: sequential scans,
/// bitmap scans and sorts off for the transaction). Keep the connection alive while planning.
pub async fn planning_session(url: &str) -> (DatabaseConnection, DatabaseTransaction) {
    let db = Database::connect(url).await.expect("connect for planning");
    let txn = db.begin().await.expect("planning transaction");
    if txn.get_database_backend() == DbBackend::Postgres {
        for knob in [
            "enable_seqscan",
            "enable_sort",
            "enable_incremental_sort",
            "enable_bitmapscan",
        ] {
            txn.execute_unprepared(&format!("SET LOCAL {knob} = off"))
                .await
                .expect("set planner knob");
        }
    }
    (db, txn)
}

/// The plan of `stmt` as text lines (`EXPLAIN QUERY PLAN` details on SQLite, `EXPLAIN` lines
/// on PostgreSQL). `SHOW_PLANS=1` prints each.
pub async fn query_plan(conn: &impl ConnectionTrait, stmt: Statement) -> Vec<String> {
    let backend = conn.get_database_backend();
    let prefix = match backend {
        DbBackend::Sqlite => "EXPLAIN QUERY PLAN ",
        _ => "EXPLAIN ",
    };
    let sql = stmt.sql.clone();
    let explain = Statement {
        sql: format!("{prefix}{}", stmt.sql),
        ..stmt
    };
    let rows = conn
        .query_all_raw(explain)
        .await
        .unwrap_or_else(|e| panic!("explain {sql}: {e}"));
    let lines: Vec<String> = rows
        .iter()
        .map(|r| match backend {
            DbBackend::Sqlite => r.try_get::<String>("", "detail").expect("detail"),
            _ => r.try_get::<String>("", "QUERY PLAN").expect("plan line"),
        })
        .collect();
    if std::env::var("SHOW_PLANS").is_ok() {
        eprintln!("{sql}\n  {}\n", lines.join("\n  "));
    }
    lines
}

/// Lines of `plan` that read `table` (any table when `None`) without an index (SQLite
/// `SCAN t` without `INDEX`; PostgreSQL `Seq Scan on t`), plus on SQLite any `SCAN` of
/// `table` when `range_only` (a walk of a whole index is no range either).
fn full_scans<'a>(
    backend: Backend,
    plan: &'a [String],
    table: Option<&str>,
    range_only: bool,
) -> Vec<&'a str> {
    plan.iter()
        .map(|l| l.trim())
        .filter(|l| match (backend, table) {
            (Backend::Sqlite, Some(table)) => {
                let scan = l.starts_with(&format!("SCAN {table}"))
                    && l[5 + table.len()..].chars().next().is_none_or(|c| c == ' ');
                scan && (range_only || !l.contains("INDEX"))
            }
            (Backend::Sqlite, None) => {
                l.starts_with("SCAN") && (range_only || !l.contains("INDEX"))
            }
            (Backend::Postgres, Some(table)) => l.contains(&format!("Seq Scan on {table}")),
            (Backend::Postgres, None) => l.contains("Seq Scan"),
        })
        .collect()
}

/// Fails unless the plan reads `table` through an index whose name starts with `index`,
/// with no full scan of it and no sort at all: the rows come in the order asked for, so a
/// page costs its own size. Ordered walks of a whole index (SQLite `SCAN t USING INDEX`)
/// pass: with a LIMIT they stop when the page is full.
#[track_caller]
pub fn assert_ordered_index_read(
    backend: Backend,
    what: &str,
    plan: &[String],
    table: &str,
    index: &str,
) {
    ordered_index_read(backend, what, plan, Some(table), index);
}

/// [`assert_ordered_index_read`] for a plan that reads several tables (a join, a
/// correlated check): no table of it, whichever, is read by a full scan.
#[track_caller]
pub fn assert_ordered_index_read_of_every_table(
    backend: Backend,
    what: &str,
    plan: &[String],
    index: &str,
) {
    ordered_index_read(backend, what, plan, None, index);
}

#[track_caller]
fn ordered_index_read(
    backend: Backend,
    what: &str,
    plan: &[String],
    table: Option<&str>,
    index: &str,
) {
    let text = plan.join("\n");
    let scans = full_scans(backend, plan, table, false);
    let scanned = table.unwrap_or("a table");
    assert!(scans.is_empty(), "{what}: full scan of {scanned}:\n{text}");
    let sorts: &[&str] = match backend {
        Backend::Sqlite => &["USE TEMP B-TREE"],
        Backend::Postgres => &["Sort", "Bitmap"],
    };
    for s in sorts {
        assert!(!text.contains(s), "{what}: plan has {s:?}:\n{text}");
    }
    assert!(text.contains(index), "{what}: expected {index}:\n{text}");
}

/// Fails unless every read of `table` is an index range (SQLite `SEARCH t USING .. INDEX`,
/// PostgreSQL `Index [Only] Scan` with an `Index Cond`) through an index whose name starts
/// with `index`: the query reads the rows of its range only (e.g. a time window of an
/// aggregate), whatever the table holds. Grouping or sorting those rows is allowed.
#[track_caller]
pub fn assert_index_range(backend: Backend, what: &str, plan: &[String], table: &str, index: &str) {
    let text = plan.join("\n");
    let scans = full_scans(backend, plan, Some(table), true);
    assert!(scans.is_empty(), "{what}: full scan of {table}:\n{text}");
    assert!(!text.contains("Bitmap"), "{what}: bitmap scan:\n{text}");
    match backend {
        Backend::Sqlite => {
            let reads: Vec<&str> = plan
                .iter()
                .map(|l| l.trim())
                .filter(|l| l.starts_with(&format!("SEARCH {table} ")))
                .collect();
            assert!(!reads.is_empty(), "{what}: no read of {table}:\n{text}");
            for r in reads {
                assert!(
                    r.contains(&format!("INDEX {index}")) && r.contains('('),
                    "{what}: {table} not read by a range of {index}:\n{text}"
                );
            }
        }
        Backend::Postgres => {
            let mut found = false;
            for (i, l) in plan.iter().enumerate() {
                if l.contains(&format!(" on {table}")) && l.contains("Index") {
                    found = true;
                    assert!(
                        l.contains(index),
                        "{what}: {table} not read by {index}:\n{text}"
                    );
                    // The node's own lines (deeper indent) carry its Index Cond.
                    let depth = l.len() - l.trim_start().len();
                    let cond = plan[i + 1..]
                        .iter()
                        .take_while(|n| n.len() - n.trim_start().len() > depth && !n.contains("->"))
                        .any(|n| n.contains("Index Cond"));
                    assert!(
                        cond,
                        "{what}: {table} read by {index} without a range:\n{text}"
                    );
                }
            }
            assert!(found, "{what}: no index read of {table}:\n{text}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &[&str]) -> Vec<String> {
        s.iter().map(|l| (*l).to_owned()).collect()
    }

    #[test]
    fn an_ordered_range_passes_both_checks() {
        let sqlite = lines(&["SEARCH t USING INDEX idx_t_a (a=? AND b<?)"]);
        assert_ordered_index_read(Backend::Sqlite, "q", &sqlite, "t", "idx_t_a");
        assert_index_range(Backend::Sqlite, "q", &sqlite, "t", "idx_t_");
        let pg = lines(&[
            "Limit  (cost=0.14..8.16 rows=1 width=8)",
            "  ->  Index Scan Backward using idx_t_a on t  (cost=0.14..8.16 rows=1 width=8)",
            "        Index Cond: (a = 1)",
        ]);
        assert_ordered_index_read(Backend::Postgres, "q", &pg, "t", "idx_t_a");
        assert_index_range(Backend::Postgres, "q", &pg, "t", "idx_t_a");
    }

    #[test]
    fn an_ordered_walk_of_a_whole_index_is_no_range() {
        let walk = lines(&["SCAN t USING INDEX idx_t_b"]);
        assert_ordered_index_read(Backend::Sqlite, "q", &walk, "t", "idx_t_b");
        let r = std::panic::catch_unwind(|| {
            assert_index_range(Backend::Sqlite, "q", &walk, "t", "idx_t_b")
        });
        assert!(r.is_err());
        let pg = lines(&["Index Scan using idx_t_b on t  (cost=0.14..8.16 rows=1 width=8)"]);
        let r = std::panic::catch_unwind(|| {
            assert_index_range(Backend::Postgres, "q", &pg, "t", "idx_t_b")
        });
        assert!(r.is_err());
    }

    #[test]
    fn full_scans_sorts_and_other_tables_are_told_apart() {
        let bad = [
            (Backend::Sqlite, vec!["SCAN t"]),
            (
                Backend::Sqlite,
                vec![
                    "SEARCH t USING INDEX idx_t_a (a=?)",
                    "USE TEMP B-TREE FOR ORDER BY",
                ],
            ),
            (
                Backend::Postgres,
                vec!["Seq Scan on t  (cost=10000000000.00..10000000001.01 rows=1 width=8)"],
            ),
            (
                Backend::Postgres,
                vec![
                    "Sort  (cost=8.17..8.18 rows=1 width=8)",
                    "  ->  Index Scan using idx_t_a on t  (cost=0.14..8.16 rows=1 width=8)",
                    "        Index Cond: (a = 1)",
                ],
            ),
        ];
        for (backend, plan) in bad {
            let plan = lines(&plan);
            let r = std::panic::catch_unwind(|| {
                assert_ordered_index_read(backend, "q", &plan, "t", "idx_t_a")
            });
            assert!(r.is_err(), "{plan:?}");
        }
        // A scan of another table whose name starts alike is not this table's.
        let other = lines(&["SCAN t_archive", "SEARCH t USING INDEX idx_t_a (a=?)"]);
        assert_eq!(
            full_scans(Backend::Sqlite, &other, Some("t"), true),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn a_full_scan_of_any_table_fails_the_every_table_check() {
        let sqlite = lines(&["SEARCH t USING INDEX idx_t_a (a=?)", "SCAN u"]);
        assert_ordered_index_read(Backend::Sqlite, "q", &sqlite, "t", "idx_t_a");
        let r = std::panic::catch_unwind(|| {
            assert_ordered_index_read_of_every_table(Backend::Sqlite, "q", &sqlite, "idx_t_a")
        });
        assert!(r.is_err());
        let pg = lines(&[
            "Nested Loop  (cost=0.14..16.32 rows=1 width=8)",
            "  ->  Index Scan using idx_t_a on t  (cost=0.14..8.16 rows=1 width=8)",
            "        Index Cond: (a = 1)",
            "  ->  Seq Scan on u  (cost=10000000000.00..10000000001.01 rows=1 width=8)",
        ]);
        assert_ordered_index_read(Backend::Postgres, "q", &pg, "t", "idx_t_a");
        let r = std::panic::catch_unwind(|| {
            assert_ordered_index_read_of_every_table(Backend::Postgres, "q", &pg, "idx_t_a")
        });
        assert!(r.is_err());
        let fine = lines(&[
            "SEARCH t USING INDEX idx_t_a (a=?)",
            "SEARCH u USING INTEGER PRIMARY KEY (rowid=?)",
        ]);
        assert_ordered_index_read_of_every_table(Backend::Sqlite, "q", &fine, "idx_t_a");
    }
}
