//! Duplicates and merging.
use crate::harness::*;
use crm_proto::customers as pb;
use tonic::Code;

#[tokio::test]
async fn duplicates_are_found_and_merged_into_the_survivor() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let dob = Some(crm_proto::common::Date {
            year: 1990,
            month: 1,
            day: 2,
        });
        let survivor = app
            .create(pb::Customer {
                birth_date: dob,
                tags: vec!["vip".into()],
                ..person("Li Wei", "li@example.com")
            })
            .await;
        let by_email = app
            .create(pb::Customer {
                phones: vec!["+8613800138000".into()],
                ..person("W. Li", "LI@example.com")
            })
            .await;
        let by_name = app
            .create(pb::Customer {
                birth_date: dob,
                tags: vec!["hotel".into()],
                ..person("li  wei", "other@example.com")
            })
            .await;
        app.create(person("Li Wei", "namesake@example.com")).await; // same name, no birth date: not a duplicate
        app.purchase(&by_email.name, 3, 1000).await;

        let dupes = app
            .client
            .find_duplicates(pb::FindDuplicatesRequest {
                name: survivor.name.clone(),
                ..Default::default()
            })
            .await
            .expect("dupes")
            .into_inner();
        let found: Vec<_> = dupes
            .candidates
            .iter()
            .map(|d| {
                (
                    d.customer
                        .as_ref()
                        .map(|c| c.name.clone())
                        .unwrap_or_default(),
                    d.reasons.clone(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (by_email.name.clone(), vec!["same_email".to_string()]),
                (
                    by_name.name.clone(),
                    vec!["same_name_and_birth_date".to_string()]
                )
            ]
        );
        assert!(dupes.candidates[0].score > dupes.candidates[1].score);

        let merge = |validate_only: bool| pb::MergeCustomersRequest {
            survivor: survivor.name.clone(),
            merged: vec![by_email.name.clone(), by_name.name.clone()],
            validate_only,
            request_id: rid(),
            actor: "agent-7".into(),
        };
        let preview = app
            .client
            .merge_customers(merge(true))
            .await
            .expect("preview")
            .into_inner();
        assert!(preview.preview);
        assert_eq!(preview.moved_activities, 1);
        assert_eq!(
            app.get(&by_email.name).await.expect("untouched").state,
            pb::customer::State::Active as i32,
            "a preview writes nothing"
        );

        let done = app
            .client
            .merge_customers(merge(false))
            .await
            .expect("merge")
            .into_inner();
        let s = done.survivor.expect("survivor");
        assert_eq!(s.display_name, "Li Wei");
        assert_eq!(s.phones, ["+8613800138000"]);
        assert_eq!(s.tags, ["hotel", "vip"]);
        assert_eq!(s.additional_emails, ["other@example.com"]);
        assert_eq!(done.moved_activities, 1);
        assert_eq!(
            preview.survivor.map(|p| p.tags),
            Some(s.tags.clone()),
            "the preview showed what the merge did"
        );

        let resolved = app
            .get(&by_email.name)
            .await
            .expect("merged-away id resolves");
        assert_eq!(resolved.name, survivor.name);
        let acts = app
            .client
            .list_activities(pb::ListActivitiesRequest {
                parent: survivor.name.clone(),
                ..Default::default()
            })
            .await
            .expect("acts")
            .into_inner();
        assert_eq!(acts.activities.len(), 1);
        let export = app.export(&survivor.name).await;
        let mut merged = export.merged_customers.clone();
        merged.sort();
        let mut expected = vec![by_email.name.clone(), by_name.name.clone()];
        expected.sort();
        assert_eq!(merged, expected);
        assert!(
            export
                .audit_entries
                .iter()
                .any(|a| a.action == "merged" && a.actor == "agent-7")
        );

        let err = app
            .update(
                pb::Customer {
                    name: by_name.name.clone(),
                    display_name: "x".into(),
                    ..Default::default()
                },
                &["display_name"],
            )
            .await
            .expect_err("merged");
        assert_status(&err, Code::FailedPrecondition, "CUSTOMER_MERGED");
        let self_merge = pb::MergeCustomersRequest {
            survivor: survivor.name.clone(),
            merged: vec![survivor.name.clone()],
            request_id: rid(),
            ..Default::default()
        };
        let err = app
            .client
            .merge_customers(self_merge)
            .await
            .expect_err("self");
        assert_eq!(violations(&err), ["merged[0]"]);
        let dupes = app
            .client
            .find_duplicates(pb::FindDuplicatesRequest {
                name: survivor.name.clone(),
                ..Default::default()
            })
            .await
            .expect("dupes")
            .into_inner();
        assert!(
            dupes.candidates.is_empty(),
            "merged customers are no longer candidates"
        );
    })
    .await;
}
