//! The catalogue: create / get / list (paging, category filter, tokens) / update (mask,
//! etag) / delete, idempotent retries, bad input (field violations, nothing written) and
//! ImportItems (batches, a bad row, a retried import).
use crate::harness::{TestApp, assert_status, each_backend, rid, spawn_app, violations};
use crm_proto::recommendations as pb;
use crm_recommendations::store::entities::item;
use sea_orm::{EntityTrait, PaginatorTrait};
use tonic::Code;

fn hotel(title: &str, category: &str) -> pb::Item {
    pb::Item {
        title: title.into(),
        category: category.into(),
        tags: vec!["destination:kyoto".into(), "spa".into()],
        attributes: [("price_band".to_owned(), "mid".to_owned())].into(),
        numeric_attributes: [("star_rating".to_owned(), 4.0)].into(),
        availability: pb::Availability::InStock as i32,
        bookable_from: Some(prost_types::Timestamp {
            seconds: 1_800_000_000,
            nanos: 0,
        }),
        bookable_until: Some(prost_types::Timestamp {
            seconds: 1_810_000_000,
            nanos: 0,
        }),
        ..Default::default()
    }
}

async fn create(app: &mut TestApp, id: &str, item: pb::Item) -> pb::Item {
    app.client
        .create_item(pb::CreateItemRequest {
            item_id: id.into(),
            item: Some(item),
            request_id: rid(),
        })
        .await
        .expect("create")
        .into_inner()
}

async fn stored(app: &TestApp) -> u64 {
    item::Entity::find()
        .count(app.service.db())
        .await
        .expect("count")
}

async fn list(app: &mut TestApp, size: i32, token: &str, category: &str) -> pb::ListItemsResponse {
    app.client
        .list_items(pb::ListItemsRequest {
            page_size: size,
            page_token: token.into(),
            category: category.into(),
        })
        .await
        .expect("list")
        .into_inner()
}

fn names(items: &[pb::Item]) -> Vec<&str> {
    items.iter().map(|i| i.name.as_str()).collect()
}

