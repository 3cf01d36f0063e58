//! GetModel and RebuildModel: what a build of a small known dataset holds (neighbours,
//! rules, popularity per scope, content fallback, computed by hand here), the bounds of the
//! build, versions and pruning, the replica guard, idempotency and bad input.
use crate::harness::{TestApp, assert_status, each_backend, rid, spawn_app_with, violations};
use crm_platform::testing::Backend;
use crm_proto::recommendations as pb;
use crm_recommendations::domain::ItemId;
use crm_recommendations::domain::model::{BuildParams, ModelInfo, Neighbour, Scope};
use crm_recommendations::store::entities::{interaction, item, item_model, popular_list, profile};
use crm_recommendations::store::model;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tonic::Code;
use uuid::Uuid;

/// Purchases of 1 unit, weights as given (no time decay in these tests).
const PURCHASE: i16 = 3;
const VIEW: i16 = 1;

async fn app(backend: Backend) -> TestApp {
    app_with(backend, |_| {}).await
}

async fn app_with(
    backend: Backend,
    more: impl FnOnce(&mut crm_recommendations::Settings),
) -> TestApp {
    spawn_app_with(backend, |s| {
        s.recommendations.rebuild.interval_secs = 0;
        s.recommendations.model = plain_cosine();
        more(s);
    })
    .await
}

/// The model knobs of the hand computations below: the plain cosine, no time decay,
/// `min_support` 2. Read through the config loader over the shipped defaults, so knobs added
/// to the defaults (shrinkage, alpha, normalisation) are set to their neutral values when
/// they exist.
fn plain_cosine() -> BuildParams {
    use crm_recommendations::settings::{DEFAULTS, RecommendationsSettings};
    let mut overlay = String::from(
        "[recommendations.model]\nsimilarity = \"cosine\"\nhalf_life_days = 0.0\nmin_support = 2\n",
    );
    for (key, neutral) in [
        ("shrinkage", "0.0"),
        ("alpha", "0.5"),
        ("normalize", "false"),
        ("customer_penalty", "0.0"),
        ("popularity_penalty", "0.0"),
    ] {
        if DEFAULTS.contains(&format!("\n{key} =")) {
            overlay.push_str(&format!("{key} = {neutral}\n"));
        }
    }
    let mut l = crm_platform::config::Loader::new(&[DEFAULTS, &overlay], None).expect("config");
    let r: Option<RecommendationsSettings> = l.section("recommendations");
    l.finish(r).expect("valid settings").model
}

/// Records an interaction row as RecordInteractions / the events consumer would.
async fn interact(app: &TestApp, customer: Uuid, item: &str, kind: i16, weight: f64, basket: &str) {
    let now = chrono::Utc::now();
    let id = Uuid::now_v7();
    interaction::Entity::insert(interaction::ActiveModel {
        id: Set(id),
        source_key: Set(format!("api:{id}")),
        customer_id: Set(customer),
        item_id: Set(item.to_owned()),
        kind: Set(kind),
        weight: Set(weight),
        rating: Set(0),
        quantity: Set(1),
        basket_id: Set(basket.to_owned()),
        occur_time: Set(now),
        record_time: Set(now),
    })
    .exec(app.service.db())
    .await
    .expect("interaction");
}

async fn catalogue(app: &TestApp, id: &str, category: &str, tags: &[&str]) {
    let now = chrono::Utc::now();
    item::Entity::insert(item::ActiveModel {
        id: Set(id.to_owned()),
        title: Set(id.to_uppercase()),
        category: Set(category.to_owned()),
        tags: Set(serde_json::to_string(tags).expect("json")),
        attributes: Set("{}".into()),
        numeric_attributes: Set("{}".into()),
        availability: Set(1),
        bookable_from: Set(None),
        bookable_until: Set(None),
        revision: Set(1),
        create_time: Set(now),
        update_time: Set(now),
    })
    .exec(app.service.db())
    .await
    .expect("item");
}

async fn city(app: &TestApp, customer: Uuid, city: &str) {
    profile::Entity::insert(profile::ActiveModel {
        customer_id: Set(customer),
        language_code: Set(String::new()),
        city: Set(city.to_owned()),
        tier: Set(String::new()),
        tags: Set("[]".into()),
        stale: Set(false),
        update_time: Set(chrono::Utc::now()),
    })
    .exec(app.service.db())
    .await
    .expect("profile");
}

