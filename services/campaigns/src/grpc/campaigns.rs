//! The campaign, delivery and receipt RPCs.
use super::campaign_convert as convert;
use super::{Reply, parsed, sent_etag};
use crate::domain::campaign::{self as dc, Action, DeliveryState, State, UPDATABLE_FIELDS};
use crate::domain::{self, CampaignId, CustomerId};
use crate::error::DOMAIN;
use crate::service::CampaignService;
use crate::service::receipts::Receipt;
use crm_platform::Violations;
use crm_platform::field_mask::UpdateMask;
use crm_platform::grpc::{IntoStatus, page_size};
use crm_platform::request_key;
use crm_platform::validate;
use crm_proto::campaigns as pb;
use tonic::{Request, Response};

fn campaign_id(field: &str, name: &str, v: &mut Violations) -> Option<CampaignId> {
    v.check(field, CampaignId::parse_name(name))
}

/// The campaign with its delivery counts, for a response.
async fn answer(svc: &CampaignService, c: &dc::Campaign) -> Reply<pb::Campaign> {
    let stats = svc.campaign_stats(c.id).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::campaign(c, &stats)))
}

pub async fn create_campaign(
    svc: &CampaignService,
    request: Request<pb::CreateCampaignRequest>,
) -> Reply<pb::Campaign> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "CreateCampaign", &mut v);
    let fields = match &req.campaign {
        Some(c) => convert::campaign_fields(
            c,
            &svc.settings().limits,
            None,
            domain::now(),
            "campaign",
            &mut v,
        ),
        None => {
            v.add("campaign", "is required");
            None
        }
    };
    let (key, fields) = parsed(v, key.zip(fields))?;
    let c = svc
        .create_campaign(&key, fields)
        .await
        .into_status(DOMAIN)?;
    answer(svc, &c).await
}

pub async fn get_campaign(
    svc: &CampaignService,
    request: Request<pb::GetCampaignRequest>,
) -> Reply<pb::Campaign> {
    let mut v = Violations::new();
    let id = campaign_id("name", &request.get_ref().name, &mut v);
    let id = parsed(v, id)?;
    let c = svc.campaign(id).await.into_status(DOMAIN)?;
    answer(svc, &c).await
}

pub async fn list_campaigns(
    svc: &CampaignService,
    request: Request<pb::ListCampaignsRequest>,
) -> Reply<pb::ListCampaignsResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let size = page_size(req.page_size, &mut v);
    let state = match req.state {
        0 => Some(None),
        n => {
            let s = State::from_number(n);
            if s.is_none() {
                v.add("state", "is not a campaign state");
            }
            s.map(Some)
        }
    };
    let (size, state) = parsed(v, Some(size).zip(state))?;
    let page = svc
        .list_campaigns(state, size, &req.page_token)
        .await
        .into_status(DOMAIN)?;
    let mut campaigns = Vec::with_capacity(page.items.len());
    for c in &page.items {
        campaigns.push(answer(svc, c).await?.into_inner());
    }
    Ok(Response::new(pb::ListCampaignsResponse {
        campaigns,
        next_page_token: page.next_page_token,
    }))
}

pub async fn update_campaign(
    svc: &CampaignService,
    request: Request<pb::UpdateCampaignRequest>,
) -> Reply<pb::Campaign> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "UpdateCampaign", &mut v);
    let mask = UpdateMask::of_request(req.update_mask.as_ref(), UPDATABLE_FIELDS, &mut v);
    let Some(c) = &req.campaign else {
        v.add("campaign", "is required");
        return parsed(v, None);
    };
    let id = campaign_id("campaign.name", &c.name, &mut v);
    let etag = sent_etag("campaign.etag", &c.etag, &mut v);
    // Only the fields the mask names are checked: an update may send a partial campaign.
    let patch = mask.as_ref().and_then(|m| {
        convert::campaign_fields(
            c,
            &svc.settings().limits,
            Some(m),
            domain::now(),
            "campaign",
            &mut v,
        )
    });
    let ((key, id), (mask, patch)) = parsed(v, key.zip(id).zip(mask.zip(patch)))?;
    let c = svc
        .update_campaign(&key, id, patch, &mask, &etag)
        .await
        .into_status(DOMAIN)?;
    answer(svc, &c).await
}

