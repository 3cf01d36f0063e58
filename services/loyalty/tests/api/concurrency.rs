//! Many clients on one wallet: no negative balance, no lost update, no double posting.
use crate::harness::*;
use crm_platform::app::Service as _;
use crm_platform::testing::{Backend, auth};
use crm_proto::loyalty as pb;
use crm_proto::loyalty::loyalty_service_client::LoyaltyServiceClient;
use tonic::Code;

const CLIENTS: usize = 64;
const OPS_PER_CLIENT: usize = 6;

/// What one client saw succeed: (earned, redeemed, captured, transactions).
async fn client_run(port: u16, customer: String, seed: usize) -> (i64, i64, i64, i64) {
    let mut client = LoyaltyServiceClient::new(
        auth::channel_as(
            port,
            auth::SUBJECT,
            &auth::scopes_of(crm_loyalty::Loyalty::POLICY),
        )
        .await,
    );
    let (mut earned, mut redeemed, mut captured, mut txs) = (0, 0, 0, 0);
    for i in 0..OPS_PER_CLIENT {
        let check = |b: Option<pb::Balance>| {
            let b = b.expect("balance");
            assert!(b.available >= 0 && b.held >= 0, "negative balance {b:?}");
        };
        match (seed + i) % 3 {
            0 => {
                let r = client
                    .earn(pb::EarnRequest {
                        customer: customer.clone(),
                        source: Some(pb::earn_request::Source::Action("review".into())),
                        request_id: rid(),
                        ..Default::default()
                    })
                    .await
                    .expect("earn")
                    .into_inner();
                check(r.balance);
                earned += 50;
                txs += 1;
            }
            1 => match client
                .redeem(pb::RedeemRequest {
                    customer: customer.clone(),
                    points: 70,
                    request_id: rid(),
                    ..Default::default()
                })
                .await
            {
                Ok(r) => {
                    check(r.into_inner().balance);
                    redeemed += 70;
                    txs += 1;
                }
                Err(e) => assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}"),
            },
            _ => match client
                .hold(pb::HoldRequest {
                    customer: customer.clone(),
                    points: 40,
                    request_id: rid(),
                    ..Default::default()
                })
                .await
            {
                Ok(h) => {
                    let h = h.into_inner();
                    check(h.balance);
                    txs += 1;
                    let name = h.hold.expect("hold").name;
                    if seed.is_multiple_of(2) {
                        let c = client
                            .capture_hold(pb::CaptureHoldRequest {
                                name,
                                points: 25,
                                request_id: rid(),
                            })
                            .await
                            .expect("capture")
                            .into_inner();
                        check(c.balance);
                        captured += 25;
                    } else {
                        client
                            .release_hold(pb::ReleaseHoldRequest {
                                name,
                                request_id: rid(),
                            })
                            .await
                            .expect("release");
                    }
                    txs += 1;
                }
                Err(e) => assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}"),
            },
        }
    }
    (earned, redeemed, captured, txs)
}

