//! Segments and members: proto <-> domain. A rule is parsed whole, every problem reported
//! under its proto path (e.g. `segment.rule.all.rules[1].condition.trait.values[0]`), with
//! the bounds of `[campaigns.segments]` and of segment.proto.
use crate::domain::segment::{
    Cmp, Comparison, Condition, LastPurchase, MAX_ATTRIBUTE_KEY_CHARS, MAX_CODE_CHARS,
    MAX_COMPARED_VALUE, MAX_GROUP_RULES, MAX_ITEM_ID_CHARS, MAX_LOOKBACK_DAYS, MAX_MIN_COUNT,
    MAX_TRAIT_VALUE_CHARS, MAX_VALUES, MAX_WITHIN_DAYS, Purchase, Rule, Segment, SegmentFields,
    SegmentLimits, Spend, TagTest, TraitTest, ValueTest,
};
use crm_platform::Violations;
use crm_platform::etag;
use crm_platform::field_mask::UpdateMask;
use crm_platform::validate::{self, to_timestamp};
use crm_proto::campaigns as pb;
use crm_proto::customers::{Channel, LifecycleStage};
use pb::condition::Condition as PC;
use pb::last_purchase_condition::When;
use pb::trait_condition::Operator as Op;

pub fn segment(s: &Segment) -> pb::Segment {
    pb::Segment {
        name: s.id.name(),
        display_name: s.display_name.clone(),
        description: s.description.clone(),
        rule: Some(rule_to_proto(&s.rule)),
        member_count: s.member_count,
        create_time: Some(to_timestamp(s.create_time)),
        update_time: Some(to_timestamp(s.update_time)),
        etag: etag::of_revision(s.revision),
    }
}

/// The settable fields of `s` (those `mask` names, when given), problems under `segment.`.
/// A field the mask leaves out keeps a placeholder the update ignores.
pub fn segment_fields(
    s: &pb::Segment,
    limits: &SegmentLimits,
    mask: Option<&UpdateMask>,
    v: &mut Violations,
) -> Option<SegmentFields> {
    let named = |f: &str| mask.is_none_or(|m| m.contains(f));
    let mut fv = Violations::new();
    let mut fields = SegmentFields {
        display_name: String::new(),
        description: String::new(),
        rule: Rule::All(Vec::new()),
    };
    if named("display_name") {
        fields.display_name = validate::text(
            "display_name",
            &s.display_name,
            limits.max_display_name_chars,
            true,
            &mut fv,
        );
    }
    if named("description") {
        fields.description = validate::multiline(
            "description",
            &s.description,
            limits.max_description_chars,
            false,
            &mut fv,
        );
    }
    let mut ok = true;
    if named("rule") {
        match rule(s.rule.as_ref(), "rule", limits, &mut fv) {
            Some(r) => fields.rule = r,
            None => ok = false,
        }
    }
    let clean = fv.is_empty();
    v.extend_prefixed("segment", fv);
    (ok && clean).then_some(fields)
}

/// A rule tree at `path`: every node checked, then the depth and condition bounds.
pub fn rule(
    r: Option<&pb::Rule>,
    path: &str,
    limits: &SegmentLimits,
    v: &mut Violations,
) -> Option<Rule> {
    let Some(r) = r else {
        v.add(path, "is required");
        return None;
    };
    let parsed = node(r, path, 1, limits, v)?;
    let n = parsed.conditions();
    if n > limits.max_rule_conditions {
        v.add(
            path,
            format!(
                "has {n} conditions; at most {} are allowed",
                limits.max_rule_conditions
            ),
        );
        return None;
    }
    Some(parsed)
}

fn node(
    r: &pb::Rule,
    path: &str,
    depth: usize,
    limits: &SegmentLimits,
    v: &mut Violations,
) -> Option<Rule> {
    use pb::rule::Node;
    if depth > limits.max_rule_depth {
        v.add(
            path,
            format!(
                "is nested deeper than {} levels of all / any / not",
                limits.max_rule_depth
            ),
        );
        return None;
    }
    match &r.node {
        None => {
            v.add(path, "must set one of all, any, not or condition");
            None
        }
        Some(Node::All(g)) => group(g, &format!("{path}.all"), depth, limits, v).map(Rule::All),
        Some(Node::Any(g)) => group(g, &format!("{path}.any"), depth, limits, v).map(Rule::Any),
        Some(Node::Not(inner)) => node(inner, &format!("{path}.not"), depth + 1, limits, v)
            .map(|r| Rule::Not(Box::new(r))),
        Some(Node::Condition(c)) => {
            condition(c, &format!("{path}.condition"), v).map(Rule::Condition)
        }
    }
}

