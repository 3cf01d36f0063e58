//! The segment RPCs through the generated client: create, get, list pages, update with a
//! mask and an etag, delete (refused while a live campaign uses the segment), replays of a
//! request id, preview of an unsaved rule, and a saved segment's members on demand.
use crate::harness::*;
use crate::segments_fixture::{Fixture, insert, spawn_quiet_app};
use crm_campaigns::store::entities::campaign;
use crm_proto::campaigns as pb;
use pb::condition::Condition as PC;
use pb::rule::Node;
use sea_orm::ActiveValue::Set;
use sea_orm::EntityTrait;
use tonic::Code;
use uuid::Uuid;

pub fn cond(c: PC) -> pb::Rule {
    pb::Rule {
        node: Some(Node::Condition(pb::Condition { condition: Some(c) })),
    }
}

pub fn tier(values: &[&str]) -> pb::Rule {
    cond(PC::Tier(pb::ValueIn {
        values: values.iter().map(|s| (*s).to_owned()).collect(),
    }))
}

pub fn all(rules: Vec<pb::Rule>) -> pb::Rule {
    pb::Rule {
        node: Some(Node::All(pb::RuleGroup { rules })),
    }
}

pub fn create_request(display_name: &str, rule: pb::Rule) -> pb::CreateSegmentRequest {
    pb::CreateSegmentRequest {
        segment: Some(pb::Segment {
            display_name: display_name.into(),
            description: "who we mean\nand why".into(),
            rule: Some(rule),
            ..Default::default()
        }),
        request_id: rid(),
    }
}

pub fn update_request(segment: pb::Segment, paths: &[&str]) -> pb::UpdateSegmentRequest {
    pb::UpdateSegmentRequest {
        segment: Some(segment),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
        request_id: rid(),
    }
}

pub async fn create(app: &mut TestApp, display_name: &str, rule: pb::Rule) -> pb::Segment {
    app.client
        .create_segment(create_request(display_name, rule))
        .await
        .expect("create segment")
        .into_inner()
}

pub async fn get(app: &mut TestApp, name: &str) -> Result<pb::Segment, tonic::Status> {
    app.client
        .get_segment(pb::GetSegmentRequest { name: name.into() })
        .await
        .map(|r| r.into_inner())
}

pub async fn list(app: &mut TestApp, page_size: i32, token: &str) -> pb::ListSegmentsResponse {
    app.client
        .list_segments(pb::ListSegmentsRequest {
            page_size,
            page_token: token.into(),
        })
        .await
        .expect("list segments")
        .into_inner()
}

fn gold_or_birthday() -> pb::Rule {
    pb::Rule {
        node: Some(Node::Any(pb::RuleGroup {
            rules: vec![
                tier(&["gold"]),
                pb::Rule {
                    node: Some(Node::Not(Box::new(cond(PC::Birthday(pb::DateWithin {
                        within_days: 7,
                    }))))),
                },
            ],
        })),
    }
}

