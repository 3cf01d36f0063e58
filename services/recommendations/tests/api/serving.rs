//! RecommendForCustomer, SimilarItems, BoughtTogether and PopularItems through the client,
//! over a small known dataset built into a model by RebuildModel: consumed items, buy again,
//! filters, boosts, diversity, exploration, interactions since the build, cold start, the
//! content fallback, rules, popularity scopes, the cache across rebuilds and without Redis,
//! the stored answers and their purge, bad input.
use crate::harness::{TestApp, assert_status, each_backend, rid, spawn_app_with, violations};
use chrono::{DateTime, TimeDelta, Utc};
use crm_platform::testing::Backend;
use crm_proto::recommendations as pb;
use crm_recommendations::domain::profile::Profile;
use crm_recommendations::domain::{
    Availability, CustomerId, Interaction, InteractionKind, Item, ItemFields, ItemId,
};
use crm_recommendations::store::entities::recommendation;
use crm_recommendations::store::{interactions, items, profiles};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, EntityTrait};
use tonic::Code;
use uuid::Uuid;

/// No scheduled rebuilds; served answers wait the longest flush allowed, so feedback
/// finds its answer only through the served log's flush on demand.
pub async fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        s.recommendations.rebuild.interval_secs = 0;
        s.recommendations.serving.served_flush_ms = 10_000;
    })
    .await
}