/// The dataset (weights):
/// - c1: a 1, b 1 (basket o1), c 1 (basket o2); city kyoto
/// - c2: a 1, b 2 (basket o3)
/// - c3: a 2, c 4 (basket o4); city kyoto
///
/// Catalogue: a and b in books/sf (a tagged space), c in books/crime, n (new, no
/// interactions) in books/sf tagged space.
async fn dataset(app: &TestApp) -> [Uuid; 3] {
    let c = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
    for (customer, item, weight, basket) in [
        (c[0], "a", 1.0, "o1"),
        (c[0], "b", 1.0, "o1"),
        (c[0], "c", 1.0, "o2"),
        (c[1], "a", 1.0, "o3"),
        (c[1], "b", 2.0, "o3"),
        (c[2], "a", 2.0, "o4"),
        (c[2], "c", 4.0, "o4"),
    ] {
        interact(app, customer, item, PURCHASE, weight, basket).await;
    }
    catalogue(app, "a", "books/sf", &["space"]).await;
    catalogue(app, "b", "books/sf", &[]).await;
    catalogue(app, "c", "books/crime", &[]).await;
    catalogue(app, "n", "books/sf", &["space"]).await;
    city(app, c[0], "kyoto").await;
    city(app, c[2], "kyoto").await;
    c
}

fn id(s: &str) -> ItemId {
    ItemId(s.to_owned())
}

/// (item, score, support) of a neighbour list, scores to 4 places.
fn neighbours(list: &[Neighbour]) -> Vec<(String, f64, u32)> {
    list.iter()
        .map(|n| {
            (
                n.item.0.clone(),
                (f64::from(n.score) * 1e4).round() / 1e4,
                n.support,
            )
        })
        .collect()
}

