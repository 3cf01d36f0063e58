//! Ticket statistics.
use super::parse::{opt, parsed};
use super::{Reply, convert};
use crate::domain::TeamId;
use crate::error::DOMAIN;
use crate::service::TicketsService;
use crm_platform::Violations;
use crm_platform::grpc::IntoStatus;
use crm_platform::validate;
use crm_proto::tickets as pb;
use tonic::{Request, Response};

pub async fn get_ticket_stats(
    svc: &TicketsService,
    request: Request<pb::GetTicketStatsRequest>,
) -> Reply<pb::TicketStats> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let start = validate::required_timestamp("start_time", req.start_time.as_ref(), &mut v);
    let end = validate::required_timestamp("end_time", req.end_time.as_ref(), &mut v);
    if let (Some(a), Some(b)) = (start, end)
        && b <= a
    {
        v.add("end_time", "must be after start_time");
    }
    let t = opt("team", &req.team, TeamId::parse_name, &mut v);
    let (start, end) = parsed(v, start.zip(end))?;
    let out = svc.stats(start, end, t).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::stats(&out)))
}