#[tokio::test]
async fn items_are_created_read_listed_by_page_and_category_updated_and_deleted() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let created = create(
            &mut app,
            "h-1",
            hotel("Sea-view double", "travel/hotels/kyoto"),
        )
        .await;
        assert_eq!(created.name, "items/h-1");
        assert_eq!(created.title, "Sea-view double");
        assert_eq!(created.tags, ["destination:kyoto", "spa"]);
        assert_eq!(created.numeric_attributes["star_rating"], 4.0);
        assert!(created.create_time.is_some() && !created.etag.is_empty());
        let got = app
            .client
            .get_item(pb::GetItemRequest {
                name: "items/h-1".into(),
            })
            .await
            .expect("get")
            .into_inner();
        assert_eq!(got, created);

        // The id is taken.
        let err = app
            .client
            .create_item(pb::CreateItemRequest {
                item_id: "h-1".into(),
                item: Some(hotel("Other", "")),
                request_id: rid(),
            })
            .await
            .expect_err("taken");
        assert_status(&err, Code::AlreadyExists, "ITEM_EXISTS");

        // Unspecified availability means in stock.
        let mut plain = hotel("Tour", "travel/tours");
        plain.availability = 0;
        assert_eq!(
            create(&mut app, "t-1", plain).await.availability,
            pb::Availability::InStock as i32
        );
        create(&mut app, "h-2", hotel("Ryokan", "travel/hotels")).await;
        create(&mut app, "h-3", hotel("Hostel", "travel/hotelsx")).await;
        create(&mut app, "b-1", hotel("Book", "books_and_more")).await;

        // Pages of 2 in id order, then the category filter (the path and below it, not a
        // sibling sharing its prefix, `_` no wildcard).
        let p1 = list(&mut app, 2, "", "").await;
        assert_eq!(names(&p1.items), ["items/b-1", "items/h-1"]);
        let p2 = list(&mut app, 2, &p1.next_page_token, "").await;
        assert_eq!(names(&p2.items), ["items/h-2", "items/h-3"]);
        let p3 = list(&mut app, 2, &p2.next_page_token, "").await;
        assert_eq!(names(&p3.items), ["items/t-1"]);
        assert!(p3.next_page_token.is_empty());
        assert_eq!(list(&mut app, 0, "", "").await.items.len(), 5, "default 50");
        let hotels = list(&mut app, 0, "", "travel/hotels").await;
        assert_eq!(names(&hotels.items), ["items/h-1", "items/h-2"]);
        assert!(list(&mut app, 0, "", "books_an").await.items.is_empty());
        let travel = list(&mut app, 1, "", "travel").await;
        // The token is bound to the query and tamper-proof.
        for (token, category) in [
            (travel.next_page_token.as_str(), "travel/hotels"),
            ("AAAA", ""),
        ] {
            let err = app
                .client
                .list_items(pb::ListItemsRequest {
                    page_size: 1,
                    page_token: token.into(),
                    category: category.into(),
                })
                .await
                .expect_err("bad token");
            assert_status(&err, Code::InvalidArgument, "INVALID_PAGE_TOKEN");
        }

        // Update: only the masked fields change; an old etag is ABORTED.
        let mut patch = pb::Item {
            name: "items/h-1".into(),
            etag: created.etag.clone(),
            title: "ignored: not in the mask".into(),
            availability: pb::Availability::OutOfStock as i32,
            ..Default::default()
        };
        let update = |item: pb::Item, paths: &[&str], request_id: String| pb::UpdateItemRequest {
            item: Some(item),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
            request_id,
        };
        let updated = app
            .client
            .update_item(update(patch.clone(), &["availability"], rid()))
            .await
            .expect("update")
            .into_inner();
        assert_eq!(updated.availability, pb::Availability::OutOfStock as i32);
        assert_eq!(updated.title, "Sea-view double");
        assert_eq!(updated.tags, created.tags);
        assert_ne!(updated.etag, created.etag);
        assert_eq!(updated.create_time, created.create_time);
        let err = app
            .client
            .update_item(update(patch.clone(), &["title"], rid()))
            .await
            .expect_err("stale etag");
        assert_status(&err, Code::Aborted, "ETAG_MISMATCH");
        // "*" replaces every updatable field; no etag: unconditional.
        patch.etag.clear();
        patch.title = "Renamed".into();
        let star = app
            .client
            .update_item(update(patch.clone(), &["*"], rid()))
            .await
            .expect("update *")
            .into_inner();
        assert_eq!(star.title, "Renamed");
        assert!(star.tags.is_empty() && star.category.is_empty());
        assert_eq!(star.bookable_from, None);
        // A bookable window the merge would invert is refused.
        let err = app
            .client
            .update_item(update(
                pb::Item {
                    name: "items/h-2".into(),
                    bookable_until: Some(prost_types::Timestamp {
                        seconds: 1_700_000_000,
                        nanos: 0,
                    }),
                    ..Default::default()
                },
                &["bookable_until"],
                rid(),
            ))
            .await
            .expect_err("until before from");
        assert_eq!(violations(&err), ["item.bookable_until"]);
        let err = app
            .client
            .update_item(update(
                pb::Item {
                    name: "items/nope".into(),
                    // Not in the mask: not read.
                    category: "BAD".into(),
                    ..Default::default()
                },
                &["title"],
                rid(),
            ))
            .await
            .expect_err("missing");
        assert_status(&err, Code::NotFound, "NOT_FOUND");

        // Delete: a wrong etag is ABORTED and keeps the item; then it is gone.
        let delete = |name: &str, etag: &str, request_id: String| pb::DeleteItemRequest {
            name: name.into(),
            etag: etag.into(),
            request_id,
        };
        let err = app
            .client
            .delete_item(delete("items/h-1", &created.etag, rid()))
            .await
            .expect_err("stale etag");
        assert_status(&err, Code::Aborted, "ETAG_MISMATCH");
        let once = rid();
        app.client
            .delete_item(delete("items/h-1", &star.etag, once.clone()))
            .await
            .expect("delete");
        app.client
            .delete_item(delete("items/h-1", &star.etag, once))
            .await
            .expect("a retry replays the delete");
        let err = app
            .client
            .get_item(pb::GetItemRequest {
                name: "items/h-1".into(),
            })
            .await
            .expect_err("gone");
        assert_status(&err, Code::NotFound, "NOT_FOUND");
        let err = app
            .client
            .delete_item(delete("items/h-1", "", rid()))
            .await
            .expect_err("gone");
        assert_status(&err, Code::NotFound, "NOT_FOUND");
        assert_eq!(stored(&app).await, 4);
    })
    .await;
}

#[tokio::test]
async fn a_retried_create_replays_and_a_reused_request_id_is_refused() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let request = pb::CreateItemRequest {
            item_id: "sku-1".into(),
            item: Some(hotel("Room", "travel")),
            request_id: rid(),
        };
        let first = app
            .client
            .create_item(request.clone())
            .await
            .expect("create")
            .into_inner();
        let again = app
            .client
            .create_item(request.clone())
            .await
            .expect("replay")
            .into_inner();
        assert_eq!(first, again);
        let err = app
            .client
            .create_item(pb::CreateItemRequest {
                item_id: "sku-2".into(),
                ..request
            })
            .await
            .expect_err("reused");
        assert_status(&err, Code::AlreadyExists, "IDEMPOTENCY_KEY_REUSED");
        assert_eq!(stored(&app).await, 1);
    })
    .await;
}

