//! The segment compiler on a fixture of members, both backends: a table of rule trees and
//! the members each must select (every condition, NOT, nesting, attributes through the
//! blind index, birthdays in the members' own time zones, Feb 29 in years without one).
use crate::harness::*;
use crate::segments_fixture::{Fixture, insert, spawn_quiet_app};
use chrono::{DateTime, Utc};
use crm_campaigns::domain::segment::{
    Cmp, Comparison, Condition as C, LastPurchase, Purchase, Rule, Spend, TagTest, TraitTest,
    ValueTest,
};
use crm_campaigns::store::segments as store;
use std::collections::BTreeMap;
use uuid::Uuid;

const EMAIL: i32 = 1;
const SMS: i32 = 2;
const COMPLAINT: i32 = 2;
const INQUIRY: i32 = 1;

/// 2026-06-15 20:00 UTC: already 06-16 in Shanghai (UTC+8), still 06-15 in New York.
const NOW: &str = "2026-06-15T20:00:00Z";

fn fixture() -> Vec<(&'static str, Fixture)> {
    let d = Fixture::default;
    vec![
        (
            "ana",
            Fixture {
                time_zone: "Asia/Shanghai",
                birthday: Some((6, 16)),
                language_code: "zh-CN",
                tags: &["coffee", "vip"],
                tier: "gold",
                points: 1500,
                lifecycle_stage: 3,
                consents: &[(EMAIL, true)],
                attributes: &[("shoe_size", "42")],
                ..d()
            },
        ),
        (
            "ben",
            Fixture {
                time_zone: "America/New_York",
                birthday: Some((6, 16)),
                language_code: "en",
                tags: &["coffee"],
                tier: "silver",
                points: 200,
                lifecycle_stage: 2,
                ..d()
            },
        ),
        (
            "cai",
            Fixture {
                birthday: Some((6, 15)),
                ..d()
            },
        ),
        (
            "dan",
            Fixture {
                time_zone: "Mars/Olympus",
                birthday: Some((6, 15)),
                ..d()
            },
        ),
        (
            "eve",
            Fixture {
                time_zone: "Asia/Shanghai",
                birthday: Some((6, 15)),
                ..d()
            },
        ),
        (
            "fay",
            Fixture {
                birthday: Some((2, 29)),
                ..d()
            },
        ),
        (
            "gus",
            Fixture {
                order_count: 2,
                last_purchase_days_ago: Some(5),
                orders: &[
                    (5, "CNY", 5000, &[("sku-1", 1)]),
                    (20, "CNY", 3000, &[("sku-1", 2), ("sku-2", 1)]),
                    (25, "CNY", -2000, &[]),
                ],
                ..d()
            },
        ),
        (
            "hal",
            Fixture {
                tier: "gold",
                order_count: 1,
                last_purchase_days_ago: Some(200),
                orders: &[(200, "CNY", 20000, &[("sku-1", 1)])],
                ..d()
            },
        ),
        (
            "ivy",
            Fixture {
                points: 50,
                tickets: &[(COMPLAINT, true)],
                ..d()
            },
        ),
        (
            "jon",
            Fixture {
                tickets: &[(COMPLAINT, false)],
                ..d()
            },
        ),
        (
            "kim",
            Fixture {
                tickets: &[(INQUIRY, true)],
                ..d()
            },
        ),
        (
            "lea",
            Fixture {
                state: "merged",
                tier: "gold",
                ..d()
            },
        ),
        (
            "max",
            Fixture {
                state: "deleted",
                tier: "gold",
                ..d()
            },
        ),
        (
            "ned",
            Fixture {
                time_zone: "Asia/Shanghai",
                rfm: "champions",
                attributes: &[("shoe_size", "43"), ("color", "blue")],
                dates: &[("wedding_anniversary", 6, 18)],
                ..d()
            },
        ),
        (
            "oli",
            Fixture {
                rfm: "at_risk",
                language_code: "zh-CN",
                consents: &[(EMAIL, false), (SMS, true)],
                dates: &[("wedding_anniversary", 6, 14)],
                ..d()
            },
        ),
    ]
}

const ACTIVE: &[&str] = &[
    "ana", "ben", "cai", "dan", "eve", "fay", "gus", "hal", "ivy", "jon", "kim", "ned", "oli",
];

