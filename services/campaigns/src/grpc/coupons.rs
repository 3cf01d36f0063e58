//! The coupon pool RPCs. H4.
use super::Reply;
use crate::service::CampaignService;
use crm_proto::campaigns as pb;
use tonic::{Request, Status};

macro_rules! pending {
    ($($method:ident($req:ty) -> $res:ty;)*) => {
        $(
            pub async fn $method(svc: &CampaignService, request: Request<$req>) -> Reply<$res> {
                let _ = (svc, request);
                Err(Status::unimplemented("H4"))
            }
        )*
    };
}

pending! {
    create_coupon_pool(pb::CreateCouponPoolRequest) -> pb::CouponPool;
    get_coupon_pool(pb::GetCouponPoolRequest) -> pb::CouponPool;
    list_coupon_pools(pb::ListCouponPoolsRequest) -> pb::ListCouponPoolsResponse;
    add_coupon_codes(pb::AddCouponCodesRequest) -> pb::AddCouponCodesResponse;
    generate_coupon_codes(pb::GenerateCouponCodesRequest) -> pb::GenerateCouponCodesResponse;
    claim_coupon(pb::ClaimCouponRequest) -> pb::CouponClaim;
}
