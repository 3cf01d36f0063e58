//! Nothing unbounded: duplicates come in pages, exports in chunks, batch gets are capped.
use crate::harness::*;
use crm_proto::customers as pb;
use tonic::Code;

#[tokio::test]
async fn duplicates_are_paged_strongest_evidence_first() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let dob = Some(crm_proto::common::Date {
            year: 1985,
            month: 3,
            day: 4,
        });
        let target = app
            .create(pb::Customer {
                birth_date: dob,
                phones: vec!["+8613800138000".into()],
                ..person("Zhang San", "zs@example.com")
            })
            .await;
        // 3 by name + birth date only, 3 by phone only, 3 by e-mail only, 1 by all three.
        let mut expected: Vec<(f64, String)> = Vec::new();
        for i in 0..3 {
            let c = app
                .create(pb::Customer {
                    birth_date: dob,
                    ..person("zhang  san", &format!("n{i}@example.com"))
                })
                .await;
            expected.push((0.6, c.name));
            let c = app
                .create(pb::Customer {
                    phones: vec!["+8613800138000".into()],
                    ..person(&format!("P {i}"), &format!("p{i}@example.com"))
                })
                .await;
            expected.push((0.8, c.name));
            let c = app
                .create(person(&format!("E {i}"), "ZS@example.com"))
                .await;
            expected.push((0.9, c.name));
        }
        let all = app
            .create(pb::Customer {
                birth_date: dob,
                phones: vec!["+8613800138000".into()],
                ..person("Zhang San", "zs@example.com")
            })
            .await;
        expected.push((0.992, all.name));
        app.create(person("Zhang San", "stranger@example.com"))
            .await; // name alone: no
        expected.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));

        let mut got: Vec<(f64, String)> = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let page = app
                .client
                .find_duplicates(pb::FindDuplicatesRequest {
                    name: target.name.clone(),
                    page_size: 3,
                    page_token: token.clone(),
                })
                .await
                .expect("page")
                .into_inner();
            assert!(page.candidates.len() <= 3);
            pages += 1;
            got.extend(
                page.candidates
                    .into_iter()
                    .map(|d| (d.score, d.customer.map(|c| c.name).unwrap_or_default())),
            );
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(pages, 4);
        assert_eq!(got, expected);

        let foreign = token_of(&mut app, &target.name).await;
        let err = app
            .client
            .find_duplicates(pb::FindDuplicatesRequest {
                name: all_but_target(&got, &target.name),
                page_size: 3,
                page_token: foreign,
            })
            .await
            .expect_err("a token of another customer's query");
        assert_status(&err, Code::InvalidArgument, "INVALID_PAGE_TOKEN");
    })
    .await;
}

fn all_but_target(got: &[(f64, String)], target: &str) -> String {
    got.iter()
        .map(|g| g.1.clone())
        .find(|n| n != target)
        .expect("another customer")
}

async fn token_of(app: &mut TestApp, name: &str) -> String {
    app.client
        .find_duplicates(pb::FindDuplicatesRequest {
            name: name.into(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .expect("page")
        .into_inner()
        .next_page_token
}

#[tokio::test]
async fn an_export_streams_bounded_chunks_and_keeps_everything() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = app.create(person("Many Orders", "many@example.com")).await;
        let n = 620;
        for i in 0..n {
            app.purchase(&c.name, 300 - (i % 300) as i64, 100 + i as i64)
                .await;
        }
        let mut stream = app
            .client
            .export_customer(pb::ExportCustomerRequest {
                name: c.name.clone(),
            })
            .await
            .expect("export")
            .into_inner();
        let mut messages = Vec::new();
        while let Some(m) = stream.message().await.expect("message") {
            messages.push(m);
        }
        assert!(messages[0].customer.is_some() && messages[0].export_time.is_some());
        assert!(messages.len() >= 3, "head + at least two activity chunks");
        assert!(messages.iter().all(|m| m.activities.len() <= 500));
        let activities: Vec<_> = messages.iter().flat_map(|m| m.activities.clone()).collect();
        assert_eq!(activities.len(), n);
        let times: Vec<_> = activities
            .iter()
            .map(|a| {
                let t = a.occur_time.unwrap_or_default();
                (t.seconds, t.nanos)
            })
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
        let whole = app.export(&c.name).await;
        assert_eq!(whole.activities.len(), n);
        assert!(whole.audit_entries.iter().any(|a| a.action == "created"));

        let missing = app
            .client
            .export_customer(pb::ExportCustomerRequest {
                name: format!("customers/{}", uuid::Uuid::now_v7()),
            })
            .await
            .expect_err("missing");
        assert_eq!(missing.code(), Code::NotFound);
    })
    .await;
}

#[tokio::test]
async fn batch_get_answers_up_to_the_limit_in_request_order() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let a = app.create(person("A", "a@example.com")).await;
        let b = app.create(person("B", "b@example.com")).await;
        let gone = app.create(person("Gone", "gone@example.com")).await;
        app.client
            .merge_customers(pb::MergeCustomersRequest {
                survivor: a.name.clone(),
                merged: vec![gone.name.clone()],
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect("merge");
        let names: Vec<String> = (0..1000)
            .map(|i| [&a.name, &b.name, &gone.name][i % 3].clone())
            .collect();
        let got = app
            .client
            .batch_get_customers(pb::BatchGetCustomersRequest {
                names: names.clone(),
            })
            .await
            .expect("1000 names")
            .into_inner();
        assert_eq!(got.customers.len(), 1000);
        for (i, c) in got.customers.iter().enumerate() {
            let want = if i % 3 == 1 { &b.name } else { &a.name };
            assert_eq!(&c.name, want, "position {i}");
        }
        let mut too_many = names;
        too_many.push(a.name.clone());
        let err = app
            .client
            .batch_get_customers(pb::BatchGetCustomersRequest { names: too_many })
            .await
            .expect_err("1001 names");
        assert_eq!(violations(&err), ["names"]);
        let missing = format!("customers/{}", uuid::Uuid::now_v7());
        let err = app
            .client
            .batch_get_customers(pb::BatchGetCustomersRequest {
                names: vec![a.name.clone(), missing.clone()],
            })
            .await
            .expect_err("missing");
        assert_eq!(err.code(), Code::NotFound);
        assert!(err.message().contains(&missing[10..]), "{}", err.message());
    })
    .await;
}
