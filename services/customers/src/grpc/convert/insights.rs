//! Insights to the wire.
use super::money;
use crate::domain::insights::Insights;
use crate::service::InsightsReport;
use crm_platform::validate::to_timestamp;
use crm_proto::customers as pb;

pub fn insights(r: &InsightsReport) -> pb::CustomerInsights {
    let i: &Insights = &r.insights;
    pb::CustomerInsights {
        customer: r.customer.name(),
        recency_score: i.recency,
        frequency_score: i.frequency,
        monetary_score: i.monetary,
        segment: i.segment.to_owned(),
        order_count: r.summary.order_count,
        total_spend: r.summary.totals.iter().map(money).collect(),
        average_order_value: i.average_order.as_ref().map(money),
        last_purchase_time: r.summary.last_purchase.map(to_timestamp),
        first_purchase_time: r.summary.first_purchase.map(to_timestamp),
        days_since_last_purchase: i
            .days_since_last_purchase
            .map(|d| d.min(i32::MAX as i64) as i32)
            .unwrap_or(-1),
        churn_risk: i.churn_risk,
        churn_risk_reasons: i.churn_reasons.clone(),
        recent_complaints: r.summary.complaints_last_90_days,
        compute_time: Some(to_timestamp(r.compute_time)),
    }
}
