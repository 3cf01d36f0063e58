//! Every input of every customers RPC is checked the same way on both backends: text
//! (control and bidi characters, length), contact data against real standards, numbers,
//! lists and times within bounds. A bad value is a field violation and writes nothing.
use crate::harness::*;
use crm_proto::common as cpb;
use crm_proto::customers as pb;
use tonic::Code;

/// Year 10000 and year 0 in protobuf seconds.
const YEAR_10000: i64 = 253_402_300_800;
const YEAR_0: i64 = -62_135_596_801;

fn at(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

fn now_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}

fn cny(amount_minor: i64) -> Option<cpb::Money> {
    Some(cpb::Money {
        currency_code: "CNY".into(),
        amount_minor,
    })
}

#[track_caller]
fn assert_fields(err: &tonic::Status, expected: &[&str]) {
    assert_status(err, Code::InvalidArgument, "INVALID_ARGUMENT");
    let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(violations(err), expected, "{err:?}");
}

impl TestApp {
    async fn try_create(&mut self, c: pb::Customer) -> Result<pb::Customer, tonic::Status> {
        self.client
            .create_customer(pb::CreateCustomerRequest {
                customer: Some(c),
                request_id: rid(),
            })
            .await
            .map(|r| r.into_inner())
    }

    async fn try_record(
        &mut self,
        parent: &str,
        a: pb::Activity,
    ) -> Result<pb::Activity, tonic::Status> {
        self.client
            .record_activity(pb::RecordActivityRequest {
                parent: parent.into(),
                activity: Some(a),
                request_id: rid(),
            })
            .await
            .map(|r| r.into_inner())
    }

