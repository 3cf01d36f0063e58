//! The gRPC adapter: parses requests into domain values (every bad field reported at once),
//! calls [`CampaignService`], converts results back. No business rules live here. One module
//! per area: `segments`, `campaigns` (campaigns, deliveries, receipts), `report`, `coupons`,
//! `members` (the read model); this file only routes the trait's methods to them.
mod campaign_convert;
mod campaigns;
mod coupons;
mod members;
pub mod policy;
mod report;
mod segments;

use crate::error::DOMAIN;
use crate::service::CampaignService;
use crm_platform::Violations;
use crm_proto::campaigns as pb;
use tonic::{Request, Response, Status};

pub use pb::campaign_service_server::CampaignServiceServer;

pub struct CampaignsGrpc {
    svc: CampaignService,
}

impl CampaignsGrpc {
    pub fn new(svc: CampaignService) -> Self {
        Self { svc }
    }
}

type Reply<T> = Result<Response<T>, Status>;

/// The parsed value, or INVALID_ARGUMENT with every violation collected.
fn parsed<T>(v: Violations, value: Option<T>) -> Result<T, Status> {
    crm_platform::grpc::parsed(v, value, DOMAIN)
}

/// An etag the caller sent back (empty: no precondition); a stale one is ABORTED later.
fn sent_etag(field: &str, sent: &str, v: &mut Violations) -> String {
    crm_platform::validate::text(field, sent, 64, false, v)
}

/// Routes each RPC to `module::method(&svc, request)`.
macro_rules! route {
    ($($module:ident :: $method:ident($req:ty) -> $res:ty;)*) => {
        #[tonic::async_trait]
        impl pb::campaign_service_server::CampaignService for CampaignsGrpc {
            $(
                async fn $method(&self, request: Request<$req>) -> Reply<$res> {
                    $module::$method(&self.svc, request).await
                }
            )*
        }
    };
}

route! {
    segments::create_segment(pb::CreateSegmentRequest) -> pb::Segment;
    segments::get_segment(pb::GetSegmentRequest) -> pb::Segment;
    segments::list_segments(pb::ListSegmentsRequest) -> pb::ListSegmentsResponse;
    segments::update_segment(pb::UpdateSegmentRequest) -> pb::Segment;
    segments::delete_segment(pb::DeleteSegmentRequest) -> ();
    segments::preview_segment(pb::PreviewSegmentRequest) -> pb::PreviewSegmentResponse;
    segments::list_segment_members(pb::ListSegmentMembersRequest) -> pb::ListSegmentMembersResponse;
    campaigns::create_campaign(pb::CreateCampaignRequest) -> pb::Campaign;
    campaigns::get_campaign(pb::GetCampaignRequest) -> pb::Campaign;
    campaigns::list_campaigns(pb::ListCampaignsRequest) -> pb::ListCampaignsResponse;
    campaigns::update_campaign(pb::UpdateCampaignRequest) -> pb::Campaign;
    campaigns::schedule_campaign(pb::ScheduleCampaignRequest) -> pb::Campaign;
    campaigns::pause_campaign(pb::PauseCampaignRequest) -> pb::Campaign;
    campaigns::resume_campaign(pb::ResumeCampaignRequest) -> pb::Campaign;
    campaigns::cancel_campaign(pb::CancelCampaignRequest) -> pb::Campaign;
    campaigns::list_deliveries(pb::ListDeliveriesRequest) -> pb::ListDeliveriesResponse;
    campaigns::explain_delivery(pb::ExplainDeliveryRequest) -> pb::DeliveryExplanation;
    campaigns::record_delivery_receipt(pb::RecordDeliveryReceiptRequest) -> pb::Delivery;
    report::get_campaign_report(pb::GetCampaignReportRequest) -> pb::CampaignReport;
    coupons::create_coupon_pool(pb::CreateCouponPoolRequest) -> pb::CouponPool;
    coupons::get_coupon_pool(pb::GetCouponPoolRequest) -> pb::CouponPool;
    coupons::list_coupon_pools(pb::ListCouponPoolsRequest) -> pb::ListCouponPoolsResponse;
    coupons::add_coupon_codes(pb::AddCouponCodesRequest) -> pb::AddCouponCodesResponse;
    coupons::generate_coupon_codes(pb::GenerateCouponCodesRequest) -> pb::GenerateCouponCodesResponse;
    coupons::claim_coupon(pb::ClaimCouponRequest) -> pb::CouponClaim;
    members::get_member(pb::GetMemberRequest) -> pb::Member;
    members::rebuild_read_model(pb::RebuildReadModelRequest) -> pb::RebuildReadModelResponse;
}
