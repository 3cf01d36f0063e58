//! Profile CRUD, validation, idempotency, etags, lists and search.
use crate::harness::*;
use crm_proto::customers as pb;
use tonic::Code;

#[tokio::test]
async fn create_then_get_round_trips_every_field() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let input = pb::Customer {
            display_name: "Li Wei".into(),
            given_name: "Wei".into(),
            family_name: "Li".into(),
            gender: pb::Gender::Male as i32,
            birth_date: Some(crm_proto::common::Date {
                year: 1988,
                month: 6,
                day: 12,
            }),
            primary_email: "Li.Wei@Example.com".into(),
            additional_emails: vec!["wei@work.example".into()],
            phones: vec!["+86 138 0013 8000".into()],
            addresses: vec![crm_proto::common::PostalAddress {
                region_code: "CN".into(),
                locality: "Hangzhou".into(),
                ..Default::default()
            }],
            preferred_channel: pb::Channel::Sms as i32,
            language_code: "zh-CN".into(),
            time_zone: "Asia/Shanghai".into(),
            tags: vec!["VIP".into(), "hotel".into()],
            important_dates: vec![pb::ImportantDate {
                kind: "wedding_anniversary".into(),
                date: Some(crm_proto::common::Date {
                    year: 2015,
                    month: 10,
                    day: 1,
                }),
            }],
            consents: vec![pb::Consent {
                channel: pb::Channel::Email as i32,
                state: pb::ConsentState::Granted as i32,
                source: "checkout".into(),
                update_time: None,
            }],
            lifecycle_stage: pb::LifecycleStage::Active as i32,
            relationship_level: pb::RelationshipLevel::Proactive as i32,
            external_id: "shop-42".into(),
            ..Default::default()
        };
        let created = app.create(input).await;
        assert!(created.name.starts_with("customers/"));
        assert_eq!(created.primary_email, "li.wei@example.com");
        assert_eq!(created.phones, ["+8613800138000"]);
        assert_eq!(created.tags, ["hotel", "vip"]);
        assert_eq!(created.state, pb::customer::State::Active as i32);
        assert!(!created.etag.is_empty());
        let got = app.get(&created.name).await.expect("get");
        assert_eq!(got, created);

        let missing = app
            .get(&format!("customers/{}", uuid::Uuid::now_v7()))
            .await
            .expect_err("missing");
        assert_status(&missing, Code::NotFound, "NOT_FOUND");
        let bad = app.get("users/1").await.expect_err("bad name");
        assert_status(&bad, Code::InvalidArgument, "INVALID_ARGUMENT");
        assert_eq!(violations(&bad), ["name"]);
    })
    .await;
}

#[tokio::test]
async fn invalid_create_lists_every_field_and_writes_nothing() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let bad = pb::Customer {
            display_name: "".into(),
            given_name: "Wei\0".into(),
            primary_email: "nope".into(),
            phones: vec!["12345".into(), "+999999999999999".into()],
            language_code: "english".into(),
            birth_date: Some(crm_proto::common::Date {
                year: 1899,
                month: 12,
                day: 31,
            }),
            time_zone: "Mars/Base".into(),
            tags: vec!["two words".into()],
            consents: vec![pb::Consent {
                channel: pb::Channel::Sms as i32,
                state: pb::ConsentState::Granted as i32,
                source: "web".into(),
                update_time: Some(prost_types::Timestamp {
                    seconds: 253_402_300_800,
                    nanos: 0,
                }),
            }],
            ..Default::default()
        };
        let err = app
            .client
            .create_customer(pb::CreateCustomerRequest {
                customer: Some(bad),
                request_id: "not-a-uuid".into(),
            })
            .await
            .expect_err("invalid");
        assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
        let mut fields = violations(&err);
        fields.sort();
        assert_eq!(
            fields,
            [
                "customer.birth_date",
                "customer.consents[0].update_time",
                "customer.given_name",
                "customer.language_code",
                "customer.phones[0]",
                "customer.phones[1]",
                "customer.primary_email",
                "customer.tags[0]",
                "customer.time_zone",
                "request_id"
            ]
        );
        // Cross-field rules come after field parsing; display_name alone is also reported.
        let err = app
            .client
            .create_customer(pb::CreateCustomerRequest {
                customer: Some(pb::Customer::default()),
                request_id: rid(),
            })
            .await
            .expect_err("no name");
        assert_eq!(violations(&err), ["customer.display_name"]);
        let list = app
            .client
            .list_customers(pb::ListCustomersRequest::default())
            .await
            .expect("list")
            .into_inner();
        assert!(list.customers.is_empty(), "nothing was written");
    })
    .await;
}

