use super::*;
use pb::rule::Node;

fn limits() -> SegmentLimits {
    SegmentLimits {
        max_display_name_chars: 20,
        max_description_chars: 50,
        max_rule_depth: 4,
        max_rule_conditions: 5,
        default_preview_size: 20,
        max_preview_size: 100,
    }
}

fn cond(c: PC) -> pb::Rule {
    pb::Rule {
        node: Some(Node::Condition(pb::Condition { condition: Some(c) })),
    }
}

fn all(rules: Vec<pb::Rule>) -> pb::Rule {
    pb::Rule {
        node: Some(Node::All(pb::RuleGroup { rules })),
    }
}

fn any(rules: Vec<pb::Rule>) -> pb::Rule {
    pb::Rule {
        node: Some(Node::Any(pb::RuleGroup { rules })),
    }
}

fn not(r: pb::Rule) -> pb::Rule {
    pb::Rule {
        node: Some(Node::Not(Box::new(r))),
    }
}

fn trait_(field: &str, op: Op, values: &[&str]) -> pb::Rule {
    cond(PC::Trait(pb::TraitCondition {
        field: field.into(),
        operator: op as i32,
        values: values.iter().map(|s| (*s).to_owned()).collect(),
    }))
}

fn cmp(op: pb::comparison::Operator, value: i64) -> pb::Comparison {
    pb::Comparison {
        operator: op as i32,
        value,
    }
}

fn problems(r: &pb::Rule) -> Vec<String> {
    let mut v = Violations::new();
    let parsed = rule(Some(r), "rule", &limits(), &mut v);
    let fields: Vec<String> = v.iter().map(|f| f.field.clone()).collect();
    assert_eq!(parsed.is_none(), !fields.is_empty(), "{fields:?}");
    fields
}

/// Every kind of condition, valid.
fn every_condition() -> Vec<pb::Rule> {
    use pb::comparison::Operator as O;
    vec![
        trait_("language_code", Op::Equals, &["zh-CN"]),
        trait_("time_zone", Op::In, &["Asia/Shanghai", "UTC"]),
        trait_("lifecycle_stage", Op::In, &["LIFECYCLE_STAGE_ACTIVE"]),
        trait_("tags", Op::Contains, &["vip", "coffee"]),
        trait_("tags", Op::Exists, &[]),
        trait_("attributes.shoe_size", Op::Equals, &["42"]),
        cond(PC::Birthday(pb::DateWithin { within_days: 7 })),
        cond(PC::ImportantDate(pb::ImportantDateWithin {
            kind: "wedding_anniversary".into(),
            within_days: 0,
        })),
        cond(PC::Tier(pb::ValueIn {
            values: vec!["gold".into()],
        })),
        cond(PC::Points(cmp(O::GreaterOrEqual, 100))),
        cond(PC::Purchased(pb::PurchaseCondition {
            item_id: "sku-1".into(),
            min_count: 2,
            within_days: 30,
        })),
        cond(PC::Spend(pb::SpendCondition {
            currency_code: "CNY".into(),
            within_days: 0,
            amount: Some(cmp(O::Greater, 10_000)),
        })),
        cond(PC::RfmSegment(pb::ValueIn {
            values: vec!["champions".into(), "at_risk".into()],
        })),
        cond(PC::LastPurchase(pb::LastPurchaseCondition {
            when: Some(When::BeforeDaysAgo(90)),
        })),
        cond(PC::LastPurchase(pb::LastPurchaseCondition {
            when: Some(When::Never(true)),
        })),
        cond(PC::OpenComplaint(true)),
        cond(PC::Consent(pb::ConsentCondition {
            channel: Channel::Sms as i32,
            granted: false,
        })),
        cond(PC::OrderCount(cmp(O::Less, 3))),
    ]
}

#[test]
fn every_condition_parses_and_converts_back_unchanged() {
    let l = SegmentLimits {
        max_rule_conditions: 100,
        ..limits()
    };
    for r in every_condition() {
        let tree = not(any(vec![r.clone()]));
        let mut v = Violations::new();
        let parsed = rule(Some(&tree), "rule", &l, &mut v).expect("valid");
        assert!(v.is_empty(), "{r:?}");
        assert_eq!(rule_to_proto(&parsed), tree);
        let json = serde_json::to_string(&parsed).expect("json");
        assert_eq!(serde_json::from_str::<Rule>(&json).expect("back"), parsed);
    }
}