fn active_but(out: &[&str]) -> Vec<&'static str> {
    ACTIVE
        .iter()
        .copied()
        .filter(|n| !out.contains(n))
        .collect()
}

fn c(c: C) -> Rule {
    Rule::Condition(c)
}

fn not(r: Rule) -> Rule {
    Rule::Not(Box::new(r))
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn cmp(op: Cmp, value: i64) -> Comparison {
    Comparison { op, value }
}

fn birthday(within_days: u16) -> Rule {
    c(C::Birthday { within_days })
}

fn lang(t: ValueTest<String>) -> Rule {
    c(C::Trait(TraitTest::LanguageCode(t)))
}

fn tags(t: TagTest) -> Rule {
    c(C::Trait(TraitTest::Tags(t)))
}

fn attr(key: &str, test: ValueTest<String>) -> Rule {
    c(C::Trait(TraitTest::Attribute {
        key: key.into(),
        test,
    }))
}

fn purchased(item: Option<&str>, min_count: u32, within_days: u16) -> Rule {
    c(C::Purchased(Purchase {
        item_id: item.map(str::to_owned),
        min_count,
        within_days,
    }))
}

fn spend(currency: &str, within_days: u16, amount: Comparison) -> Rule {
    c(C::Spend(Spend {
        currency: currency.into(),
        within_days,
        amount,
    }))
}

fn anniversary(kind: &str, within_days: u16) -> Rule {
    c(C::ImportantDate {
        kind: kind.into(),
        within_days,
    })
}

/// (what, rule, the members it selects at NOW)
fn table() -> Vec<(&'static str, Rule, Vec<&'static str>)> {
    use Cmp::*;
    use ValueTest as V;
    let s = |v: &str| v.to_owned();
    vec![
        (
            "birthday today, local",
            birthday(0),
            vec!["ana", "cai", "dan"],
        ),
        (
            "birthday within 1",
            birthday(1),
            vec!["ana", "ben", "cai", "dan"],
        ),
        (
            "birthday within a year",
            birthday(366),
            vec!["ana", "ben", "cai", "dan", "eve", "fay"],
        ),
        (
            "not birthday today",
            not(birthday(0)),
            active_but(&["ana", "cai", "dan"]),
        ),
        (
            "anniversary within 3, local",
            anniversary("wedding_anniversary", 3),
            vec!["ned"],
        ),
        (
            "anniversary today",
            anniversary("wedding_anniversary", 0),
            vec![],
        ),
        ("another kind", anniversary("first_visit", 366), vec![]),
        (
            "language equals",
            lang(V::Equals(s("zh-CN"))),
            vec!["ana", "oli"],
        ),
        (
            "language in",
            lang(V::In(strings(&["en", "zh-CN"]))),
            vec!["ana", "ben", "oli"],
        ),
        (
            "language exists",
            lang(V::Exists),
            vec!["ana", "ben", "oli"],
        ),
        (
            "time zone equals",
            c(C::Trait(TraitTest::TimeZone(V::Equals(s("Asia/Shanghai"))))),
            vec!["ana", "eve", "ned"],
        ),
        (
            "time zone exists",
            c(C::Trait(TraitTest::TimeZone(V::Exists))),
            vec!["ana", "ben", "dan", "eve", "ned"],
        ),
        (
            "stage in",
            c(C::Trait(TraitTest::LifecycleStage(V::In(vec![3, 2])))),
            vec!["ana", "ben"],
        ),
        (
            "stage equals",
            c(C::Trait(TraitTest::LifecycleStage(V::Equals(2)))),
            vec!["ben"],
        ),
        (
            "stage exists",
            c(C::Trait(TraitTest::LifecycleStage(V::Exists))),
            vec!["ana", "ben"],
        ),
        (
            "tags contain all",
            tags(TagTest::Contains(strings(&["coffee", "vip"]))),
            vec!["ana"],
        ),
        (
            "tags in",
            tags(TagTest::In(strings(&["vip", "coffee"]))),
            vec!["ana", "ben"],
        ),
        ("tags exist", tags(TagTest::Exists), vec!["ana", "ben"]),
        (
            "no tags",
            not(tags(TagTest::Exists)),
            active_but(&["ana", "ben"]),
        ),
        (
            "attribute equals",
            attr("shoe_size", V::Equals(s("42"))),
            vec!["ana"],
        ),
        (
            "attribute in",
            attr("shoe_size", V::In(strings(&["42", "43"]))),
            vec!["ana", "ned"],
        ),
        ("attribute exists", attr("color", V::Exists), vec!["ned"]),
        (
            "attribute value of another key",
            attr("shoe_size", V::Equals(s("blue"))),
            vec![],
        ),
        ("tier", c(C::Tier(strings(&["gold"]))), vec!["ana", "hal"]),
        (
            "points at least",
            c(C::Points(cmp(GreaterOrEqual, 200))),
            vec!["ana", "ben"],
        ),
        (
            "points below",
            c(C::Points(cmp(Less, 100))),
            active_but(&["ana", "ben"]),
        ),
        (
            "item twice in 30 days",
            purchased(Some("sku-1"), 2, 30),
            vec!["gus"],
        ),
        (
            "item ever",
            purchased(Some("sku-1"), 1, 0),
            vec!["gus", "hal"],
        ),
        (
            "purchases, not units",
            purchased(Some("sku-1"), 3, 0),
            vec![],
        ),
        (
            "anything twice in 30 days (refunds do not count)",
            purchased(None, 2, 30),
            vec!["gus"],
        ),
        ("anything in 100 days", purchased(None, 1, 100), vec!["gus"]),
        ("anything ever", purchased(None, 1, 0), vec!["gus", "hal"]),
        (
            "spend ever over",
            spend("CNY", 0, cmp(Greater, 10_000)),
            vec!["hal"],
        ),
        (
            "net spend in 30 days",
            spend("CNY", 30, cmp(GreaterOrEqual, 6000)),
            vec!["gus"],
        ),
        (
            "net spend in 30 days, refund counted",
            spend("CNY", 30, cmp(Greater, 6000)),
            vec![],
        ),
        (
            "spend below (nothing spent counts)",
            spend("CNY", 0, cmp(Less, 1000)),
            active_but(&["gus", "hal"]),
        ),
        (
            "spend in another currency",
            spend("USD", 0, cmp(Equal, 0)),
            ACTIVE.to_vec(),
        ),
        (
            "last purchase before 30 days",
            c(C::LastPurchase(LastPurchase::BeforeDaysAgo(30))),
            vec!["hal"],
        ),
        (
            "not last purchase before 30 days (never purchased included)",
            not(c(C::LastPurchase(LastPurchase::BeforeDaysAgo(30)))),
            active_but(&["hal"]),
        ),
        (
            "last purchase within 30",
            c(C::LastPurchase(LastPurchase::WithinDays(30))),
            vec!["gus"],
        ),
        (
            "never purchased",
            c(C::LastPurchase(LastPurchase::Never(true))),
            active_but(&["gus", "hal"]),
        ),
        (
            "purchased once",
            c(C::LastPurchase(LastPurchase::Never(false))),
            vec!["gus", "hal"],
        ),
        ("open complaint", c(C::OpenComplaint(true)), vec!["ivy"]),
        (
            "no open complaint",
            c(C::OpenComplaint(false)),
            active_but(&["ivy"]),
        ),
        (
            "email consent",
            c(C::Consent {
                channel: EMAIL,
                granted: true,
            }),
            vec!["ana"],
        ),
        (
            "no email consent",
            c(C::Consent {
                channel: EMAIL,
                granted: false,
            }),
            active_but(&["ana"]),
        ),
        (
            "sms consent",
            c(C::Consent {
                channel: SMS,
                granted: true,
            }),
            vec!["oli"],
        ),
        (
            "orders at least",
            c(C::OrderCount(cmp(GreaterOrEqual, 1))),
            vec!["gus", "hal"],
        ),
        ("orders equal", c(C::OrderCount(cmp(Equal, 2))), vec!["gus"]),
        (
            "rfm",
            c(C::RfmSegment(strings(&["champions", "at_risk"]))),
            vec!["ned", "oli"],
        ),
        (
            "nested: gold and (birthday soon or big spender)",
            Rule::All(vec![
                c(C::Tier(strings(&["gold"]))),
                Rule::Any(vec![birthday(1), spend("CNY", 0, cmp(Greater, 10_000))]),
            ]),
            vec!["ana", "hal"],
        ),
        (
            "not (chinese and not emailable)",
            not(Rule::All(vec![
                lang(V::Equals(s("zh-CN"))),
                not(c(C::Consent {
                    channel: EMAIL,
                    granted: true,
                })),
            ])),
            active_but(&["oli"]),
        ),
        (
            "complaint or vip",
            Rule::Any(vec![
                c(C::OpenComplaint(true)),
                tags(TagTest::In(strings(&["vip"]))),
            ]),
            vec!["ana", "ivy"],
        ),
    ]
}

async fn selected(
    app: &TestApp,
    ids: &BTreeMap<Uuid, &'static str>,
    rule: &Rule,
    now: DateTime<Utc>,
) -> Vec<&'static str> {
    let keys = app.service.keys().await.expect("keys");
    let db = app.service.db();
    let page = store::member_page(db, rule, &keys, now, None, 100)
        .await
        .expect("member page");
    let count = store::count(db, rule, &keys, now).await.expect("count");
    assert_eq!(count, page.len() as u64, "count agrees with the page");
    for id in ids.keys() {
        let inside = store::contains(db, rule, &keys, now, *id)
            .await
            .expect("contains");
        assert_eq!(inside, page.contains(id), "contains agrees for {}", ids[id]);
    }
    let mut names: Vec<_> = page.iter().map(|id| ids[id]).collect();
    names.sort_unstable();
    names
}

