//! GetCampaignReport, and the report's proto.
use super::{Reply, parsed};
use crate::domain::report::{self as dr, Arm, Daily, Report, VariantLift};
use crate::error::DOMAIN;
use crate::service::CampaignService;
use crm_platform::Violations;
use crm_platform::grpc::IntoStatus;
use crm_platform::validate::to_timestamp;
use crm_proto::campaigns as pb;
use crm_proto::common::Money;
use tonic::{Request, Response};

pub async fn get_campaign_report(
    svc: &CampaignService,
    request: Request<pb::GetCampaignReportRequest>,
) -> Reply<pb::CampaignReport> {
    let name = &request.get_ref().name;
    let mut v = Violations::new();
    let id = if name.is_empty() {
        v.add("name", "is required");
        None
    } else {
        v.check("name", dr::parse_report_name(name))
    };
    let id = parsed(v, id)?;
    let report = svc.report(id).await.into_status(DOMAIN)?;
    Ok(Response::new(report_to_proto(&report)))
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn money(revenue: &[(String, i64)]) -> Vec<Money> {
    revenue
        .iter()
        .map(|(currency_code, amount_minor)| Money {
            currency_code: currency_code.clone(),
            amount_minor: *amount_minor,
        })
        .collect()
}

fn arm(a: &Arm) -> pb::ArmReport {
    pb::ArmReport {
        variant: a.variant.clone(),
        recipients: count(a.recipients),
        pending: count(a.pending),
        sent: count(a.sent),
        skipped: a
            .skipped
            .iter()
            .map(|(reason, n)| pb::ReasonCount {
                reason: reason.number(),
                count: count(*n),
            })
            .collect(),
        delivered: count(a.delivered),
        opened: count(a.opened),
        clicked: count(a.clicked),
        converted: count(a.converted),
        conversions: count(a.conversions),
        conversion_rate: a.conversion_rate,
        revenue: money(&a.revenue),
    }
}

fn lift(l: &VariantLift) -> pb::Lift {
    pb::Lift {
        variant: l.variant.clone(),
        absolute: l.lift.absolute,
        lower: l.lift.lower,
        upper: l.lift.upper,
        relative: l.lift.relative,
        significant: l.lift.significant(),
    }
}

fn daily(d: &Daily) -> pb::DailyConversions {
    pb::DailyConversions {
        date: d.date.format("%Y-%m-%d").to_string(),
        variant: d.variant.clone(),
        conversions: count(d.conversions),
        revenue: money(&d.revenue),
    }
}

pub fn report_to_proto(r: &Report) -> pb::CampaignReport {
    pb::CampaignReport {
        name: dr::report_name(r.campaign),
        variants: r.variants.iter().map(arm).collect(),
        holdout: r.holdout.as_ref().map(arm),
        lifts: r.lifts.iter().map(lift).collect(),
        winner_variant: r.winner.clone().unwrap_or_default(),
        timeline: r.timeline.iter().map(daily).collect(),
        confidence_level: r.confidence_level,
        compute_time: Some(to_timestamp(r.compute_time)),
    }
}
