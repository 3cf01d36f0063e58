//! The recommendation calls and RecordFeedback: requests parsed (every bad field at once),
//! the use case called, the answer converted back.
use super::serving_convert as c;
use super::{Reply, parsed};
use crate::domain::RecommendationId;
use crate::domain::profile::parse_cohort;
use crate::domain::serving::{
    Feedback, FeedbackKind, ForCustomer, MAX_CART, MAX_FEEDBACK_ITEMS, PopularQuery, SimilarTo,
    Together,
};
use crate::error::DOMAIN;
use crate::service::RecommendationService;
use crm_platform::Violations;
use crm_platform::grpc::IntoStatus;
use crm_platform::request_key;
use crm_platform::validate::{not_in_future, opt_timestamp};
use crm_proto::recommendations as pb;
use tonic::{Request, Response};

pub async fn recommend_for_customer(
    svc: &RecommendationService,
    request: Request<pb::RecommendForCustomerRequest>,
) -> Reply<pb::RecommendForCustomerResponse> {
    let r = request.get_ref();
    let mut v = Violations::new();
    let customer = c::customer("customer", &r.customer, &mut v);
    let max_results = c::max_results("max_results", r.max_results, &mut v);
    let filter = c::item_filter("filter", r.filter.as_ref(), &mut v);
    let boosts = c::boosts("boosts", &r.boosts, &mut v);
    let max_per_category = c::max_per_category("max_per_category", r.max_per_category, &mut v);
    let exploration = c::number_in("exploration", r.exploration, 0.0, 1.0, &mut v);
    let scenario = c::scenario("scenario", &r.scenario, &mut v);
    let query = customer.map(|customer| ForCustomer {
        customer,
        max_results,
        filter,
        boosts,
        max_per_category,
        include_consumed: r.include_consumed,
        exploration,
        scenario,
    });
    let query = parsed(v, query)?;
    let a = svc
        .recommend_for_customer(&query)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pb::RecommendForCustomerResponse {
        recommendation_id: a.id.name(),
        items: c::recommended(&a.items),
        model_version: a.model_version,
        cold_start: a.cold_start,
    }))
}

pub async fn similar_items(
    svc: &RecommendationService,
    request: Request<pb::SimilarItemsRequest>,
) -> Reply<pb::SimilarItemsResponse> {
    let r = request.get_ref();
    let mut v = Violations::new();
    let item = c::item("item", &r.item, &mut v);
    let max_results = c::max_results("max_results", r.max_results, &mut v);
    let filter = c::item_filter("filter", r.filter.as_ref(), &mut v);
    let max_per_category = c::max_per_category("max_per_category", r.max_per_category, &mut v);
    let customer = c::opt_customer("customer", &r.customer, &mut v);
    let scenario = c::scenario("scenario", &r.scenario, &mut v);
    let query = item.map(|item| SimilarTo {
        item,
        max_results,
        filter,
        max_per_category,
        customer,
        scenario,
    });
    let query = parsed(v, query)?;
    let a = svc.similar_items(&query).await.into_status(DOMAIN)?;
    Ok(Response::new(pb::SimilarItemsResponse {
        recommendation_id: a.id.name(),
        items: c::recommended(&a.items),
        model_version: a.model_version,
    }))
}

pub async fn bought_together(
    svc: &RecommendationService,
    request: Request<pb::BoughtTogetherRequest>,
) -> Reply<pb::BoughtTogetherResponse> {
    let r = request.get_ref();
    let mut v = Violations::new();
    let cart = c::items("items", &r.items, 1, MAX_CART, &mut v);
    let min_lift = c::number_in("min_lift", r.min_lift, 0.0, 1000.0, &mut v);
    let query = Together {
        cart,
        max_results: c::max_results("max_results", r.max_results, &mut v),
        filter: c::item_filter("filter", r.filter.as_ref(), &mut v),
        // 0 means 1: more than chance.
        min_lift: if min_lift == 0.0 { 1.0 } else { min_lift },
        min_confidence: c::number_in("min_confidence", r.min_confidence, 0.0, 1.0, &mut v),
        customer: c::opt_customer("customer", &r.customer, &mut v),
        scenario: c::scenario("scenario", &r.scenario, &mut v),
    };
    let query = parsed(v, Some(query))?;
    let a = svc.bought_together(&query).await.into_status(DOMAIN)?;
    Ok(Response::new(pb::BoughtTogetherResponse {
        recommendation_id: a.id.name(),
        items: c::recommended(&a.items),
        model_version: a.model_version,
    }))
}

pub async fn popular_items(
    svc: &RecommendationService,
    request: Request<pb::PopularItemsRequest>,
) -> Reply<pb::PopularItemsResponse> {
    let r = request.get_ref();
    let mut v = Violations::new();
    let cohort = if r.cohort.is_empty() {
        String::new()
    } else {
        let raw = crm_platform::validate::text("cohort", &r.cohort, 210, true, &mut v);
        v.check("cohort", parse_cohort(&raw)).unwrap_or_default()
    };
    let query = PopularQuery {
        max_results: c::max_results("max_results", r.max_results, &mut v),
        category: c::opt_category("category", &r.category, &mut v),
        cohort,
        filter: c::item_filter("filter", r.filter.as_ref(), &mut v),
        customer: c::opt_customer("customer", &r.customer, &mut v),
        scenario: c::scenario("scenario", &r.scenario, &mut v),
    };
    let query = parsed(v, Some(query))?;
    let a = svc.popular_items(&query).await.into_status(DOMAIN)?;
    Ok(Response::new(pb::PopularItemsResponse {
        recommendation_id: a.id.name(),
        items: c::recommended(&a.items),
        model_version: a.model_version,
    }))
}

pub async fn record_feedback(
    svc: &RecommendationService,
    request: Request<pb::RecordFeedbackRequest>,
) -> Reply<pb::RecordFeedbackResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "RecordFeedback", &mut v);
    let recommendation = if req.recommendation_id.is_empty() {
        v.add("recommendation_id", "is required");
        None
    } else {
        v.check(
            "recommendation_id",
            RecommendationId::parse_name(&req.recommendation_id),
        )
    };
    let items = c::items("items", &req.items, 1, MAX_FEEDBACK_ITEMS, &mut v);
    let kind = match FeedbackKind::from_code(req.kind) {
        Some(k) => Some(k),
        None if req.kind == 0 => {
            v.add("kind", "is required");
            None
        }
        None => {
            v.add("kind", "must be SHOWN, CLICKED or CONVERTED");
            None
        }
    };
    let occur_time = opt_timestamp("occur_time", req.occur_time.as_ref(), &mut v);
    if let Some(t) = occur_time {
        not_in_future("occur_time", t, crate::domain::now(), &mut v);
    }
    let parts = match (key, recommendation, kind) {
        (Some(key), Some(recommendation), Some(kind)) => Some((
            key,
            Feedback {
                recommendation,
                items,
                kind,
                occur_time: occur_time.map(crate::domain::truncated),
            },
        )),
        _ => None,
    };
    let (key, feedback) = parsed(v, parts)?;
    let n = svc
        .record_feedback(&key, &feedback)
        .await
        .into_status(DOMAIN)?;
    let count = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
    Ok(Response::new(pb::RecordFeedbackResponse {
        recorded_count: i32::try_from(n.recorded).unwrap_or(i32::MAX),
        shown_count: count(n.shown),
        clicked_count: count(n.clicked),
        converted_count: count(n.converted),
    }))
}