#[tokio::test]
async fn every_rule_of_the_table_selects_its_members() {
    each_backend(|b| async move {
        let app = spawn_quiet_app(b).await;
        let now: DateTime<Utc> = NOW.parse().expect("now");
        let keys = app.service.keys().await.expect("keys");
        let mut ids = BTreeMap::new();
        for (name, f) in fixture() {
            let id = Uuid::now_v7();
            insert(app.service.db(), &keys, id, &f, now).await;
            ids.insert(id, name);
        }
        let mut failed = Vec::new();
        for (what, rule, mut want) in table() {
            want.sort_unstable();
            let got = selected(&app, &ids, &rule, now).await;
            if got != want {
                failed.push(format!("{what}: got {got:?}, want {want:?}"));
            }
        }
        assert!(failed.is_empty(), "{b:?}:\n{}", failed.join("\n"));
        // A page continues after its cursor, in id order.
        let all = store::member_page(
            app.service.db(),
            &not(tags(TagTest::Exists)),
            &keys,
            now,
            None,
            3,
        )
        .await
        .expect("page");
        let next = store::member_page(
            app.service.db(),
            &not(tags(TagTest::Exists)),
            &keys,
            now,
            all.last().copied(),
            100,
        )
        .await
        .expect("next page");
        assert_eq!(all.len() + next.len(), ACTIVE.len() - 2);
        assert!(all.iter().chain(&next).is_sorted());
    })
    .await;
}

#[tokio::test]
async fn feb_29_birthdays_count_on_feb_28_in_years_without_one() {
    each_backend(|b| async move {
        let app = spawn_quiet_app(b).await;
        let keys = app.service.keys().await.expect("keys");
        let at = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
        let mut ids = BTreeMap::new();
        for (name, f) in fixture() {
            let id = Uuid::now_v7();
            insert(app.service.db(), &keys, id, &f, at(NOW)).await;
            ids.insert(id, name);
        }
        let today = birthday(0);
        assert_eq!(
            selected(&app, &ids, &today, at("2027-02-28T12:00:00Z")).await,
            ["fay"]
        );
        assert!(
            selected(&app, &ids, &today, at("2028-02-28T12:00:00Z"))
                .await
                .is_empty()
        );
        assert_eq!(
            selected(&app, &ids, &today, at("2028-02-29T12:00:00Z")).await,
            ["fay"]
        );
        // Tomorrow is Feb 28 of a year without Feb 29.
        assert_eq!(
            selected(&app, &ids, &birthday(1), at("2027-02-27T12:00:00Z")).await,
            ["fay"]
        );
    })
    .await;
}
