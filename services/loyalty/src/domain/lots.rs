//! Earned points as lots with an earn time, an available-from time and an expiry time.
//! Spending and expiry take from lots soonest-expiring first (FEFO).
use super::points::{Overflow, checked_sum, saturating_sum};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    pub id: Uuid,
    /// The order that earned it (empty for awards, adjustments, transfers).
    pub order_id: String,
    pub earn_time: DateTime<Utc>,
    pub available_time: DateTime<Utc>,
    pub expire_time: DateTime<Utc>,
    /// Points the lot was created with.
    pub amount: i64,
    /// Points still in the wallet.
    pub remaining: i64,
}

/// Points taken from one lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumption {
    pub lot: Uuid,
    pub points: i64,
}

impl Lot {
    pub fn is_available(&self, now: DateTime<Utc>) -> bool {
        self.remaining > 0 && self.available_time <= now && now < self.expire_time
    }
    pub fn is_pending(&self, now: DateTime<Utc>) -> bool {
        self.remaining > 0 && self.available_time > now && now < self.expire_time
    }
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.remaining > 0 && self.expire_time <= now
    }
}

pub fn available(lots: &[Lot], now: DateTime<Utc>) -> i64 {
    saturating_sum(
        lots.iter()
            .filter(|l| l.is_available(now))
            .map(|l| l.remaining),
    )
}

pub fn pending(lots: &[Lot], now: DateTime<Utc>) -> i64 {
    saturating_sum(
        lots.iter()
            .filter(|l| l.is_pending(now))
            .map(|l| l.remaining),
    )
}

/// Points left in all `lots`, or [`Overflow`].
pub fn remaining(lots: &[Lot]) -> Result<i64, Overflow> {
    checked_sum(lots.iter().map(|l| l.remaining))
}

/// Takes up to `want` points from the lots `eligible` picks, soonest-expiring first (then
/// oldest, then by id, so the order is total). Returns what was taken, in order.
pub fn consume(lots: &mut [Lot], want: i64, eligible: impl Fn(&Lot) -> bool) -> Vec<Consumption> {
    let mut order: Vec<usize> = (0..lots.len()).filter(|&i| eligible(&lots[i])).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&lots[a], &lots[b]);
        (a.expire_time, a.earn_time, a.id).cmp(&(b.expire_time, b.earn_time, b.id))
    });
    let mut left = want.max(0);
    let mut out = Vec::new();
    for i in order {
        if left == 0 {
            break;
        }
        let lot = &mut lots[i];
        let take = lot.remaining.min(left);
        if take > 0 {
            lot.remaining -= take;
            left -= take;
            out.push(Consumption {
                lot: lot.id,
                points: take,
            });
        }
    }
    out
}

/// Gives `points` back to the lots of `taken`, last taken first (a partial capture keeps the
/// soonest-expiring points spent), never filling a lot beyond the points it was created
/// with. Returns what went back where.
pub fn give_back(lots: &mut [Lot], taken: &[Consumption], points: i64) -> Vec<Consumption> {
    let mut left = points.max(0);
    let mut out = Vec::new();
    for c in taken.iter().rev() {
        if left == 0 {
            break;
        }
        if let Some(lot) = lots.iter_mut().find(|l| l.id == c.lot) {
            let back = c
                .points
                .min(left)
                .min(lot.amount.saturating_sub(lot.remaining).max(0));
            if back <= 0 {
                continue;
            }
            lot.remaining += back;
            left -= back;
            out.push(Consumption {
                lot: c.lot,
                points: back,
            });
        }
    }
    out
}

/// What is left of `taken` after `given_back` (per lot).
pub fn minus(taken: &[Consumption], given_back: &[Consumption]) -> Vec<Consumption> {
    let mut out: Vec<Consumption> = taken.to_vec();
    for g in given_back {
        let mut left = g.points;
        for c in out.iter_mut().rev().filter(|c| c.lot == g.lot) {
            let d = c.points.min(left);
            c.points -= d;
            left -= d;
        }
    }
    out.retain(|c| c.points > 0);
    out
}