    async fn customer_count(&mut self) -> usize {
        self.client
            .list_customers(pb::ListCustomersRequest {
                show_deleted: true,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner()
            .customers
            .len()
    }

    async fn activity_count(&mut self, parent: &str) -> usize {
        self.client
            .list_activities(pb::ListActivitiesRequest {
                parent: parent.into(),
                ..Default::default()
            })
            .await
            .expect("list activities")
            .into_inner()
            .activities
            .len()
    }
}

fn valid_purchase() -> pb::Activity {
    pb::Activity {
        kind: pb::ActivityKind::Purchase as i32,
        occur_time: at(now_seconds() - 60),
        amount: cny(12_345),
        items: vec![pb::PurchaseItem {
            item_id: "sku-1".into(),
            quantity: 2,
            unit_price: cny(6_000),
        }],
        channel: "web".into(),
        reference: "order-1".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn control_characters_in_any_customer_text_are_field_violations() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let base = || person("Li Wei", "li@example.com");
        let nul = |s: &str| format!("{s}\0{s}");
        let address = |f: &dyn Fn(&mut cpb::PostalAddress)| {
            let mut a = cpb::PostalAddress {
                region_code: "CN".into(),
                ..Default::default()
            };
            f(&mut a);
            vec![a]
        };
        let attributes = |k: &str, v: &str| {
            Some(prost_types::Struct {
                fields: [(
                    k.to_owned(),
                    prost_types::Value {
                        kind: Some(prost_types::value::Kind::StringValue(v.into())),
                    },
                )]
                .into_iter()
                .collect(),
            })
        };
        let cases: Vec<(pb::Customer, &str)> = vec![
            (
                pb::Customer {
                    display_name: nul("Li"),
                    ..base()
                },
                "customer.display_name",
            ),
            (
                pb::Customer {
                    given_name: nul("Wei"),
                    ..base()
                },
                "customer.given_name",
            ),
            (
                pb::Customer {
                    family_name: "Li\u{7}".into(),
                    ..base()
                },
                "customer.family_name",
            ),
            (
                pb::Customer {
                    primary_email: "li\u{202E}moc.elpmaxe@example.com".into(),
                    ..base()
                },
                "customer.primary_email",
            ),
            (
                pb::Customer {
                    additional_emails: vec!["\"a\u{2066}\"@example.com".into()],
                    ..base()
                },
                "customer.additional_emails[0]",
            ),
            (
                pb::Customer {
                    addresses: address(&|a| a.address_lines = vec![nul("1 Road")]),
                    ..base()
                },
                "customer.addresses[0].address_lines[0]",
            ),
            (
                pb::Customer {
                    addresses: address(&|a| a.locality = nul("Hangzhou")),
                    ..base()
                },
                "customer.addresses[0].locality",
            ),
            (
                pb::Customer {
                    addresses: address(&|a| a.administrative_area = nul("Zhejiang")),
                    ..base()
                },
                "customer.addresses[0].administrative_area",
            ),
            (
                pb::Customer {
                    addresses: address(&|a| a.postal_code = nul("310000")),
                    ..base()
                },
                "customer.addresses[0].postal_code",
            ),
            (
                pb::Customer {
                    addresses: address(&|a| a.recipient = nul("Li")),
                    ..base()
                },
                "customer.addresses[0].recipient",
            ),
            (
                pb::Customer {
                    addresses: address(&|a| a.label = nul("home")),
                    ..base()
                },
                "customer.addresses[0].label",
            ),
            (
                pb::Customer {
                    external_id: nul("shop"),
                    ..base()
                },
                "customer.external_id",
            ),
            (
                pb::Customer {
                    tags: vec![nul("vip")],
                    ..base()
                },
                "customer.tags[0]",
            ),
            (
                pb::Customer {
                    attributes: attributes("room", "sea\0view"),
                    ..base()
                },
                "customer.attributes.room",
            ),
            (
                pb::Customer {
                    attributes: attributes("ro\0om", "sea view"),
                    ..base()
                },
                "customer.attributes",
            ),
            (
                pb::Customer {
                    important_dates: vec![pb::ImportantDate {
                        kind: nul("wedding"),
                        date: Some(cpb::Date {
                            year: 2015,
                            month: 10,
                            day: 1,
                        }),
                    }],
                    ..base()
                },
                "customer.important_dates[0].kind",
            ),
            (
                pb::Customer {
                    consents: vec![pb::Consent {
                        channel: pb::Channel::Email as i32,
                        state: pb::ConsentState::Granted as i32,
                        source: nul("web"),
                        update_time: None,
                    }],
                    ..base()
                },
                "customer.consents[0].source",
            ),
            (
                pb::Customer {
                    language_code: nul("zh"),
                    ..base()
                },
                "customer.language_code",
            ),
            (
                pb::Customer {
                    time_zone: nul("Asia/Shanghai"),
                    ..base()
                },
                "customer.time_zone",
            ),
            (
                pb::Customer {
                    display_name: "L".repeat(201),
                    ..base()
                },
                "customer.display_name",
            ),
            (
                pb::Customer {
                    external_id: "e".repeat(129),
                    ..base()
                },
                "customer.external_id",
            ),
            (
                pb::Customer {
                    addresses: address(&|a| a.address_lines = vec!["x".repeat(60_000)]),
                    ..base()
                },
                "customer.addresses[0].address_lines[0]",
            ),
        ];
        for (c, field) in cases {
            let err = app.try_create(c).await.expect_err(field);
            assert_fields(&err, &[field]);
        }
        assert_eq!(app.customer_count().await, 0, "nothing was written");

        // The same rules on update, for the masked fields.
        let mut c = app.create(base()).await;
        c.display_name = nul("New");
        let err = app
            .update(c.clone(), &["display_name"])
            .await
            .expect_err("nul");
        assert_fields(&err, &["customer.display_name"]);
        assert_eq!(app.get(&c.name).await.expect("get").display_name, "Li Wei");
        let mut stale = app.get(&c.name).await.expect("get");
        stale.etag = "W/\"r1\"\0".into();
        let err = app
            .update(stale, &["display_name"])
            .await
            .expect_err("nul etag");
        assert_fields(&err, &["customer.etag"]);
        let err = app
            .client
            .delete_customer(pb::DeleteCustomerRequest {
                name: c.name.clone(),
                etag: "e".repeat(60_000),
                request_id: rid(),
            })
            .await
            .expect_err("huge etag");
        assert_fields(&err, &["etag"]);
    })
    .await;
}

#[tokio::test]
async fn contact_data_is_checked_against_real_standards() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let cases: Vec<(pb::Customer, &str)> = vec![
            (
                pb::Customer {
                    phones: vec!["+999999999999999".into()],
                    ..person("A", "a@example.com")
                },
                "customer.phones[0]",
            ),
            (
                pb::Customer {
                    phones: vec!["+86 138 0013 800".into()],
                    ..person("A", "a@example.com")
                },
                "customer.phones[0]",
            ),
            (
                pb::Customer {
                    language_code: "english".into(),
                    ..person("A", "a@example.com")
                },
                "customer.language_code",
            ),
            (
                pb::Customer {
                    language_code: "xx-YY".into(),
                    ..person("A", "a@example.com")
                },
                "customer.language_code",
            ),
            (person("A", "Li <li@example.com>"), "customer.primary_email"),
            (person("A", "li@[10.0.0.1]"), "customer.primary_email"),
        ];
        for (c, field) in cases {
            let err = app.try_create(c).await.expect_err(field);
            assert_fields(&err, &[field]);
        }
        let ok = app
            .create(pb::Customer {
                phones: vec!["+1 650-253-0000".into(), "0049 30 1234567".into()],
                language_code: "zh-hant-tw".into(),
                ..person("B", "B.Person@Example.COM")
            })
            .await;
        assert_eq!(ok.phones, ["+16502530000", "+49301234567"]);
        assert_eq!(ok.language_code, "zh-Hant-TW");
        assert_eq!(ok.primary_email, "b.person@example.com");
    })
    .await;
}

