//! Tracked membership: the job run directly (`track_membership_once`) after members change
//! (`segments_dirty`), a rule changes or time passes; each enter and exit is a
//! `segment_members` row, the segment's count, and one SegmentMembershipChanged event in the
//! outbox, exactly once.
use crate::harness::*;
use crate::segments::{create, get, tier, update_request};
use crate::segments_fixture::{Fixture, insert, spawn_quiet_app, touch};
use chrono::Utc;
use crm_campaigns::store::entities::{member, segment_member};
use crm_campaigns::store::segments as store;
use crm_proto::events as ev;
use prost::Message as _;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

const MEMBERSHIP_CHANGED: &str = "crm.campaigns.v1.segment.membership_changed";

/// (customer, entered) of every membership event in the outbox, in append order.
async fn moves(app: &TestApp, segment: &str) -> Vec<(Uuid, bool)> {
    let rows = crm_platform::events::outbox::Entity::find()
        .order_by_asc(crm_platform::events::outbox::Column::Seq)
        .all(app.service.db())
        .await
        .expect("outbox");
    rows.into_iter()
        .filter(|r| r.event_type == MEMBERSHIP_CHANGED)
        .filter_map(|r| {
            let event = ev::Event::decode(r.payload.as_slice()).expect("event");
            let Some(ev::event::Payload::SegmentMembershipChanged(m)) = event.payload else {
                panic!("not a membership change: {event:?}");
            };
            assert_eq!(r.subject, m.customer, "about the customer");
            assert!(m.change_time.is_some());
            (m.segment == segment).then_some(m)
        })
        .map(|m| {
            let customer = m
                .customer
                .strip_prefix("customers/")
                .expect("customer name");
            (customer.parse().expect("uuid"), m.entered)
        })
        .collect()
}

async fn tracked(app: &TestApp, segment: &str) -> Vec<Uuid> {
    let id: Uuid = segment
        .strip_prefix("segments/")
        .expect("name")
        .parse()
        .expect("uuid");
    segment_member::Entity::find()
        .filter(segment_member::Column::SegmentId.eq(id))
        .order_by_asc(segment_member::Column::CustomerId)
        .all(app.service.db())
        .await
        .expect("tracked")
        .into_iter()
        .map(|r| r.customer_id)
        .collect()
}

async fn set_tier(app: &TestApp, id: Uuid, tier: &str) {
    member::Entity::update_many()
        .col_expr(member::Column::Tier, Expr::value(tier))
        .filter(member::Column::Id.eq(id))
        .exec(app.service.db())
        .await
        .expect("tier");
    touch(app.service.db(), id, Utc::now()).await;
}

async fn run(app: &TestApp) -> u64 {
    app.service
        .track_membership_once()
        .await
        .expect("membership run")
}