#[tokio::test]
async fn a_created_segment_is_read_back_and_listed_oldest_first() {
    each_backend(|b| async move {
        let mut app = spawn_quiet_app(b).await;
        let created = create(&mut app, "  Gold or no birthday soon ", gold_or_birthday()).await;
        assert!(created.name.starts_with("segments/"), "{}", created.name);
        assert_eq!(created.display_name, "Gold or no birthday soon", "trimmed");
        assert_eq!(created.rule, Some(gold_or_birthday()));
        assert_eq!(created.member_count, 0);
        assert!(created.create_time.is_some() && !created.etag.is_empty());
        assert_eq!(get(&mut app, &created.name).await.expect("get"), created);
        let missing = format!("segments/{}", Uuid::now_v7());
        let err = get(&mut app, &missing).await.expect_err("no such segment");
        assert_status(&err, Code::NotFound, "NOT_FOUND");

        let mut names = vec![created.name.clone()];
        for i in 0..4 {
            names.push(
                create(&mut app, &format!("s{i}"), tier(&["gold"]))
                    .await
                    .name,
            );
        }
        let (mut seen, mut token, mut pages) = (Vec::new(), String::new(), 0);
        loop {
            let page = list(&mut app, 2, &token).await;
            seen.extend(page.segments.into_iter().map(|s| s.name));
            pages += 1;
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        assert_eq!((seen, pages), (names, 3));
        let err = app
            .client
            .list_segments(pb::ListSegmentsRequest {
                page_size: 2,
                page_token: "forged".into(),
            })
            .await
            .expect_err("forged token");
        assert_status(&err, Code::InvalidArgument, "INVALID_PAGE_TOKEN");
    })
    .await;
}

#[tokio::test]
async fn an_update_changes_the_masked_fields_and_a_stale_etag_is_aborted() {
    each_backend(|b| async move {
        let mut app = spawn_quiet_app(b).await;
        let v1 = create(&mut app, "Gold", tier(&["gold"])).await;
        let change = pb::Segment {
            display_name: "Gold and silver".into(),
            description: String::new(),
            rule: Some(tier(&["gold", "silver"])),
            ..v1.clone()
        };
        let v2 = app
            .client
            .update_segment(update_request(change.clone(), &["display_name"]))
            .await
            .expect("update")
            .into_inner();
        assert_eq!(v2.display_name, "Gold and silver");
        assert_eq!(
            (v2.rule.clone(), v2.description.clone()),
            (v1.rule.clone(), v1.description.clone())
        );
        assert_ne!(v2.etag, v1.etag);
        assert_eq!(get(&mut app, &v1.name).await.expect("get"), v2);
        let err = app
            .client
            .update_segment(update_request(change.clone(), &["rule"]))
            .await
            .expect_err("stale etag");
        assert_status(&err, Code::Aborted, "ETAG_MISMATCH");
        let v3 = app
            .client
            .update_segment(update_request(
                pb::Segment {
                    etag: v2.etag.clone(),
                    ..change
                },
                &["*"],
            ))
            .await
            .expect("update everything")
            .into_inner();
        assert_eq!(v3.rule, Some(tier(&["gold", "silver"])));
        assert_eq!(v3.description, "");
        let err = app
            .client
            .delete_segment(pb::DeleteSegmentRequest {
                name: v1.name.clone(),
                etag: v1.etag.clone(),
                request_id: rid(),
            })
            .await
            .expect_err("stale etag");
        assert_status(&err, Code::Aborted, "ETAG_MISMATCH");
        assert_eq!(get(&mut app, &v1.name).await.expect("still there"), v3);
    })
    .await;
}

#[tokio::test]
async fn a_replayed_request_id_returns_the_first_answer_and_another_payload_is_refused() {
    each_backend(|b| async move {
        let mut app = spawn_quiet_app(b).await;
        let req = create_request("Once", tier(&["gold"]));
        let first = app
            .client
            .create_segment(req.clone())
            .await
            .expect("create")
            .into_inner();
        let again = app
            .client
            .create_segment(req.clone())
            .await
            .expect("replay")
            .into_inner();
        assert_eq!(again, first);
        assert_eq!(
            list(&mut app, 0, "").await.segments.len(),
            1,
            "created once"
        );
        let mut other = req;
        other.segment.as_mut().expect("segment").display_name = "Twice".into();
        let err = app
            .client
            .create_segment(other)
            .await
            .expect_err("reused id");
        assert_status(&err, Code::AlreadyExists, "IDEMPOTENCY_KEY_REUSED");
        let delete = pb::DeleteSegmentRequest {
            name: first.name.clone(),
            etag: first.etag.clone(),
            request_id: rid(),
        };
        app.client
            .delete_segment(delete.clone())
            .await
            .expect("delete");
        app.client
            .delete_segment(delete)
            .await
            .expect("a replayed delete answers OK");
        let err = get(&mut app, &first.name).await.expect_err("deleted");
        assert_status(&err, Code::NotFound, "NOT_FOUND");
    })
    .await;
}

/// A campaign row using `segment` (as audience, or as an exclusion in its spec).
async fn campaign_using(
    app: &TestApp,
    state: &str,
    audience: Uuid,
    excluded: Option<Uuid>,
) -> Uuid {
    let id = Uuid::now_v7();
    let now = chrono::Utc::now();
    let spec = serde_json::json!({ "exclusions": excluded.map(|e| vec![e]).unwrap_or_default() });
    campaign::Entity::insert(campaign::ActiveModel {
        id: Set(id),
        display_name: Set("c".into()),
        state: Set(state.into()),
        segment_id: Set(audience),
        channel: Set(1),
        transactional: Set(false),
        throttle_per_second: Set(10),
        spec: Set(spec.to_string()),
        start_at: Set(None),
        audience_cursor: Set(None),
        audience_done: Set(false),
        revision: Set(1),
        create_time: Set(now),
        update_time: Set(now),
        start_time: Set(None),
        end_time: Set(None),
        trigger_kind: Set(String::new()),
        winner_variant: Set(None),
        winner_time: Set(None),
    })
    .exec_without_returning(app.service.db())
    .await
    .expect("campaign");
    id
}

fn uuid_of(name: &str) -> Uuid {
    name.strip_prefix("segments/")
        .and_then(|s| s.parse().ok())
        .expect("segment name")
}

#[tokio::test]
async fn a_segment_a_live_campaign_uses_is_not_deleted() {
    each_backend(|b| async move {
        let mut app = spawn_quiet_app(b).await;
        let audience = create(&mut app, "Audience", tier(&["gold"])).await;
        let excluded = create(&mut app, "Excluded", tier(&["silver"])).await;
        let free = create(&mut app, "Free", tier(&["bronze"])).await;
        let (a, x) = (uuid_of(&audience.name), uuid_of(&excluded.name));
        campaign_using(&app, "running", a, Some(x)).await;
        campaign_using(&app, "cancelled", uuid_of(&free.name), None).await;
        for s in [&audience, &excluded] {
            let err = app
                .client
                .delete_segment(pb::DeleteSegmentRequest {
                    name: s.name.clone(),
                    etag: String::new(),
                    request_id: rid(),
                })
                .await
                .expect_err("in use");
            assert_status(&err, Code::FailedPrecondition, "SEGMENT_IN_USE");
            assert_eq!(get(&mut app, &s.name).await.expect("kept"), *s);
        }
        app.client
            .delete_segment(pb::DeleteSegmentRequest {
                name: free.name.clone(),
                etag: free.etag.clone(),
                request_id: rid(),
            })
            .await
            .expect("an ended campaign does not hold its segment");
    })
    .await;
}

#[tokio::test]
async fn a_preview_counts_and_samples_and_a_saved_segment_lists_its_members_in_pages() {
    each_backend(|b| async move {
        let mut app = spawn_quiet_app(b).await;
        let keys = app.service.keys().await.expect("keys");
        let now = chrono::Utc::now();
        let mut gold = Vec::new();
        for i in 0..5 {
            let id = Uuid::now_v7();
            let f = Fixture {
                tier: if i % 2 == 0 { "gold" } else { "silver" },
                tags: &["vip"],
                consents: &[(1, true), (2, false)],
                tickets: &[(2, true)],
                time_zone: "Asia/Shanghai",
                ..Fixture::default()
            };
            insert(app.service.db(), &keys, id, &f, now).await;
            if i % 2 == 0 {
                gold.push(format!("members/{id}"));
            }
        }
        let preview = app
            .client
            .preview_segment(pb::PreviewSegmentRequest {
                rule: Some(tier(&["gold"])),
                page_size: 2,
            })
            .await
            .expect("preview")
            .into_inner();
        assert_eq!(preview.member_count, 3);
        let names: Vec<_> = preview.members.iter().map(|m| m.name.clone()).collect();
        assert_eq!(names, gold[..2]);
        let m = &preview.members[0];
        assert_eq!(m.customer, m.name.replacen("members/", "customers/", 1));
        assert_eq!(
            (m.tier.as_str(), m.time_zone.as_str()),
            ("gold", "Asia/Shanghai")
        );
        assert_eq!(
            (m.tags.clone(), m.consented_channels.clone()),
            (vec!["vip".to_owned()], vec![1])
        );
        assert_eq!(m.open_complaints, 1);
        assert!(m.update_time.is_some());
        assert_eq!(
            list(&mut app, 0, "").await.segments,
            [],
            "a preview saves nothing"
        );

        let saved = create(&mut app, "Gold", tier(&["gold"])).await;
        let other = create(&mut app, "Silver", tier(&["silver"])).await;
        let (mut seen, mut token) = (Vec::new(), String::new());
        loop {
            let page = app
                .client
                .list_segment_members(pb::ListSegmentMembersRequest {
                    segment: saved.name.clone(),
                    page_size: 2,
                    page_token: token.clone(),
                })
                .await
                .expect("members")
                .into_inner();
            assert!(page.members.len() <= 2);
            seen.extend(page.members.into_iter().map(|m| m.name));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(seen, gold);
        let err = app
            .client
            .list_segment_members(pb::ListSegmentMembersRequest {
                segment: other.name.clone(),
                page_size: 2,
                page_token: token,
            })
            .await
            .expect_err("a token of another segment");
        assert_status(&err, Code::InvalidArgument, "INVALID_PAGE_TOKEN");
        let err = app
            .client
            .list_segment_members(pb::ListSegmentMembersRequest {
                segment: format!("segments/{}", Uuid::now_v7()),
                ..Default::default()
            })
            .await
            .expect_err("no such segment");
        assert_status(&err, Code::NotFound, "NOT_FOUND");
    })
    .await;
}

#[tokio::test]
async fn every_bad_field_of_a_segment_request_is_named_and_nothing_is_written() {
    each_backend(|b| async move {
        let mut app = spawn_quiet_app(b).await;
        let refused = |s: tonic::Status| {
            assert_status(&s, Code::InvalidArgument, "INVALID_ARGUMENT");
            violations(&s)
        };
        let bad_rule = all(vec![
            tier(&["gold"]),
            cond(PC::Trait(pb::TraitCondition {
                field: "tags".into(),
                operator: pb::trait_condition::Operator::In as i32,
                values: vec!["ok".into(), "x".repeat(201)],
            })),
            cond(PC::Points(pb::Comparison {
                operator: 0,
                value: 1,
            })),
        ]);
        let err = app
            .client
            .create_segment(pb::CreateSegmentRequest {
                segment: Some(pb::Segment {
                    display_name: "x".repeat(201),
                    description: "nul\0".into(),
                    rule: Some(bad_rule.clone()),
                    ..Default::default()
                }),
                request_id: "not-a-uuid".into(),
            })
            .await
            .expect_err("bad create");
        assert_eq!(
            refused(err),
            [
                "request_id",
                "segment.description",
                "segment.display_name",
                "segment.rule.all.rules[1].condition.trait.values[1]",
                "segment.rule.all.rules[2].condition.points.operator",
            ]
        );
        let err = app
            .client
            .create_segment(pb::CreateSegmentRequest::default())
            .await
            .expect_err("empty create");
        assert_eq!(refused(err), ["request_id", "segment"]);
        let err = app
            .client
            .create_segment(create_request("No rule", pb::Rule::default()))
            .await
            .expect_err("empty rule");
        assert_eq!(refused(err), ["segment.rule"]);
        let err = app
            .client
            .preview_segment(pb::PreviewSegmentRequest {
                rule: Some(bad_rule),
                page_size: -1,
            })
            .await
            .expect_err("bad preview");
        assert_eq!(
            refused(err),
            [
                "page_size",
                "rule.all.rules[1].condition.trait.values[1]",
                "rule.all.rules[2].condition.points.operator",
            ]
        );
        let err = app
            .client
            .preview_segment(pb::PreviewSegmentRequest::default())
            .await
            .expect_err("no rule");
        assert_eq!(refused(err), ["rule"]);

        let kept = create(&mut app, "Kept", tier(&["gold"])).await;
        let mut bad = update_request(
            pb::Segment {
                display_name: String::new(),
                etag: "W/\0".into(),
                ..kept.clone()
            },
            &["display_name", "member_count"],
        );
        bad.request_id.clear();
        let err = app
            .client
            .update_segment(bad)
            .await
            .expect_err("bad update");
        assert_eq!(
            refused(err),
            ["request_id", "segment.etag", "update_mask.paths[1]"],
            "an invalid mask checks no field"
        );
        let blank = update_request(
            pb::Segment {
                rule: Some(all(vec![])),
                ..kept.clone()
            },
            &["rule"],
        );
        let err = app
            .client
            .update_segment(blank)
            .await
            .expect_err("empty group");
        assert_eq!(refused(err), ["segment.rule.all.rules"]);
        let err = app
            .client
            .delete_segment(pb::DeleteSegmentRequest::default())
            .await
            .expect_err("empty delete");
        assert_eq!(refused(err), ["name", "request_id"]);
        let err = get(&mut app, "campaigns/1").await.expect_err("bad name");
        assert_eq!(refused(err), ["name"]);
        let err = app
            .client
            .list_segment_members(pb::ListSegmentMembersRequest {
                segment: "x".into(),
                page_size: -1,
                page_token: String::new(),
            })
            .await
            .expect_err("bad members request");
        assert_eq!(refused(err), ["page_size", "segment"]);
        let page = list(&mut app, 0, "").await;
        assert_eq!(page.segments, [kept], "nothing else was written");
    })
    .await;
}
