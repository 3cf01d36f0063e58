//! Campaigns' unsubscribes (RecipientUnsubscribed on the campaigns stream, appended here as
//! its relay would): the channel's consent is revoked with source "campaigns:unsubscribe"
//! and ConsentChanged is published like any consent change; a decision taken after the
//! unsubscribe stands, a merged customer's survivor is the one revoked, a redelivery
//! changes nothing more.
use crate::harness::*;
use chrono::{TimeDelta, Utc};
use crm_platform::testing::events::{Producer, eventually};
use crm_platform::validate::to_timestamp;
use crm_proto::customers as pb;
use crm_proto::events::event::Payload;
use crm_proto::events::{self as ev, types};

fn campaigns(app: &TestApp) -> Producer {
    let s = crm_platform::testing::settings::<crm_customers::Customers>(&app.storage, |_| {});
    Producer::new(
        &crm_platform::app::ServiceSettings::platform(&s).events,
        "campaigns",
    )
}

fn unsubscribed(customer: &str, channel: pb::Channel, at: chrono::DateTime<Utc>) -> Payload {
    Payload::RecipientUnsubscribed(ev::RecipientUnsubscribed {
        customer: customer.into(),
        channel: channel as i32,
        campaign: format!("campaigns/{}", uuid::Uuid::now_v7()),
        unsubscribe_time: Some(to_timestamp(at)),
    })
}

fn subscribed(name: &str, email: &str) -> pb::Customer {
    pb::Customer {
        consents: vec![
            pb::Consent {
                channel: pb::Channel::Email as i32,
                state: pb::ConsentState::Granted as i32,
                source: "checkout".into(),
                update_time: None,
            },
            pb::Consent {
                channel: pb::Channel::Sms as i32,
                state: pb::ConsentState::Granted as i32,
                source: "checkout".into(),
                update_time: None,
            },
        ],
        ..person(name, email)
    }
}

fn consent(c: &pb::Customer, channel: pb::Channel) -> pb::Consent {
    c.consents
        .iter()
        .find(|k| k.channel == channel as i32)
        .cloned()
        .expect("a decision on the channel")
}

/// Whether `customer`'s consent on `channel` is revoked now.
async fn revoked(app: &TestApp, customer: &str, channel: pb::Channel) -> bool {
    let now = app
        .client
        .clone()
        .get_customer(pb::GetCustomerRequest {
            name: customer.into(),
        })
        .await
        .expect("get")
        .into_inner();
    consent(&now, channel).state == pb::ConsentState::Revoked as i32
}

#[tokio::test]
async fn an_unsubscribe_revokes_the_channel_and_is_published() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = app.create(subscribed("Li Wei", "li@example.com")).await;
        let mut tap = app.tap_events().await;
        let campaigns = campaigns(&app);
        let at = Utc::now();
        let event = campaigns
            .send(&c.name, unsubscribed(&c.name, pb::Channel::Email, at))
            .await;
        eventually("email consent revoked", || revoked(&app, &c.name, pb::Channel::Email)).await;
        let now = app.get(&c.name).await.expect("customer");
        let email = consent(&now, pb::Channel::Email);
        assert_eq!(email.source, "campaigns:unsubscribe");
        assert_eq!(email.update_time.map(|t| t.seconds), Some(at.timestamp()));
        assert_eq!(
            consent(&now, pb::Channel::Sms).state,
            pb::ConsentState::Granted as i32,
            "other channels keep their decision"
        );
        assert_ne!(now.etag, c.etag, "a new revision");
        // Published as an ordinary consent change.
        let published = app.published(&mut tap).await;
        let changes: Vec<&ev::ConsentChanged> = published
            .iter()
            .filter_map(|e| match &e.payload {
                Some(Payload::ConsentChanged(k)) => Some(k),
                _ => None,
            })
            .collect();
        assert_eq!(changes.len(), 1, "{published:#?}");
        assert_eq!(changes[0].customer, c.name);
        assert_eq!(changes[0].channel, pb::Channel::Email as i32);
        assert_eq!(changes[0].state, pb::ConsentState::Revoked as i32);
        assert_eq!(changes[0].previous_state, pb::ConsentState::Granted as i32);
        assert_eq!(changes[0].source, "campaigns:unsubscribe");
        assert!(
            published
                .iter()
                .any(|e| e.r#type == types::CUSTOMER_UPDATED && e.subject == c.name)
        );
        // A redelivery changes nothing more.
        campaigns.publish(std::slice::from_ref(&event)).await;
        // Then SMS: once it is revoked, the redelivery before it was handled.
        campaigns
            .send(&c.name, unsubscribed(&c.name, pb::Channel::Sms, Utc::now()))
            .await;
        eventually("sms revoked after the redelivery", || {
            revoked(&app, &c.name, pb::Channel::Sms)
        })
        .await;
        let after = app.published(&mut tap).await;
        let emails = after
            .iter()
            .filter(|e| {
                matches!(&e.payload, Some(Payload::ConsentChanged(k)) if k.channel == pb::Channel::Email as i32)
            })
            .count();
        assert_eq!(emails, 0, "{after:#?}");
        assert_eq!(campaigns.pending("customers.unsubscribes").await, 0);
    })
    .await;
}

#[tokio::test]
async fn a_later_opt_in_stands_and_a_merged_customer_revokes_its_survivor() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = app.create(subscribed("Li Wei", "li@example.com")).await;
        let twin = app
            .create(subscribed("Li Wei (old)", "wei@example.com"))
            .await;
        app.client
            .merge_customers(pb::MergeCustomersRequest {
                survivor: c.name.clone(),
                merged: vec![twin.name.clone()],
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect("merge");
        let campaigns = campaigns(&app);
        // Older than the decision on record: the opt-in stands.
        campaigns
            .send(
                &c.name,
                unsubscribed(&c.name, pb::Channel::Sms, Utc::now() - TimeDelta::days(30)),
            )
            .await;
        // Through the merged-away name: the survivor is revoked.
        campaigns
            .send(
                &twin.name,
                unsubscribed(&twin.name, pb::Channel::Email, Utc::now()),
            )
            .await;
        eventually("survivor's email revoked", || {
            revoked(&app, &c.name, pb::Channel::Email)
        })
        .await;
        let now = app.get(&c.name).await.expect("survivor");
        assert_eq!(
            consent(&now, pb::Channel::Sms).state,
            pb::ConsentState::Granted as i32,
            "the later opt-in stands"
        );
        assert_eq!(campaigns.pending("customers.unsubscribes").await, 0);
    })
    .await;
}
