//! Helpers of the conversion tests.
use super::profile_from_proto;
use crate::settings::InputLimits;
use crm_platform::Violations;
use crm_proto::common as cpb;
use crm_proto::customers as pb;

pub(super) fn limits() -> InputLimits {
    crate::Settings::load(None)
        .expect("default settings")
        .customers
        .limits
}

pub(super) fn fields(v: &Violations) -> Vec<String> {
    v.iter().map(|x| x.field.clone()).collect()
}

pub(super) fn profile_violations(c: &pb::Customer) -> Vec<String> {
    let mut v = Violations::new();
    let _ = profile_from_proto(c, &limits(), &mut v);
    fields(&v)
}

pub(super) fn date(year: i32, month: i32, day: i32) -> Option<cpb::Date> {
    Some(cpb::Date { year, month, day })
}

pub(super) fn at(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}