async fn members(app: &TestApp, tiers: &[(&'static str, &'static str)]) -> Vec<Uuid> {
    let keys = app.service.keys().await.expect("keys");
    let mut ids = Vec::new();
    for (tier, state) in tiers {
        let id = Uuid::now_v7();
        let f = Fixture {
            tier,
            state,
            ..Fixture::default()
        };
        insert(app.service.db(), &keys, id, &f, Utc::now()).await;
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn members_enter_and_leave_as_they_change_with_one_event_per_move() {
    each_backend(|b| async move {
        let mut app = spawn_quiet_app(b).await;
        let ids = members(
            &app,
            &[("gold", "active"), ("silver", "active"), ("gold", "merged")],
        )
        .await;
        let (ana, ben, cai) = (ids[0], ids[1], ids[2]);
        let seg = create(&mut app, "Gold", tier(&["gold"])).await;
        assert_eq!(run(&app).await, 1, "a new segment is evaluated in full");
        assert_eq!(tracked(&app, &seg.name).await, [ana]);
        assert_eq!(get(&mut app, &seg.name).await.expect("get").member_count, 1);
        assert_eq!(moves(&app, &seg.name).await, [(ana, true)]);
        assert_eq!(run(&app).await, 0, "nothing changed");

        set_tier(&app, ana, "silver").await;
        set_tier(&app, ben, "gold").await;
        touch(app.service.db(), cai, Utc::now()).await;
        assert_eq!(run(&app).await, 2);
        assert_eq!(tracked(&app, &seg.name).await, [ben]);
        assert_eq!(get(&mut app, &seg.name).await.expect("get").member_count, 1);
        let mut seen = moves(&app, &seg.name).await;
        seen[1..].sort();
        let mut want = vec![(ben, true), (ana, false)];
        want.sort();
        assert_eq!(seen[1..], want);
        let dirty = store::dirty_members(app.service.db(), 100)
            .await
            .expect("dirty");
        assert_eq!(dirty, [], "every evaluated member is clean");
        assert_eq!(run(&app).await, 0);
        assert_eq!(
            moves(&app, &seg.name).await.len(),
            3,
            "no move reported twice"
        );
    })
    .await;
}

#[tokio::test]
async fn a_changed_rule_is_evaluated_again_and_a_member_changed_meanwhile_stays_dirty() {
    each_backend(|b| async move {
        let mut app = spawn_quiet_app(b).await;
        let ids = members(&app, &[("gold", "active"), ("silver", "active")]).await;
        let seg = create(&mut app, "Gold", tier(&["gold"])).await;
        run(&app).await;
        assert_eq!(tracked(&app, &seg.name).await, [ids[0]]);
        let changed = app
            .client
            .update_segment(update_request(
                crm_proto::campaigns::Segment {
                    rule: Some(tier(&["silver"])),
                    ..seg.clone()
                },
                &["rule"],
            ))
            .await
            .expect("update")
            .into_inner();
        assert_eq!(
            changed.member_count, 1,
            "the tracked count until the job runs"
        );
        assert_eq!(run(&app).await, 2);
        assert_eq!(tracked(&app, &seg.name).await, [ids[1]]);

        touch(app.service.db(), ids[0], Utc::now()).await;
        let read = store::dirty_members(app.service.db(), 100)
            .await
            .expect("dirty");
        assert_eq!(read.len(), 1);
        let later = read[0].1 + chrono::Duration::milliseconds(5);
        touch(app.service.db(), ids[0], later).await;
        store::clear_dirty(app.service.db(), &read)
            .await
            .expect("clear");
        let still = store::dirty_members(app.service.db(), 100)
            .await
            .expect("dirty");
        assert_eq!(still, [(ids[0], later)], "changed after it was read");
        store::clear_dirty(app.service.db(), &still)
            .await
            .expect("clear");
        assert_eq!(
            store::dirty_members(app.service.db(), 100)
                .await
                .expect("dirty"),
            []
        );
    })
    .await;
}

#[tokio::test]
async fn a_full_evaluation_finds_members_no_event_reported_and_recounts() {
    each_backend(|b| async move {
        let mut app = spawn_app_with(b, |s| {
            s.campaigns.read_model.membership_interval_ms = 3_600_000;
            s.campaigns.read_model.full_evaluation_secs = 1;
            s.campaigns.read_model.membership_batch = 2;
        })
        .await;
        let ids = members(
            &app,
            &[
                ("gold", "active"),
                ("gold", "active"),
                ("gold", "active"),
                ("silver", "active"),
            ],
        )
        .await;
        let seg = create(&mut app, "Gold", tier(&["gold"])).await;
        assert_eq!(run(&app).await, 3, "in ranges of two members");
        assert_eq!(tracked(&app, &seg.name).await, ids[..3]);
        // Erased without the job (rows gone), and changed without the dirty flag.
        member::Entity::delete_many()
            .filter(member::Column::Id.eq(ids[2]))
            .exec(app.service.db())
            .await
            .expect("erase");
        member::Entity::update_many()
            .col_expr(member::Column::Tier, Expr::value("gold"))
            .filter(member::Column::Id.eq(ids[3]))
            .exec(app.service.db())
            .await
            .expect("silent change");
        assert_eq!(run(&app).await, 0, "not due yet");
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert_eq!(run(&app).await, 2, "due again after full_evaluation_secs");
        assert_eq!(tracked(&app, &seg.name).await, [ids[0], ids[1], ids[3]]);
        assert_eq!(get(&mut app, &seg.name).await.expect("get").member_count, 3);
        let seen = moves(&app, &seg.name).await;
        assert!(
            seen.contains(&(ids[2], false)) && seen.contains(&(ids[3], true)),
            "{seen:?}"
        );
    })
    .await;
}