/// Points of `cs` (each taken from one lot's remaining points, so the sum is exact).
pub fn total(cs: &[Consumption]) -> i64 {
    saturating_sum(cs.iter().map(|c| c.points))
}

/// Points expiring in `(now, now + days]`, summed per expiry time, soonest first.
pub fn expiring_within(lots: &[Lot], now: DateTime<Utc>, days: i64) -> Vec<(DateTime<Utc>, i64)> {
    let until = TimeDelta::try_days(days)
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let mut out: Vec<(DateTime<Utc>, i64)> = Vec::new();
    let mut soon: Vec<&Lot> = lots
        .iter()
        .filter(|l| l.remaining > 0 && l.expire_time > now && l.expire_time <= until)
        .collect();
    soon.sort_by_key(|l| l.expire_time);
    for l in soon {
        match out.last_mut() {
            Some((t, p)) if *t == l.expire_time => *p = p.saturating_add(l.remaining),
            _ => out.push((l.expire_time, l.remaining)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    fn lot(expire_days: i64, available_days: i64, points: i64) -> Lot {
        let now = Utc::now();
        Lot {
            id: Uuid::now_v7(),
            order_id: String::new(),
            earn_time: now - Duration::days(1),
            available_time: now + Duration::days(available_days),
            expire_time: now + Duration::days(expire_days),
            amount: points,
            remaining: points,
        }
    }

    #[test]
    fn fefo_takes_soonest_expiring_available_points_first() {
        let now = Utc::now();
        let mut lots = vec![
            lot(300, -1, 100),
            lot(10, -1, 50),
            lot(5, 3, 70),   // pending
            lot(-1, -5, 40), // due
        ];
        let taken = consume(&mut lots, 120, |l| l.is_available(now));
        assert_eq!(total(&taken), 120);
        assert_eq!(taken[0].lot, lots[1].id);
        assert_eq!(lots[1].remaining, 0);
        assert_eq!(lots[0].remaining, 30);
        assert_eq!(lots[2].remaining, 70, "pending points are not spent");
        assert_eq!(lots[3].remaining, 40, "due points are not spent");
        assert_eq!(available(&lots, now), 30);
        assert_eq!(pending(&lots, now), 70);
    }

    /// (lot id, points) taken, in order.
    type Taken = Vec<(u128, i64)>;

    #[test]
    fn fefo_order_is_total() {
        let t = Utc::now();
        // (id, earn time, expire time) in days from now, 10 points each.
        let lot_at = |id: u128, earned: i64, expires: i64| Lot {
            id: Uuid::from_u128(id),
            order_id: String::new(),
            earn_time: t + Duration::days(earned),
            available_time: t - Duration::days(30),
            expire_time: t + Duration::days(expires),
            amount: 10,
            remaining: 10,
        };
        // (case, lots, points wanted, (lot id, points) taken in order)
        #[rustfmt::skip]
        let table: Vec<(&str, Vec<Lot>, i64, Taken)> = vec![
            ("soonest expiry first", vec![lot_at(1, -5, 20), lot_at(2, -5, 10)], 15, vec![(2, 10), (1, 5)]),
            ("same expiry: oldest first", vec![lot_at(1, -2, 10), lot_at(2, -4, 10)], 15, vec![(2, 10), (1, 5)]),
            ("same expiry and age: lowest id first", vec![lot_at(2, -3, 10), lot_at(1, -3, 10)], 15, vec![(1, 10), (2, 5)]),
            ("expiry beats age", vec![lot_at(1, -9, 20), lot_at(2, -1, 10)], 5, vec![(2, 5)]),
            ("nothing wanted", vec![lot_at(1, -1, 10)], 0, vec![]),
            ("a negative want takes nothing", vec![lot_at(1, -1, 10)], -5, vec![]),
            ("more than there is takes everything", vec![lot_at(1, -1, 20), lot_at(2, -1, 10)], 99, vec![(2, 10), (1, 10)]),
        ];
        for (case, mut lots, want, expected) in table {
            let taken = consume(&mut lots, want, |_| true);
            let taken: Vec<(u128, i64)> =
                taken.iter().map(|c| (c.lot.as_u128(), c.points)).collect();
            assert_eq!(taken, expected, "{case}");
        }
    }

    #[test]
    fn partial_give_back_returns_the_latest_expiring_points() {
        let now = Utc::now();
        let mut lots = vec![lot(10, -1, 50), lot(300, -1, 100)];
        let taken = consume(&mut lots, 80, |l| l.is_available(now));
        let back = give_back(&mut lots, &taken, 20);
        assert_eq!(
            back,
            vec![Consumption {
                lot: lots[1].id,
                points: 20
            }]
        );
        assert_eq!(lots[1].remaining, 90);
        let kept = minus(&taken, &back);
        assert_eq!(total(&kept), 60);
    }

    #[test]
    fn expiring_soon_is_grouped_by_time() {
        let now = Utc::now();
        let mut a = lot(10, -1, 5);
        let mut b = a.clone();
        b.id = Uuid::now_v7();
        a.remaining = 3;
        let far = lot(100, -1, 9);
        let out = expiring_within(&[a.clone(), b, far], now, 30);
        assert_eq!(out, vec![(a.expire_time, 8)]);
    }

    #[test]
    fn give_back_never_fills_a_lot_beyond_its_amount() {
        let now = Utc::now();
        let mut lots = vec![lot(10, -1, 50)];
        let taken = consume(&mut lots, 20, |l| l.is_available(now));
        let forged = [Consumption {
            lot: lots[0].id,
            points: i64::MAX,
        }];
        let back = give_back(&mut lots, &forged, i64::MAX);
        assert_eq!(total(&back), 20);
        assert_eq!(lots[0].remaining, 50);
        assert_eq!(total(&taken), 20);
        assert_eq!(remaining(&lots), Ok(50));
        let mut full = lots.clone();
        full.push(lot(10, -1, i64::MAX));
        assert_eq!(remaining(&full), Err(Overflow));
        assert_eq!(available(&full, now), i64::MAX, "views clamp");
    }

    proptest! {
        /// Consumption never takes more than asked or more than eligible, never leaves a lot
        /// negative, and conserves points.
        #[test]
        fn consume_conserves_points(
            specs in proptest::collection::vec((-5i64..400, -5i64..5, 0i64..500), 0..12),
            want in 0i64..3000,
        ) {
            let now = Utc::now();
            let mut lots: Vec<Lot> = specs.iter().map(|(e, a, p)| lot(*e, *a, *p)).collect();
            let before: i64 = lots.iter().map(|l| l.remaining).sum();
            let avail = available(&lots, now);
            let taken = consume(&mut lots, want, |l| l.is_available(now));
            prop_assert_eq!(total(&taken), want.min(avail));
            prop_assert!(lots.iter().all(|l| l.remaining >= 0));
            let after: i64 = lots.iter().map(|l| l.remaining).sum();
            prop_assert_eq!(before - after, total(&taken));
            // FEFO: nothing left in an available lot expiring before the last one taken from.
            if let Some(last) = taken.last() {
                let last_exp = lots.iter().find(|l| l.id == last.lot).map(|l| l.expire_time);
                if let Some(last_exp) = last_exp {
                    prop_assert!(lots.iter().filter(|l| l.is_available(now)).all(|l| l.expire_time >= last_exp));
                }
            }
            let back = give_back(&mut lots, &taken, total(&taken));
            prop_assert_eq!(total(&back), total(&taken));
            let restored: i64 = lots.iter().map(|l| l.remaining).sum();
            prop_assert_eq!(restored, before);
        }
    }
}