#[tokio::test]
async fn activity_fields_are_bounded_and_clean() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = app.create(person("Eve", "eve@example.com")).await;
        let item = |f: &dyn Fn(&mut pb::PurchaseItem)| {
            let mut i = valid_purchase().items[0].clone();
            f(&mut i);
            vec![i]
        };
        let cases: Vec<(pb::Activity, &[&str])> = vec![
            (
                pb::Activity {
                    amount: cny(i64::MAX),
                    ..valid_purchase()
                },
                &["activity.amount.amount_minor"],
            ),
            (
                pb::Activity {
                    amount: cny(0),
                    ..valid_purchase()
                },
                &["activity.amount.amount_minor"],
            ),
            (
                pb::Activity {
                    amount: cny(-100),
                    ..valid_purchase()
                },
                &["activity.amount.amount_minor"],
            ),
            (
                pb::Activity {
                    amount: Some(cpb::Money {
                        currency_code: "ZZZ".into(),
                        amount_minor: 100,
                    }),
                    ..valid_purchase()
                },
                &["activity.amount.currency_code"],
            ),
            (
                pb::Activity {
                    items: item(&|i| i.quantity = 0),
                    ..valid_purchase()
                },
                &["activity.items[0].quantity"],
            ),
            (
                pb::Activity {
                    items: item(&|i| i.quantity = i32::MAX),
                    ..valid_purchase()
                },
                &["activity.items[0].quantity"],
            ),
            (
                pb::Activity {
                    items: item(&|i| i.unit_price = cny(i64::MAX)),
                    ..valid_purchase()
                },
                &["activity.items[0].unit_price.amount_minor"],
            ),
            (
                pb::Activity {
                    items: item(&|i| i.item_id = "sku\0".into()),
                    ..valid_purchase()
                },
                &["activity.items[0].item_id"],
            ),
            (
                pb::Activity {
                    items: vec![valid_purchase().items[0].clone(); 1_000],
                    ..valid_purchase()
                },
                &["activity.items"],
            ),
            (
                pb::Activity {
                    channel: "web\0".into(),
                    ..valid_purchase()
                },
                &["activity.channel"],
            ),
            (
                pb::Activity {
                    reference: "order\0".into(),
                    ..valid_purchase()
                },
                &["activity.reference"],
            ),
            (
                pb::Activity {
                    reference: "r".repeat(60_000),
                    ..valid_purchase()
                },
                &["activity.reference"],
            ),
            (
                pb::Activity {
                    kind: pb::ActivityKind::View as i32,
                    amount: None,
                    items: vec![],
                    item_id: "room\0-101".into(),
                    ..valid_purchase()
                },
                &["activity.item_id"],
            ),
            (
                pb::Activity {
                    kind: pb::ActivityKind::Review as i32,
                    amount: None,
                    items: vec![],
                    rating: 9,
                    text: "great\0".into(),
                    ..valid_purchase()
                },
                &["activity.rating", "activity.text"],
            ),
            (
                pb::Activity {
                    kind: 99,
                    ..valid_purchase()
                },
                &["activity.kind"],
            ),
            (
                pb::Activity {
                    occur_time: at(YEAR_10000),
                    ..valid_purchase()
                },
                &["activity.occur_time"],
            ),
            (
                pb::Activity {
                    occur_time: at(YEAR_0),
                    ..valid_purchase()
                },
                &["activity.occur_time"],
            ),
            (
                pb::Activity {
                    occur_time: at(now_seconds() + 3_600),
                    ..valid_purchase()
                },
                &["activity.occur_time"],
            ),
        ];
        for (a, fields) in cases {
            let err = app.try_record(&c.name, a).await.expect_err(fields[0]);
            assert_fields(&err, fields);
        }
        assert_eq!(app.activity_count(&c.name).await, 0, "nothing was written");
        // Within the bounds: the largest amount (1,000,000,000.00 CNY), multi-line text.
        app.try_record(
            &c.name,
            pb::Activity {
                amount: cny(100_000_000_000),
                ..valid_purchase()
            },
        )
        .await
        .expect("largest amount");
        app.try_record(
            &c.name,
            pb::Activity {
                kind: pb::ActivityKind::Review as i32,
                amount: None,
                items: vec![],
                rating: 5,
                text: "Clean room.\nFriendly staff.".into(),
                ..valid_purchase()
            },
        )
        .await
        .expect("review");
    })
    .await;
}

