//! Personal data at rest (issue 15): no plain e-mail or phone in the database files, the
//! key rotation, and a wrong key refused at start.
use crate::harness::*;
use crm_customers::store::reseal::CustomerRows;
use crm_platform::pii::{KekSettings, reencrypt};
use crm_platform::testing::{Backend, Storage};
use crm_proto::customers as pb;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

/// The fixture's personal values, unique to the run so no other test writes them.
struct Fixture {
    external_id: String,
    email: String,
    phone_e164: String,
    name: String,
}

fn fixture() -> Fixture {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
    Fixture {
        external_id: format!("ext-{tag}"),
        email: format!("li.wei.{tag}@example.com"),
        phone_e164: format!("+86138{:08}", uuid::Uuid::new_v4().as_u128() % 100_000_000),
        name: format!("Zebulon {tag}"),
    }
}

fn key(id: &str) -> KekSettings {
    crm_platform::testing::random_kek(id)
}

/// Every byte the database keeps for this test: the SQLite file with its WAL and journal,
/// or, on PostgreSQL, each relation file of the test database (after a checkpoint) and the
/// WAL written since `wal_from`.
async fn database_bytes(storage: &Storage, wal_from: Option<&str>) -> Vec<u8> {
    match storage.backend {
        Backend::Sqlite => {
            let path = storage
                .database_url
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .expect("path")
                .to_owned();
            let mut out = Vec::new();
            for suffix in ["", "-wal", "-journal", "-shm"] {
                if let Ok(b) = std::fs::read(format!("{path}{suffix}")) {
                    out.extend(b);
                }
            }
            assert!(!out.is_empty(), "no database file at {path}");
            out
        }
        Backend::Postgres => {
            let db = Database::connect(storage.database_url.as_str())
                .await
                .expect("db");
            exec(&db, "CHECKPOINT").await;
            let files = strings(
                &db,
                "SELECT pg_relation_filepath(c.oid) FROM pg_class c \
                 WHERE c.relkind IN ('r', 'i', 't') AND c.relfilenode <> 0 \
                 AND c.relnamespace IN (SELECT oid FROM pg_namespace WHERE nspname IN ('public', 'pg_toast'))",
            )
            .await;
            let mut out = Vec::new();
            for f in files {
                out.extend(
                    bytes(
                        &db,
                        &format!("SELECT pg_read_binary_file('{f}', 0, 200000000, true)"),
                    )
                    .await,
                );
            }
            let now = strings(&db, "SELECT pg_walfile_name(pg_current_wal_lsn())").await;
            let from = wal_from.expect("wal start").to_owned();
            let segments = strings(
                &db,
                &format!(
                    "SELECT name FROM pg_ls_waldir() WHERE name >= '{from}' AND name <= '{}' ORDER BY name",
                    now[0]
                ),
            )
            .await;
            assert!(!segments.is_empty());
            for s in segments {
                out.extend(bytes(&db, &format!("SELECT pg_read_binary_file('pg_wal/{s}')")).await);
            }
            out
        }
    }
}

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql).await.expect(sql);
}

async fn strings(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect(sql);
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).expect("text"))
        .collect()
}

async fn bytes(db: &DatabaseConnection, sql: &str) -> Vec<u8> {
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect(sql);
    rows.iter()
        .filter_map(|r| r.try_get_by_index::<Option<Vec<u8>>>(0).expect("bytes"))
        .flatten()
        .collect()
}