async fn many_clients_on_one_wallet(backend: Backend, group_commit: bool) {
    let mut app = spawn_app_with(backend, |s| {
        s.loyalty.group_commit = group_commit;
        s.platform.database.max_connections = 16;
        s.platform.database.acquire_timeout_ms = 30_000;
    })
    .await;
    let c = new_customer();
    app.adjust(&c, 500).await.expect("seed");
    let runs = (0..CLIENTS).map(|seed| tokio::spawn(client_run(app.port, c.clone(), seed)));
    let results = futures::future::join_all(runs).await;
    let (mut earned, mut redeemed, mut captured, mut txs) = (0, 0, 0, 1);
    for r in results {
        let (e, r, c, t) = r.expect("client task");
        earned += e;
        redeemed += r;
        captured += c;
        txs += t;
    }
    let b = app.balance(&c).await;
    assert_eq!(b.held, 0);
    assert_eq!(
        b.available,
        500 + earned - redeemed - captured,
        "every acknowledged movement is in the balance, and nothing else"
    );
    assert!(redeemed > 0 && captured > 0, "the test exercised debits");
    let stored = app
        .service
        .stored_wallet(crm_loyalty::domain::CustomerId::parse_name(&c).expect("name"))
        .await
        .expect("wallet")
        .expect("exists");
    assert_eq!(
        stored.sequence, txs,
        "one chain entry per acknowledged movement"
    );
    app.assert_consistent().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_clients_on_one_wallet() {
    for (backend, group_commit) in backends_with_and_without_group_commit() {
        eprintln!("-- backend {backend:?}, group commit {group_commit}");
        many_clients_on_one_wallet(backend, group_commit).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_of_one_request_post_once() {
    for (backend, group_commit) in backends_with_and_without_group_commit() {
        let app = spawn_app_with(backend, |s| s.loyalty.group_commit = group_commit).await;
        let c = new_customer();
        let req = pb::AdjustRequest {
            customer: c.clone(),
            points: 10,
            reason: "retry storm".into(),
            actor: "tester".into(),
            request_id: rid(),
        };
        let calls = (0..16).map(|_| {
            let mut client = app.client.clone();
            let req = req.clone();
            tokio::spawn(async move { client.adjust(req).await.map(|r| r.into_inner()) })
        });
        let mut oks = Vec::new();
        for r in futures::future::join_all(calls).await {
            match r.expect("task") {
                Ok(v) => oks.push(v),
                // A retry that lost the claim race more than once may be told to retry.
                Err(e) => assert_eq!(e.code(), Code::Aborted, "{e:?}"),
            }
        }
        assert!(!oks.is_empty());
        assert!(
            oks.windows(2).all(|w| w[0] == w[1]),
            "every success is the same result"
        );
        let mut app = app;
        assert_eq!(app.balance(&c).await.available, 10, "posted exactly once");
        app.assert_consistent().await;
    }
}

/// Group commit across many wallets at once, with refusals and retries mixed in: every
/// acknowledged write is in its wallet, refused ones leave no trace, retries post once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_commit_batches_many_wallets_with_refusals_and_retries() {
    for backend in crm_platform::testing::backends() {
        let mut app = spawn_app_with(backend, |s| {
            s.loyalty.group_commit = true;
            s.loyalty.group_commit_writers = 2;
        })
        .await;
        let wallets: Vec<String> = (0..8).map(|_| new_customer()).collect();
        let calls = (0..96).map(|n| {
            let mut client = app.client.clone();
            let customer = wallets[n % wallets.len()].clone();
            // Every third call retries the request id of the call before it on that wallet.
            let retried = if n % 3 == 2 && n >= 8 { n - 8 } else { n };
            let request_id = format!("00000000-0000-4000-8000-{retried:012}");
            tokio::spawn(async move {
                if n % 5 == 4 {
                    let r = client
                        .redeem(pb::RedeemRequest {
                            customer,
                            points: 1_000_000,
                            request_id: rid(),
                            ..Default::default()
                        })
                        .await;
                    (n, None, r.err())
                } else {
                    let r = client
                        .earn(pb::EarnRequest {
                            customer,
                            source: Some(pb::earn_request::Source::Action("review".into())),
                            request_id,
                            ..Default::default()
                        })
                        .await;
                    match r {
                        Ok(ok) => (n, ok.into_inner().transaction.map(|t| t.name), None),
                        Err(e) => (n, None, Some(e)),
                    }
                }
            })
        });
        let mut posted: std::collections::HashMap<String, std::collections::HashSet<String>> =
            Default::default();
        for r in futures::future::join_all(calls).await {
            let (n, tx, err) = r.expect("task");
            match (tx, err) {
                (Some(tx), _) => {
                    posted
                        .entry(wallets[n % wallets.len()].clone())
                        .or_default()
                        .insert(tx);
                }
                (None, Some(e)) if n % 5 == 4 => {
                    assert_status(&e, Code::FailedPrecondition, "INSUFFICIENT_POINTS")
                }
                (None, e) => panic!("call {n} failed: {e:?}"),
            }
        }
        for (i, w) in wallets.iter().enumerate() {
            let distinct = posted.get(w).map_or(0, |s| s.len()) as i64;
            let request_ids: std::collections::HashSet<usize> = (0..96)
                .filter(|n| n % wallets.len() == i && n % 5 != 4)
                .map(|n| if n % 3 == 2 && n >= 8 { n - 8 } else { n })
                .collect();
            assert_eq!(
                distinct,
                request_ids.len() as i64,
                "one posting per request id"
            );
            assert_eq!(
                app.balance(w).await.available,
                50 * distinct,
                "each distinct acknowledged earn is in {w} once"
            );
        }
        app.assert_consistent().await;
    }
}