#[tokio::test]
async fn times_and_dates_are_in_range() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let consent = |t: i64| pb::Consent {
            channel: pb::Channel::Email as i32,
            state: pb::ConsentState::Granted as i32,
            source: "web".into(),
            update_time: at(t),
        };
        let date = |year, month, day| Some(cpb::Date { year, month, day });
        let cases: Vec<(pb::Customer, &str)> = vec![
            (
                pb::Customer {
                    consents: vec![consent(YEAR_10000)],
                    ..person("A", "a@example.com")
                },
                "customer.consents[0].update_time",
            ),
            (
                pb::Customer {
                    consents: vec![consent(YEAR_0)],
                    ..person("A", "a@example.com")
                },
                "customer.consents[0].update_time",
            ),
            (
                pb::Customer {
                    consents: vec![consent(now_seconds() + 3_600)],
                    ..person("A", "a@example.com")
                },
                "customer.consents[0].update_time",
            ),
            (
                pb::Customer {
                    birth_date: date(1899, 12, 31),
                    ..person("A", "a@example.com")
                },
                "customer.birth_date",
            ),
            (
                pb::Customer {
                    birth_date: date(0, 1, 1),
                    ..person("A", "a@example.com")
                },
                "customer.birth_date",
            ),
            (
                pb::Customer {
                    important_dates: vec![pb::ImportantDate {
                        kind: "anniversary".into(),
                        date: date(2023, 2, 29),
                    }],
                    ..person("A", "a@example.com")
                },
                "customer.important_dates[0].date",
            ),
            (
                pb::Customer {
                    important_dates: vec![pb::ImportantDate {
                        kind: "anniversary".into(),
                        date: date(10_000, 1, 1),
                    }],
                    ..person("A", "a@example.com")
                },
                "customer.important_dates[0].date",
            ),
        ];
        for (c, field) in cases {
            let err = app.try_create(c).await.expect_err(field);
            assert_fields(&err, &[field]);
        }
        assert_eq!(app.customer_count().await, 0, "nothing was written");
        let c = app
            .create(pb::Customer {
                consents: vec![consent(now_seconds() - 86_400)],
                birth_date: date(1900, 1, 1),
                ..person("A", "a@example.com")
            })
            .await;
        let err = app
            .client
            .list_customers(pb::ListCustomersRequest {
                updated_since: at(YEAR_10000),
                ..Default::default()
            })
            .await
            .expect_err("year 10000");
        assert_fields(&err, &["updated_since"]);
        let err = app
            .client
            .list_activities(pb::ListActivitiesRequest {
                parent: c.name.clone(),
                start_time: at(YEAR_0),
                end_time: at(YEAR_10000),
                ..Default::default()
            })
            .await
            .expect_err("out of range");
        assert_fields(&err, &["start_time", "end_time"]);
    })
    .await;
}

