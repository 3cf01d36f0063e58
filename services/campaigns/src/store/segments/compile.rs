//! A rule tree compiled to one sea-query condition over `members`: plain columns are tested
//! in place, the member_* tables through correlated `EXISTS (SELECT ... WHERE customer_id =
//! members.id ...)` subqueries (each one indexed lookup, see the read-model migration).
//! Every value is a bound parameter, never spliced into the SQL text; the same tree gives
//! the same statement on SQLite and PostgreSQL. Nullable columns are tested with
//! `IS NOT NULL AND ...`, so a NOT above them is a plain negation (never SQL's unknown).
use crate::domain::segment::{
    COMPLAINT_CATEGORY, Cmp, Comparison, Condition as C, DayRange, LastPurchase, Purchase, Rule,
    Spend, TagTest, TraitTest, ValueTest, anniversary_windows, since, zones_by_local_date,
};
use crate::store::entities::{
    member, member_attribute, member_consent, member_date, member_order, member_order_item,
    member_tag, member_ticket,
};
use crate::store::members::{attribute_key_hash, attribute_value_hash};
use chrono::{DateTime, NaiveDate, Utc};
use crm_platform::pii::Keys;
use sea_orm::sea_query::{Expr, ExprTrait as _, Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition};
use std::cell::OnceCell;

/// What a compilation needs besides the tree: the blind-index keys (attributes) and the
/// instant relative dates count from.
pub struct Compiler<'a> {
    keys: &'a Keys,
    now: DateTime<Utc>,
    zones: OnceCell<Vec<(NaiveDate, Vec<&'static str>)>>,
    counting: bool,
}

impl<'a> Compiler<'a> {
    pub fn new(keys: &'a Keys, now: DateTime<Utc>) -> Self {
        Self {
            keys,
            now,
            zones: OnceCell::new(),
            counting: false,
        }
    }

    /// For counting every match rather than reading a page or a few members: per-customer
    /// aggregates (purchases, spend) are computed once for all customers and hash-joined,
    /// instead of once per member row (the better plan for a page, a range or one member).
    pub fn counting(self) -> Self {
        Self {
            counting: true,
            ..self
        }
    }

    /// The condition a member row passes when `rule` holds for it.
    pub fn rule(&self, rule: &Rule) -> Condition {
        match rule {
            Rule::All(rules) => rules
                .iter()
                .fold(Condition::all(), |c, r| c.add(self.rule(r))),
            Rule::Any(rules) => rules
                .iter()
                .fold(Condition::any(), |c, r| c.add(self.rule(r))),
            Rule::Not(r) => Condition::all().add(self.rule(r)).not(),
            Rule::Condition(c) => self.condition(c),
        }
    }

    fn condition(&self, c: &C) -> Condition {
        use member::Column as M;
        let one = |e: Expr| Condition::all().add(e);
        match c {
            C::Trait(t) => self.trait_test(t),
            C::Birthday { within_days } => self.by_local_date(|today| {
                let windows = anniversary_windows(today, *within_days);
                one(M::BirthMonth.is_not_null())
                    .add(M::BirthDay.is_not_null())
                    .add(windows_of(M::BirthMonth, M::BirthDay, &windows))
            }),
            C::ImportantDate { kind, within_days } => self.by_local_date(|today| {
                let windows = anniversary_windows(today, *within_days);
                let dates = Query::select()
                    .column(member_date::Column::CustomerId)
                    .from(member_date::Entity)
                    .and_where(member_date::Column::Kind.eq(kind.as_str()))
                    .cond_where(windows_of(
                        member_date::Column::Month,
                        member_date::Column::Day,
                        &windows,
                    ))
                    .to_owned();
                one(exists(dates, member_date::Column::CustomerId, true))
            }),
            C::Tier(values) => one(M::Tier.is_in(values.iter().map(String::as_str))),
            C::RfmSegment(values) => one(M::RfmSegment.is_in(values.iter().map(String::as_str))),
            C::Points(cmp) => one(compare(
                Expr::col((member::Entity, M::AvailablePoints)),
                cmp,
            )),
            C::OrderCount(cmp) => one(compare(Expr::col((member::Entity, M::OrderCount)), cmp)),
            C::Purchased(p) => one(self.purchased(p)),
            C::Spend(s) => self.spend(s),
            C::LastPurchase(lp) => one(match lp {
                LastPurchase::Never(true) => M::LastPurchaseTime.is_null(),
                LastPurchase::Never(false) => M::LastPurchaseTime.is_not_null(),
                LastPurchase::BeforeDaysAgo(d) => M::LastPurchaseTime
                    .is_not_null()
                    .and(M::LastPurchaseTime.lt(self.days_ago(*d))),
                LastPurchase::WithinDays(d) => M::LastPurchaseTime
                    .is_not_null()
                    .and(M::LastPurchaseTime.gte(self.days_ago(*d))),
            }),
            C::OpenComplaint(has) => {
                let open = Query::select()
                    .column(member_ticket::Column::CustomerId)
                    .from(member_ticket::Entity)
                    .and_where(member_ticket::Column::Category.eq(COMPLAINT_CATEGORY))
                    .and_where(member_ticket::Column::Open.eq(true))
                    .to_owned();
                one(exists(open, member_ticket::Column::CustomerId, *has))
            }
            C::Consent { channel, granted } => {
                let consented = Query::select()
                    .column(member_consent::Column::CustomerId)
                    .from(member_consent::Entity)
                    .and_where(member_consent::Column::Channel.eq(*channel))
                    .and_where(member_consent::Column::Granted.eq(true))
                    .to_owned();
                one(exists(
                    consented,
                    member_consent::Column::CustomerId,
                    *granted,
                ))
            }
        }
    }

