//! Coupon pools: uploads and generation, claims given exactly once under concurrency (by
//! ClaimCoupon and by the store's claim with delivery keys, as the dispatcher calls it), a
//! campaign variant giving each recipient their own code, erasure and merge of claims, and
//! the validation of every RPC.
use crate::harness::*;
use crate::sending::{gold, member, sending_app, sent_lines};
use chrono::Utc;
use crm_campaigns::domain::coupon::{ALPHABET, delivery_claim_key};
use crm_campaigns::domain::{CouponPoolId, CustomerId};
use crm_campaigns::store;
use crm_campaigns::store::entities::coupon_code;
use crm_platform::testing::Backend;
use crm_proto::campaigns as pb;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use std::collections::{HashMap, HashSet};
use tonic::Code;

impl TestApp {
    async fn pool(&mut self, display_name: &str) -> pb::CouponPool {
        self.client
            .create_coupon_pool(pb::CreateCouponPoolRequest {
                coupon_pool: Some(pb::CouponPool {
                    display_name: display_name.into(),
                    ..Default::default()
                }),
                request_id: rid(),
            })
            .await
            .expect("create pool")
            .into_inner()
    }

    async fn get_pool(&mut self, name: &str) -> pb::CouponPool {
        self.client
            .get_coupon_pool(pb::GetCouponPoolRequest { name: name.into() })
            .await
            .expect("get pool")
            .into_inner()
    }

    async fn add_codes(
        &mut self,
        pool: &str,
        codes: &[&str],
    ) -> Result<pb::AddCouponCodesResponse, tonic::Status> {
        self.client
            .add_coupon_codes(pb::AddCouponCodesRequest {
                pool: pool.into(),
                codes: codes.iter().map(|c| (*c).to_owned()).collect(),
                request_id: rid(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    async fn claim(
        &mut self,
        pool: &str,
        customer: &str,
    ) -> Result<pb::CouponClaim, tonic::Status> {
        claim(self.client.clone(), pool, customer).await
    }
}

type Client = crm_proto::campaigns::campaign_service_client::CampaignServiceClient<
    crm_platform::client::TracedChannel,
>;

async fn claim(
    mut client: Client,
    pool: &str,
    customer: &str,
) -> Result<pb::CouponClaim, tonic::Status> {
    client
        .claim_coupon(pb::ClaimCouponRequest {
            pool: pool.into(),
            customer: customer.into(),
            request_id: rid(),
        })
        .await
        .map(tonic::Response::into_inner)
}

fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:04}")).collect()
}

fn pool_id(pool: &pb::CouponPool) -> CouponPoolId {
    CouponPoolId::parse_name(&pool.name).expect("pool name")
}

/// The pool's codes as stored, by code.
async fn stored_codes(app: &TestApp, pool: &pb::CouponPool) -> HashMap<String, coupon_code::Model> {
    coupon_code::Entity::find()
        .filter(coupon_code::Column::PoolId.eq(pool_id(pool).0))
        .all(app.service.db())
        .await
        .expect("codes")
        .into_iter()
        .map(|c| (c.code.clone(), c))
        .collect()
}

#[tokio::test]
async fn concurrent_claims_give_each_code_to_one_customer_exactly_once() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let pool = app.pool("Spring 10% off").await;
        let codes = numbered("SPRING", 25);
        let codes_ref: Vec<&str> = codes.iter().map(String::as_str).collect();
        app.add_codes(&pool.name, &codes_ref).await.expect("add");

        let customers: Vec<String> = (0..40).map(|_| CustomerId::generate().name()).collect();
        let claims = futures::future::join_all(
            customers
                .iter()
                .map(|c| claim(app.client.clone(), &pool.name, c)),
        )
        .await;
        let mut given = HashMap::new();
        let mut exhausted = 0;
        for (customer, result) in customers.iter().zip(claims) {
            match result {
                Ok(c) => {
                    assert_eq!((&c.pool, &c.customer), (&pool.name, customer));
                    assert!(codes.contains(&c.code), "{c:?}");
                    given.insert(customer.clone(), c.code);
                }
                Err(s) => {
                    assert_status(&s, Code::FailedPrecondition, "COUPON_POOL_EXHAUSTED");
                    exhausted += 1;
                }
            }
        }
        let distinct: HashSet<&String> = given.values().collect();
        assert_eq!((given.len(), distinct.len(), exhausted), (25, 25, 15));

        // Repeats, concurrent too, return each customer's code and claim nothing more.
        let again = futures::future::join_all(
            given
                .keys()
                .chain(given.keys())
                .map(|c| claim(app.client.clone(), &pool.name, c)),
        )
        .await;
        for (customer, result) in given.keys().chain(given.keys()).zip(again) {
            assert_eq!(result.expect("repeat").code, given[customer]);
        }
        let stored = stored_codes(&app, &pool).await;
        for (customer, code) in &given {
            let row = &stored[code];
            let id = CustomerId::parse_name(customer).expect("customer");
            assert_eq!(
                (row.claimed, row.customer_id, row.claim_key.as_deref()),
                (true, Some(id.0), Some(customer.as_str()))
            );
        }
        let counted = app.get_pool(&pool.name).await;
        assert_eq!((counted.code_count, counted.claimed_count), (25, 25));
    })
    .await;
}