#[tokio::test]
async fn bad_items_are_refused_field_by_field_and_write_nothing() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let cases: Vec<(&str, pb::CreateItemRequest)> = vec![
            ("item_id", with_id("a/b")),
            ("item_id", with_id(&"x".repeat(129))),
            ("item_id", with_id("")),
            (
                "item",
                pb::CreateItemRequest {
                    item: None,
                    ..with_id("ok")
                },
            ),
            (
                "request_id",
                pb::CreateItemRequest {
                    request_id: "nope".into(),
                    ..with_id("ok")
                },
            ),
            ("item.title", with(|i| i.title = "bad\0title".into())),
            ("item.title", with(|i| i.title = "x".repeat(201))),
            (
                "item.category",
                with(|i| i.category = "Travel/Hotels".into()),
            ),
            ("item.category", with(|i| i.category = "a//b".into())),
            (
                "item.category",
                with(|i| i.category = "a/b/c/d/e/f/g/h/i".into()),
            ),
            ("item.tags[2]", with(|i| i.tags.push("Not Lower".into()))),
            ("item.tags", with(|i| i.tags = vec!["t".into(); 33])),
            (
                "item.attributes[?]",
                with(|i| {
                    i.attributes.insert("Bad Key".into(), "v".into());
                }),
            ),
            (
                "item.attributes[note]",
                with(|i| {
                    i.attributes.insert("note".into(), "line\nbreak".into());
                }),
            ),
            (
                "item.numeric_attributes",
                with(|i| {
                    i.numeric_attributes.insert("price".into(), f64::NAN);
                }),
            ),
            (
                "item.numeric_attributes",
                with(|i| {
                    i.numeric_attributes.insert("price".into(), 2e15);
                }),
            ),
            ("item.availability", with(|i| i.availability = 9)),
            (
                "item.bookable_from",
                with(|i| {
                    i.bookable_from = Some(prost_types::Timestamp {
                        seconds: i64::MAX,
                        nanos: 0,
                    });
                }),
            ),
            (
                "item.bookable_until",
                with(|i| {
                    std::mem::swap(&mut i.bookable_from, &mut i.bookable_until);
                }),
            ),
        ];
        for (field, request) in cases {
            let err = app.client.create_item(request).await.expect_err(field);
            assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
            assert_eq!(violations(&err), [field], "{field}");
        }
        // Every problem at once.
        let mut all = with(|i| i.title = "a\u{7}".into());
        all.item_id = "a b".into();
        let err = app.client.create_item(all).await.expect_err("two");
        assert_eq!(violations(&err), ["item.title", "item_id"]);
        assert_eq!(stored(&app).await, 0, "nothing written");

        // Update: an unknown mask path, a bad name; fields outside the mask are not read.
        let err = app
            .client
            .update_item(pb::UpdateItemRequest {
                item: Some(pb::Item {
                    name: "sku".into(),
                    category: "BAD".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["title".into(), "etag".into()],
                }),
                request_id: rid(),
            })
            .await
            .expect_err("bad update");
        assert_eq!(violations(&err), ["item.name", "update_mask.paths[1]"]);
        let err = app
            .client
            .list_items(pb::ListItemsRequest {
                page_size: -1,
                category: "A".into(),
                ..Default::default()
            })
            .await
            .expect_err("bad list");
        assert_eq!(violations(&err), ["category", "page_size"]);
    })
    .await;
}

fn with_id(id: &str) -> pb::CreateItemRequest {
    pb::CreateItemRequest {
        item_id: id.into(),
        item: Some(hotel("Room", "travel/hotels")),
        request_id: rid(),
    }
}

fn with(change: impl FnOnce(&mut pb::Item)) -> pb::CreateItemRequest {
    let mut r = with_id("sku-1");
    if let Some(i) = r.item.as_mut() {
        change(i);
    }
    r
}

fn import_row(import_id: &str, id: &str, title: &str) -> pb::ImportItemsRequest {
    pb::ImportItemsRequest {
        item_id: id.into(),
        item: Some(hotel(title, "travel/hotels")),
        import_id: import_id.into(),
    }
}

async fn import(
    app: &mut TestApp,
    rows: Vec<pb::ImportItemsRequest>,
) -> Vec<pb::ImportItemsResponse> {
    let mut stream = app
        .client
        .import_items(futures::stream::iter(rows))
        .await
        .expect("import")
        .into_inner();
    let mut out = Vec::new();
    while let Some(msg) = stream.message().await.expect("import response") {
        out.push(msg);
    }
    out
}

