//! Campaign CRUD and lifecycle through the generated client.
use crate::harness::*;
use crm_proto::campaigns as pb;
use tonic::Code;

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

#[tokio::test]
async fn a_campaign_is_created_edited_as_a_draft_and_moved_through_its_lifecycle() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let segment = any_segment(&mut app).await;
        let created = app.create_campaign(email_campaign(&segment)).await;
        assert_eq!(created.state, pb::campaign::State::Draft as i32);
        assert_eq!(created.throttle_per_second, 100, "default throttle");
        assert_eq!(created.stats.as_ref().map(|s| s.recipients), Some(0));
        let got = app.campaign(&created.name).await;
        assert_eq!(got, created);

        // A draft takes masked updates guarded by its etag.
        let mut patch = created.clone();
        patch.display_name = "Winter sale, week 2".into();
        patch.coupon_code = "IGNORED".into();
        let updated = app
            .client
            .update_campaign(pb::UpdateCampaignRequest {
                campaign: Some(patch.clone()),
                update_mask: mask(&["display_name"]),
                request_id: rid(),
            })
            .await
            .expect("update")
            .into_inner();
        assert_eq!(updated.display_name, "Winter sale, week 2");
        assert_eq!(updated.coupon_code, "WINTER10", "not in the mask");
        assert_ne!(updated.etag, created.etag);
        let stale = app
            .client
            .update_campaign(pb::UpdateCampaignRequest {
                campaign: Some(patch),
                update_mask: mask(&["display_name"]),
                request_id: rid(),
            })
            .await
            .expect_err("stale etag");
        assert_status(&stale, Code::Aborted, "ETAG_MISMATCH");

        // Illegal moves are refused whatever the state.
        let pause = app
            .client
            .pause_campaign(pb::PauseCampaignRequest {
                name: created.name.clone(),
                etag: String::new(),
                request_id: rid(),
            })
            .await
            .expect_err("a draft cannot pause");
        assert_status(
            &pause,
            Code::FailedPrecondition,
            "INVALID_CAMPAIGN_TRANSITION",
        );
        let scheduled = app
            .client
            .schedule_campaign(pb::ScheduleCampaignRequest {
                name: created.name.clone(),
                etag: updated.etag.clone(),
                request_id: rid(),
            })
            .await
            .expect("schedule")
            .into_inner();
        assert!(
            scheduled.state == pb::campaign::State::Scheduled as i32
                || scheduled.state == pb::campaign::State::Running as i32
        );
        let edit = app
            .client
            .update_campaign(pb::UpdateCampaignRequest {
                campaign: Some(scheduled.clone()),
                update_mask: mask(&["display_name"]),
                request_id: rid(),
            })
            .await
            .expect_err("only drafts are edited");
        assert_status(&edit, Code::FailedPrecondition, "CAMPAIGN_NOT_DRAFT");
        let cancelled = app
            .client
            .cancel_campaign(pb::CancelCampaignRequest {
                name: created.name.clone(),
                etag: String::new(),
                request_id: rid(),
            })
            .await
            .expect("cancel")
            .into_inner();
        assert_eq!(cancelled.state, pb::campaign::State::Cancelled as i32);
        assert!(cancelled.end_time.is_some());
        let again = app
            .client
            .cancel_campaign(pb::CancelCampaignRequest {
                name: created.name.clone(),
                etag: String::new(),
                request_id: rid(),
            })
            .await
            .expect_err("cancelled is final");
        assert_status(
            &again,
            Code::FailedPrecondition,
            "INVALID_CAMPAIGN_TRANSITION",
        );
    })
    .await;
}