#[tokio::test]
async fn one_customer_claiming_at_once_many_times_gets_one_code() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let pool = app.pool("Welcome gift").await;
        let codes = numbered("GIFT", 10);
        let codes_ref: Vec<&str> = codes.iter().map(String::as_str).collect();
        app.add_codes(&pool.name, &codes_ref).await.expect("add");
        let wei = CustomerId::generate().name();
        let claims =
            futures::future::join_all((0..12).map(|_| claim(app.client.clone(), &pool.name, &wei)))
                .await;
        let codes: HashSet<String> = claims.into_iter().map(|c| c.expect("claim").code).collect();
        assert_eq!(codes.len(), 1, "{codes:?}");
        let counted = app.get_pool(&pool.name).await;
        assert_eq!((counted.code_count, counted.claimed_count), (10, 1));
    })
    .await;
}

#[tokio::test]
async fn a_claim_is_idempotent_and_knows_unknown_and_empty_pools() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let pool = app.pool("Anniversary").await;
        let customer = CustomerId::generate().name();
        let empty = app.claim(&pool.name, &customer).await.expect_err("empty");
        assert_status(&empty, Code::FailedPrecondition, "COUPON_POOL_EXHAUSTED");
        let unknown = app
            .claim(&CouponPoolId::generate().name(), &customer)
            .await
            .expect_err("unknown pool");
        assert_status(&unknown, Code::NotFound, "NOT_FOUND");

        app.add_codes(&pool.name, &["ANNIV-1", "ANNIV-2"])
            .await
            .expect("add");
        let req = pb::ClaimCouponRequest {
            pool: pool.name.clone(),
            customer: customer.clone(),
            request_id: rid(),
        };
        let first = app.client.claim_coupon(req.clone()).await.expect("claim");
        let replay = app.client.claim_coupon(req).await.expect("replay");
        assert_eq!(first.into_inner(), replay.into_inner());
        let counted = app.get_pool(&pool.name).await;
        assert_eq!(counted.claimed_count, 1);
    })
    .await;
}