    fn trait_test(&self, t: &TraitTest) -> Condition {
        use member::Column as M;
        let one = |e: Expr| Condition::all().add(e);
        match t {
            TraitTest::LanguageCode(test) => one(text_test(M::LanguageCode, test)),
            TraitTest::TimeZone(test) => one(text_test(M::TimeZone, test)),
            TraitTest::LifecycleStage(test) => one(match test {
                ValueTest::Equals(n) => M::LifecycleStage.eq(*n),
                ValueTest::In(ns) => M::LifecycleStage.is_in(ns.iter().copied()),
                ValueTest::Exists => M::LifecycleStage.ne(0),
            }),
            TraitTest::Tags(test) => {
                let tagged = |tags: Option<&[String]>| {
                    let mut q = Query::select()
                        .column(member_tag::Column::CustomerId)
                        .from(member_tag::Entity)
                        .to_owned();
                    if let Some(tags) = tags {
                        q.and_where(member_tag::Column::Tag.is_in(tags.iter().map(String::as_str)));
                    }
                    exists(q, member_tag::Column::CustomerId, true)
                };
                match test {
                    TagTest::Contains(tags) => tags.iter().fold(Condition::all(), |c, t| {
                        c.add(tagged(Some(std::slice::from_ref(t))))
                    }),
                    TagTest::In(tags) => one(tagged(Some(tags))),
                    TagTest::Exists => one(tagged(None)),
                }
            }
            TraitTest::Attribute { key, test } => {
                use member_attribute::Column as A;
                let mut q = Query::select()
                    .column(A::CustomerId)
                    .from(member_attribute::Entity)
                    .and_where(A::KeyHash.eq(attribute_key_hash(self.keys, key)))
                    .to_owned();
                let value = |v: &String| attribute_value_hash(self.keys, key, v);
                match test {
                    ValueTest::Equals(v) => {
                        q.and_where(A::ValueHash.eq(value(v)));
                    }
                    ValueTest::In(vs) => {
                        q.and_where(A::ValueHash.is_in(vs.iter().map(value)));
                    }
                    ValueTest::Exists => {}
                }
                one(exists(q, A::CustomerId, true))
            }
        }
    }

    /// At least `min_count` purchases (of the item, or any) in the window.
    fn purchased(&self, p: &Purchase) -> Expr {
        let after = since(self.now, p.within_days);
        let min = i64::from(p.min_count);
        match &p.item_id {
            Some(item) => {
                use member_order_item::Column as I;
                let mut q = Query::select()
                    .column(I::CustomerId)
                    .from(member_order_item::Entity)
                    // Item rows are purchases only (refunds carry none; quantities are >= 1),
                    // so the (item, customer, time) index answers alone.
                    .and_where(I::ItemId.eq(item.as_str()))
                    .to_owned();
                if let Some(t) = after {
                    q.and_where(I::OccurTime.gte(t));
                }
                // COUNT(*), not COUNT(activity_id): the index has no activity_id, and every row
                // is one purchase of the item.
                q.group_by_col(I::CustomerId)
                    .and_having(Expr::cust("COUNT(*)").gte(min));
                self.grouped(q, I::CustomerId, true)
            }
            None => {
                use member_order::Column as O;
                let mut q = Query::select()
                    .column(O::CustomerId)
                    .from(member_order::Entity)
                    .and_where(O::AmountMinor.gt(0))
                    .to_owned();
                if let Some(t) = after {
                    q.and_where(O::OccurTime.gte(t));
                }
                q.group_by_col(O::CustomerId).and_having(
                    Expr::col((member_order::Entity, O::ActivityId))
                        .count()
                        .gte(min),
                );
                self.grouped(q, O::CustomerId, true)
            }
        }
    }