#[tokio::test]
async fn request_id_replays_and_rejects_reuse() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let id = rid();
        let req = pb::CreateCustomerRequest {
            customer: Some(person("Ann", "ann@example.com")),
            request_id: id.clone(),
        };
        let first = app
            .client
            .create_customer(req.clone())
            .await
            .expect("first")
            .into_inner();
        let again = app
            .client
            .create_customer(req)
            .await
            .expect("replay")
            .into_inner();
        assert_eq!(first, again, "a replay returns the first result");
        let other = pb::CreateCustomerRequest {
            customer: Some(person("Bob", "bob@example.com")),
            request_id: id,
        };
        let err = app.client.create_customer(other).await.expect_err("reuse");
        assert_status(&err, Code::AlreadyExists, "IDEMPOTENCY_KEY_REUSED");
        let list = app
            .client
            .list_customers(pb::ListCustomersRequest::default())
            .await
            .expect("list")
            .into_inner();
        assert_eq!(list.customers.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn concurrent_retries_with_one_request_id_create_one_customer() {
    each_backend(|backend| async move {
        let app = spawn_app(backend).await;
        let req = pb::CreateCustomerRequest {
            customer: Some(person("Cy", "cy@example.com")),
            request_id: rid(),
        };
        let calls = (0..8).map(|_| {
            let mut client = app.client.clone();
            let req = req.clone();
            tokio::spawn(async move {
                client
                    .create_customer(req)
                    .await
                    .map(|r| r.into_inner().name)
            })
        });
        let mut names = Vec::new();
        for c in calls {
            names.push(c.await.expect("join").expect("every retry succeeds"));
        }
        names.dedup();
        assert_eq!(names.len(), 1, "{names:?}");
        let mut client = app.client.clone();
        let list = client
            .list_customers(pb::ListCustomersRequest::default())
            .await
            .expect("list")
            .into_inner();
        assert_eq!(list.customers.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn update_honours_mask_and_etag_and_is_never_read_stale() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = app
            .create(pb::Customer {
                given_name: "Wei".into(),
                ..person("Li Wei", "li@example.com")
            })
            .await;
        let _ = app.get(&c.name).await.expect("warm the cache");
        let patch = pb::Customer {
            name: c.name.clone(),
            etag: c.etag.clone(),
            display_name: "Li W.".into(),
            given_name: "IGNORED".into(),
            ..Default::default()
        };
        let updated = app
            .update(patch.clone(), &["display_name"])
            .await
            .expect("update");
        assert_eq!(updated.display_name, "Li W.");
        assert_eq!(
            updated.given_name, "Wei",
            "fields outside the mask are kept"
        );
        assert_ne!(updated.etag, c.etag);
        assert_eq!(
            app.get(&c.name).await.expect("get").display_name,
            "Li W.",
            "read-your-write through the cache"
        );

        let stale = app
            .update(patch, &["display_name"])
            .await
            .expect_err("stale etag");
        assert_status(&stale, Code::Aborted, "ETAG_MISMATCH");

        let bad_mask = app
            .update(
                pb::Customer {
                    name: c.name.clone(),
                    ..Default::default()
                },
                &["etag", "display_name"],
            )
            .await
            .expect_err("mask");
        assert_status(&bad_mask, Code::InvalidArgument, "INVALID_ARGUMENT");
        assert_eq!(violations(&bad_mask), ["update_mask.paths[0]"]);

        // Bad values outside the mask are ignored; inside the mask they are reported.
        let partial = pb::Customer {
            name: c.name.clone(),
            phones: vec!["bad".into()],
            tags: vec!["gold".into()],
            ..Default::default()
        };
        let ok = app
            .update(partial.clone(), &["tags"])
            .await
            .expect("only tags validated");
        assert_eq!(ok.tags, ["gold"]);
        let err = app
            .update(partial, &["phones"])
            .await
            .expect_err("phone validated");
        assert_eq!(violations(&err), ["customer.phones[0]"]);
    })
    .await;
}

#[tokio::test]
async fn list_pages_filters_orders_and_rejects_tampered_tokens() {
    each_backend(|backend| async move {
        // Names order a list only while they are kept in plain text (see the test below).
        let storage = crm_platform::testing::Storage::fresh(backend).await;
        let mut app = spawn_app_with(storage, |s| s.platform.pii.encrypt = false).await;
        for i in 0..7 {
            let tags = if i % 2 == 0 {
                vec!["even".to_string()]
            } else {
                vec![]
            };
            app.create(pb::Customer {
                tags,
                ..person(&format!("Customer {i}"), &format!("c{i}@example.com"))
            })
            .await;
        }
        let mut seen = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let req = pb::ListCustomersRequest {
                page_size: 3,
                page_token: token.clone(),
                order_by: "display_name desc".into(),
                ..Default::default()
            };
            let page = app
                .client
                .list_customers(req)
                .await
                .expect("page")
                .into_inner();
            pages += 1;
            seen.extend(page.customers.into_iter().map(|c| c.display_name));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(pages, 3);
        let expected: Vec<String> = (0..7).rev().map(|i| format!("Customer {i}")).collect();
        assert_eq!(seen, expected);

        let even = app
            .client
            .list_customers(pb::ListCustomersRequest {
                tag: "even".into(),
                ..Default::default()
            })
            .await
            .expect("tag")
            .into_inner();
        assert_eq!(even.customers.len(), 4);

        let first = app
            .client
            .list_customers(pb::ListCustomersRequest {
                page_size: 2,
                ..Default::default()
            })
            .await
            .expect("first")
            .into_inner();
        let mut forged = first.next_page_token.clone().into_bytes();
        forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
        let req = pb::ListCustomersRequest {
            page_size: 2,
            page_token: String::from_utf8(forged).expect("ascii"),
            ..Default::default()
        };
        let err = app.client.list_customers(req).await.expect_err("tampered");
        assert_status(&err, Code::InvalidArgument, "INVALID_PAGE_TOKEN");
        let other_query = pb::ListCustomersRequest {
            page_size: 2,
            page_token: first.next_page_token,
            tag: "even".into(),
            ..Default::default()
        };
        let err = app
            .client
            .list_customers(other_query)
            .await
            .expect_err("other query");
        assert_status(&err, Code::InvalidArgument, "INVALID_PAGE_TOKEN");
        let err = app
            .client
            .list_customers(pb::ListCustomersRequest {
                order_by: "shoe_size".into(),
                page_size: -1,
                ..Default::default()
            })
            .await
            .expect_err("bad args");
        assert_eq!(violations(&err), ["order_by", "page_size"]);
    })
    .await;
}

#[tokio::test]
async fn names_encrypted_at_rest_cannot_order_a_list() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        app.create(person("Customer 1", "c1@example.com")).await;
        for order_by in ["display_name", "display_name desc"] {
            let err = app
                .client
                .list_customers(pb::ListCustomersRequest {
                    order_by: order_by.into(),
                    ..Default::default()
                })
                .await
                .expect_err("sealed names have no order");
            assert_eq!(violations(&err), ["order_by"]);
        }
        let by_time = app
            .client
            .list_customers(pb::ListCustomersRequest {
                order_by: "create_time desc".into(),
                ..Default::default()
            })
            .await
            .expect("time order")
            .into_inner();
        assert_eq!(by_time.customers.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn delete_and_undelete() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = app.create(person("Dee", "dee@example.com")).await;
        let wrong = app
            .client
            .delete_customer(pb::DeleteCustomerRequest {
                name: c.name.clone(),
                etag: "W/\"r99\"".into(),
                request_id: rid(),
            })
            .await
            .expect_err("etag");
        assert_status(&wrong, Code::Aborted, "ETAG_MISMATCH");
        let deleted = app
            .client
            .delete_customer(pb::DeleteCustomerRequest {
                name: c.name.clone(),
                etag: c.etag.clone(),
                request_id: rid(),
            })
            .await
            .expect("delete")
            .into_inner();
        assert_eq!(deleted.state, pb::customer::State::Deleted as i32);
        assert!(deleted.delete_time.is_some());
        assert_eq!(
            app.get(&c.name).await.expect("get deleted").state,
            pb::customer::State::Deleted as i32
        );
        let list = app
            .client
            .list_customers(pb::ListCustomersRequest::default())
            .await
            .expect("list")
            .into_inner();
        assert!(list.customers.is_empty());
        let all = app
            .client
            .list_customers(pb::ListCustomersRequest {
                show_deleted: true,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        assert_eq!(all.customers.len(), 1);
        let err = app
            .update(
                pb::Customer {
                    name: c.name.clone(),
                    display_name: "X".into(),
                    ..Default::default()
                },
                &["display_name"],
            )
            .await
            .expect_err("deleted");
        assert_status(&err, Code::FailedPrecondition, "CUSTOMER_DELETED");
        let back = app
            .client
            .undelete_customer(pb::UndeleteCustomerRequest {
                name: c.name.clone(),
                request_id: rid(),
            })
            .await
            .expect("undelete")
            .into_inner();
        assert_eq!(back.state, pb::customer::State::Active as i32);
        assert!(back.delete_time.is_none());
    })
    .await;
}

#[tokio::test]
async fn search_by_email_phone_and_name_prefix() {
    each_backend(|backend| async move {
        use pb::search_customers_request::Query;
        let mut app = spawn_app(backend).await;
        let a = app
            .create(pb::Customer {
                phones: vec!["+49 30 1234567".into()],
                additional_emails: vec!["second@example.com".into()],
                ..person("Zhang San", "zhang@example.com")
            })
            .await;
        app.create(person("Zhao Liu", "zhao@example.com")).await;
        app.create(person("Wang Wu", "wang@example.com")).await;
        let mut search = async |q: Query| {
            app.client
                .search_customers(pb::SearchCustomersRequest {
                    query: Some(q),
                    page_size: 10,
                    page_token: String::new(),
                })
                .await
        };
        let by_email = search(Query::Email("SECOND@example.com".into()))
            .await
            .expect("email")
            .into_inner();
        assert_eq!(
            by_email
                .customers
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            [a.name.as_str()]
        );
        let by_phone = search(Query::Phone("+49301234567".into()))
            .await
            .expect("phone")
            .into_inner();
        assert_eq!(by_phone.customers.len(), 1);
        let by_prefix = search(Query::NamePrefix("zh".into()))
            .await
            .expect("prefix")
            .into_inner();
        assert_eq!(by_prefix.customers.len(), 2);
        let surname = search(Query::NamePrefix("san".into()))
            .await
            .expect("word prefix")
            .into_inner();
        assert_eq!(surname.customers.len(), 1);
        let wildcard = search(Query::NamePrefix("z%".into()))
            .await
            .expect("escaped")
            .into_inner();
        assert!(wildcard.customers.is_empty(), "LIKE wildcards are escaped");
        let err = search(Query::NamePrefix("z".into()))
            .await
            .expect_err("too short");
        assert_eq!(violations(&err), ["name_prefix"]);
    })
    .await;
}

#[tokio::test]
async fn batch_get_keeps_order_and_fails_whole() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let a = app.create(person("A", "a@example.com")).await;
        let b = app.create(person("B", "b@example.com")).await;
        let got = app
            .client
            .batch_get_customers(pb::BatchGetCustomersRequest {
                names: vec![b.name.clone(), a.name.clone()],
            })
            .await
            .expect("batch")
            .into_inner();
        assert_eq!(
            got.customers
                .iter()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>(),
            [b.name.clone(), a.name.clone()]
        );
        let missing = format!("customers/{}", uuid::Uuid::now_v7());
        let err = app
            .client
            .batch_get_customers(pb::BatchGetCustomersRequest {
                names: vec![a.name.clone(), missing],
            })
            .await
            .expect_err("missing");
        assert_status(&err, Code::NotFound, "NOT_FOUND");
    })
    .await;
}