/// `store::coupons::claim` as the dispatcher calls it, in transactions of their own: each
/// delivery key claimed twice at once, and more keys than codes.
#[tokio::test]
async fn store_claims_by_delivery_key_are_exactly_once() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let db = app.service.db().clone();
        let claim_in_txn = |pool: CouponPoolId, key: String| {
            let db = db.clone();
            async move {
                let txn = db.begin().await.expect("begin");
                let code = store::coupons::claim(
                    &txn,
                    pool,
                    &key,
                    CustomerId::generate(),
                    crm_campaigns::domain::now(),
                )
                .await
                .expect("claim");
                txn.commit().await.expect("commit");
                (key, code)
            }
        };

        // 40 deliveries, each decided twice at once, over 60 codes: one code per delivery.
        let pool = app.pool("Double decisions").await;
        let codes = numbered("TWICE", 60);
        let codes_ref: Vec<&str> = codes.iter().map(String::as_str).collect();
        app.add_codes(&pool.name, &codes_ref).await.expect("add");
        let keys: Vec<String> = (0..40)
            .map(|_| delivery_claim_key(uuid::Uuid::now_v7()))
            .collect();
        let results = futures::future::join_all(
            keys.iter()
                .chain(keys.iter())
                .map(|k| claim_in_txn(pool_id(&pool), k.clone())),
        )
        .await;
        let mut by_key: HashMap<String, String> = HashMap::new();
        for (key, code) in results {
            let code = code.expect("a code for every delivery");
            let first = by_key.entry(key.clone()).or_insert_with(|| code.clone());
            assert_eq!(*first, code, "both decisions of {key} got the same code");
        }
        let distinct: HashSet<&String> = by_key.values().collect();
        assert_eq!((by_key.len(), distinct.len()), (40, 40));
        let stored = stored_codes(&app, &pool).await;
        assert_eq!(stored.values().filter(|c| c.claimed).count(), 40);
        for (key, code) in &by_key {
            assert_eq!(stored[code].claim_key.as_deref(), Some(key.as_str()));
        }

        // 25 deliveries over 10 codes: 10 get one each, 15 none.
        let small = app.pool("Few codes").await;
        let codes = numbered("FEW", 10);
        let codes_ref: Vec<&str> = codes.iter().map(String::as_str).collect();
        app.add_codes(&small.name, &codes_ref).await.expect("add");
        let results = futures::future::join_all(
            (0..25)
                .map(|_| claim_in_txn(pool_id(&small), delivery_claim_key(uuid::Uuid::now_v7()))),
        )
        .await;
        let given: Vec<String> = results.into_iter().filter_map(|(_, c)| c).collect();
        let distinct: HashSet<&String> = given.iter().collect();
        assert_eq!((given.len(), distinct.len()), (10, 10));
    })
    .await;
}