#[tokio::test]
async fn creates_replay_by_request_id_and_lists_page_newest_first_by_state() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let segment = any_segment(&mut app).await;
        let req = pb::CreateCampaignRequest {
            campaign: Some(email_campaign(&segment)),
            request_id: rid(),
        };
        let first = app
            .client
            .create_campaign(req.clone())
            .await
            .expect("first")
            .into_inner();
        let replay = app
            .client
            .create_campaign(req)
            .await
            .expect("replay")
            .into_inner();
        assert_eq!(first.name, replay.name);
        let second = app.create_campaign(email_campaign(&segment)).await;
        let third = app.create_campaign(email_campaign(&segment)).await;
        let page = app
            .client
            .list_campaigns(pb::ListCampaignsRequest {
                page_size: 2,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        let names: Vec<_> = page.campaigns.iter().map(|c| c.name.clone()).collect();
        assert_eq!(names, [third.name.clone(), second.name.clone()]);
        let rest = app
            .client
            .list_campaigns(pb::ListCampaignsRequest {
                page_size: 2,
                page_token: page.next_page_token.clone(),
                ..Default::default()
            })
            .await
            .expect("page 2")
            .into_inner();
        assert_eq!(rest.campaigns.len(), 1);
        assert!(rest.next_page_token.is_empty());
        let other_query = app
            .client
            .list_campaigns(pb::ListCampaignsRequest {
                page_size: 2,
                page_token: page.next_page_token,
                state: pb::campaign::State::Running as i32,
            })
            .await
            .expect_err("a token is bound to its query");
        assert_status(&other_query, Code::InvalidArgument, "INVALID_PAGE_TOKEN");
        let drafts = app
            .client
            .list_campaigns(pb::ListCampaignsRequest {
                state: pb::campaign::State::Draft as i32,
                ..Default::default()
            })
            .await
            .expect("drafts")
            .into_inner();
        assert_eq!(drafts.campaigns.len(), 3);
    })
    .await;
}

#[tokio::test]
async fn every_bad_field_of_a_campaign_is_named_and_nothing_is_written() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let segment = any_segment(&mut app).await;
        let mut bad = email_campaign(&segment);
        bad.display_name = "x".repeat(201);
        bad.channel = 99;
        bad.throttle_per_second = 1_000_000;
        bad.exclusion_segments = vec!["customers/1".into()];
        bad.goal = Some(pb::Goal {
            kind: 0,
            window_days: 365,
        });
        bad.variants.push(pb::Variant {
            id: "A!".into(),
            weight: 500,
            subject: "bad\0".into(),
            body: String::new(),
            ..Default::default()
        });
        bad.schedule = Some(pb::Schedule {
            when: Some(pb::schedule::When::Local(pb::LocalSchedule {
                date: "2026-02-30".into(),
                time_of_day: "25:00".into(),
            })),
        });
        let err = app
            .client
            .create_campaign(pb::CreateCampaignRequest {
                campaign: Some(bad),
                request_id: "nope".into(),
            })
            .await
            .expect_err("bad campaign");
        assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
        assert_eq!(
            violations(&err),
            [
                "campaign.channel",
                "campaign.display_name",
                "campaign.exclusion_segments[0]",
                "campaign.goal.kind",
                "campaign.goal.window_days",
                "campaign.schedule.local.date",
                "campaign.schedule.local.time_of_day",
                "campaign.throttle_per_second",
                "campaign.variants[1].body",
                "campaign.variants[1].id",
                "campaign.variants[1].subject",
                "campaign.variants[1].weight",
                "request_id",
            ]
        );
        let missing = app
            .client
            .create_campaign(pb::CreateCampaignRequest {
                campaign: Some(email_campaign(
                    "segments/0190e0a0-0000-7000-8000-000000000000",
                )),
                request_id: rid(),
            })
            .await
            .expect_err("unknown segment");
        assert_eq!(violations(&missing), ["campaign.segment"]);
        let list = app
            .client
            .list_campaigns(pb::ListCampaignsRequest::default())
            .await
            .expect("list")
            .into_inner();
        assert!(list.campaigns.is_empty(), "nothing written");
    })
    .await;
}
