//! The gRPC adapter: parses requests into domain values (every bad field reported at once),
//! calls [`TemplateService`], converts results back. No business rules live here.
mod convert;
pub mod policy;

use crate::domain::UPDATABLE_FIELDS;
use crate::error::DOMAIN;
use crate::service::TemplateService;
use crm_platform::Violations;
use crm_platform::field_mask::UpdateMask;
use crm_platform::grpc::{IntoStatus, page_size};
use crm_platform::request_key;
use crm_proto::template as pb;
use tonic::{Request, Response, Status};

pub use pb::template_service_server::TemplateServiceServer;

pub struct TemplateGrpc {
    svc: TemplateService,
}

impl TemplateGrpc {
    pub fn new(svc: TemplateService) -> Self {
        Self { svc }
    }
}

type Reply<T> = Result<Response<T>, Status>;

/// The parsed value, or INVALID_ARGUMENT with every violation collected.
fn parsed<T>(v: Violations, value: Option<T>) -> Result<T, Status> {
    crm_platform::grpc::parsed(v, value, DOMAIN)
}

#[tonic::async_trait]
impl pb::template_service_server::TemplateService for TemplateGrpc {
    async fn create_note(&self, request: Request<pb::CreateNoteRequest>) -> Reply<pb::Note> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = request_key!(req, "CreateNote", &mut v);
        let fields = match &req.note {
            Some(n) => Some(convert::note_fields(n, self.svc.limits(), None, &mut v)),
            None => {
                v.add("note", "is required");
                None
            }
        };
        let (key, fields) = parsed(v, key.zip(fields))?;
        let note = self.svc.create(&key, fields).await.into_status(DOMAIN)?;
        Ok(Response::new(convert::note(&note)))
    }

    async fn get_note(&self, request: Request<pb::GetNoteRequest>) -> Reply<pb::Note> {
        let mut v = Violations::new();
        let id = convert::note_id("name", &request.get_ref().name, &mut v);
        let id = parsed(v, id)?;
        let note = self.svc.get(id).await.into_status(DOMAIN)?;
        Ok(Response::new(convert::note(&note)))
    }

    async fn list_notes(
        &self,
        request: Request<pb::ListNotesRequest>,
    ) -> Reply<pb::ListNotesResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let size = page_size(req.page_size, &mut v);
        let size = parsed(v, Some(size))?;
        let page = self
            .svc
            .list(size, &req.page_token)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(pb::ListNotesResponse {
            notes: page.items.iter().map(convert::note).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn update_note(&self, request: Request<pb::UpdateNoteRequest>) -> Reply<pb::Note> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = request_key!(req, "UpdateNote", &mut v);
        let paths = req
            .update_mask
            .as_ref()
            .map(|m| m.paths.as_slice())
            .unwrap_or_default();
        let mask = UpdateMask::parse(paths, UPDATABLE_FIELDS, "update_mask", &mut v);
        let Some(n) = &req.note else {
            v.add("note", "is required");
            return parsed(v, None);
        };
        let id = convert::note_id("note.name", &n.name, &mut v);
        let etag = convert::sent_etag("note.etag", &n.etag, &mut v);
        // Only the fields the mask names are checked: an update may send a partial note.
        let patch = mask
            .as_ref()
            .map(|m| convert::note_fields(n, self.svc.limits(), Some(m), &mut v));
        let ((key, id), (mask, patch)) = parsed(v, key.zip(id).zip(mask.zip(patch)))?;
        let note = self
            .svc
            .update(&key, id, patch, &mask, &etag)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(convert::note(&note)))
    }

    async fn delete_note(&self, request: Request<pb::DeleteNoteRequest>) -> Reply<()> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = request_key!(req, "DeleteNote", &mut v);
        let id = convert::note_id("name", &req.name, &mut v);
        let etag = convert::sent_etag("etag", &req.etag, &mut v);
        let (key, id) = parsed(v, key.zip(id))?;
        self.svc.delete(&key, id, &etag).await.into_status(DOMAIN)?;
        Ok(Response::new(()))
    }
}