#[tokio::test]
async fn uploads_count_duplicates_and_refuse_every_bad_code_by_index() {
    each_backend(|b| async move {
        let mut app = spawn_app_with(b, |s| s.campaigns.coupons.max_codes_per_pool = 5).await;
        let pool = app.pool("Uploaded").await;
        let bad = app
            .add_codes(
                &pool.name,
                &[
                    "GOOD-1", "bad code", "abc", "GOOD-1", "ok_2", "é-code", "X\0YZW",
                ],
            )
            .await
            .expect_err("bad codes");
        assert_status(&bad, Code::InvalidArgument, "INVALID_ARGUMENT");
        assert_eq!(
            violations(&bad),
            ["codes[1]", "codes[2]", "codes[5]", "codes[6]"]
        );
        assert_eq!(
            app.get_pool(&pool.name).await.code_count,
            0,
            "nothing written"
        );

        let all_bad = app
            .client
            .add_coupon_codes(pb::AddCouponCodesRequest {
                pool: "couponPools/nope".into(),
                codes: vec![],
                request_id: "not a uuid".into(),
            })
            .await
            .expect_err("bad request");
        assert_eq!(violations(&all_bad), ["codes", "pool", "request_id"]);
        let too_many = vec!["CODE-1"; 5_001];
        let many = app
            .add_codes(&pool.name, &too_many)
            .await
            .expect_err("too many");
        assert_eq!(violations(&many), ["codes"]);
        let unknown = app
            .add_codes(&CouponPoolId::generate().name(), &["CODE-1"])
            .await
            .expect_err("unknown pool");
        assert_status(&unknown, Code::NotFound, "NOT_FOUND");

        let first = app
            .add_codes(&pool.name, &["SAVE-0001", "SAVE-0002", "SAVE-0001"])
            .await
            .expect("add");
        assert_eq!((first.added, first.duplicates), (2, 1));
        let second = app
            .add_codes(&pool.name, &["SAVE-0002", "save-0002", "SAVE-0003"])
            .await
            .expect("add");
        assert_eq!(
            (second.added, second.duplicates),
            (2, 1),
            "codes are case-sensitive"
        );
        let counted = second.coupon_pool.expect("pool");
        assert_eq!((counted.code_count, counted.claimed_count), (4, 0));
        assert_ne!(counted.etag, pool.etag, "codes are a new revision");

        // At most 5 codes in a pool: a sixth and seventh are refused whole.
        let full = app
            .add_codes(&pool.name, &["SAVE-0004", "SAVE-0005", "SAVE-0006"])
            .await
            .expect_err("full");
        assert_status(&full, Code::FailedPrecondition, "COUPON_POOL_FULL");
        let full = app
            .client
            .generate_coupon_codes(pb::GenerateCouponCodesRequest {
                pool: pool.name.clone(),
                count: 2,
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect_err("full");
        assert_status(&full, Code::FailedPrecondition, "COUPON_POOL_FULL");
        assert_eq!(app.get_pool(&pool.name).await.code_count, 4);
        let last = app.add_codes(&pool.name, &["SAVE-0001", "SAVE-0005"]).await;
        assert_eq!(last.expect("one more fits").added, 1);
    })
    .await;
}

#[tokio::test]
async fn generated_codes_are_unique_unambiguous_and_bounded() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let pool = app.pool("Generated").await;
        let generate = |count: i32, prefix: &str, length: i32| pb::GenerateCouponCodesRequest {
            pool: pool.name.clone(),
            count,
            prefix: prefix.into(),
            length,
            request_id: rid(),
        };
        let req = generate(2000, "XMAS-", 8);
        let first = app
            .client
            .generate_coupon_codes(req.clone())
            .await
            .expect("generate")
            .into_inner();
        assert_eq!(first.generated, 2000);
        let replay = app
            .client
            .generate_coupon_codes(req)
            .await
            .expect("replay")
            .into_inner();
        assert_eq!(replay, first, "a retry generates nothing more");
        let defaults = app
            .client
            .generate_coupon_codes(generate(5, "", 0))
            .await
            .expect("generate")
            .into_inner();
        let counted = defaults.coupon_pool.expect("pool");
        assert_eq!((counted.code_count, counted.claimed_count), (2005, 0));

        let stored = stored_codes(&app, &pool).await;
        assert_eq!(stored.len(), 2005, "all distinct");
        let (xmas, plain): (Vec<&String>, Vec<&String>) =
            stored.keys().partition(|c| c.starts_with("XMAS-"));
        assert_eq!((xmas.len(), plain.len()), (2000, 5));
        let random_part = |c: &str, len: usize| {
            assert_eq!(c.len(), len, "{c}");
            assert!(c.bytes().all(|b| ALPHABET.contains(&b)), "{c}");
        };
        for c in xmas {
            random_part(&c["XMAS-".len()..], 8);
        }
        for c in plain {
            random_part(c, 10);
        }

        let bad = app
            .client
            .generate_coupon_codes(pb::GenerateCouponCodesRequest {
                pool: "pools/1".into(),
                count: 0,
                prefix: "xmas".into(),
                length: 7,
                request_id: String::new(),
            })
            .await
            .expect_err("bad");
        assert_eq!(
            violations(&bad),
            ["count", "length", "pool", "prefix", "request_id"]
        );
        for (count, prefix, length) in [
            (100_001, "A", 8),
            (-1, "A", 8),
            (1, &*"A".repeat(17), 8),
            (1, "A_B", 8),
            (1, "A", 33),
            (1, "A", -1),
        ] {
            let e = app
                .client
                .generate_coupon_codes(generate(count, prefix, length))
                .await
                .expect_err("bad");
            assert_status(&e, Code::InvalidArgument, "INVALID_ARGUMENT");
            assert_eq!(violations(&e).len(), 1, "{count} {prefix} {length}: {e:?}");
        }
        assert_eq!(app.get_pool(&pool.name).await.code_count, 2005);
    })
    .await;
}