fn group(
    g: &pb::RuleGroup,
    path: &str,
    depth: usize,
    limits: &SegmentLimits,
    v: &mut Violations,
) -> Option<Vec<Rule>> {
    if g.rules.is_empty() || g.rules.len() > MAX_GROUP_RULES {
        v.add(
            format!("{path}.rules"),
            format!("must have 1 to {MAX_GROUP_RULES} rules"),
        );
        return None;
    }
    let rules: Vec<Option<Rule>> = g
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| node(r, &format!("{path}.rules[{i}]"), depth + 1, limits, v))
        .collect();
    rules.into_iter().collect()
}

/// `n` in `range`, as the domain's integer type.
fn within<T: TryFrom<i64>>(
    field: String,
    n: i64,
    range: std::ops::RangeInclusive<i64>,
    v: &mut Violations,
) -> Option<T> {
    validate::in_range(&field, n, range, v).and_then(|n| T::try_from(n).ok())
}

fn condition(c: &pb::Condition, path: &str, v: &mut Violations) -> Option<Condition> {
    let days = |field: &str, n: i32, v: &mut Violations| {
        within::<u16>(
            format!("{path}.{field}"),
            n.into(),
            0..=i64::from(MAX_WITHIN_DAYS),
            v,
        )
    };
    let lookback = |field: &str, n: i32, min: i64, v: &mut Violations| {
        within::<u16>(
            format!("{path}.{field}"),
            n.into(),
            min..=i64::from(MAX_LOOKBACK_DAYS),
            v,
        )
    };
    match &c.condition {
        None => {
            v.add(
                path,
                "must set one of trait, birthday, important_date, tier, points, purchased, \
                 spend, rfm_segment, last_purchase, open_complaint, consent or order_count",
            );
            None
        }
        Some(PC::Trait(t)) => trait_test(t, &format!("{path}.trait"), v).map(Condition::Trait),
        Some(PC::Birthday(b)) => days("birthday.within_days", b.within_days, v)
            .map(|within_days| Condition::Birthday { within_days }),
        Some(PC::ImportantDate(d)) => {
            let kind = validate::text(
                &format!("{path}.important_date.kind"),
                &d.kind,
                MAX_CODE_CHARS,
                true,
                v,
            );
            let within_days = days("important_date.within_days", d.within_days, v)?;
            (!kind.is_empty()).then_some(Condition::ImportantDate { kind, within_days })
        }
        Some(PC::Tier(t)) => {
            codes(&t.values, &format!("{path}.tier.values"), v).map(Condition::Tier)
        }
        Some(PC::RfmSegment(r)) => {
            codes(&r.values, &format!("{path}.rfm_segment.values"), v).map(Condition::RfmSegment)
        }
        Some(PC::Points(c)) => comparison(c, &format!("{path}.points"), v).map(Condition::Points),
        Some(PC::OrderCount(c)) => {
            comparison(c, &format!("{path}.order_count"), v).map(Condition::OrderCount)
        }
        Some(PC::Purchased(p)) => {
            let item = validate::text(
                &format!("{path}.purchased.item_id"),
                &p.item_id,
                MAX_ITEM_ID_CHARS,
                false,
                v,
            );
            let min_count = within::<u32>(
                format!("{path}.purchased.min_count"),
                p.min_count.into(),
                1..=i64::from(MAX_MIN_COUNT),
                v,
            );
            let within_days = lookback("purchased.within_days", p.within_days, 0, v);
            Some(Condition::Purchased(Purchase {
                item_id: (!item.is_empty()).then_some(item),
                min_count: min_count?,
                within_days: within_days?,
            }))
        }
        Some(PC::Spend(s)) => {
            let currency =
                validate::currency(&format!("{path}.spend.currency_code"), &s.currency_code, v);
            let within_days = lookback("spend.within_days", s.within_days, 0, v);
            let amount = match &s.amount {
                Some(a) => comparison(a, &format!("{path}.spend.amount"), v),
                None => {
                    v.add(format!("{path}.spend.amount"), "is required");
                    None
                }
            };
            Some(Condition::Spend(Spend {
                currency: currency?.code().to_owned(),
                within_days: within_days?,
                amount: amount?,
            }))
        }
        Some(PC::LastPurchase(lp)) => match lp.when {
            None => {
                v.add(
                    format!("{path}.last_purchase"),
                    "must set one of before_days_ago, within_days or never",
                );
                None
            }
            Some(When::BeforeDaysAgo(d)) => lookback("last_purchase.before_days_ago", d, 1, v)
                .map(|d| Condition::LastPurchase(LastPurchase::BeforeDaysAgo(d))),
            Some(When::WithinDays(d)) => lookback("last_purchase.within_days", d, 1, v)
                .map(|d| Condition::LastPurchase(LastPurchase::WithinDays(d))),
            Some(When::Never(n)) => Some(Condition::LastPurchase(LastPurchase::Never(n))),
        },
        Some(PC::OpenComplaint(has)) => Some(Condition::OpenComplaint(*has)),
        Some(PC::Consent(c)) => match Channel::try_from(c.channel) {
            Ok(ch) if ch != Channel::Unspecified => Some(Condition::Consent {
                channel: c.channel,
                granted: c.granted,
            }),
            _ => {
                v.add(
                    format!("{path}.consent.channel"),
                    "must be a channel such as CHANNEL_EMAIL",
                );
                None
            }
        },
    }
}

