//! Bad input is INVALID_ARGUMENT naming every bad field (`google.rpc.BadRequest`), and
//! writes nothing.
use crate::harness::*;
use crm_proto::template as pb;
use tonic::Code;

#[tokio::test]
async fn every_bad_field_of_a_request_is_named_at_once() {
    each_backend(|b| async move {
        let mut app = spawn_app(b).await;
        let refused = |s: tonic::Status| {
            assert_status(&s, Code::InvalidArgument, "INVALID_ARGUMENT");
            violations(&s)
        };
        let err = app
            .client
            .create_note(pb::CreateNoteRequest {
                note: Some(pb::Note {
                    title: "x".repeat(201),
                    body: "nul\0".into(),
                    ..Default::default()
                }),
                request_id: "not-a-uuid".into(),
            })
            .await
            .expect_err("bad create");
        assert_eq!(refused(err), ["note.body", "note.title", "request_id"]);
        let err = app
            .client
            .create_note(pb::CreateNoteRequest::default())
            .await
            .expect_err("empty create");
        assert_eq!(refused(err), ["note", "request_id"]);

        let err = app.get("customers/1").await.expect_err("bad name");
        assert_eq!(refused(err), ["name"]);
        let err = app
            .client
            .list_notes(pb::ListNotesRequest {
                page_size: -1,
                page_token: String::new(),
            })
            .await
            .expect_err("negative page size");
        assert_eq!(refused(err), ["page_size"]);

        let note = app.create("kept").await;
        let mut bad = update_request(
            pb::Note {
                title: String::new(),
                etag: "W/\0".into(),
                ..note.clone()
            },
            &["title", "create_time"],
        );
        bad.request_id.clear();
        let err = app.client.update_note(bad).await.expect_err("bad update");
        assert_eq!(
            refused(err),
            ["note.etag", "request_id", "update_mask.paths[1]"],
            "an invalid mask checks no field"
        );
        let blank = update_request(
            pb::Note {
                title: " ".into(),
                ..note.clone()
            },
            &["title"],
        );
        let err = app
            .client
            .update_note(blank)
            .await
            .expect_err("blank title");
        assert_eq!(refused(err), ["note.title"]);
        let err = app
            .client
            .delete_note(pb::DeleteNoteRequest::default())
            .await
            .expect_err("empty delete");
        assert_eq!(refused(err), ["name", "request_id"]);

        let page = app.list(0, "").await;
        assert_eq!(page.notes, [note], "nothing else was written");
    })
    .await;
}
