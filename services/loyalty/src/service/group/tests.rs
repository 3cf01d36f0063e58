//! Group commit under failure: a panicking call, a dying writer.
use super::*;
use crate::service::{Adjust, EarnRequest, EarnSource};
use crm_platform::ids::RequestId;
use crm_platform::testing::{Backend, Storage};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A service on a fresh SQLite database, without writers of its own.
async fn service() -> LoyaltyService {
    let mut s = crate::Settings::load(None).expect("defaults");
    Storage::fresh(Backend::Sqlite).await.apply(&mut s.platform);
    s.loyalty.expire_interval_secs = 0;
    s.loyalty.group_commit = false;
    crate::component(&s).await.expect("component").1
}

/// Rows in the outbox, sent or not.
async fn outbox_rows(svc: &LoyaltyService) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    crm_platform::events::outbox::Entity::find()
        .count(&svc.core.db)
        .await
        .expect("count the outbox")
}

fn key(method: &'static str) -> IdempotencyKey {
    IdempotencyKey::new(RequestId(uuid::Uuid::new_v4()), method, b"")
}

fn review(customer: CustomerId) -> (IdempotencyKey, Write) {
    let w = Write::Earn(EarnRequest {
        customer,
        source: EarnSource::Action("review".into()),
        available_time: None,
        expire_time: None,
    });
    (key("Earn"), w)
}

fn boom(customer: CustomerId) -> (IdempotencyKey, Write) {
    let access = crm_platform::audit::AccessRecord::new(
        &crm_platform::auth::Principal::unchecked(),
        "/crm.loyalty.v1.LoyaltyService/Adjust",
        crm_platform::audit::Action::Adjust,
        customer.name(),
        Some(customer.0),
    );
    let w = Write::Adjust(
        Adjust {
            customer,
            points: 7,
            reason: "boom".into(),
            actor: "test".into(),
        },
        access,
    );
    (key("Adjust"), w)
}

/// Applies like the service, but panics on an Adjust with reason "boom" after applying
/// it (so the shared session holds its half-done writes).
fn panics_on_boom<'a>(
    svc: &'a LoyaltyService,
    txn: &'a DatabaseTransaction,
    session: &'a mut Session,
    key: &'a IdempotencyKey,
    w: &'a Write,
) -> BoxFuture<'a, Result<Posted, Error>> {
    let boom = matches!(w, Write::Adjust(a, _) if a.reason == "boom");
    Box::pin(async move {
        let posted = svc.apply_claimed(txn, session, key, w).await?;
        assert!(!boom, "injected panic after applying");
        Ok(posted)
    })
}

/// A panic while applying one call of a batch fails that call only: the other 19 calls
/// (on the same and on other wallets) commit, the ledger verifies, the writer goes on.
#[tokio::test]
async fn a_panicking_call_fails_only_itself() {
    let svc = service().await;
    let group = GroupCommit::start_with(&svc, panics_on_boom);
    let wallets: Vec<CustomerId> = (0..3).map(|_| CustomerId::generate()).collect();
    let mut calls = vec![boom(wallets[0])];
    calls.extend((0..19).map(|i| review(wallets[i % 3])));
    // One thread: every call is queued before a writer runs, so they share batches.
    let answers = futures::future::join_all(
        calls
            .iter()
            .map(|(k, w)| group.submit(k.clone(), w.clone())),
    )
    .await;
    let err = answers[0].as_ref().expect_err("the panicking call fails");
    assert_eq!(err.code, ErrorCode::Internal, "{err:?}");
    for a in &answers[1..] {
        assert!(a.is_ok(), "{a:?}");
    }
    let balances = [
        svc.balance(wallets[0]).await.expect("a").available,
        svc.balance(wallets[1]).await.expect("b").available,
        svc.balance(wallets[2]).await.expect("c").available,
    ];
    assert_eq!(
        balances,
        [7 * 50, 6 * 50, 6 * 50],
        "nothing of the panicking call"
    );
    let v = svc.verify(None).await.expect("verify");
    assert_eq!(v.first_inconsistency, None);
    assert_eq!(v.transactions_checked, 19);
    // The batch the panic rolled back appended no event: one per committed review.
    assert_eq!(outbox_rows(&svc).await, 19);
    let (k, w) = review(wallets[0]);
    group.submit(k, w).await.expect("the writer still runs");
}

/// A writer that dies holding a call answers it UNAVAILABLE (no hang) and is restarted
/// on the same queue.
#[tokio::test]
async fn a_dead_writer_is_restarted_and_its_caller_answered() {
    let svc = service().await;
    let (tx, rx) = mpsc::channel(8);
    let queue: Queue = Arc::new(Mutex::new(rx));
    let starts = Arc::new(AtomicUsize::new(0));
    let (counted, direct) = (starts.clone(), svc.clone());
    tokio::spawn(supervise("test writer", move || {
        let (svc, queue) = (direct.clone(), queue.clone());
        let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if first {
                let held = queue.lock().await.recv().await;
                assert!(held.is_none(), "the writer dies holding a call");
            }
            run_writer(svc, queue, 64, apply_claimed).await
        }
    }));
    let group = GroupCommit { writers: vec![tx] };
    let c = CustomerId::generate();
    let (k, w) = review(c);
    let err = group
        .submit(k, w)
        .await
        .expect_err("held by the dead writer");
    assert_eq!(err.code, ErrorCode::Unavailable, "{err:?}");
    let (k, w) = review(c);
    group
        .submit(k, w)
        .await
        .expect("the restarted writer answers");
    assert_eq!(starts.load(Ordering::SeqCst), 2);
    assert_eq!(svc.balance(c).await.expect("balance").available, 50);
}
