//! `spawn_app()` and request builders shared by the tests.
#![allow(dead_code)]
use crm_platform::client::TracedChannel;
use crm_platform::testing::Backend;
use crm_proto::template as pb;
use crm_proto::template::template_service_client::TemplateServiceClient;

pub use crm_platform::testing::{Storage, assert_status, each_backend, rid, violations};

pub struct TestApp {
    pub client: TemplateServiceClient<TracedChannel>,
    pub service: crm_template::service::TemplateService,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    let storage = Storage::fresh(backend).await;
    let app = crm_platform::testing::spawn::<crm_template::Template>(&storage, |_| {}).await;
    TestApp {
        client: TemplateServiceClient::new(app.channel),
        service: app.service,
    }
}

pub fn create_request(title: &str) -> pb::CreateNoteRequest {
    pb::CreateNoteRequest {
        note: Some(pb::Note {
            title: title.into(),
            body: "first line\nsecond line".into(),
            ..Default::default()
        }),
        request_id: rid(),
    }
}

pub fn update_request(note: pb::Note, paths: &[&str]) -> pb::UpdateNoteRequest {
    pb::UpdateNoteRequest {
        note: Some(note),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
        request_id: rid(),
    }
}

impl TestApp {
    pub async fn create(&mut self, title: &str) -> pb::Note {
        self.client
            .create_note(create_request(title))
            .await
            .expect("create")
            .into_inner()
    }

    pub async fn get(&mut self, name: &str) -> Result<pb::Note, tonic::Status> {
        self.client
            .get_note(pb::GetNoteRequest { name: name.into() })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn list(&mut self, page_size: i32, page_token: &str) -> pb::ListNotesResponse {
        self.client
            .list_notes(pb::ListNotesRequest {
                page_size,
                page_token: page_token.into(),
            })
            .await
            .expect("list")
            .into_inner()
    }
}
