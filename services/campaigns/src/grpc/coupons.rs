//! The coupon pool RPCs: parse (every bad field at once), call the use case, convert back.
use super::{Reply, parsed};
use crate::domain::coupon::{self, Claim, PoolView};
use crate::domain::{CouponPoolId, CustomerId};
use crate::error::DOMAIN;
use crate::service::CampaignService;
use crate::service::coupons::GenerateSpec;
use crm_platform::grpc::{IntoStatus, page_size};
use crm_platform::validate::{self, to_timestamp};
use crm_platform::{Violations, etag, request_key};
use crm_proto::campaigns as pb;
use tonic::{Request, Response};

fn pool_id(field: &str, name: &str, v: &mut Violations) -> Option<CouponPoolId> {
    v.check(field, CouponPoolId::parse_name(name))
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn pool(p: &PoolView) -> pb::CouponPool {
    pb::CouponPool {
        name: p.pool.id.name(),
        display_name: p.pool.display_name.clone(),
        code_count: count(p.counts.codes),
        claimed_count: count(p.counts.claimed),
        create_time: Some(to_timestamp(p.pool.create_time)),
        update_time: Some(to_timestamp(p.pool.update_time)),
        etag: etag::of_revision(p.pool.revision),
    }
}

fn claim(c: &Claim) -> pb::CouponClaim {
    pb::CouponClaim {
        pool: c.pool.name(),
        code: c.code.clone(),
        customer: c.customer.name(),
        claim_time: Some(to_timestamp(c.claim_time)),
    }
}

pub async fn create_coupon_pool(
    svc: &CampaignService,
    request: Request<pb::CreateCouponPoolRequest>,
) -> Reply<pb::CouponPool> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "CreateCouponPool", &mut v);
    let display_name = match &req.coupon_pool {
        Some(p) => Some(validate::text(
            "coupon_pool.display_name",
            &p.display_name,
            svc.settings().coupons.max_display_name_chars,
            true,
            &mut v,
        )),
        None => {
            v.add("coupon_pool", "is required");
            None
        }
    };
    let (key, display_name) = parsed(v, key.zip(display_name))?;
    let p = svc
        .create_coupon_pool(&key, display_name)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pool(&p)))
}

pub async fn get_coupon_pool(
    svc: &CampaignService,
    request: Request<pb::GetCouponPoolRequest>,
) -> Reply<pb::CouponPool> {
    let mut v = Violations::new();
    let id = pool_id("name", &request.get_ref().name, &mut v);
    let id = parsed(v, id)?;
    let p = svc.coupon_pool(id).await.into_status(DOMAIN)?;
    Ok(Response::new(pool(&p)))
}

pub async fn list_coupon_pools(
    svc: &CampaignService,
    request: Request<pb::ListCouponPoolsRequest>,
) -> Reply<pb::ListCouponPoolsResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let size = page_size(req.page_size, &mut v);
    let size = parsed(v, Some(size))?;
    let page = svc
        .list_coupon_pools(size, &req.page_token)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pb::ListCouponPoolsResponse {
        coupon_pools: page.items.iter().map(pool).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub async fn add_coupon_codes(
    svc: &CampaignService,
    request: Request<pb::AddCouponCodesRequest>,
) -> Reply<pb::AddCouponCodesResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "AddCouponCodes", &mut v);
    let id = pool_id("pool", &req.pool, &mut v);
    let max = svc.settings().coupons.max_codes_per_call;
    if req.codes.is_empty() {
        v.add("codes", "is required");
    } else if validate::max_items("codes", req.codes.len(), max, &mut v) {
        for (i, c) in req.codes.iter().enumerate() {
            if !coupon::is_code(c) {
                v.add(
                    format!("codes[{i}]"),
                    "must be 4 to 64 of A-Z, a-z, 0-9, - and _",
                );
            }
        }
    }
    // Any bad code was reported: `parsed` refuses the request then.
    let (key, id) = parsed(v, key.zip(id))?;
    let added = svc
        .add_coupon_codes(&key, id, req.codes)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pb::AddCouponCodesResponse {
        added: count(added.added),
        duplicates: count(added.duplicates),
        coupon_pool: Some(pool(&added.pool)),
    }))
}

pub async fn generate_coupon_codes(
    svc: &CampaignService,
    request: Request<pb::GenerateCouponCodesRequest>,
) -> Reply<pb::GenerateCouponCodesResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "GenerateCouponCodes", &mut v);
    let id = pool_id("pool", &req.pool, &mut v);
    let max = svc.settings().coupons.max_generate_per_call;
    let count_ok = validate::in_range("count", req.count.into(), 1..=i64::from(max), &mut v);
    if !coupon::is_prefix(&req.prefix) {
        v.add(
            "prefix",
            format!(
                "must be at most {} of A-Z, 0-9 and -",
                coupon::MAX_PREFIX_CHARS
            ),
        );
    }
    let length = match usize::try_from(req.length) {
        Ok(0) => Some(coupon::DEFAULT_RANDOM_CHARS),
        Ok(n) if coupon::RANDOM_CHARS.contains(&n) => Some(n),
        _ => {
            let (lo, hi) = (coupon::RANDOM_CHARS.start(), coupon::RANDOM_CHARS.end());
            v.add("length", format!("must be between {lo} and {hi} (0: 10)"));
            None
        }
    };
    let ((key, id), (_, length)) = parsed(v, key.zip(id).zip(count_ok.zip(length)))?;
    let spec = GenerateSpec {
        count: req.count.unsigned_abs(),
        prefix: req.prefix,
        length,
    };
    let generated = svc
        .generate_coupon_codes(&key, id, spec)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pb::GenerateCouponCodesResponse {
        generated: count(generated.generated),
        coupon_pool: Some(pool(&generated.pool)),
    }))
}

pub async fn claim_coupon(
    svc: &CampaignService,
    request: Request<pb::ClaimCouponRequest>,
) -> Reply<pb::CouponClaim> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "ClaimCoupon", &mut v);
    let id = pool_id("pool", &req.pool, &mut v);
    let customer = v.check("customer", CustomerId::parse_name(&req.customer));
    let ((key, id), customer) = parsed(v, key.zip(id).zip(customer))?;
    let c = svc
        .claim_coupon(&key, id, customer)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(claim(&c)))
}
