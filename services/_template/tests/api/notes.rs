//! The use cases through the API: create, get, list pages, update with an etag, delete, and
//! replays of a request id.
use crate::harness::*;
use crm_proto::template as pb;
use tonic::Code;

#[tokio::test]
async fn a_created_note_is_read_back() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let created = app.create("  Groceries  ").await;
        assert!(created.name.starts_with("notes/"), "{}", created.name);
        assert_eq!(created.title, "Groceries", "trimmed");
        assert_eq!(created.body, "first line\nsecond line");
        assert!(created.create_time.is_some() && !created.etag.is_empty());
        assert_eq!(app.get(&created.name).await.expect("get"), created);
        let missing = format!("notes/{}", uuid::Uuid::now_v7());
        let err = app.get(&missing).await.expect_err("no such note");
        assert_status(&err, Code::NotFound, "NOT_FOUND");
    })
    .await;
}

#[tokio::test]
async fn a_list_pages_through_every_note_once_in_creation_order() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let mut created = Vec::new();
        for i in 0..5 {
            created.push(app.create(&format!("note {i}")).await.name);
        }
        let (mut seen, mut token, mut pages) = (Vec::new(), String::new(), 0);
        loop {
            let page = app.list(2, &token).await;
            assert!(page.notes.len() <= 2);
            seen.extend(page.notes.into_iter().map(|n| n.name));
            pages += 1;
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        assert_eq!((seen, pages), (created, 3));
        let all = app.list(0, "").await;
        assert_eq!((all.notes.len(), all.next_page_token.as_str()), (5, ""));
        let err = app
            .client
            .list_notes(pb::ListNotesRequest {
                page_size: 2,
                page_token: "not-a-token".into(),
            })
            .await
            .expect_err("a forged token");
        assert_status(&err, Code::InvalidArgument, "INVALID_PAGE_TOKEN");
    })
    .await;
}

#[tokio::test]
async fn an_update_changes_the_masked_fields_and_a_stale_etag_is_aborted() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let v1 = app.create("old title").await;
        let change = pb::Note {
            title: "new title".into(),
            body: String::new(),
            ..v1.clone()
        };
        let v2 = app
            .client
            .update_note(update_request(change.clone(), &["title"]))
            .await
            .expect("update")
            .into_inner();
        assert_eq!(
            (v2.title.as_str(), v2.body.as_str()),
            ("new title", v1.body.as_str())
        );
        assert_ne!(v2.etag, v1.etag);
        assert_eq!(
            app.get(&v1.name).await.expect("get"),
            v2,
            "the cache was dropped"
        );
        // v1's etag is stale now.
        let err = app
            .client
            .update_note(update_request(change, &["body"]))
            .await
            .expect_err("stale etag");
        assert_status(&err, Code::Aborted, "ETAG_MISMATCH");
        let err = app
            .client
            .delete_note(pb::DeleteNoteRequest {
                name: v1.name.clone(),
                etag: v1.etag.clone(),
                request_id: rid(),
            })
            .await
            .expect_err("stale etag");
        assert_status(&err, Code::Aborted, "ETAG_MISMATCH");
        assert_eq!(app.get(&v1.name).await.expect("still there"), v2);
    })
    .await;
}

#[tokio::test]
async fn a_replayed_request_id_returns_the_first_answer_and_another_payload_is_refused() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let req = create_request("once");
        let first = app
            .client
            .create_note(req.clone())
            .await
            .expect("create")
            .into_inner();
        let again = app
            .client
            .create_note(req.clone())
            .await
            .expect("replay")
            .into_inner();
        assert_eq!(again, first);
        assert_eq!(app.list(0, "").await.notes.len(), 1, "created once");
        let mut other = req;
        other.note.as_mut().expect("note").title = "twice".into();
        let err = app.client.create_note(other).await.expect_err("reused id");
        assert_status(&err, Code::AlreadyExists, "IDEMPOTENCY_KEY_REUSED");

        let delete = pb::DeleteNoteRequest {
            name: first.name.clone(),
            etag: first.etag.clone(),
            request_id: rid(),
        };
        app.client
            .delete_note(delete.clone())
            .await
            .expect("delete");
        app.client
            .delete_note(delete)
            .await
            .expect("a replayed delete answers OK");
        let err = app.get(&first.name).await.expect_err("deleted");
        assert_status(&err, Code::NotFound, "NOT_FOUND");
    })
    .await;
}

#[tokio::test]
async fn of_two_concurrent_updates_from_one_read_one_wins_and_the_other_is_aborted() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let read = app.create("draft").await;
        let update = |title: &str| {
            let mut client = app.client.clone();
            let req = update_request(
                pb::Note {
                    title: title.into(),
                    ..read.clone()
                },
                &["title"],
            );
            async move { client.update_note(req).await }
        };
        let (a, b) = tokio::join!(update("from a"), update("from b"));
        let (won, lost) = match (a, b) {
            (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won.into_inner(), lost),
            other => panic!("exactly one update wins: {other:?}"),
        };
        assert_status(&lost, Code::Aborted, "ETAG_MISMATCH");
        assert_eq!(app.get(&read.name).await.expect("get"), won);
    })
    .await;
}