    /// Net spend compared: members without orders in the window spend 0, so when 0 passes
    /// the test the condition is "no orders whose sum fails it".
    fn spend(&self, s: &Spend) -> Condition {
        use member_order::Column as O;
        let zero_passes = s.amount.holds(0);
        let sum = Expr::col((member_order::Entity, O::AmountMinor)).sum();
        let test = compare(sum, &s.amount);
        let mut q = Query::select()
            .column(O::CustomerId)
            .from(member_order::Entity)
            .and_where(O::CurrencyCode.eq(s.currency.as_str()))
            .to_owned();
        if let Some(t) = since(self.now, s.within_days) {
            q.and_where(O::OccurTime.gte(t));
        }
        q.group_by_col(O::CustomerId);
        if zero_passes {
            q.and_having(test.not());
        } else {
            q.and_having(test);
        }
        Condition::all().add(self.grouped(q, O::CustomerId, !zero_passes))
    }

    /// `[NOT] EXISTS` of a per-customer aggregate `q` (grouped by its `customer` column) for
    /// the member: correlated (an index probe per member row), or when counting, over the
    /// aggregate of everyone as a derived table (one pass, joined).
    fn grouped(&self, q: SelectStatement, customer: impl ColumnTrait, present: bool) -> Expr {
        if !self.counting {
            return exists(q, customer, present);
        }
        // `members.id IN (SELECT customer_id ... GROUP BY ... HAVING ...)`: the aggregate runs
        // once and is hashed (customer_id is never null, so NOT IN is a plain negation).
        let id = Expr::col((member::Entity, member::Column::Id));
        if present {
            id.in_subquery(q)
        } else {
            id.not_in_subquery(q)
        }
    }

    fn days_ago(&self, days: u16) -> DateTime<Utc> {
        since(self.now, days).unwrap_or(self.now)
    }

    /// `test(today)` for members on each local date in use now, by their time zone: members
    /// in zones on UTC's date, or with an empty or unknown zone, take UTC's date.
    fn by_local_date(&self, test: impl Fn(NaiveDate) -> Condition) -> Condition {
        let parts = self.zones.get_or_init(|| zones_by_local_date(self.now));
        let elsewhere: Vec<&str> = parts.iter().skip(1).flat_map(|(_, z)| z.clone()).collect();
        let mut any = Condition::any();
        for (i, (today, zones)) in parts.iter().enumerate() {
            let zone = if i == 0 {
                member::Column::TimeZone.is_not_in(elsewhere.iter().copied())
            } else {
                member::Column::TimeZone.is_in(zones.iter().copied())
            };
            let mut c = Condition::all();
            if i > 0 || !elsewhere.is_empty() {
                c = c.add(zone);
            }
            any = any.add(c.add(test(*today)));
        }
        any
    }
}

fn text_test(col: member::Column, test: &ValueTest<String>) -> Expr {
    match test {
        ValueTest::Equals(v) => col.eq(v.as_str()),
        ValueTest::In(vs) => col.is_in(vs.iter().map(String::as_str)),
        ValueTest::Exists => col.ne(""),
    }
}

/// `[NOT] EXISTS (q AND its customer column = members.id)`: one index probe per member row,
/// or a semi- / anti-join where the planner can make one. (NOT IN would not be: PostgreSQL
/// cannot turn it into an anti-join, and rescans the subquery when its hash outgrows
/// work_mem.)
fn exists(mut q: SelectStatement, customer: impl ColumnTrait, present: bool) -> Expr {
    q.and_where(Expr::col(customer.as_column_ref()).equals((member::Entity, member::Column::Id)));
    let e = Expr::exists(q);
    if present { e } else { e.not() }
}

fn compare(left: Expr, c: &Comparison) -> Expr {
    match c.op {
        Cmp::Less => left.lt(c.value),
        Cmp::LessOrEqual => left.lte(c.value),
        Cmp::Equal => left.eq(c.value),
        Cmp::GreaterOrEqual => left.gte(c.value),
        Cmp::Greater => left.gt(c.value),
    }
}

/// (month, day) columns within any of `windows` (ranges in leap-year order).
fn windows_of(month: impl ColumnTrait, day: impl ColumnTrait, windows: &[DayRange]) -> Condition {
    windows.iter().fold(Condition::any(), |any, w| {
        let (m1, d1) = (w.from.0 as i16, w.from.1 as i16);
        let (m2, d2) = (w.to.0 as i16, w.to.1 as i16);
        any.add(if m1 == m2 {
            Condition::all().add(month.eq(m1)).add(day.between(d1, d2))
        } else {
            Condition::any()
                .add(Condition::all().add(month.eq(m1)).add(day.gte(d1)))
                .add(Condition::all().add(month.gt(m1)).add(month.lt(m2)))
                .add(Condition::all().add(month.eq(m2)).add(day.lte(d2)))
        })
    })
}
