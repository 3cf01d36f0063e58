//! Read-model members written straight through the entities (the event handlers that
//! normally write them are tested on their own), for the segment tests.
use chrono::{DateTime, Duration, Utc};
use crm_campaigns::store::entities::{
    member, member_attribute, member_consent, member_date, member_order, member_order_item,
    member_tag, member_ticket,
};
use crm_campaigns::store::members::{attribute_key_hash, attribute_value_hash};
use crm_platform::pii::Keys;
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

/// (days ago, currency, amount in minor units, items as (item id, quantity))
pub type Order = (i64, &'static str, i64, &'static [(&'static str, i32)]);

/// One member as a test describes it; `Default` is an active member with nothing known.
#[derive(Clone, Debug)]
pub struct Fixture {
    pub state: &'static str,
    pub language_code: &'static str,
    pub time_zone: &'static str,
    pub lifecycle_stage: i32,
    pub birthday: Option<(i16, i16)>,
    pub tier: &'static str,
    pub points: i64,
    pub order_count: i64,
    pub last_purchase_days_ago: Option<i64>,
    pub rfm: &'static str,
    pub tags: &'static [&'static str],
    pub attributes: &'static [(&'static str, &'static str)],
    /// (kind, month, day)
    pub dates: &'static [(&'static str, i16, i16)],
    /// (crm.customers.v1.Channel number, granted)
    pub consents: &'static [(i32, bool)],
    pub orders: &'static [Order],
    /// (crm.tickets.v1.Category number, open)
    pub tickets: &'static [(i32, bool)],
}

impl Default for Fixture {
    fn default() -> Self {
        Self {
            state: "active",
            language_code: "",
            time_zone: "",
            lifecycle_stage: 0,
            birthday: None,
            tier: "",
            points: 0,
            order_count: 0,
            last_purchase_days_ago: None,
            rfm: "",
            tags: &[],
            attributes: &[],
            dates: &[],
            consents: &[],
            orders: &[],
            tickets: &[],
        }
    }
}

/// Writes `f` as customer `id`, times relative to `now`; the member is not dirty.
pub async fn insert(
    conn: &impl ConnectionTrait,
    keys: &Keys,
    id: Uuid,
    f: &Fixture,
    now: DateTime<Utc>,
) {
    member::Entity::insert(member::ActiveModel {
        id: Set(id),
        state: Set(f.state.into()),
        merged_into: Set(None),
        profile: Set(None),
        pii_key: Set(None),
        language_code: Set(f.language_code.into()),
        time_zone: Set(f.time_zone.into()),
        lifecycle_stage: Set(f.lifecycle_stage),
        birth_month: Set(f.birthday.map(|b| b.0)),
        birth_day: Set(f.birthday.map(|b| b.1)),
        tier: Set(f.tier.into()),
        available_points: Set(f.points),
        order_count: Set(f.order_count),
        last_purchase_time: Set(f.last_purchase_days_ago.map(|d| now - Duration::days(d))),
        rfm_segment: Set(f.rfm.into()),
        profile_stale: Set(false),
        loyalty_stale: Set(false),
        refresh_after: Set(None),
        segments_dirty: Set(false),
        update_time: Set(now),
    })
    .exec_without_returning(conn)
    .await
    .expect("member");
    for tag in f.tags {
        member_tag::Entity::insert(member_tag::ActiveModel {
            customer_id: Set(id),
            tag: Set((*tag).into()),
        })
        .exec_without_returning(conn)
        .await
        .expect("tag");
    }
    for (key, value) in f.attributes {
        member_attribute::Entity::insert(member_attribute::ActiveModel {
            customer_id: Set(id),
            key_hash: Set(attribute_key_hash(keys, key)),
            value_hash: Set(attribute_value_hash(keys, key, value)),
        })
        .exec_without_returning(conn)
        .await
        .expect("attribute");
    }
    for (kind, month, day) in f.dates {
        member_date::Entity::insert(member_date::ActiveModel {
            customer_id: Set(id),
            kind: Set((*kind).into()),
            month: Set(*month),
            day: Set(*day),
        })
        .exec_without_returning(conn)
        .await
        .expect("date");
    }
    for (channel, granted) in f.consents {
        member_consent::Entity::insert(member_consent::ActiveModel {
            customer_id: Set(id),
            channel: Set(*channel),
            granted: Set(*granted),
            update_time: Set(now),
        })
        .exec_without_returning(conn)
        .await
        .expect("consent");
    }
    for (days_ago, currency, amount, items) in f.orders {
        let activity = Uuid::now_v7();
        let at = now - Duration::days(*days_ago);
        member_order::Entity::insert(member_order::ActiveModel {
            activity_id: Set(activity),
            customer_id: Set(id),
            occur_time: Set(at),
            currency_code: Set((*currency).into()),
            amount_minor: Set(*amount),
        })
        .exec_without_returning(conn)
        .await
        .expect("order");
        for (item, quantity) in *items {
            member_order_item::Entity::insert(member_order_item::ActiveModel {
                activity_id: Set(activity),
                item_id: Set((*item).into()),
                customer_id: Set(id),
                occur_time: Set(at),
                quantity: Set(*quantity),
            })
            .exec_without_returning(conn)
            .await
            .expect("item");
        }
    }
    for (category, open) in f.tickets {
        member_ticket::Entity::insert(member_ticket::ActiveModel {
            ticket_id: Set(Uuid::now_v7()),
            customer_id: Set(id),
            category: Set(*category),
            open: Set(*open),
            update_time: Set(now),
        })
        .exec_without_returning(conn)
        .await
        .expect("ticket");
    }
}

/// Marks `id` changed at `now` (what the event handlers do), for the membership job.
pub async fn touch(conn: &impl ConnectionTrait, id: Uuid, now: DateTime<Utc>) {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, QueryFilter};
    member::Entity::update_many()
        .col_expr(member::Column::SegmentsDirty, Expr::value(true))
        .col_expr(member::Column::UpdateTime, Expr::value(now))
        .filter(member::Column::Id.eq(id))
        .exec(conn)
        .await
        .expect("touch");
}

/// The app without its background membership runs (tests run the job themselves).
pub async fn spawn_quiet_app(backend: crm_platform::testing::Backend) -> crate::harness::TestApp {
    crate::harness::spawn_app_with(backend, |s| {
        s.campaigns.read_model.membership_interval_ms = 3_600_000;
    })
    .await
}