/// The lifecycle RPCs: the same request shape, one action each.
macro_rules! lifecycle {
    ($($fn:ident($req:ty, $method:literal, $action:expr);)*) => {$(
        pub async fn $fn(svc: &CampaignService, request: Request<$req>) -> Reply<pb::Campaign> {
            let req = request.into_inner();
            let mut v = Violations::new();
            let key = request_key!(req, $method, &mut v);
            let id = campaign_id("name", &req.name, &mut v);
            let etag = sent_etag("etag", &req.etag, &mut v);
            let (key, id) = parsed(v, key.zip(id))?;
            let c = svc.move_campaign(&key, id, $action, &etag).await.into_status(DOMAIN)?;
            answer(svc, &c).await
        }
    )*};
}

lifecycle! {
    schedule_campaign(pb::ScheduleCampaignRequest, "ScheduleCampaign", Action::Schedule);
    pause_campaign(pb::PauseCampaignRequest, "PauseCampaign", Action::Pause);
    resume_campaign(pb::ResumeCampaignRequest, "ResumeCampaign", Action::Resume);
    cancel_campaign(pb::CancelCampaignRequest, "CancelCampaign", Action::Cancel);
}

pub async fn list_deliveries(
    svc: &CampaignService,
    request: Request<pb::ListDeliveriesRequest>,
) -> Reply<pb::ListDeliveriesResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let size = page_size(req.page_size, &mut v);
    let id = campaign_id("parent", &req.parent, &mut v);
    let state = match req.state {
        0 => Some(None),
        n => {
            let s = DeliveryState::from_number(n);
            if s.is_none() {
                v.add("state", "is not a delivery state");
            }
            s.map(Some)
        }
    };
    let ((size, id), state) = parsed(v, Some(size).zip(id).zip(state))?;
    let page = svc
        .list_deliveries(id, state, size, &req.page_token)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pb::ListDeliveriesResponse {
        deliveries: page.items.iter().map(convert::delivery).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub async fn explain_delivery(
    svc: &CampaignService,
    request: Request<pb::ExplainDeliveryRequest>,
) -> Reply<pb::DeliveryExplanation> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let id = campaign_id("campaign", &req.campaign, &mut v);
    let customer = v.check("customer", CustomerId::parse_name(&req.customer));
    let (id, customer) = parsed(v, id.zip(customer))?;
    let e = svc.explain(id, customer).await.into_status(DOMAIN)?;
    Ok(Response::new(pb::DeliveryExplanation {
        delivery: e.delivery.as_ref().map(convert::delivery),
        known: e.known,
        in_segment: e.in_segment,
        excluded_by: e.excluded_by.iter().map(|s| s.name()).collect(),
        summary: e.summary,
    }))
}

pub async fn record_delivery_receipt(
    svc: &CampaignService,
    request: Request<pb::RecordDeliveryReceiptRequest>,
) -> Reply<pb::Delivery> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "RecordDeliveryReceipt", &mut v);
    let names = v.check("delivery", dc::parse_delivery_name(&req.delivery));
    let to = match pb::ReceiptKind::try_from(req.kind) {
        Ok(pb::ReceiptKind::Delivered) => Some(DeliveryState::Delivered),
        Ok(pb::ReceiptKind::Opened) => Some(DeliveryState::Opened),
        Ok(pb::ReceiptKind::Clicked) => Some(DeliveryState::Clicked),
        Ok(pb::ReceiptKind::Bounced) => Some(DeliveryState::Bounced),
        Ok(pb::ReceiptKind::Unsubscribed) => Some(DeliveryState::Unsubscribed),
        _ => {
            v.add(
                "kind",
                "must be DELIVERED, OPENED, CLICKED, BOUNCED or UNSUBSCRIBED",
            );
            None
        }
    };
    let now = domain::now();
    let at = validate::required_timestamp("occur_time", req.occur_time.as_ref(), &mut v)
        .filter(|t| validate::not_in_future("occur_time", *t, now, &mut v));
    let ((key, (campaign, customer, occasion)), (to, at)) =
        parsed(v, key.zip(names).zip(to.zip(at)))?;
    let d = svc
        .record_receipt(
            &key,
            Receipt {
                campaign,
                customer,
                occasion,
                to,
                at,
            },
        )
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(convert::delivery(&d)))
}