#[tokio::test]
async fn lists_and_custom_attributes_are_bounded() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let many = |n: usize, f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<Vec<_>>();
        let err = app
            .try_create(pb::Customer {
                additional_emails: many(5_000, &|i| format!("bad-{i}")),
                phones: many(11, &|_| "+8613800138000".into()),
                tags: many(101, &|i| format!("t{i}")),
                ..person("A", "a@example.com")
            })
            .await
            .expect_err("too many");
        assert_fields(
            &err,
            &[
                "customer.additional_emails",
                "customer.phones",
                "customer.tags",
            ],
        );
        let mut deep = prost_types::Value {
            kind: Some(prost_types::value::Kind::StringValue("leaf".into())),
        };
        for _ in 0..5 {
            deep = prost_types::Value {
                kind: Some(prost_types::value::Kind::StructValue(prost_types::Struct {
                    fields: [("a".to_owned(), deep)].into_iter().collect(),
                })),
            };
        }
        let Some(prost_types::value::Kind::StructValue(deep)) = deep.kind else {
            panic!("a struct");
        };
        let err = app
            .try_create(pb::Customer {
                attributes: Some(deep),
                ..person("A", "a@example.com")
            })
            .await
            .expect_err("too deep");
        assert_fields(&err, &["customer.attributes.a.a.a.a"]);
        assert_eq!(app.customer_count().await, 0, "nothing was written");
    })
    .await;
}

#[tokio::test]
async fn search_merge_and_erase_text_is_bounded() {
    each_backend(|backend| async move {
        use pb::search_customers_request::Query;
        let mut app = spawn_app(backend).await;
        let a = app.create(person("Zhang San", "zhang@example.com")).await;
        let b = app.create(person("Zhang Si", "zhangsi@example.com")).await;
        for (q, field) in [
            (Query::NamePrefix("z".repeat(60_000)), "name_prefix"),
            (Query::NamePrefix("zh\0".into()), "name_prefix"),
            (Query::Email("zhang\u{202E}@example.com".into()), "email"),
            (Query::Phone("+999999999999999".into()), "phone"),
            (Query::Phone("+86\0".into()), "phone"),
        ] {
            let err = app
                .client
                .search_customers(pb::SearchCustomersRequest {
                    query: Some(q),
                    page_size: 10,
                    page_token: String::new(),
                })
                .await
                .expect_err(field);
            assert_fields(&err, &[field]);
        }
        let found = app
            .client
            .search_customers(pb::SearchCustomersRequest {
                query: Some(Query::NamePrefix("z".repeat(100))),
                page_size: 10,
                page_token: String::new(),
            })
            .await
            .expect("a long prefix within the bound")
            .into_inner();
        assert!(found.customers.is_empty());
        let err = app
            .client
            .merge_customers(pb::MergeCustomersRequest {
                survivor: a.name.clone(),
                merged: vec![b.name.clone()],
                validate_only: false,
                request_id: rid(),
                actor: "ops\0".into(),
            })
            .await
            .expect_err("actor");
        assert_fields(&err, &["actor"]);
        let err = app
            .client
            .erase_customer(pb::EraseCustomerRequest {
                name: b.name.clone(),
                request_id: rid(),
                actor: "x".repeat(129),
            })
            .await
            .expect_err("actor");
        assert_fields(&err, &["actor"]);
        let b_now = app.get(&b.name).await.expect("b untouched");
        assert_eq!(b_now.state, pb::customer::State::Active as i32);
    })
    .await;
}