async fn popular(app: &TestApp, version: i64, scope: Scope) -> Vec<(String, f64)> {
    model::popular(app.service.db(), version, &scope)
        .await
        .expect("popular")
        .into_iter()
        .map(|p| (p.item.0, p.score))
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

async fn get_model(app: &mut TestApp) -> pb::Model {
    app.client
        .get_model(pb::GetModelRequest {
            name: "model".into(),
        })
        .await
        .expect("get model")
        .into_inner()
}

async fn rebuild(app: &mut TestApp, request_id: &str) -> pb::Model {
    app.client
        .rebuild_model(pb::RebuildModelRequest {
            request_id: request_id.to_owned(),
        })
        .await
        .expect("rebuild")
        .into_inner()
}

#[tokio::test]
async fn a_build_of_a_known_dataset_holds_the_neighbours_rules_and_lists_computed_by_hand() {
    each_backend(|backend| async move {
        let mut app = app(backend).await;
        let before = get_model(&mut app).await;
        assert_eq!((before.name.as_str(), before.version), ("model", 0));
        assert_eq!(before.build_time, None);
        dataset(&app).await;
        assert_eq!(get_model(&mut app).await.pending_interaction_count, 7);

        let m = rebuild(&mut app, &rid()).await;
        assert_eq!(m.name, "model");
        assert_eq!(m.version, 1);
        assert_eq!(
            (m.interaction_count, m.customer_count, m.item_count),
            (7, 3, 3)
        );
        assert_eq!(m.similarity, "cosine");
        assert_eq!(m.pending_interaction_count, 0);
        assert!(m.build_time.is_some());
        assert_eq!(
            get_model(&mut app).await,
            m,
            "GetModel reads the published version"
        );

        let got = model::item_models(app.service.db(), 1, &[id("a"), id("b"), id("c"), id("n")])
            .await
            .expect("item models");
        // Cosine over the customers' weights: |a|^2 = 1+1+4, |b|^2 = 1+4, |c|^2 = 1+16;
        // a.b = 1*1 + 1*2 = 3 (c1, c2), a.c = 1*1 + 2*4 = 9 (c1, c3); b and c share c1
        // only, under min_support 2.
        let ab = 3.0 / (6f64 * 5.0).sqrt(); // 0.5477
        let ac = 9.0 / (6f64 * 17.0).sqrt(); // 0.8911
        let r4 = |x: f64| (x * 1e4).round() / 1e4;
        // n, new, shares books/sf and "space" with a: (1 shared + 1) / (1 in all + 1) = 1,
        // listed after a's co-occurrence neighbours at the weakest one's score.
        assert_eq!(
            neighbours(&got[&id("a")].neighbours),
            [
                ("c".into(), r4(ac), 2),
                ("b".into(), r4(ab), 2),
                ("n".into(), r4(ab), 0)
            ]
        );
        assert_eq!(
            neighbours(&got[&id("b")].neighbours),
            [("a".into(), r4(ab), 2)]
        );
        assert_eq!(
            neighbours(&got[&id("c")].neighbours),
            [("a".into(), r4(ac), 2)]
        );
        assert_eq!(
            neighbours(&got[&id("n")].neighbours),
            [("a".into(), 1.0, 0)],
            "the new item's content neighbour"
        );

        // Baskets o1 {a, b}, o2 {c}, o3 {a, b}, o4 {a, c}: a and b together in 2 of 4
        // (a and c in 1, under min_support). a -> b: support 2/4, confidence 2/3 (a in 3),
        // lift (2/3) / (2/4); b -> a: confidence 2/2, lift 1 / (3/4).
        let a_rules = &got[&id("a")].rules;
        assert_eq!(a_rules.len(), 1);
        let r = &a_rules[0];
        assert_eq!((r.item.0.as_str(), r.count), ("b", 2));
        assert!(close(r.support, 0.5) && close(r.confidence, 2.0 / 3.0));
        assert!(close(r.lift, 4.0 / 3.0), "{r:?}");
        let b_rules = &got[&id("b")].rules;
        assert_eq!(b_rules.len(), 1);
        let r = &b_rules[0];
        assert_eq!((r.item.0.as_str(), r.count), ("a", 2));
        assert!(close(r.support, 0.5) && close(r.confidence, 1.0) && close(r.lift, 4.0 / 3.0));
        assert!(got[&id("c")].rules.is_empty());

        // Popularity, the sum of weights: a 4, b 3, c 5 (n none: not listed).
        let all = vec![("c".into(), 5.0), ("a".into(), 4.0), ("b".into(), 3.0)];
        assert_eq!(popular(&app, 1, Scope::All).await, all);
        assert_eq!(
            popular(&app, 1, Scope::Category("books".into())).await,
            all,
            "an ancestor holds everything below it"
        );
        assert_eq!(
            popular(&app, 1, Scope::Category("books/sf".into())).await,
            [("a".into(), 4.0), ("b".into(), 3.0)]
        );
        assert_eq!(
            popular(&app, 1, Scope::Category("books/crime".into())).await,
            [("c".into(), 5.0)]
        );
        // Kyoto is c1 and c3: a 1+2, b 1, c 1+4.
        assert_eq!(
            popular(&app, 1, Scope::Cohort("city:kyoto".into())).await,
            [("c".into(), 5.0), ("a".into(), 3.0), ("b".into(), 1.0)]
        );
        assert!(
            popular(&app, 1, Scope::Cohort("city:osaka".into()))
                .await
                .is_empty()
        );

        // Recorded after the build: pending until the next.
        interact(&app, Uuid::now_v7(), "b", VIEW, 1.0, "").await;
        let m = get_model(&mut app).await;
        assert_eq!((m.version, m.pending_interaction_count), (1, 1));
        let m = rebuild(&mut app, &rid()).await;
        assert_eq!(
            (m.version, m.interaction_count, m.pending_interaction_count),
            (2, 8, 0)
        );
    })
    .await;
}

#[tokio::test]
async fn a_build_reads_at_most_max_interactions_and_max_items_per_customer_the_newest() {
    each_backend(|backend| async move {
        let mut app = app_with(backend, |s| {
            s.recommendations.rebuild.max_interactions = 6;
            s.recommendations.rebuild.max_items_per_customer = 2;
        })
        .await;
        let (c1, c2, c3, bot) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        // Oldest first. c3's is the 7th newest: beyond max_interactions.
        interact(&app, c3, "oldest", VIEW, 1.0, "").await;
        interact(&app, c1, "old", VIEW, 1.0, "").await;
        interact(&app, c1, "p", VIEW, 1.0, "").await;
        interact(&app, c2, "p", VIEW, 1.0, "").await;
        interact(&app, c2, "q", VIEW, 1.0, "").await;
        // The bot's 4 views: only its 2 newest count.
        for i in ["x1", "x2", "x3", "x4"] {
            interact(&app, bot, i, VIEW, 1.0, "").await;
        }
        // A one-star review (weight 0) says nothing: not read.
        interact(&app, c2, "q", 5, 0.0, "").await;
        let m = rebuild(&mut app, &rid()).await;
        assert_eq!(
            (m.interaction_count, m.customer_count, m.item_count),
            (6, 3, 5),
            "{m:?}"
        );
        let mut items: Vec<String> = popular(&app, m.version, Scope::All)
            .await
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        items.sort();
        assert_eq!(items, ["old", "p", "q", "x3", "x4"]);
        // Older interactions left out are not "pending" either.
        assert_eq!(m.pending_interaction_count, 0);
    })
    .await;
}

#[tokio::test]
async fn old_versions_are_pruned_and_a_claimed_version_is_skipped() {
    each_backend(|backend| async move {
        let mut app = app_with(backend, |s| s.recommendations.rebuild.keep_versions = 2).await;
        dataset(&app).await;
        let db = app.service.db().clone();
        for v in 1..=3 {
            assert_eq!(rebuild(&mut app, &rid()).await.version, v);
        }
        let versions = |table: &'static str| {
            let db = db.clone();
            async move {
                let mut v: Vec<i64> = match table {
                    "items" => item_model::Entity::find()
                        .all(&db)
                        .await
                        .expect("item rows")
                        .into_iter()
                        .map(|r| r.version)
                        .collect(),
                    _ => popular_list::Entity::find()
                        .all(&db)
                        .await
                        .expect("lists")
                        .into_iter()
                        .map(|r| r.version)
                        .collect(),
                };
                v.sort_unstable();
                v.dedup();
                v
            }
        };
        assert_eq!(versions("items").await, [2, 3]);
        assert_eq!(versions("lists").await, [2, 3]);

        // A replica claimed 4 (or a build died after claiming it): the next build takes 5,
        // and once 5 is published the unpublished claim is pruned.
        assert!(model::claim(&db, 4, &[]).await.expect("claim"));
        assert!(
            !model::claim(&db, 4, &[]).await.expect("claim"),
            "a claimed version is refused to a second build"
        );
        assert_eq!(app.service.rebuild_now().await.expect("build").version, 5);
        assert_eq!(versions("lists").await, [3, 5]);
        assert_eq!(get_model(&mut app).await.version, 5);
    })
    .await;
}

