//! Export, erasure and bulk import.
use crate::harness::*;
use crm_proto::customers as pb;
use tonic::Code;

#[tokio::test]
async fn export_then_erase_keeps_aggregates_only() {
    each_backend(|backend| async move {
        use pb::search_customers_request::Query;
        let mut app = spawn_app(backend).await;
        let db_url = app.storage.database_url.clone();
        let c = app
            .create(pb::Customer {
                phones: vec!["+8613800138000".into()],
                external_id: "u-1".into(),
                ..person("Li Wei", "li@example.com")
            })
            .await;
        let twin = app.create(person("Li Wei (old)", "LI@example.com")).await;
        app.client
            .merge_customers(pb::MergeCustomersRequest {
                survivor: c.name.clone(),
                merged: vec![twin.name.clone()],
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect("merge");
        app.purchase(&c.name, 5, 12_345).await;
        let complaint = pb::Activity {
            kind: pb::ActivityKind::Complaint as i32,
            occur_time: Some(prost_types::Timestamp {
                seconds: chrono::Utc::now().timestamp(),
                nanos: 0,
            }),
            text: "my phone number is +8613800138000".into(),
            ..Default::default()
        };
        app.client
            .record_activity(pb::RecordActivityRequest {
                parent: c.name.clone(),
                activity: Some(complaint),
                request_id: rid(),
            })
            .await
            .expect("complaint");

        let export = app.export(&c.name).await;
        assert_eq!(
            export.customer.as_ref().map(|x| x.primary_email.as_str()),
            Some("li@example.com")
        );
        assert_eq!(export.activities.len(), 2);
        assert!(export.audit_entries.iter().any(|a| a.action == "created"));

        let erased = app
            .client
            .erase_customer(pb::EraseCustomerRequest {
                name: c.name.clone(),
                request_id: rid(),
                actor: "dpo".into(),
            })
            .await
            .expect("erase")
            .into_inner();
        assert_eq!(erased.state, pb::customer::State::Erased as i32);
        assert!(
            erased.primary_email.is_empty()
                && erased.phones.is_empty()
                && erased.external_id.is_empty()
        );
        let got = app
            .get(&c.name)
            .await
            .expect("erased record remains without data");
        assert_eq!(got.display_name, "erased customer");
        // The merged-away record is only reachable in the database: it must be anonymised too.
        let db = sea_orm::Database::connect(db_url.as_str())
            .await
            .expect("db");
        let twin_id = crm_customers::domain::CustomerId::parse_name(&twin.name).expect("id");
        let keys = app.service.pii().keys().await.expect("keys");
        let twin_row = crm_customers::store::customers::find(&db, &keys, twin_id)
            .await
            .expect("read")
            .expect("row");
        assert_eq!(
            twin_row.profile.display_name, "erased customer",
            "customers merged into it are erased too"
        );
        assert!(twin_row.profile.primary_email.is_none());
        let twin_row = app
            .client
            .batch_get_customers(pb::BatchGetCustomersRequest {
                names: vec![twin.name.clone()],
            })
            .await
            .expect("get")
            .into_inner();
        assert_eq!(twin_row.customers[0].name, c.name);

        let found = app
            .client
            .search_customers(pb::SearchCustomersRequest {
                query: Some(Query::Email("li@example.com".into())),
                ..Default::default()
            })
            .await
            .expect("search")
            .into_inner();
        assert!(found.customers.is_empty());
        let export = app.export(&c.name).await;
        assert!(
            export
                .activities
                .iter()
                .all(|a| a.text.is_empty() && a.reference.is_empty()),
            "free text is scrubbed"
        );
        let insights = app
            .client
            .get_customer_insights(pb::GetCustomerInsightsRequest {
                name: c.name.clone(),
            })
            .await
            .expect("insights")
            .into_inner();
        assert_eq!(insights.order_count, 1);
        assert_eq!(
            insights.total_spend.first().map(|m| m.amount_minor),
            Some(12_345),
            "aggregates are kept"
        );

        let again = app
            .client
            .erase_customer(pb::EraseCustomerRequest {
                name: c.name.clone(),
                request_id: rid(),
                actor: String::new(),
            })
            .await
            .expect_err("twice");
        // One answer for an erased customer: reads show its tombstone, writes are refused.
        assert_status(&again, Code::FailedPrecondition, "CUSTOMER_ERASED");
        let tombstone = app.get(&c.name).await.expect("get");
        assert_eq!(tombstone.state, pb::customer::State::Erased as i32);
        let err = app
            .update(
                pb::Customer {
                    name: c.name.clone(),
                    display_name: "Back Again".into(),
                    ..Default::default()
                },
                &["display_name"],
            )
            .await
            .expect_err("update of an erased customer");
        assert_status(&err, Code::FailedPrecondition, "CUSTOMER_ERASED");
        let err = app
            .client
            .delete_customer(pb::DeleteCustomerRequest {
                name: c.name.clone(),
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect_err("delete of an erased customer");
        assert_status(&err, Code::FailedPrecondition, "CUSTOMER_ERASED");
        let err = app
            .client
            .record_activity(pb::RecordActivityRequest {
                parent: c.name.clone(),
                activity: Some(pb::Activity::default()),
                request_id: rid(),
            })
            .await
            .expect_err("bad");
        assert_eq!(err.code(), Code::InvalidArgument);
    })
    .await;
}

#[tokio::test]
async fn import_upserts_good_rows_and_reports_bad_ones() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let existing = app
            .create(pb::Customer {
                external_id: "shop-1".into(),
                ..person("Old Name", "old@example.com")
            })
            .await;
        let by_email = app.create(person("By Email", "mail@example.com")).await;
        let rows = vec![
            pb::Customer {
                external_id: "shop-1".into(),
                display_name: "New Name".into(),
                ..Default::default()
            },
            pb::Customer {
                primary_email: "MAIL@example.com".into(),
                tags: vec!["imported".into()],
                ..Default::default()
            },
            person("Fresh", "fresh@example.com"),
            pb::Customer {
                display_name: "Broken".into(),
                primary_email: "broken".into(),
                phones: vec!["1".into()],
                ..Default::default()
            },
            pb::Customer {
                display_name: "No key".into(),
                ..Default::default()
            },
        ];
        let out = app.import(&rid(), rows).await;
        assert_eq!(
            (out.created_count, out.updated_count, out.failed_count),
            (1, 2, 2)
        );
        let actions: Vec<i32> = out.results.iter().map(|r| r.action).collect();
        use pb::ImportAction::*;
        assert_eq!(
            actions,
            [
                Updated as i32,
                Updated as i32,
                Created as i32,
                Failed as i32,
                Failed as i32
            ]
        );
        assert_eq!(out.results[0].customer, existing.name);
        assert_eq!(out.results[1].customer, by_email.name);
        assert_eq!(
            out.results[3].errors,
            [
                "customer.primary_email: must be an e-mail address like name@example.com",
                "customer.phones[0]: must be an international number like +8613800138000 (E.164)"
            ]
        );
        assert!(out.results[4].errors[0].contains("external_id or primary_email"));
        assert_eq!(
            app.get(&existing.name).await.expect("get").display_name,
            "New Name"
        );
        let e = app.get(&by_email.name).await.expect("get");
        assert_eq!(
            (e.display_name.as_str(), e.tags.clone()),
            ("By Email", vec!["imported".to_string()]),
            "absent fields are kept"
        );
    })
    .await;
}

#[tokio::test]
async fn an_erase_never_races_a_concurrent_activity() {
    each_backend(|backend| async move {
        let app = spawn_app(backend).await;
        for round in 0..4 {
            let mut client = app.client.clone();
            let c = client
                .create_customer(pb::CreateCustomerRequest {
                    customer: Some(person(
                        &format!("Racer {round}"),
                        &format!("r{round}@example.com"),
                    )),
                    request_id: rid(),
                })
                .await
                .expect("create")
                .into_inner();
            let mut calls = tokio::task::JoinSet::new();
            for i in 0..24 {
                let mut client = app.client.clone();
                let parent = c.name.clone();
                calls.spawn(async move {
                    if i == 8 {
                        // Erase in the middle of the burst.
                        let r = client
                            .erase_customer(pb::EraseCustomerRequest {
                                name: parent,
                                request_id: rid(),
                                actor: "dpo".into(),
                            })
                            .await;
                        return (true, r.map(|_| ()));
                    }
                    let r = client
                        .record_activity(pb::RecordActivityRequest {
                            parent,
                            activity: Some(pb::Activity {
                                kind: pb::ActivityKind::Complaint as i32,
                                occur_time: Some(prost_types::Timestamp {
                                    seconds: chrono::Utc::now().timestamp() - 60,
                                    nanos: 0,
                                }),
                                text: format!("call me on +86138001380{i:02}"),
                                ..Default::default()
                            }),
                            request_id: rid(),
                        })
                        .await;
                    (false, r.map(|_| ()))
                });
            }
            let mut recorded = 0;
            while let Some(done) = calls.join_next().await {
                match done.expect("task") {
                    (true, r) => r.expect("erase succeeds"),
                    (false, Ok(())) => recorded += 1,
                    (false, Err(e)) => {
                        assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
                    }
                }
            }
            // Whatever was recorded was recorded before the erase and scrubbed by it.
            let db = sea_orm::Database::connect(app.storage.database_url.as_str())
                .await
                .expect("db");
            let id = crm_customers::domain::CustomerId::parse_name(&c.name).expect("id");
            let keys = app.service.pii().keys().await.expect("keys");
            let rows = crm_customers::store::activities::page_of(&db, &keys, id, None, 1000)
                .await
                .expect("activities");
            assert_eq!(rows.len(), recorded, "round {round}");
            assert!(
                rows.iter().all(|a| a.text.is_empty()),
                "round {round}: an activity escaped the erasure: {:?}",
                rows.iter().map(|a| &a.text).collect::<Vec<_>>()
            );
        }
    })
    .await;
}