pub async fn item(app: &TestApp, id: &str, category: &str, tags: &[&str], in_stock: bool) {
    let now = crm_recommendations::domain::now();
    let mut fields = ItemFields {
        title: id.to_uppercase(),
        category: category.into(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        availability: if in_stock {
            Availability::InStock
        } else {
            Availability::OutOfStock
        },
        ..ItemFields::default()
    };
    fields
        .attributes
        .insert("shelf".into(), format!("shelf-{id}"));
    fields
        .numeric_attributes
        .insert("price".into(), f64::from(id.as_bytes()[0]));
    let i = Item {
        id: ItemId(id.into()),
        fields,
        revision: 1,
        create_time: now,
        update_time: now,
    };
    items::insert(app.service.db(), &i).await.expect("item");
}

pub async fn interact_at(
    app: &TestApp,
    customer: Uuid,
    item: &str,
    kind: InteractionKind,
    basket: &str,
    at: DateTime<Utc>,
) {
    let i = Interaction {
        source_key: format!("api:{}", Uuid::now_v7()),
        customer: CustomerId(customer),
        item: ItemId(item.into()),
        kind,
        weight: app.service.settings().weights.default_for(kind, 0),
        rating: 0,
        quantity: 1,
        basket: basket.into(),
        occur_time: crm_recommendations::domain::truncated(at),
    };
    let n = interactions::record(app.service.db(), &[i], crm_recommendations::domain::now())
        .await
        .expect("interaction");
    assert_eq!(n, 1);
}

pub async fn buy(app: &TestApp, customer: Uuid, items: &[&str], basket: &str) {
    for i in items {
        interact_at(
            app,
            customer,
            i,
            InteractionKind::Purchase,
            basket,
            Utc::now(),
        )
        .await;
    }
}

pub async fn rebuild(app: &mut TestApp) -> i64 {
    app.client
        .rebuild_model(pb::RebuildModelRequest { request_id: rid() })
        .await
        .expect("rebuild")
        .into_inner()
        .version
}

/// Items: a, b, z (out of stock), n (new, no interactions; like a) in books/sf; c, d in
/// books/crime; e in music/jazz. Baskets: a+b+c, a+b, a+c+z, a+z, d+e, d+e. Returns the
/// customer who bought a alone.
pub async fn dataset(app: &mut TestApp) -> Uuid {
    for (id, cat, tags, stock) in [
        ("a", "books/sf", &["space"][..], true),
        ("b", "books/sf", &[][..], true),
        ("z", "books/sf", &[][..], false),
        ("n", "books/sf", &["space"][..], true),
        ("c", "books/crime", &[][..], true),
        ("d", "books/crime", &[][..], true),
        ("e", "music/jazz", &[][..], true),
    ] {
        item(app, id, cat, tags, stock).await;
    }
    for (k, basket) in [
        &["a", "b", "c"][..],
        &["a", "b"],
        &["a", "c", "z"],
        &["a", "z"],
        &["d", "e"],
        &["d", "e"],
    ]
    .iter()
    .enumerate()
    {
        buy(app, Uuid::now_v7(), basket, &format!("o{k}")).await;
    }
    let target = Uuid::now_v7();
    buy(app, target, &["a"], "t1").await;
    target
}

fn customer(c: Uuid) -> String {
    format!("customers/{c}")
}

pub fn names(items: &[pb::RecommendedItem]) -> Vec<String> {
    items
        .iter()
        .map(|i| i.item.trim_start_matches("items/").to_owned())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

pub async fn recommend(
    app: &mut TestApp,
    r: pb::RecommendForCustomerRequest,
) -> pb::RecommendForCustomerResponse {
    app.client
        .recommend_for_customer(r)
        .await
        .expect("recommend")
        .into_inner()
}

fn for_customer(c: Uuid) -> pb::RecommendForCustomerRequest {
    pb::RecommendForCustomerRequest {
        customer: customer(c),
        ..Default::default()
    }
}

#[tokio::test]
async fn personal_recommendations_follow_the_neighbours_filters_boosts_and_diversity() {
    each_backend(|backend| async move {
        let mut app = app(backend).await;
        let t = dataset(&mut app).await;
        let version = rebuild(&mut app).await;

        let r = recommend(&mut app, for_customer(t)).await;
        assert_eq!(r.model_version, version);
        assert!(!r.cold_start);
        let got = names(&r.items);
        // The neighbours of a first (z is out of stock), then popularity; a is consumed.
        assert_eq!(sorted(got[..2].to_vec()), ["b", "c"], "{got:?}");
        assert!(!got.contains(&"a".to_owned()) && !got.contains(&"z".to_owned()));
        assert!(got.contains(&"d".to_owned()) && got.contains(&"e".to_owned()));
        for i in &r.items[..2] {
            let first = &i.reasons[0];
            assert_eq!(first.related_item, "items/a");
            assert!(
                first.text == "bought with items/a" || first.text == "similar to items/a",
                "{first:?}"
            );
        }
        let pop = r.items.iter().find(|i| i.item == "items/d").expect("d");
        assert_eq!(pop.reasons[0].kind, pb::ReasonKind::Popular as i32);
        assert!(r.items.windows(2).all(|w| w[0].score >= w[1].score));

        // The answer is stored for feedback (written behind: flushed here).
        assert!(app.service.served_log().flush().await);
        let id = Uuid::parse_str(r.recommendation_id.trim_start_matches("recommendations/"))
            .expect("id");
        let row = recommendation::Entity::find_by_id(id)
            .one(app.service.db())
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(row.customer_id, Some(t));
        assert_eq!(row.method, "for_customer");
        assert_eq!(row.model_version, version);
        let stored: Vec<String> = serde_json::from_str(&row.items).expect("json");
        assert_eq!(stored, got);

        // Consumed and out-of-stock items on request.
        let mut req = for_customer(t);
        req.include_consumed = true;
        req.filter = Some(pb::ItemFilter {
            include_unavailable: true,
            ..Default::default()
        });
        let all = names(&recommend(&mut app, req).await.items);
        assert!(
            all.contains(&"a".to_owned()) && all.contains(&"z".to_owned()),
            "{all:?}"
        );

        // Filters: categories, exclusions, attributes.
        let mut req = for_customer(t);
        req.filter = Some(pb::ItemFilter {
            categories: vec!["books".into()],
            exclude_items: vec!["items/b".into()],
            ..Default::default()
        });
        // n: no interactions, like a by category and tag (the build's content fallback).
        assert_eq!(
            sorted(names(&recommend(&mut app, req).await.items)),
            ["c", "d", "n"]
        );
        let mut req = for_customer(t);
        req.filter = Some(pb::ItemFilter {
            attribute_conditions: vec![pb::AttributeCondition {
                key: "shelf".into(),
                equals_any: vec!["shelf-e".into(), "shelf-b".into()],
                ..Default::default()
            }],
            ..Default::default()
        });
        assert_eq!(names(&recommend(&mut app, req).await.items), ["b", "e"]);
        let mut req = for_customer(t);
        req.filter = Some(pb::ItemFilter {
            attribute_conditions: vec![pb::AttributeCondition {
                key: "price".into(),
                min: f64::from(b'c'),
                has_min: true,
                max: f64::from(b'd'),
                has_max: true,
                ..Default::default()
            }],
            ..Default::default()
        });
        assert_eq!(names(&recommend(&mut app, req).await.items), ["c", "d"]);

        // A boost lifts e (popular only) to the top.
        let mut req = for_customer(t);
        req.boosts = vec![pb::Boost {
            category: "music".into(),
            factor: 100.0,
            ..Default::default()
        }];
        assert_eq!(names(&recommend(&mut app, req).await.items)[0], "e");

        // At most one per category.
        let mut req = for_customer(t);
        req.max_per_category = 1;
        let one = names(&recommend(&mut app, req).await.items);
        assert_eq!(one.len(), 3, "books/sf, books/crime, music/jazz: {one:?}");
        assert!(one.contains(&"e".to_owned()));

        // Exploration 0: the same answer each time; max_results honoured.
        let mut req = for_customer(t);
        req.max_results = 3;
        let first = recommend(&mut app, req.clone()).await;
        let again = recommend(&mut app, req.clone()).await;
        assert_eq!(names(&first.items), names(&again.items));
        assert_eq!(first.items.len(), 3);
        assert_ne!(first.recommendation_id, again.recommendation_id);
        // Exploration 1 keeps the same items within the candidates, in some order.
        req.exploration = 1.0;
        req.max_results = 0;
        let shuffled = recommend(&mut app, req).await;
        assert_eq!(sorted(names(&shuffled.items)), sorted(got.clone()));
    })
    .await;
}

#[tokio::test]
async fn buy_again_and_interactions_since_the_build_count() {
    each_backend(|backend| async move {
        let mut app = app(backend).await;
        let t = dataset(&mut app).await;
        // Milk every week, last bought ten days ago: due.
        item(&app, "milk", "grocery", &[], true).await;
        let now = Utc::now();
        for (days, basket) in [(24, "m1"), (17, "m2"), (10, "m3")] {
            interact_at(
                &app,
                t,
                "milk",
                InteractionKind::Purchase,
                basket,
                now - TimeDelta::days(days),
            )
            .await;
        }
        rebuild(&mut app).await;
        let r = recommend(&mut app, for_customer(t)).await;
        let milk = r
            .items
            .iter()
            .find(|i| i.item == "items/milk")
            .expect("milk is due again");
        assert_eq!(milk.reasons[0].kind, pb::ReasonKind::BuyAgain as i32);
        assert!(
            !names(&r.items).contains(&"a".to_owned()),
            "bought once: consumed"
        );

        // After the build the customer views d: its neighbour e is now "similar to d", d is
        // consumed.
        let before = r
            .items
            .iter()
            .find(|i| i.item == "items/e")
            .map(|i| i.reasons[0].kind);
        assert_eq!(before, Some(pb::ReasonKind::Popular as i32));
        interact_at(&app, t, "d", InteractionKind::View, "", Utc::now()).await;
        let r = recommend(&mut app, for_customer(t)).await;
        let e = r.items.iter().find(|i| i.item == "items/e").expect("e");
        assert_eq!(e.reasons[0].related_item, "items/d", "{e:?}");
        assert!(!names(&r.items).contains(&"d".to_owned()));
    })
    .await;
}

#[tokio::test]
async fn cold_start_is_cohort_popularity_then_global_then_the_catalogue() {
    each_backend(|backend| async move {
        let mut app = app(backend).await;
        // Before any model: the catalogue.
        item(&app, "x1", "books/sf", &[], true).await;
        item(&app, "x2", "books/sf", &[], true).await;
        let r = recommend(&mut app, for_customer(Uuid::now_v7())).await;
        assert_eq!(r.model_version, 0);
        assert!(r.cold_start);
        assert_eq!(names(&r.items), ["x1", "x2"]);

        dataset(&mut app).await;
        // Kyoto customers buy e and c; the global top is a.
        for _ in 0..2 {
            let k = Uuid::now_v7();
            let p = Profile {
                city: "kyoto".into(),
                ..Profile::default()
            };
            profiles::put(app.service.db(), k, &p, false, Utc::now())
                .await
                .expect("profile");
            buy(&app, k, &["e"], &format!("k{k}")).await;
        }
        rebuild(&mut app).await;
        let newcomer = Uuid::now_v7();
        let p = Profile {
            city: "kyoto".into(),
            language: "ja".into(),
            ..Profile::default()
        };
        profiles::put(app.service.db(), newcomer, &p, false, Utc::now())
            .await
            .expect("profile");
        let r = recommend(&mut app, for_customer(newcomer)).await;
        assert!(r.cold_start);
        assert_eq!(r.items[0].item, "items/e");
        assert_eq!(
            r.items[0].reasons[0].kind,
            pb::ReasonKind::PopularInCohort as i32
        );
        assert_eq!(r.items[0].reasons[0].scope, "city:kyoto");
        let a = r
            .items
            .iter()
            .find(|i| i.item == "items/a")
            .expect("a, global");
        assert_eq!(a.reasons[0].kind, pb::ReasonKind::Popular as i32);

        // Unknown customer: global popularity, a first (bought by five).
        let r = recommend(&mut app, for_customer(Uuid::now_v7())).await;
        assert!(r.cold_start);
        assert_eq!(r.items[0].item, "items/a");
        assert!(
            r.items
                .iter()
                .all(|i| i.reasons[0].kind == pb::ReasonKind::Popular as i32)
        );
    })
    .await;
}

#[tokio::test]
async fn similar_items_include_new_items_by_category_and_tags() {
    each_backend(|backend| async move {
        let mut app = app(backend).await;
        dataset(&mut app).await;
        let version = rebuild(&mut app).await;
        let similar = |item: &str| pb::SimilarItemsRequest {
            item: format!("items/{item}"),
            filter: Some(pb::ItemFilter {
                include_unavailable: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = app
            .client
            .similar_items(similar("a"))
            .await
            .expect("similar")
            .into_inner();
        assert_eq!(r.model_version, version);
        let got = names(&r.items);
        assert_eq!(sorted(got[..3].to_vec()), ["b", "c", "z"], "{got:?}");
        assert!(!got.contains(&"a".to_owned()));
        assert_eq!(r.items[0].reasons[0].kind, pb::ReasonKind::SimilarTo as i32);
        // n has no interactions: it shares category and tag with a.
        let n = r
            .items
            .iter()
            .find(|i| i.item == "items/n")
            .expect("n by content");
        assert_eq!(
            n.reasons[0].kind,
            pb::ReasonKind::SameCategoryAndTags as i32
        );
        let r = app
            .client
            .similar_items(similar("n"))
            .await
            .expect("similar")
            .into_inner();
        assert_eq!(names(&r.items)[0], "a");

        // Created after the build: the catalogue's items of its category.
        item(&app, "m", "books/crime", &[], true).await;
        let r = app
            .client
            .similar_items(similar("m"))
            .await
            .expect("similar")
            .into_inner();
        assert_eq!(sorted(names(&r.items)), ["c", "d"]);
        assert!(
            r.items
                .iter()
                .all(|i| i.reasons[0].kind == pb::ReasonKind::SameCategoryAndTags as i32)
        );

        // A customer's consumed items are left out; diversity applies.
        let c = Uuid::now_v7();
        buy(&app, c, &["b"], "x").await;
        let mut req = similar("a");
        req.customer = customer(c);
        req.max_per_category = 1;
        let got = names(
            &app.client
                .similar_items(req)
                .await
                .expect("similar")
                .into_inner()
                .items,
        );
        assert!(!got.contains(&"b".to_owned()), "{got:?}");
        assert_eq!(got.len(), 2, "one of books/sf, one of books/crime: {got:?}");

        // A deleted item is never served again, though the model still lists it; an item
        // named by interactions only (never catalogued) still is, and one catalogued again is.
        app.client
            .delete_item(pb::DeleteItemRequest {
                name: "items/b".into(),
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect("delete b");
        buy(&app, Uuid::now_v7(), &["a", "ghost"], "g1").await;
        buy(&app, Uuid::now_v7(), &["a", "ghost"], "g2").await;
        let got = names(
            &app.client
                .similar_items(similar("a"))
                .await
                .expect("similar")
                .into_inner()
                .items,
        );
        assert!(!got.contains(&"b".to_owned()), "deleted: {got:?}");
        assert!(got.contains(&"c".to_owned()), "{got:?}");
        rebuild(&mut app).await;
        let got = names(
            &app.client
                .similar_items(similar("a"))
                .await
                .expect("similar")
                .into_inner()
                .items,
        );
        assert!(!got.contains(&"b".to_owned()), "deleted: {got:?}");
        assert!(
            got.contains(&"ghost".to_owned()),
            "never catalogued: {got:?}"
        );
        // Through the API: a catalogue write drops the cached "deleted" answer for b.
        app.client
            .create_item(pb::CreateItemRequest {
                item_id: "b".into(),
                item: Some(pb::Item {
                    title: "B".into(),
                    category: "books/sf".into(),
                    availability: pb::Availability::InStock as i32,
                    ..Default::default()
                }),
                request_id: rid(),
            })
            .await
            .expect("create b again");
        let got = names(
            &app.client
                .similar_items(similar("a"))
                .await
                .expect("similar")
                .into_inner()
                .items,
        );
        assert!(got.contains(&"b".to_owned()), "catalogued again: {got:?}");

        let err = app
            .client
            .similar_items(similar("nope"))
            .await
            .expect_err("unknown");
        assert_status(&err, Code::NotFound, "NOT_FOUND");
    })
    .await;
}

#[tokio::test]
async fn bought_together_for_a_cart_carries_the_rules() {
    each_backend(|backend| async move {
        let mut app = app(backend).await;
        dataset(&mut app).await;
        rebuild(&mut app).await;
        let r = app
            .client
            .bought_together(pb::BoughtTogetherRequest {
                items: vec!["items/b".into(), "items/z".into()],
                filter: Some(pb::ItemFilter {
                    include_unavailable: true,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .expect("together")
            .into_inner();
        // 7 baskets (t1 holds a alone); b in 2, a in 5, all b baskets hold a: support 2/7,
        // confidence 1, lift 1 / (5/7) = 1.4. From z (2 baskets, both with a): the same.
        let got = names(&r.items);
        assert_eq!(got, ["a"], "{got:?}");
        let rule = r.items[0].rule.as_ref().expect("rule");
        assert!((rule.support - 2.0 / 7.0).abs() < 1e-9, "{rule:?}");
        assert!((rule.confidence - 1.0).abs() < 1e-9);
        assert!((rule.lift - 1.4).abs() < 1e-9);
        assert_eq!(rule.basket_count, 2);
        assert_eq!(
            r.items[0].reasons[0].kind,
            pb::ReasonKind::BoughtWith as i32
        );
        assert!(r.items[0].reasons[0].text.starts_with("bought with items/"));

        // d -> e: lift 7/2 = 3.5 with confidence 1; a min_lift above it leaves nothing.
        let ask = |min_lift: f64, min_confidence: f64| pb::BoughtTogetherRequest {
            items: vec!["items/d".into()],
            min_lift,
            min_confidence,
            ..Default::default()
        };
        let r = app
            .client
            .bought_together(ask(0.0, 0.0))
            .await
            .expect("ok")
            .into_inner();
        assert_eq!(names(&r.items), ["e"]);
        assert!((r.items[0].rule.as_ref().expect("rule").lift - 3.5).abs() < 1e-9);
        let r = app
            .client
            .bought_together(ask(3.6, 0.0))
            .await
            .expect("ok")
            .into_inner();
        assert!(r.items.is_empty());
        // a -> c: confidence 2/5, below 0.5.
        let r = app
            .client
            .bought_together(pb::BoughtTogetherRequest {
                items: vec!["items/a".into()],
                min_confidence: 0.5,
                ..Default::default()
            })
            .await
            .expect("ok")
            .into_inner();
        assert!(!names(&r.items).contains(&"c".to_owned()));
    })
    .await;
}

#[tokio::test]
async fn popular_items_globally_per_category_and_per_cohort() {
    each_backend(|backend| async move {
        let mut app = app(backend).await;
        dataset(&mut app).await;
        let k = Uuid::now_v7();
        let p = Profile {
            tier: "gold".into(),
            ..Profile::default()
        };
        profiles::put(app.service.db(), k, &p, false, Utc::now())
            .await
            .expect("profile");
        buy(&app, k, &["c"], "g1").await;
        rebuild(&mut app).await;
        let ask = |category: &str, cohort: &str| pb::PopularItemsRequest {
            category: category.into(),
            cohort: cohort.into(),
            max_results: 2,
            ..Default::default()
        };
        let r = app
            .client
            .popular_items(ask("", ""))
            .await
            .expect("ok")
            .into_inner();
        assert_eq!(names(&r.items)[0], "a");
        assert_eq!(r.items.len(), 2);
        let r = app
            .client
            .popular_items(ask("books/crime", ""))
            .await
            .expect("ok")
            .into_inner();
        assert_eq!(names(&r.items), ["c", "d"]);
        assert_eq!(
            r.items[0].reasons[0].kind,
            pb::ReasonKind::PopularInCategory as i32
        );
        assert_eq!(r.items[0].reasons[0].text, "popular in books/crime");
        let r = app
            .client
            .popular_items(ask("", "tier:Gold"))
            .await
            .expect("ok")
            .into_inner();
        assert_eq!(names(&r.items), ["c"]);
        assert_eq!(r.items[0].reasons[0].scope, "tier:gold");
        let r = app
            .client
            .popular_items(ask("", "city:nowhere"))
            .await
            .expect("ok")
            .into_inner();
        assert!(r.items.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_new_build_changes_the_cached_answer() {
    each_backend(|backend| async move {
        let mut app = app(backend).await;
        dataset(&mut app).await;
        let v1 = rebuild(&mut app).await;
        let ask = || pb::SimilarItemsRequest {
            item: "items/d".into(),
            ..Default::default()
        };
        let first = app
            .client
            .similar_items(ask())
            .await
            .expect("ok")
            .into_inner();
        assert_eq!(names(&first.items), ["e"]);
        // Read twice: the second comes from the cache.
        let cached = app
            .client
            .similar_items(ask())
            .await
            .expect("ok")
            .into_inner();
        assert_eq!(names(&cached.items), ["e"]);
        assert!(app.service.core().cache.stats().local_hits > 0);
        // Two customers buy d with c; a new version names c as d's neighbour.
        for k in 0..2 {
            buy(&app, Uuid::now_v7(), &["d", "c"], &format!("dc{k}")).await;
        }
        let v2 = rebuild(&mut app).await;
        assert!(v2 > v1);
        let after = app
            .client
            .similar_items(ask())
            .await
            .expect("ok")
            .into_inner();
        assert_eq!(after.model_version, v2);
        assert!(
            names(&after.items).contains(&"c".to_owned()),
            "{:?}",
            after.items
        );
    })
    .await;
}

#[tokio::test]
async fn serving_survives_redis_going_down() {
    use crm_platform::testing::{Storage, TcpProxy, backends, redis_url};
    if !backends().contains(&Backend::Postgres) {
        eprintln!("=== SKIPPED: the Redis outage test needs PostgreSQL + Redis ===");
        return;
    }
    let Some(url) = redis_url() else { return };
    let target = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let proxy = TcpProxy::start(target).await;
    let storage = Storage {
        redis_url: Some(format!("redis://127.0.0.1:{}", proxy.port)),
        ..Storage::fresh(Backend::Postgres).await
    };
    let app = crm_platform::testing::spawn::<crm_recommendations::Recommendations>(
        &storage,
        |s: &mut crm_recommendations::Settings| s.recommendations.rebuild.interval_secs = 0,
    )
    .await;
    let mut app = TestApp {
        client: pb::recommendation_service_client::RecommendationServiceClient::new(app.channel),
        service: app.service,
    };
    let t = dataset(&mut app).await;
    rebuild(&mut app).await;
    let cache = app.service.core().cache.clone();
    for _ in 0..100 {
        if cache.remote_connected() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        cache.remote_connected(),
        "redis connected through the proxy"
    );
    let warm = names(&recommend(&mut app, for_customer(t)).await.items);
    proxy.cut();
    let started = std::time::Instant::now();
    let cold = recommend(&mut app, for_customer(t)).await;
    assert_eq!(names(&cold.items), warm);
    // A list never cached yet is read from the database.
    let s = app
        .client
        .similar_items(pb::SimilarItemsRequest {
            item: "items/d".into(),
            ..Default::default()
        })
        .await
        .expect("similar with redis down")
        .into_inner();
    assert_eq!(names(&s.items), ["e"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    proxy.restore();
}

#[tokio::test]
async fn served_answers_past_their_retention_are_purged() {
    each_backend(|backend| async move {
        let mut app = app(backend).await;
        item(&app, "x", "", &[], true).await;
        let old = recommend(&mut app, for_customer(Uuid::now_v7())).await;
        let new = recommend(&mut app, for_customer(Uuid::now_v7())).await;
        let id = |r: &pb::RecommendForCustomerResponse| {
            Uuid::parse_str(r.recommendation_id.trim_start_matches("recommendations/")).expect("id")
        };
        assert!(app.service.served_log().flush().await);
        let days = i64::from(app.service.settings().serving.recommendation_retention_days);
        recommendation::ActiveModel {
            id: Set(id(&old)),
            create_time: Set(Utc::now() - TimeDelta::days(days + 1)),
            ..Default::default()
        }
        .update(app.service.db())
        .await
        .expect("age it");
        assert_eq!(app.service.purge_served().await.expect("purge"), 1);
        let db = app.service.db();
        assert!(
            recommendation::Entity::find_by_id(id(&old))
                .one(db)
                .await
                .expect("read")
                .is_none()
        );
        assert!(
            recommendation::Entity::find_by_id(id(&new))
                .one(db)
                .await
                .expect("read")
                .is_some()
        );
    })
    .await;
}

#[tokio::test]
async fn bad_requests_name_every_field_and_serve_nothing() {
    each_backend(|backend| async move {
        let mut app = app(backend).await;
        let err = app
            .client
            .recommend_for_customer(pb::RecommendForCustomerRequest {
                customer: "people/1".into(),
                max_results: 101,
                max_per_category: -1,
                exploration: f64::NAN,
                scenario: "Home Page".into(),
                filter: Some(pb::ItemFilter {
                    categories: vec!["Books".into()],
                    tags: vec!["a b".into()],
                    exclude_items: vec!["x".into()],
                    attribute_conditions: vec![
                        pb::AttributeCondition {
                            key: "1x".into(),
                            ..Default::default()
                        },
                        pb::AttributeCondition {
                            key: "ok".into(),
                            equals_any: vec!["v".into()],
                            has_min: true,
                            min: f64::INFINITY,
                            ..Default::default()
                        },
                    ],
                    bookable_time: Some(prost_types::Timestamp {
                        seconds: -10,
                        nanos: 0,
                    }),
                    ..Default::default()
                }),
                boosts: vec![pb::Boost {
                    attribute_key: "k".into(),
                    factor: 0.0,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .await
            .expect_err("bad");
        assert_eq!(err.code(), Code::InvalidArgument);
        let v = violations(&err);
        for field in [
            "customer",
            "max_results",
            "max_per_category",
            "exploration",
            "scenario",
            "filter.categories[0]",
            "filter.tags[0]",
            "filter.exclude_items[0]",
            "filter.attribute_conditions[0].key",
            "filter.attribute_conditions[0]",
            "filter.attribute_conditions[1]",
            "filter.attribute_conditions[1].min",
            "filter.bookable_time",
            "boosts[0].attribute_value",
            "boosts[0].factor",
        ] {
            assert!(v.iter().any(|x| x == field), "{field} missing from {v:?}");
        }
        let err = app
            .client
            .bought_together(pb::BoughtTogetherRequest {
                min_lift: 1001.0,
                min_confidence: 1.5,
                ..Default::default()
            })
            .await
            .expect_err("bad");
        assert_eq!(
            sorted(violations(&err)),
            ["items", "min_confidence", "min_lift"]
        );
        let err = app
            .client
            .popular_items(pb::PopularItemsRequest {
                cohort: "planet:mars".into(),
                category: "a//b".into(),
                customer: "customers/nope".into(),
                ..Default::default()
            })
            .await
            .expect_err("bad");
        assert_eq!(sorted(violations(&err)), ["category", "cohort", "customer"]);
        let err = app
            .client
            .similar_items(pb::SimilarItemsRequest::default())
            .await
            .expect_err("bad");
        assert_eq!(violations(&err), ["item"]);
        assert_eq!(
            recommendation::Entity::find()
                .all(app.service.db())
                .await
                .expect("read")
                .len(),
            0,
            "nothing served, nothing stored"
        );
    })
    .await;
}