#[tokio::test]
async fn concurrent_builds_publish_distinct_whole_versions() {
    each_backend(|backend| async move {
        let app = app(backend).await;
        dataset(&app).await;
        let (a, b) = tokio::join!(app.service.rebuild_now(), app.service.rebuild_now());
        let (a, b): (ModelInfo, ModelInfo) = (a.expect("a"), b.expect("b"));
        let mut v = [a.version, b.version];
        v.sort_unstable();
        assert_eq!(v, [1, 2]);
        for version in v {
            let rows = item_model::Entity::find()
                .filter(item_model::Column::Version.eq(version))
                .count(app.service.db())
                .await
                .expect("count");
            assert_eq!(rows, 4, "version {version} whole (a, b, c, n)");
        }
    })
    .await;
}

#[tokio::test]
async fn rebuild_model_is_idempotent_by_request_id() {
    each_backend(|backend| async move {
        let mut app = app(backend).await;
        dataset(&app).await;
        let request = rid();
        let first = rebuild(&mut app, &request).await;
        let again = rebuild(&mut app, &request).await;
        assert_eq!(
            again, first,
            "a retry answers the first answer and builds nothing"
        );
        assert_eq!(get_model(&mut app).await.version, 1);
        assert_eq!(rebuild(&mut app, &rid()).await.version, 2);

        assert_eq!(rebuild(&mut app, &request).await, first);
    })
    .await;
}

#[tokio::test]
async fn bad_requests_are_refused_naming_the_field() {
    each_backend(|backend| async move {
        let mut app = app(backend).await;
        for name in ["", "models", "model/1", "model\0", &"m".repeat(10_000)] {
            let s = app
                .client
                .get_model(pb::GetModelRequest { name: name.into() })
                .await
                .expect_err(name);
            assert_status(&s, Code::InvalidArgument, "INVALID_ARGUMENT");
            assert_eq!(violations(&s), ["name"]);
        }
        for request_id in ["", "not-a-uuid", "\0", &"1".repeat(10_000)] {
            let s = app
                .client
                .rebuild_model(pb::RebuildModelRequest {
                    request_id: request_id.into(),
                })
                .await
                .expect_err(request_id);
            assert_status(&s, Code::InvalidArgument, "INVALID_ARGUMENT");
            assert_eq!(violations(&s), ["request_id"]);
        }
        assert_eq!(get_model(&mut app).await.version, 0, "nothing built");
    })
    .await;
}

#[tokio::test]
async fn the_job_rebuilds_on_its_schedule() {
    each_backend(|backend| async move {
        let mut app = app_with(backend, |s| s.recommendations.rebuild.interval_secs = 1).await;
        dataset(&app).await;
        let mut version = 0;
        for _ in 0..100 {
            version = get_model(&mut app).await.version;
            if version > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(version >= 1, "the job published a version");
        let m = get_model(&mut app).await;
        assert_eq!((m.interaction_count, m.item_count), (7, 3));
    })
    .await;
}
