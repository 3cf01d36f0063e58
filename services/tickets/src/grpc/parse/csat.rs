//! SubmitSatisfaction requests.
use super::{MAX_TOKEN, required};
use crate::domain::{Satisfaction, TicketId, now};
use crm_platform::Violations;
use crm_platform::grpc::text;
use crm_platform::validate::multiline;
use crm_proto::tickets as pb;

/// A survey token: required, one bounded line.
pub fn survey_token(token: &str, v: &mut Violations) {
    text("survey_token", token, MAX_TOKEN, true, v);
}

/// 1..=5, or 0 (not answered) when `optional`.
pub fn score(field: &str, n: i32, optional: bool, v: &mut Violations) {
    if !((1..=5).contains(&n) || (optional && n == 0)) {
        v.add(
            field,
            if optional {
                "must be 0 (not answered) or 1..5"
            } else {
                "must be 1..5"
            },
        );
    }
}

/// SubmitSatisfaction's answer for `ticket`.
pub fn satisfaction(
    ticket: Option<TicketId>,
    s: Option<&pb::Satisfaction>,
    v: &mut Violations,
) -> Option<Satisfaction> {
    let s = required("satisfaction", s, v)?;
    score("satisfaction.overall", s.overall, false, v);
    score("satisfaction.service", s.service, true, v);
    score("satisfaction.product_quality", s.product_quality, true, v);
    score("satisfaction.logistics", s.logistics, true, v);
    let comment = multiline("satisfaction.comment", &s.comment, 2000, false, v);
    Some(Satisfaction {
        ticket: ticket?,
        survey: 0,
        survey_token: String::new(),
        overall: s.overall,
        service: s.service,
        product_quality: s.product_quality,
        logistics: s.logistics,
        comment,
        submit_time: now(),
        goodwill_points: 0,
        goodwill_pending: false,
    })
}