fn results(batches: &[pb::ImportItemsResponse]) -> Vec<(i32, String, bool, usize)> {
    batches
        .iter()
        .flat_map(|b| &b.results)
        .map(|r| (r.row, r.item.clone(), r.created, r.errors.len()))
        .collect()
}

#[tokio::test]
async fn an_import_writes_good_rows_fails_bad_ones_and_a_retry_writes_each_row_once() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        create(&mut app, "i-0", hotel("Old title", "")).await;
        let import_id = rid();
        let mut rows: Vec<pb::ImportItemsRequest> = (0..4)
            .map(|i| {
                import_row(
                    if i == 0 { &import_id } else { "" },
                    &format!("i-{i}"),
                    "New",
                )
            })
            .collect();
        rows[2].item.as_mut().expect("item").category = "Bad Category".into();
        let first = import(&mut app, rows.clone()).await;
        assert_eq!(
            results(&first),
            [
                (0, "items/i-0".into(), false, 0),
                (1, "items/i-1".into(), true, 0),
                (2, String::new(), false, 1),
                (3, "items/i-3".into(), true, 0),
            ]
        );
        let last = first.last().expect("a batch");
        assert_eq!(
            (last.created_count, last.updated_count, last.failed_count),
            (2, 1, 1)
        );
        let bad = &first
            .iter()
            .flat_map(|b| &b.results)
            .nth(2)
            .expect("row 2")
            .errors[0];
        assert!(bad.starts_with("item.category: "), "{bad}");
        assert_eq!(rows_named(&mut app, "items/i-0").await.title, "New");
        let i1 = rows_named(&mut app, "items/i-1").await;

        // The stream is cut and re-sent with the bad row fixed: the written rows replay their
        // first result (i-1 is not written again: same etag), the fixed one is written.
        rows[2].item.as_mut().expect("item").category = "travel".into();
        let again = import(&mut app, rows).await;
        assert_eq!(
            results(&again),
            [
                (0, "items/i-0".into(), false, 0),
                (1, "items/i-1".into(), true, 0),
                (2, "items/i-2".into(), true, 0),
                (3, "items/i-3".into(), true, 0),
            ]
        );
        assert_eq!(rows_named(&mut app, "items/i-1").await.etag, i1.etag);
        assert_eq!(stored(&app).await, 4);

        // A row that changed under the same import_id and position is refused, another
        // import_id later in the stream fails that row, and a stream without an import_id
        // writes nothing.
        let mut changed = import_row(&import_id, "i-0", "Changed");
        changed.item.as_mut().expect("item").title = "Changed".into();
        let mut other = import_row(&rid(), "i-9", "x");
        other.import_id = rid();
        let r = import(&mut app, vec![changed, other]).await;
        let r: Vec<_> = r.iter().flat_map(|b| b.results.clone()).collect();
        assert!(r[0].errors[0].contains("request_id"), "{:?}", r[0].errors);
        assert!(
            r[1].errors[0].starts_with("import_id: "),
            "{:?}",
            r[1].errors
        );
        let r = import(&mut app, vec![import_row("", "i-8", "x")]).await;
        assert!(r[0].results[0].errors[0].starts_with("import_id: "));
        assert_eq!(stored(&app).await, 4);
        assert_eq!(rows_named(&mut app, "items/i-0").await.title, "New");
    })
    .await;
}

#[tokio::test]
async fn a_long_import_is_answered_in_batches_with_running_totals() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let import_id = rid();
        let n = crm_recommendations::service::catalogue::IMPORT_BATCH_SIZE + 7;
        let rows: Vec<_> = (0..n)
            .map(|i| import_row(&import_id, &format!("r-{i:04}"), "Row"))
            .collect();
        let batches = import(&mut app, rows).await;
        assert!(batches.len() >= 2, "{} batches", batches.len());
        let all = results(&batches);
        assert_eq!(all.len(), n);
        assert!(all.iter().enumerate().all(|(i, r)| r.0 == i as i32 && r.2));
        let mut created = 0;
        for b in &batches {
            created += b.results.len() as i32;
            assert_eq!(b.created_count, created, "running totals");
        }
        assert_eq!(stored(&app).await, n as u64);
    })
    .await;
}

async fn rows_named(app: &mut TestApp, name: &str) -> pb::Item {
    app.client
        .get_item(pb::GetItemRequest { name: name.into() })
        .await
        .expect("get")
        .into_inner()
}