async fn wal_start(storage: &Storage) -> Option<String> {
    match storage.backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let db = Database::connect(storage.database_url.as_str())
                .await
                .expect("db");
            exec(&db, "SELECT pg_switch_wal()").await;
            strings(&db, "SELECT pg_walfile_name(pg_current_wal_lsn())")
                .await
                .pop()
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[tokio::test]
async fn the_database_files_hold_no_plain_email_or_phone() {
    each_backend(|backend| async move {
        let storage = Storage::fresh(backend).await;
        let wal = wal_start(&storage).await;
        let mut app = spawn_app_on(storage.clone()).await;
        let f = fixture();
        let c = app
            .create(pb::Customer {
                phones: vec![f.phone_e164.clone()],
                additional_emails: vec![format!("second.{}", f.email)],
                external_id: f.external_id.clone(),
                ..person(&f.name, &f.email)
            })
            .await;
        // Reads fill the cache, searches use the blind indexes, an import and an update
        // write more rows and stored responses.
        let got = app.get(&c.name).await.expect("get");
        assert_eq!(
            (got.primary_email.as_str(), got.phones[0].as_str()),
            (f.email.as_str(), f.phone_e164.as_str())
        );
        use pb::search_customers_request::Query;
        for q in [
            Query::Email(f.email.to_uppercase()),
            Query::Phone(f.phone_e164.clone()),
            Query::NamePrefix("zebulon".into()),
        ] {
            let found = app
                .client
                .search_customers(pb::SearchCustomersRequest {
                    query: Some(q),
                    page_size: 10,
                    page_token: String::new(),
                })
                .await
                .expect("search")
                .into_inner();
            assert_eq!(found.customers.len(), 1, "found through the blind index");
        }
        let twin = app
            .create(pb::Customer {
                phones: vec![f.phone_e164.clone()],
                ..person(&f.name, &format!("twin.{}", f.email))
            })
            .await;
        let dups = app
            .client
            .find_duplicates(pb::FindDuplicatesRequest {
                name: c.name.clone(),
                ..Default::default()
            })
            .await
            .expect("duplicates")
            .into_inner();
        assert_eq!(dups.candidates.len(), 1, "{dups:?}");
        assert_eq!(
            dups.candidates[0]
                .customer
                .as_ref()
                .map(|d| d.name.as_str()),
            Some(twin.name.as_str())
        );
        // Free text a customer wrote, with the e-mail and phone in it.
        app.client
            .record_activity(pb::RecordActivityRequest {
                parent: c.name.clone(),
                activity: Some(pb::Activity {
                    kind: pb::ActivityKind::Review as i32,
                    rating: 5,
                    text: format!("call me on {} or write to {}", f.phone_e164, f.email),
                    occur_time: Some(prost_types::Timestamp {
                        seconds: chrono::Utc::now().timestamp() - 60,
                        nanos: 0,
                    }),
                    ..Default::default()
                }),
                request_id: crm_platform::testing::rid(),
            })
            .await
            .expect("activity");
        let listed = app
            .client
            .list_activities(pb::ListActivitiesRequest {
                parent: c.name.clone(),
                ..Default::default()
            })
            .await
            .expect("activities")
            .into_inner();
        assert!(
            listed.activities[0].text.contains(&f.email),
            "opened on read"
        );
        let bytes = database_bytes(&storage, wal.as_deref()).await;
        // The control: what is not personal (the external id) is read back in plain text.
        assert!(
            contains(&bytes, &f.external_id),
            "the scan sees the data ({backend:?})"
        );
        for secret in [&f.email, &f.phone_e164, &f.phone_e164[3..], &f.name] {
            assert!(
                !contains(&bytes, secret),
                "{secret:?} is stored in plain text ({backend:?})"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn rotation_reencrypts_every_row_while_reads_stay_correct() {
    each_backend(|backend| async move {
        let storage = Storage::fresh(backend).await;
        let old = key("old");
        let new = key("new");
        let with_old = {
            let old = old.clone();
            move |s: &mut crm_customers::settings::Settings| s.platform.pii.keys = vec![old]
        };
        let mut first = spawn_app_with(storage.clone(), with_old.clone()).await;
        let mut names = Vec::new();
        for i in 0..60 {
            let c = first
                .create(person(
                    &format!("Rotated {i}"),
                    &format!("r{i}@example.com"),
                ))
                .await;
            names.push((c.name, format!("r{i}@example.com")));
        }
        let rotated = spawn_app_with(storage.clone(), {
            let (old, new) = (old.clone(), new.clone());
            move |s| {
                s.platform.pii.keys = vec![old, new];
                s.platform.pii.active_key = "new".into();
            }
        })
        .await;
        let rows = CustomerRows {
            db: Database::connect(storage.database_url.as_str())
                .await
                .expect("db"),
        };
        let in_use = |rows: CustomerRows| async move {
            let mut k = crm_platform::pii::Reseal::keys_in_use(&rows)
                .await
                .expect("keys");
            k.sort();
            k
        };
        assert_eq!(in_use(rows.clone()).await, ["data-old"]);
        // Reads through the old replica, the new one and the database while the job runs.
        let reader = {
            let names = names.clone();
            let mut client = rotated.client.clone();
            tokio::spawn(async move {
                let mut reads = 0;
                for _ in 0..3 {
                    for (name, email) in &names {
                        let got = client
                            .get_customer(pb::GetCustomerRequest { name: name.clone() })
                            .await
                            .expect("read during rotation")
                            .into_inner();
                        assert_eq!(&got.primary_email, email);
                        reads += 1;
                    }
                }
                reads
            })
        };
        let moved = reencrypt(rotated.service.pii(), &rows)
            .await
            .expect("reencrypt");
        assert_eq!(moved, 60);
        assert_eq!(reader.await.expect("reader"), 180);
        assert_eq!(in_use(rows.clone()).await, ["data-new"]);
        assert_eq!(
            reencrypt(rotated.service.pii(), &rows)
                .await
                .expect("again"),
            0
        );
        // The old data key is gone; the old KEK is no longer needed at all.
        let mut only_new = spawn_app_with(storage.clone(), {
            let new = new.clone();
            move |s| s.platform.pii.keys = vec![new]
        })
        .await;
        for (name, email) in &names {
            let got = only_new
                .get(name)
                .await
                .expect("read under the new key only");
            assert_eq!(&got.primary_email, email);
        }
        // A replica still on the old configuration cannot open the new data key: it refuses
        // to start instead of writing under a key the others have retired.
        let err = crm_customers::application(crm_platform::testing::settings::<
            crm_customers::Customers,
        >(&storage, with_old))
        .await
        .err()
        .expect("the old KEK alone opens nothing any more");
        let msg = format!("{err:#}");
        assert!(
            msg.contains("\"new\"") && msg.contains("not configured"),
            "{msg}"
        );
        let _ = first.get(&names[0].0).await;
    })
    .await;
}

#[tokio::test]
async fn a_wrong_key_fails_the_start_and_names_no_secret() {
    each_backend(|backend| async move {
        let storage = Storage::fresh(backend).await;
        let right = key("k1");
        let _app = spawn_app_with(storage.clone(), {
            let right = right.clone();
            move |s| s.platform.pii.keys = vec![right]
        })
        .await;
        let wrong = key("k1");
        let secret = wrong.secret.expose().to_owned();
        let settings =
            crm_platform::testing::settings::<crm_customers::Customers>(&storage, move |s| {
                s.platform.pii.keys = vec![wrong]
            });
        let err = crm_customers::application(settings)
            .await
            .err()
            .expect("wrong key refused");
        let msg = format!("{err:#}");
        assert!(msg.contains("does not open data key"), "{msg}");
        assert!(!msg.contains(&secret), "{msg}");
    })
    .await;
}