#[test]
fn every_bad_field_is_named_by_its_path() {
    use pb::comparison::Operator as O;
    let long = "x".repeat(201);
    let cases: Vec<(pb::Rule, Vec<&str>)> = vec![
        (pb::Rule { node: None }, vec!["rule"]),
        (all(vec![]), vec!["rule.all.rules"]),
        (
            cond(PC::Birthday(pb::DateWithin { within_days: 367 })),
            vec!["rule.condition.birthday.within_days"],
        ),
        (
            all(vec![
                trait_("tags", Op::In, &["ok"]),
                trait_("tags", Op::In, &["ok", &long]),
            ]),
            vec!["rule.all.rules[1].condition.trait.values[1]"],
        ),
        (
            any(vec![
                trait_("nickname", Op::Equals, &["x"]),
                trait_("tags", Op::Equals, &["x"]),
            ]),
            vec![
                "rule.any.rules[0].condition.trait.field",
                "rule.any.rules[1].condition.trait.operator",
            ],
        ),
        (
            trait_("language_code", Op::Contains, &["zh"]),
            vec!["rule.condition.trait.operator"],
        ),
        (
            trait_("language_code", Op::Unspecified, &["zh"]),
            vec!["rule.condition.trait.operator"],
        ),
        (
            trait_("language_code", Op::Equals, &["zh", "en"]),
            vec!["rule.condition.trait.values"],
        ),
        (
            trait_("tags", Op::Exists, &["x"]),
            vec!["rule.condition.trait.values"],
        ),
        (
            trait_("attributes.bad-key", Op::Exists, &[]),
            vec!["rule.condition.trait.field"],
        ),
        (
            trait_("attributes.", Op::Exists, &[]),
            vec!["rule.condition.trait.field"],
        ),
        (
            trait_(
                "lifecycle_stage",
                Op::In,
                &[
                    "LIFECYCLE_STAGE_ACTIVE",
                    "ACTIVE",
                    "LIFECYCLE_STAGE_UNSPECIFIED",
                ],
            ),
            vec![
                "rule.condition.trait.values[1]",
                "rule.condition.trait.values[2]",
            ],
        ),
        (
            trait_("time_zone", Op::Equals, &["a\nb"]),
            vec!["rule.condition.trait.values[0]"],
        ),
        (
            cond(PC::ImportantDate(pb::ImportantDateWithin {
                kind: String::new(),
                within_days: -1,
            })),
            vec![
                "rule.condition.important_date.kind",
                "rule.condition.important_date.within_days",
            ],
        ),
        (
            cond(PC::Tier(pb::ValueIn { values: vec![] })),
            vec!["rule.condition.tier.values"],
        ),
        (
            cond(PC::RfmSegment(pb::ValueIn {
                values: vec!["x".repeat(65)],
            })),
            vec!["rule.condition.rfm_segment.values[0]"],
        ),
        (
            cond(PC::Points(cmp(O::Unspecified, 1_000_000_000_000_001))),
            vec![
                "rule.condition.points.operator",
                "rule.condition.points.value",
            ],
        ),
        (
            cond(PC::Purchased(pb::PurchaseCondition {
                item_id: "x".repeat(129),
                min_count: 0,
                within_days: 3661,
            })),
            vec![
                "rule.condition.purchased.item_id",
                "rule.condition.purchased.min_count",
                "rule.condition.purchased.within_days",
            ],
        ),
        (
            cond(PC::Spend(pb::SpendCondition {
                currency_code: "cny".into(),
                within_days: -1,
                amount: None,
            })),
            vec![
                "rule.condition.spend.currency_code",
                "rule.condition.spend.within_days",
                "rule.condition.spend.amount",
            ],
        ),
        (
            cond(PC::Spend(pb::SpendCondition {
                currency_code: "CNY".into(),
                within_days: 0,
                amount: Some(cmp(O::Unspecified, 0)),
            })),
            vec!["rule.condition.spend.amount.operator"],
        ),
        (
            cond(PC::LastPurchase(pb::LastPurchaseCondition { when: None })),
            vec!["rule.condition.last_purchase"],
        ),
        (
            cond(PC::LastPurchase(pb::LastPurchaseCondition {
                when: Some(When::WithinDays(0)),
            })),
            vec!["rule.condition.last_purchase.within_days"],
        ),
        (
            cond(PC::Consent(pb::ConsentCondition {
                channel: 0,
                granted: true,
            })),
            vec!["rule.condition.consent.channel"],
        ),
        (
            cond(PC::Consent(pb::ConsentCondition {
                channel: 99,
                granted: true,
            })),
            vec!["rule.condition.consent.channel"],
        ),
        (
            pb::Rule {
                node: Some(Node::Condition(pb::Condition { condition: None })),
            },
            vec!["rule.condition"],
        ),
        (not(pb::Rule { node: None }), vec!["rule.not"]),
    ];
    for (r, want) in cases {
        assert_eq!(problems(&r), want, "{r:?}");
    }
}

#[test]
fn depth_and_condition_count_are_bounded() {
    let c = || cond(PC::OpenComplaint(true));
    // Depth 4 is the limit: not(not(not(condition))).
    assert!(problems(&not(not(not(c())))).is_empty());
    assert_eq!(problems(&not(not(not(not(c()))))), ["rule.not.not.not.not"]);
    assert_eq!(
        problems(&all(vec![
            c(),
            any(vec![c(), all(vec![c(), any(vec![c()])])])
        ])),
        ["rule.all.rules[1].any.rules[1].all.rules[1].any.rules[0]"]
    );
    assert!(problems(&all((0..5).map(|_| c()).collect())).is_empty());
    assert_eq!(problems(&all((0..6).map(|_| c()).collect())), ["rule"]);
    let wide = all((0..51).map(|_| c()).collect());
    assert_eq!(problems(&wide), ["rule.all.rules"]);
}

#[test]
fn segment_fields_are_checked_under_segment_and_only_as_masked() {
    let l = limits();
    let s = pb::Segment {
        display_name: " ".into(),
        description: "x".repeat(51),
        rule: Some(all(vec![])),
        ..Default::default()
    };
    let mut v = Violations::new();
    assert!(segment_fields(&s, &l, None, &mut v).is_none());
    let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "segment.display_name",
            "segment.description",
            "segment.rule.all.rules"
        ]
    );
    let mask = UpdateMask::parse(
        &["description".to_owned()],
        crate::domain::segment::UPDATABLE_FIELDS,
        "update_mask",
        &mut Violations::new(),
    )
    .expect("mask");
    let ok = pb::Segment {
        description: "fine".into(),
        ..s
    };
    let mut v = Violations::new();
    let f = segment_fields(&ok, &l, Some(&mask), &mut v).expect("only the description");
    assert_eq!(f.description, "fine");
}