/// 1 to 100 short codes (tiers, RFM segments), each required.
fn codes(values: &[String], path: &str, v: &mut Violations) -> Option<Vec<String>> {
    if values.is_empty() || values.len() > MAX_VALUES {
        v.add(path, format!("must have 1 to {MAX_VALUES} values"));
        return None;
    }
    let before = v.total();
    let out: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, s)| validate::text(&format!("{path}[{i}]"), s, MAX_CODE_CHARS, true, v))
        .collect();
    (v.total() == before).then_some(out)
}

fn comparison(c: &pb::Comparison, path: &str, v: &mut Violations) -> Option<Comparison> {
    use pb::comparison::Operator as O;
    let op = match O::try_from(c.operator) {
        Ok(O::Less) => Some(Cmp::Less),
        Ok(O::LessOrEqual) => Some(Cmp::LessOrEqual),
        Ok(O::Equal) => Some(Cmp::Equal),
        Ok(O::GreaterOrEqual) => Some(Cmp::GreaterOrEqual),
        Ok(O::Greater) => Some(Cmp::Greater),
        _ => {
            v.add(format!("{path}.operator"), "is required");
            None
        }
    };
    let value = validate::in_range(
        &format!("{path}.value"),
        c.value,
        -MAX_COMPARED_VALUE..=MAX_COMPARED_VALUE,
        v,
    );
    Some(Comparison {
        op: op?,
        value: value?,
    })
}

/// Which trait a TraitCondition names.
enum Field {
    Language,
    TimeZone,
    Stage,
    Tags,
    Attribute(String),
}

fn field(name: &str) -> Option<Field> {
    Some(match name {
        "language_code" => Field::Language,
        "time_zone" => Field::TimeZone,
        "lifecycle_stage" => Field::Stage,
        "tags" => Field::Tags,
        _ => {
            let key = name.strip_prefix("attributes.")?;
            let ok = (1..=MAX_ATTRIBUTE_KEY_CHARS).contains(&key.len())
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            return ok.then(|| Field::Attribute(key.to_owned()));
        }
    })
}