#[tokio::test]
async fn pools_are_created_listed_oldest_first_and_validated() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let mut names = Vec::new();
        for n in ["First", "Second", "Third"] {
            let p = app.pool(n).await;
            assert_eq!((p.code_count, p.claimed_count), (0, 0));
            assert!(p.create_time.is_some() && !p.etag.is_empty(), "{p:?}");
            names.push(p.name);
        }
        let req = pb::CreateCouponPoolRequest {
            coupon_pool: Some(pb::CouponPool {
                display_name: "  Fourth ".into(),
                ..Default::default()
            }),
            request_id: rid(),
        };
        let created = app
            .client
            .create_coupon_pool(req.clone())
            .await
            .expect("create");
        let replay = app.client.create_coupon_pool(req).await.expect("replay");
        let created = created.into_inner();
        assert_eq!(created, replay.into_inner());
        assert_eq!(created.display_name, "Fourth");
        names.push(created.name);

        let page = |token: String| pb::ListCouponPoolsRequest {
            page_size: 3,
            page_token: token,
        };
        let first = app
            .client
            .list_coupon_pools(page(String::new()))
            .await
            .expect("list")
            .into_inner();
        let second = app
            .client
            .list_coupon_pools(page(first.next_page_token.clone()))
            .await
            .expect("list")
            .into_inner();
        let listed: Vec<String> = first
            .coupon_pools
            .iter()
            .chain(&second.coupon_pools)
            .map(|p| p.name.clone())
            .collect();
        assert_eq!(listed, names);
        assert!(second.next_page_token.is_empty());
        let bad_token = app
            .client
            .list_coupon_pools(page("forged".into()))
            .await
            .expect_err("token");
        assert_eq!(violations(&bad_token), ["page_token"]);
        let negative = app
            .client
            .list_coupon_pools(pb::ListCouponPoolsRequest {
                page_size: -1,
                ..Default::default()
            })
            .await
            .expect_err("size");
        assert_eq!(violations(&negative), ["page_size"]);

        for (name, bad) in [
            ("empty", "   "),
            ("long", &*"x".repeat(201)),
            ("line break", "a\nb"),
        ] {
            let e = app
                .client
                .create_coupon_pool(pb::CreateCouponPoolRequest {
                    coupon_pool: Some(pb::CouponPool {
                        display_name: bad.into(),
                        ..Default::default()
                    }),
                    request_id: rid(),
                })
                .await
                .expect_err(name);
            assert_eq!(violations(&e), ["coupon_pool.display_name"], "{name}");
        }
        let e = app
            .client
            .create_coupon_pool(pb::CreateCouponPoolRequest {
                coupon_pool: None,
                request_id: "x".into(),
            })
            .await
            .expect_err("missing");
        assert_eq!(violations(&e), ["coupon_pool", "request_id"]);
        let e = app
            .client
            .get_coupon_pool(pb::GetCouponPoolRequest {
                name: "segments/1".into(),
            })
            .await
            .expect_err("bad name");
        assert_eq!(violations(&e), ["name"]);
        let e = app
            .client
            .get_coupon_pool(pb::GetCouponPoolRequest {
                name: CouponPoolId::generate().name(),
            })
            .await
            .expect_err("unknown");
        assert_status(&e, Code::NotFound, "NOT_FOUND");
        let e = app
            .client
            .claim_coupon(pb::ClaimCouponRequest {
                pool: String::new(),
                customer: "members/1".into(),
                request_id: String::new(),
            })
            .await
            .expect_err("bad claim");
        assert_eq!(violations(&e), ["customer", "pool", "request_id"]);
        let listed = app
            .client
            .list_coupon_pools(pb::ListCouponPoolsRequest::default())
            .await
            .expect("list")
            .into_inner();
        assert_eq!(listed.coupon_pools.len(), 4, "refused calls wrote nothing");
    })
    .await;
}

