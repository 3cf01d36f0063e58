//! Text with control characters and timestamps outside the protobuf range are refused with
//! field violations on every backend, and nothing is written.
use crate::harness::*;
use crm_platform::validate::{MAX_TIMESTAMP_SECONDS, MIN_TIMESTAMP_SECONDS};
use crm_proto::loyalty as pb;
use pb::earn_request::Source;
use tonic::Code;

fn at(seconds: i64, nanos: i32) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos })
}

fn purchase(customer: &str, order_id: &str, item_id: &str) -> pb::EarnRequest {
    let mut req = purchase_request(customer, order_id, 10_000);
    if let Some(Source::Purchase(p)) = req.source.as_mut() {
        p.items[0].item_id = item_id.into();
    }
    req
}

#[track_caller]
fn refused(result: Result<impl std::fmt::Debug, tonic::Status>, fields: &[&str]) {
    let err = result.expect_err("refused");
    assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
    assert_eq!(violations(&err), fields);
}

#[tokio::test]
async fn control_characters_are_refused_in_every_text_field() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let (c, other) = (new_customer(), new_customer());
        let cl = &mut app.client;
        refused(
            cl.earn(purchase(&c, "o\0", "room")).await,
            &["purchase.order_id"],
        );
        refused(
            cl.earn(purchase(&c, "o-1", "room\u{202E}")).await,
            &["purchase.items[0].item_id"],
        );
        let goodwill = pb::EarnRequest {
            customer: c.clone(),
            source: Some(Source::Goodwill(pb::Goodwill {
                points: 10,
                reason: "a\0b".into(),
                actor: "b\nc".into(),
            })),
            request_id: rid(),
            ..Default::default()
        };
        refused(
            cl.earn(goodwill).await,
            &["goodwill.actor", "goodwill.reason"],
        );
        let redeem = pb::RedeemRequest {
            customer: c.clone(),
            points: 1,
            order_id: "\0".into(),
            description: "x\u{2066}".into(),
            request_id: rid(),
            ..Default::default()
        };
        refused(cl.redeem(redeem).await, &["description", "order_id"]);
        let hold = pb::HoldRequest {
            customer: c.clone(),
            points: 1,
            order_id: "o\u{7}".into(),
            request_id: rid(),
            ..Default::default()
        };
        refused(cl.hold(hold).await, &["order_id"]);
        let reverse = pb::ReverseRequest {
            customer: c.clone(),
            order_id: "o\0".into(),
            reason: "r\rx".into(),
            request_id: rid(),
            ..Default::default()
        };
        refused(cl.reverse(reverse).await, &["order_id", "reason"]);
        let adjust = pb::AdjustRequest {
            customer: c.clone(),
            points: 5,
            reason: "\0".into(),
            actor: "a\u{202D}".into(),
            request_id: rid(),
        };
        refused(cl.adjust(adjust).await, &["actor", "reason"]);
        let transfer = pb::TransferRequest {
            from_customer: c.clone(),
            to_customer: other.clone(),
            points: 1,
            reason: "gift\0".into(),
            request_id: rid(),
        };
        refused(cl.transfer(transfer).await, &["reason"]);
        let long = pb::AdjustRequest {
            customer: c.clone(),
            points: 5,
            reason: "r".repeat(60_000),
            actor: "a".repeat(129),
            request_id: rid(),
        };
        refused(cl.adjust(long).await, &["actor", "reason"]);
        let v = app.assert_consistent().await;
        assert_eq!(v.transactions_checked, 0, "nothing was written");
    })
    .await;
}

#[tokio::test]
async fn timestamps_stay_in_the_protobuf_range_and_business_windows() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = new_customer();
        let review = |available, expire| pb::EarnRequest {
            customer: c.clone(),
            source: Some(Source::Action("review".into())),
            available_time: available,
            expire_time: expire,
            request_id: rid(),
        };
        let cl = &mut app.client;
        refused(
            cl.earn(review(None, at(MAX_TIMESTAMP_SECONDS + 1, 0)))
                .await,
            &["expire_time"],
        );
        refused(
            cl.earn(review(at(MIN_TIMESTAMP_SECONDS - 1, 0), None))
                .await,
            &["available_time"],
        );
        refused(
            cl.earn(review(None, at(1_900_000_000, -1))).await,
            &["expire_time"],
        );
        // Available only after the policy's expiry (24 months): never spendable.
        refused(
            cl.earn(review(at(MAX_TIMESTAMP_SECONDS, 0), None)).await,
            &["available_time"],
        );
        let list = |start, end, kinds| pb::ListTransactionsRequest {
            customer: c.clone(),
            start_time: start,
            end_time: end,
            kinds,
            ..Default::default()
        };
        refused(
            cl.list_transactions(list(at(MIN_TIMESTAMP_SECONDS - 1, 0), None, vec![]))
                .await,
            &["start_time"],
        );
        refused(
            cl.list_transactions(list(None, at(i64::MAX, 0), vec![]))
                .await,
            &["end_time"],
        );
        refused(
            cl.list_transactions(list(None, None, vec![99, 0])).await,
            &["kinds[0]", "kinds[1]"],
        );
        let balance_at = |time| pb::GetBalanceAtRequest {
            customer: c.clone(),
            time,
        };
        refused(
            cl.get_balance_at(balance_at(at(MAX_TIMESTAMP_SECONDS + 1, 0)))
                .await,
            &["time"],
        );
        refused(cl.get_balance_at(balance_at(None)).await, &["time"]);
        // Any valid time before the first transaction is simply zero.
        app.adjust(&c, 30).await.expect("adjust");
        let first = app
            .client
            .get_balance_at(balance_at(at(MIN_TIMESTAMP_SECONDS, 0)))
            .await
            .expect("year 1")
            .into_inner();
        assert_eq!((first.wallet, first.sequence), (0, 0));
        let now = app
            .client
            .get_balance_at(balance_at(Some(ts(chrono::Utc::now()))))
            .await
            .expect("now")
            .into_inner();
        assert_eq!((now.wallet, now.sequence), (30, 1));
        let v = app.assert_consistent().await;
        assert_eq!(
            v.transactions_checked, 1,
            "only the valid adjust was written"
        );
    })
    .await;
}