fn trait_test(t: &pb::TraitCondition, path: &str, v: &mut Violations) -> Option<TraitTest> {
    let field = field(&t.field);
    if field.is_none() {
        v.add(
            format!("{path}.field"),
            "must be language_code, time_zone, lifecycle_stage, tags or attributes.<key> \
             (key: 1 to 64 of A-Z, a-z, 0-9, _)",
        );
    }
    let op = Op::try_from(t.operator)
        .ok()
        .filter(|o| *o != Op::Unspecified);
    let Some(op) = op else {
        v.add(format!("{path}.operator"), "is required");
        return None;
    };
    let field = field?;
    let tags = matches!(field, Field::Tags);
    let allowed = match op {
        Op::Contains => tags,
        Op::Equals => !tags,
        _ => true,
    };
    if !allowed {
        v.add(
            format!("{path}.operator"),
            format!("{} does not apply to {}", op.as_str_name(), t.field),
        );
        return None;
    }
    let values = trait_values(t, op, path, v)?;
    let stage = |s: &String| {
        LifecycleStage::from_str_name(s)
            .filter(|l| *l != LifecycleStage::Unspecified)
            .map(|l| l as i32)
    };
    let text = |values: Vec<String>| match op {
        Op::Equals => ValueTest::Equals(values.into_iter().next().unwrap_or_default()),
        Op::In => ValueTest::In(values),
        _ => ValueTest::Exists,
    };
    Some(match field {
        Field::Language => TraitTest::LanguageCode(text(values)),
        Field::TimeZone => TraitTest::TimeZone(text(values)),
        Field::Attribute(key) => TraitTest::Attribute {
            key,
            test: text(values),
        },
        Field::Tags => TraitTest::Tags(match op {
            Op::Contains => TagTest::Contains(values),
            Op::In => TagTest::In(values),
            _ => TagTest::Exists,
        }),
        Field::Stage => {
            let mut stages = Vec::new();
            for (i, s) in values.iter().enumerate() {
                match stage(s) {
                    Some(n) => stages.push(n),
                    None => v.add(
                        format!("{path}.values[{i}]"),
                        "must be a lifecycle stage such as LIFECYCLE_STAGE_ACTIVE",
                    ),
                }
            }
            if stages.len() != values.len() {
                return None;
            }
            TraitTest::LifecycleStage(match op {
                Op::Equals => ValueTest::Equals(stages[0]),
                Op::In => ValueTest::In(stages),
                _ => ValueTest::Exists,
            })
        }
    })
}

/// The values an operator takes: EQUALS one, IN and CONTAINS 1 to 100, EXISTS none.
fn trait_values(
    t: &pb::TraitCondition,
    op: Op,
    path: &str,
    v: &mut Violations,
) -> Option<Vec<String>> {
    let (min, max) = match op {
        Op::Equals => (1, 1),
        Op::Exists => (0, 0),
        _ => (1, MAX_VALUES),
    };
    if !(min..=max).contains(&t.values.len()) {
        let want = match (min, max) {
            (0, 0) => "must be empty for OPERATOR_EXISTS".to_owned(),
            (1, 1) => "must have exactly 1 value".to_owned(),
            _ => format!("must have 1 to {max} values"),
        };
        v.add(format!("{path}.values"), want);
        return None;
    }
    let before = v.total();
    let attribute = t.field.starts_with("attributes.");
    let out: Vec<String> = t
        .values
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let checked = validate::text(
                &format!("{path}.values[{i}]"),
                s,
                MAX_TRAIT_VALUE_CHARS,
                true,
                v,
            );
            // An attribute compares as its exact text; other values are codes, trimmed.
            if attribute { s.clone() } else { checked }
        })
        .collect();
    (v.total() == before).then_some(out)
}

pub fn rule_to_proto(r: &Rule) -> pb::Rule {
    use pb::rule::Node;
    let group = |rules: &[Rule]| pb::RuleGroup {
        rules: rules.iter().map(rule_to_proto).collect(),
    };
    pb::Rule {
        node: Some(match r {
            Rule::All(rules) => Node::All(group(rules)),
            Rule::Any(rules) => Node::Any(group(rules)),
            Rule::Not(inner) => Node::Not(Box::new(rule_to_proto(inner))),
            Rule::Condition(c) => Node::Condition(pb::Condition {
                condition: Some(condition_to_proto(c)),
            }),
        }),
    }
}

