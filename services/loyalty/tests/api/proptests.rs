//! Property test: random operation sequences through the gRPC API, checked against a model
//! and against the ledger's invariants after every step, on every backend.
use crate::harness::*;
use crm_proto::loyalty as pb;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tonic::Code;

#[derive(Debug, Clone)]
enum Op {
    Purchase(i64),
    Adjust(i64),
    Redeem(i64, bool),
    Hold(i64),
    Capture(usize, i64),
    Release(usize),
    Reverse(usize, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (100i64..50_000).prop_map(Op::Purchase),
        (-300i64..300)
            .prop_filter("not zero", |n| *n != 0)
            .prop_map(Op::Adjust),
        (1i64..400, any::<bool>()).prop_map(|(n, up)| Op::Redeem(n, up)),
        (1i64..300).prop_map(Op::Hold),
        (0usize..4, 0i64..300).prop_map(|(i, n)| Op::Capture(i, n)),
        (0usize..4).prop_map(Op::Release),
        (0usize..4, any::<bool>()).prop_map(|(i, full)| Op::Reverse(i, full)),
    ]
}

/// What the test expects, kept beside the server.
#[derive(Default)]
struct Model {
    available: i64,
    held: i64,
    /// (hold name, points, active)
    holds: Vec<(String, i64, bool)>,
    /// (order id, amount minor)
    orders: Vec<(String, i64)>,
}

fn fail(msg: String) -> TestCaseError {
    TestCaseError::fail(msg)
}

async fn step(app: &mut TestApp, c: &str, m: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    let insufficient = |e: &tonic::Status| {
        e.code() == Code::FailedPrecondition
            && crm_platform::grpc::reason_of(e).as_deref() == Some("INSUFFICIENT_POINTS")
    };
    match op {
        Op::Purchase(amount) => {
            let order = format!("order-{}", m.orders.len());
            let r = app.purchase(c, &order, *amount).await;
            m.available += r.transaction.map(|t| t.wallet_delta).unwrap_or(0);
            m.orders.push((order, *amount));
        }
        Op::Adjust(n) => match app.adjust(c, *n).await {
            Ok(_) => m.available += n,
            Err(e) if insufficient(&e) => prop_assert!(
                -n > m.available,
                "refused {n} with {} available",
                m.available
            ),
            Err(e) => return Err(fail(format!("adjust: {e:?}"))),
        },
        Op::Redeem(n, up) => {
            let r = app
                .client
                .redeem(pb::RedeemRequest {
                    customer: c.into(),
                    points: *n,
                    up_to_available: *up,
                    request_id: rid(),
                    ..Default::default()
                })
                .await;
            match r {
                Ok(_) => m.available -= (*n).min(m.available),
                Err(e) if insufficient(&e) => {
                    prop_assert!(*n > m.available && (!up || m.available == 0))
                }
                Err(e) => return Err(fail(format!("redeem: {e:?}"))),
            }
        }
        Op::Hold(n) => {
            let r = app
                .client
                .hold(pb::HoldRequest {
                    customer: c.into(),
                    points: *n,
                    request_id: rid(),
                    ..Default::default()
                })
                .await;
            match r {
                Ok(h) => {
                    let name = h.into_inner().hold.map(|h| h.name).unwrap_or_default();
                    m.available -= n;
                    m.held += n;
                    m.holds.push((name, *n, true));
                }
                Err(e) if insufficient(&e) => prop_assert!(*n > m.available),
                Err(e) => return Err(fail(format!("hold: {e:?}"))),
            }
        }
        Op::Capture(..) | Op::Release(..) if m.holds.is_empty() => {}
        Op::Capture(i, n) => {
            let idx = i % m.holds.len();
            let (name, points, active) = m.holds[idx].clone();
            let capture = (*n).min(points);
            let r = app
                .client
                .capture_hold(pb::CaptureHoldRequest {
                    name,
                    points: capture,
                    request_id: rid(),
                })
                .await;
            match (r, active) {
                (Ok(_), true) => {
                    let taken = if capture == 0 { points } else { capture };
                    m.held -= points;
                    m.available += points - taken;
                    m.holds[idx].2 = false;
                }
                (Err(e), false) if e.code() == Code::FailedPrecondition => {}
                (r, active) => return Err(fail(format!("capture (active {active}): {r:?}"))),
            }
        }
        Op::Release(i) => {
            let idx = i % m.holds.len();
            let (name, points, active) = m.holds[idx].clone();
            let r = app
                .client
                .release_hold(pb::ReleaseHoldRequest {
                    name,
                    request_id: rid(),
                })
                .await;
            match (r, active) {
                (Ok(_), true) => {
                    m.held -= points;
                    m.available += points;
                    m.holds[idx].2 = false;
                }
                (Err(e), false) if e.code() == Code::FailedPrecondition => {}
                (r, active) => return Err(fail(format!("release (active {active}): {r:?}"))),
            }
        }
        Op::Reverse(_, _) if m.orders.is_empty() => {}
        Op::Reverse(i, full) => {
            let (order, amount) = m.orders[i % m.orders.len()].clone();
            let r = app
                .client
                .reverse(pb::ReverseRequest {
                    customer: c.into(),
                    order_id: order,
                    refund_amount: (!full).then(|| money("CNY", (amount / 3).max(1))),
                    request_id: rid(),
                    ..Default::default()
                })
                .await;
            match r {
                Ok(r) => {
                    let r = r.into_inner();
                    prop_assert!(r.clawed_back_points >= 0 && r.shortfall_points >= 0);
                    m.available -= r.clawed_back_points;
                }
                Err(e)
                    if crm_platform::grpc::reason_of(&e).as_deref() == Some("ALREADY_REVERSED") => {
                }
                Err(e) => return Err(fail(format!("reverse: {e:?}"))),
            }
        }
    }
    let b = app.balance(c).await;
    prop_assert!(b.available >= 0 && b.held >= 0, "negative balance {b:?}");
    prop_assert_eq!(
        (b.available, b.held),
        (m.available, m.held),
        "after {:?}",
        op
    );
    let v = app
        .client
        .verify_ledger(pb::VerifyLedgerRequest { customer: c.into() })
        .await
        .map_err(|e| fail(format!("verify: {e:?}")))?
        .into_inner();
    prop_assert!(v.consistent, "after {:?}: {:?}", op, v.first_inconsistency);
    Ok(())
}

#[test]
fn random_operation_sequences_keep_the_invariants() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for (backend, group_commit) in backends_with_and_without_group_commit() {
        eprintln!("-- backend {backend:?}, group commit {group_commit}");
        let app = rt.block_on(spawn_app_with(backend, |s| {
            s.loyalty.group_commit = group_commit
        }));
        let mut runner = TestRunner::new(Config {
            cases: 12,
            failure_persistence: None,
            ..Config::default()
        });
        let client = app.client.clone();
        let (port, service, db_url) = (app.port, app.service.clone(), app.db_url.clone());
        let storage = app.storage.clone();
        runner
            .run(&proptest::collection::vec(op(), 1..16), |ops| {
                let mut app = TestApp {
                    client: client.clone(),
                    port,
                    service: service.clone(),
                    db_url: db_url.clone(),
                    storage: storage.clone(),
                };
                rt.block_on(async {
                    let c = new_customer();
                    let mut m = Model::default();
                    for op in &ops {
                        step(&mut app, &c, &mut m, op).await?;
                    }
                    Ok(())
                })
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let mut app = app;
        rt.block_on(app.assert_consistent());
    }
}
