//! The events of customer changes: each mutation exactly its facts, in the transaction of
//! the change (refused and replayed calls publish nothing).
use crate::event_tap::kinds;
use crate::harness::*;
use crm_proto::customers as pb;
use crm_proto::events::event::Payload;
use crm_proto::events::{self as ev, types};
use prost::Message as _;
use tonic::Code;

fn consent(channel: pb::Channel, state: pb::ConsentState) -> pb::Consent {
    pb::Consent {
        channel: channel as i32,
        state: state as i32,
        source: "checkout".into(),
        update_time: None,
    }
}
#[tokio::test]
async fn each_customer_mutation_publishes_exactly_its_events() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let mut tap = app.tap_events().await;
        let c = app
            .create(pb::Customer {
                consents: vec![consent(pb::Channel::Email, pb::ConsentState::Granted)],
                external_id: "shop-7".into(),
                ..person("Ada", "ada@example.com")
            })
            .await;
        let name = c.name.as_str();
        // Refused: a stale etag, an invalid profile. Neither publishes.
        let stale = app
            .update(
                pb::Customer {
                    etag: crm_platform::etag::of_revision(99),
                    display_name: "Stale".into(),
                    ..c.clone()
                },
                &["display_name"],
            )
            .await
            .expect_err("stale etag");
        assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
        app.update(
            pb::Customer {
                display_name: " ".into(),
                ..c.clone()
            },
            &["display_name"],
        )
        .await
        .expect_err("invalid");
        let updated = app
            .update(
                pb::Customer {
                    display_name: "Ada L.".into(),
                    lifecycle_stage: pb::LifecycleStage::Active as i32,
                    consents: vec![
                        consent(pb::Channel::Email, pb::ConsentState::Revoked),
                        consent(pb::Channel::Sms, pb::ConsentState::Granted),
                    ],
                    // Named by the mask but unchanged: not a changed field.
                    external_id: "shop-7".into(),
                    ..c.clone()
                },
                &["display_name", "lifecycle_stage", "consents", "external_id"],
            )
            .await
            .expect("update");
        let deleted = app
            .client
            .delete_customer(pb::DeleteCustomerRequest {
                name: name.into(),
                etag: updated.etag.clone(),
                request_id: rid(),
            })
            .await
            .expect("delete")
            .into_inner();
        app.client
            .undelete_customer(pb::UndeleteCustomerRequest {
                name: name.into(),
                request_id: rid(),
            })
            .await
            .expect("undelete");

        let events = app.published(&mut tap).await;
        assert_eq!(
            kinds(&events),
            [
                (types::CUSTOMER_CREATED, name),
                (types::CONSENT_CHANGED, name),
                (types::CUSTOMER_UPDATED, name),
                (types::CONSENT_CHANGED, name),
                (types::CONSENT_CHANGED, name),
                (types::CUSTOMER_DELETED, name),
                (types::CUSTOMER_UPDATED, name),
            ]
        );
        let payloads: Vec<Payload> = events.into_iter().filter_map(|e| e.payload).collect();
        assert_eq!(
            payloads[0],
            Payload::CustomerCreated(ev::CustomerCreated {
                customer: name.into(),
                external_id: "shop-7".into(),
                lifecycle_stage: c.lifecycle_stage,
                create_time: c.create_time,
            })
        );
        let Payload::ConsentChanged(granted) = &payloads[1] else {
            panic!("{:?}", payloads[1])
        };
        assert_eq!(
            (granted.channel, granted.state, granted.previous_state),
            (
                pb::Channel::Email as i32,
                pb::ConsentState::Granted as i32,
                pb::ConsentState::Unspecified as i32
            )
        );
        assert_eq!(granted.source, "checkout");
        assert_eq!(
            payloads[2],
            Payload::CustomerUpdated(ev::CustomerUpdated {
                customer: name.into(),
                changed_fields: vec![
                    "consents".into(),
                    "display_name".into(),
                    "lifecycle_stage".into()
                ],
                lifecycle_stage: pb::LifecycleStage::Active as i32,
                etag: updated.etag.clone(),
                update_time: updated.update_time,
            })
        );
        let consent_moves: Vec<(i32, i32, i32)> = payloads[3..5]
            .iter()
            .map(|p| match p {
                Payload::ConsentChanged(c) => (c.channel, c.state, c.previous_state),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            consent_moves,
            [
                (
                    pb::Channel::Email as i32,
                    pb::ConsentState::Revoked as i32,
                    pb::ConsentState::Granted as i32
                ),
                (
                    pb::Channel::Sms as i32,
                    pb::ConsentState::Granted as i32,
                    pb::ConsentState::Unspecified as i32
                ),
            ]
        );
        assert_eq!(
            payloads[5],
            Payload::CustomerDeleted(ev::CustomerDeleted {
                customer: name.into(),
                delete_time: deleted.delete_time,
            })
        );
        let Payload::CustomerUpdated(undeleted) = &payloads[6] else {
            panic!("{:?}", payloads[6])
        };
        assert_eq!(undeleted.changed_fields, ["delete_time", "state"]);
    })
    .await;
}
#[tokio::test]
async fn merge_and_erase_publish_names_not_personal_data() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let survivor = app.create(person("Cy Survivor", "cy@example.com")).await;
        let loser = app
            .create(pb::Customer {
                phones: vec!["+8613800138000".into()],
                ..person("Cy Loser", "cy.loser@example.com")
            })
            .await;
        let mut tap = app.tap_events().await;
        app.client
            .merge_customers(pb::MergeCustomersRequest {
                survivor: survivor.name.clone(),
                merged: vec![loser.name.clone()],
                request_id: rid(),
                actor: "agent-1".into(),
                ..Default::default()
            })
            .await
            .expect("merge");
        // Refused: the loser is merged already; nothing is published.
        app.client
            .merge_customers(pb::MergeCustomersRequest {
                survivor: survivor.name.clone(),
                merged: vec![loser.name.clone()],
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect_err("merged twice");
        let erase_id = rid();
        for _ in 0..2 {
            app.client
                .erase_customer(pb::EraseCustomerRequest {
                    name: survivor.name.clone(),
                    request_id: erase_id.clone(),
                    actor: "dpo".into(),
                })
                .await
                .expect("erase (then its replay)");
        }

        let events = app.published(&mut tap).await;
        let s = survivor.name.as_str();
        assert_eq!(
            kinds(&events),
            [
                (types::CUSTOMER_MERGED, s),
                (types::CUSTOMER_UPDATED, s),
                (types::CUSTOMER_ERASED, s),
            ]
        );
        for e in &events {
            let bytes = e.encode_to_vec();
            for personal in ["Cy ", "example.com", "8613800138000"] {
                assert!(
                    !bytes
                        .windows(personal.len())
                        .any(|w| w == personal.as_bytes()),
                    "{} carries {personal:?}",
                    e.r#type
                );
            }
        }
        let payloads: Vec<Payload> = events.into_iter().filter_map(|e| e.payload).collect();
        let Payload::CustomerMerged(m) = &payloads[0] else {
            panic!("{:?}", payloads[0])
        };
        assert_eq!(
            (m.survivor.as_str(), m.losers.clone(), m.actor.as_str()),
            (s, vec![loser.name.clone()], "agent-1")
        );
        let Payload::CustomerUpdated(u) = &payloads[1] else {
            panic!("{:?}", payloads[1])
        };
        assert_eq!(u.changed_fields, ["additional_emails", "phones"]);
        let Payload::CustomerErased(x) = &payloads[2] else {
            panic!("{:?}", payloads[2])
        };
        assert_eq!(
            (x.customer.as_str(), x.merged_customers.clone()),
            (s, vec![loser.name.clone()])
        );
        assert!(x.erase_time.is_some());
    })
    .await;
}
#[tokio::test]
async fn an_import_publishes_one_event_per_written_row_and_none_on_replay() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let mut tap = app.tap_events().await;
        let rows = vec![
            pb::Customer {
                external_id: "x-1".into(),
                ..person("Di One", "di1@example.com")
            },
            pb::Customer {
                external_id: "x-2".into(),
                consents: vec![consent(pb::Channel::Sms, pb::ConsentState::Granted)],
                ..person("Di Two", "di2@example.com")
            },
            // No upsert key: refused, publishes nothing.
            person("", ""),
        ];
        let import_id = rid();
        let first = app.import(&import_id, rows.clone()).await;
        assert_eq!((first.created_count, first.failed_count), (2, 1));
        let again = app.import(&import_id, rows).await;
        assert_eq!(again.created_count + again.updated_count, 2, "replayed");
        let update = app
            .import(
                &rid(),
                vec![pb::Customer {
                    external_id: "x-1".into(),
                    lifecycle_stage: pb::LifecycleStage::Active as i32,
                    ..person("Di One", "")
                }],
            )
            .await;
        assert_eq!(update.updated_count, 1);

        let events = app.published(&mut tap).await;
        let names: Vec<String> = first
            .results
            .iter()
            .take(2)
            .map(|r| r.customer.clone())
            .collect();
        let (one, two) = (names[0].as_str(), names[1].as_str());
        assert_eq!(
            kinds(&events),
            [
                (types::CUSTOMER_CREATED, one),
                (types::CUSTOMER_CREATED, two),
                (types::CONSENT_CHANGED, two),
                (types::CUSTOMER_UPDATED, one),
            ]
        );
        let Some(Payload::CustomerUpdated(u)) = &events[3].payload else {
            panic!("{:?}", events[3])
        };
        assert_eq!(u.changed_fields, ["lifecycle_stage"]);
    })
    .await;
}