fn comparison_to_proto(c: &Comparison) -> pb::Comparison {
    use pb::comparison::Operator as O;
    let op = match c.op {
        Cmp::Less => O::Less,
        Cmp::LessOrEqual => O::LessOrEqual,
        Cmp::Equal => O::Equal,
        Cmp::GreaterOrEqual => O::GreaterOrEqual,
        Cmp::Greater => O::Greater,
    };
    pb::Comparison {
        operator: op as i32,
        value: c.value,
    }
}

fn value_test_to_proto(field: String, t: &ValueTest<String>) -> pb::TraitCondition {
    let (op, values) = match t {
        ValueTest::Equals(s) => (Op::Equals, vec![s.clone()]),
        ValueTest::In(vs) => (Op::In, vs.clone()),
        ValueTest::Exists => (Op::Exists, vec![]),
    };
    pb::TraitCondition {
        field,
        operator: op as i32,
        values,
    }
}

fn condition_to_proto(c: &Condition) -> PC {
    match c {
        Condition::Trait(t) => PC::Trait(match t {
            TraitTest::LanguageCode(t) => value_test_to_proto("language_code".into(), t),
            TraitTest::TimeZone(t) => value_test_to_proto("time_zone".into(), t),
            TraitTest::Attribute { key, test } => {
                value_test_to_proto(format!("attributes.{key}"), test)
            }
            TraitTest::LifecycleStage(t) => {
                let name = |n: &i32| {
                    LifecycleStage::try_from(*n)
                        .map(|l| l.as_str_name().to_owned())
                        .unwrap_or_default()
                };
                let t = match t {
                    ValueTest::Equals(n) => ValueTest::Equals(name(n)),
                    ValueTest::In(ns) => ValueTest::In(ns.iter().map(name).collect()),
                    ValueTest::Exists => ValueTest::Exists,
                };
                value_test_to_proto("lifecycle_stage".into(), &t)
            }
            TraitTest::Tags(t) => {
                let (op, values) = match t {
                    TagTest::Contains(vs) => (Op::Contains, vs.clone()),
                    TagTest::In(vs) => (Op::In, vs.clone()),
                    TagTest::Exists => (Op::Exists, vec![]),
                };
                pb::TraitCondition {
                    field: "tags".into(),
                    operator: op as i32,
                    values,
                }
            }
        }),
        Condition::Birthday { within_days } => PC::Birthday(pb::DateWithin {
            within_days: (*within_days).into(),
        }),
        Condition::ImportantDate { kind, within_days } => {
            PC::ImportantDate(pb::ImportantDateWithin {
                kind: kind.clone(),
                within_days: (*within_days).into(),
            })
        }
        Condition::Tier(values) => PC::Tier(pb::ValueIn {
            values: values.clone(),
        }),
        Condition::RfmSegment(values) => PC::RfmSegment(pb::ValueIn {
            values: values.clone(),
        }),
        Condition::Points(c) => PC::Points(comparison_to_proto(c)),
        Condition::OrderCount(c) => PC::OrderCount(comparison_to_proto(c)),
        Condition::Purchased(p) => PC::Purchased(pb::PurchaseCondition {
            item_id: p.item_id.clone().unwrap_or_default(),
            min_count: i32::try_from(p.min_count).unwrap_or(i32::MAX),
            within_days: p.within_days.into(),
        }),
        Condition::Spend(s) => PC::Spend(pb::SpendCondition {
            currency_code: s.currency.clone(),
            within_days: s.within_days.into(),
            amount: Some(comparison_to_proto(&s.amount)),
        }),
        Condition::LastPurchase(lp) => PC::LastPurchase(pb::LastPurchaseCondition {
            when: Some(match lp {
                LastPurchase::BeforeDaysAgo(d) => When::BeforeDaysAgo((*d).into()),
                LastPurchase::WithinDays(d) => When::WithinDays((*d).into()),
                LastPurchase::Never(n) => When::Never(*n),
            }),
        }),
        Condition::OpenComplaint(b) => PC::OpenComplaint(*b),
        Condition::Consent { channel, granted } => PC::Consent(pb::ConsentCondition {
            channel: *channel,
            granted: *granted,
        }),
    }
}

#[cfg(test)]
mod tests;