#[tokio::test]
async fn a_campaign_variant_with_a_pool_gives_each_recipient_their_own_code() {
    each_backend(|b: Backend| async move {
        let (mut app, file) = sending_app(b, ("", ""), 3).await;
        let mut customers = Vec::new();
        for i in 0..5 {
            customers.push(member(&app, "Wei", &format!("wei{i}@example.com"), "", true).await);
        }
        let pool = app.pool("Birthday codes").await;
        app.add_codes(&pool.name, &["BDAY-AAAA", "BDAY-BBBB", "BDAY-CCCC"])
            .await
            .expect("add");
        let segment = app.segment(gold()).await;
        let mut c = crate::harness::email_campaign(&segment);
        c.variants[0].body = "Your own code: {{ coupon_code }}".into();
        c.variants[0].coupon_pool = pool.name.clone();

        let mut missing = c.clone();
        missing.variants[0].coupon_pool = CouponPoolId::generate().name();
        let e = app
            .client
            .create_campaign(pb::CreateCampaignRequest {
                campaign: Some(missing),
                request_id: rid(),
            })
            .await
            .expect_err("missing pool");
        assert_eq!(violations(&e), ["campaign.variants[0].coupon_pool"]);

        let campaign = app.launch(c).await;
        app.await_state(&campaign, pb::campaign::State::Completed)
            .await;
        let ds = app.deliveries(&campaign).await;
        assert_eq!(ds.len(), 5);
        let sent: Vec<&pb::Delivery> = ds
            .iter()
            .filter(|d| d.state == pb::delivery::State::Sent as i32)
            .collect();
        let exhausted: Vec<&pb::Delivery> = ds
            .iter()
            .filter(|d| {
                (d.state, d.reason)
                    == (
                        pb::delivery::State::Skipped as i32,
                        pb::delivery::Reason::CouponsExhausted as i32,
                    )
            })
            .collect();
        assert_eq!((sent.len(), exhausted.len()), (3, 2), "{ds:?}");

        // Each message carries its recipient's own code: the one the pool gave that delivery.
        let lines = sent_lines(&file);
        assert_eq!(lines.len(), 3, "{lines:?}");
        let stored = stored_codes(&app, &pool).await;
        let mut in_messages = HashSet::new();
        for line in &lines {
            let body = line["body"].as_str().expect("body");
            let code = body.strip_prefix("Your own code: ").expect(body);
            let row = &stored[code];
            let delivery = line["delivery_id"].as_str().expect("delivery id");
            let customer = CustomerId::parse_name(line["customer"].as_str().expect("customer"))
                .expect("customer");
            assert_eq!(
                (row.claim_key.clone(), row.customer_id),
                (Some(format!("deliveries/{delivery}")), Some(customer.0))
            );
            in_messages.insert(code.to_owned());
        }
        assert_eq!(in_messages.len(), 3, "three different codes");
        let why = app.explain(&campaign, &exhausted[0].customer).await;
        assert!(
            why.summary.contains("coupon pool had no code left"),
            "{}",
            why.summary
        );
        let counted = app.get_pool(&pool.name).await;
        assert_eq!((counted.code_count, counted.claimed_count), (3, 3));
        let _ = std::fs::remove_file(&file);
    })
    .await;
}

#[tokio::test]
async fn erasure_unlinks_claims_and_a_merge_moves_them_to_the_survivor() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let db = app.service.db().clone();
        let first = app.pool("First").await;
        let second = app.pool("Second").await;
        for p in [&first, &second] {
            let codes = numbered("CODE", 5);
            let codes_ref: Vec<&str> = codes.iter().map(String::as_str).collect();
            app.add_codes(&p.name, &codes_ref).await.expect("add");
        }

        // Erasure: the code stays given out, nothing names the customer any more.
        let erased = CustomerId::generate();
        let code = app
            .claim(&first.name, &erased.name())
            .await
            .expect("claim")
            .code;
        store::members::erase(&db, &[erased]).await.expect("erase");
        let row = &stored_codes(&app, &first).await[&code];
        assert_eq!(
            (row.claimed, row.customer_id, row.claim_key.clone()),
            (true, None, None)
        );
        assert_eq!(app.get_pool(&first.name).await.claimed_count, 1);

        // Merge: the loser's code of the first pool is the survivor's claim there; in the
        // second both claimed, and both codes stay given.
        let (survivor, loser) = (CustomerId::generate(), CustomerId::generate());
        let lost_first = app
            .claim(&first.name, &loser.name())
            .await
            .expect("claim")
            .code;
        let lost_second = app
            .claim(&second.name, &loser.name())
            .await
            .expect("claim")
            .code;
        let own_second = app
            .claim(&second.name, &survivor.name())
            .await
            .expect("claim")
            .code;
        store::members::customers_merged(&db, survivor, &[loser], Utc::now())
            .await
            .expect("merge");
        let again = app
            .claim(&first.name, &survivor.name())
            .await
            .expect("claim");
        assert_eq!(
            again.code, lost_first,
            "the loser's claim is the survivor's"
        );
        let again = app
            .claim(&second.name, &survivor.name())
            .await
            .expect("claim");
        assert_eq!(again.code, own_second);
        let by_loser = app.claim(&first.name, &loser.name()).await.expect("claim");
        assert_eq!(
            (by_loser.code, by_loser.customer),
            (lost_first, survivor.name()),
            "a merged-away customer claims as the survivor"
        );
        let rows = stored_codes(&app, &second).await;
        assert_eq!(rows[&lost_second].customer_id, Some(survivor.0));
        assert_eq!(rows[&own_second].customer_id, Some(survivor.0));
        assert_eq!(app.get_pool(&first.name).await.claimed_count, 2);
        assert_eq!(app.get_pool(&second.name).await.claimed_count, 2);
    })
    .await;
}
