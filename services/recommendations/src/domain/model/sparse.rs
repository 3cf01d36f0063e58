//! The interactions as a sparse customer x item matrix, stored both ways (rows by customer
//! and by item), each entry the decayed sum of a customer's weights on an item.
use super::{BuildParams, Event};

/// Compressed rows: `entries[start[r]..start[r + 1]]` is row `r`, sorted by column.
#[derive(Debug, Default)]
struct Rows {
    start: Vec<usize>,
    entries: Vec<(u32, f32)>,
}

impl Rows {
    fn row(&self, r: usize) -> &[(u32, f32)] {
        self.start
            .get(r)
            .zip(self.start.get(r + 1))
            .map_or(&[], |(&a, &b)| &self.entries[a..b])
    }
}

/// The matrix by customer and by item.
#[derive(Debug, Default)]
pub struct ByUser {
    users: Rows,
    items: Rows,
}

impl ByUser {
    /// Events out of `0..n_items`, of no positive finite weight, are left out; a customer's
    /// repeated interactions with an item add up; `p.customer_penalty` scales each customer's
    /// row.
    pub fn build(events: &[Event], n_items: usize, p: &BuildParams) -> Self {
        let mut cells: Vec<(u32, u32, f32)> = events
            .iter()
            .filter(|e| (e.item as usize) < n_items)
            .map(|e| (e.user, e.item, e.weight * p.decay(e.age_days)))
            .filter(|c| c.2.is_finite() && c.2 > 0.0)
            .collect();
        cells.sort_unstable_by_key(|c| (c.0, c.1));
        cells.dedup_by(|next, kept| {
            let same = next.0 == kept.0 && next.1 == kept.1;
            if same {
                kept.2 += next.2;
            }
            same
        });
        // Customer ids are renumbered densely (in order), so the rows have no gaps.
        let mut users = Rows::default();
        let mut item_count = vec![0usize; n_items];
        let mut last = None;
        for (k, &(u, i, w)) in cells.iter().enumerate() {
            if last != Some(u) {
                users.start.push(k);
                last = Some(u);
            }
            users.entries.push((i, w));
            item_count[i as usize] += 1;
        }
        users.start.push(cells.len());
        if p.customer_penalty > 0.0 {
            // Entries scaled by items^(-penalty / 2): products of two count items^-penalty.
            let half = -(p.customer_penalty as f32) / 2.0;
            for u in 0..users.start.len() - 1 {
                let (a, b) = (users.start[u], users.start[u + 1]);
                let scale = ((b - a) as f32).powf(half);
                for e in &mut users.entries[a..b] {
                    e.1 *= scale;
                }
            }
        }
        // Transpose by counting sort: items' rows list customers in order.
        let mut items = Rows {
            start: Vec::with_capacity(n_items + 1),
            entries: vec![(0, 0.0); cells.len()],
        };
        let mut at = 0;
        for c in &item_count {
            items.start.push(at);
            at += c;
        }
        items.start.push(at);
        let mut next = items.start.clone();
        for u in 0..users.start.len() - 1 {
            for &(i, w) in users.row(u) {
                let slot = &mut next[i as usize];
                items.entries[*slot] = (u as u32, w);
                *slot += 1;
            }
        }
        Self { users, items }
    }

    /// Customers with at least one entry.
    pub fn users(&self) -> usize {
        self.users.start.len().saturating_sub(1)
    }

    /// Entries (customer, item pairs).
    pub fn nnz(&self) -> usize {
        self.users.entries.len()
    }

    /// Every entry as (item, weight), customer by customer.
    pub fn entries(&self) -> &[(u32, f32)] {
        &self.users.entries
    }

    /// The (item, weight) entries of dense customer `u`.
    pub fn items_of(&self, u: u32) -> &[(u32, f32)] {
        self.users.row(u as usize)
    }

    /// The (dense customer, weight) entries of item `i`.
    pub fn users_of(&self, i: usize) -> &[(u32, f32)] {
        self.items.row(i)
    }

    /// The cost of the co-occurrence product: the sum of squared customer row lengths.
    pub fn pair_work(&self) -> usize {
        (0..self.users())
            .map(|u| self.users.row(u).len().pow(2))
            .fold(0usize, usize::saturating_add)
    }
}

/// The best `k` of `list` by `order` (best first), by a partial selection then a sort of
/// the kept ones only.
pub fn top_k<T>(
    mut list: Vec<T>,
    k: usize,
    order: impl Fn(&T, &T) -> std::cmp::Ordering,
) -> Vec<T> {
    if k == 0 {
        return Vec::new();
    }
    if list.len() > k {
        list.select_nth_unstable_by(k - 1, &order);
        list.truncate(k);
    }
    list.sort_by(order);
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::Similarity;

    #[test]
    fn both_ways_with_repeats_added_and_bad_entries_left_out() {
        let p = BuildParams {
            similarity: Similarity::Cosine,
            half_life_days: 0.0,
            min_support: 1,
            shrinkage: 0.0,
            alpha: 0.5,
            customer_penalty: 0.0,
            popularity_penalty: 0.0,
            normalize: false,
            top_k: 10,
            popular_top_n: 10,
            ease_lambda: 1.0,
            ease_max_items: 10,
        };
        let ev = |user, item, weight| Event {
            user,
            item,
            weight,
            age_days: 0.0,
        };
        let m = ByUser::build(
            &[
                ev(7, 1, 1.0),
                ev(3, 0, 2.0),
                ev(7, 1, 2.0),
                ev(3, 9, 1.0),
                ev(3, 2, f32::NAN),
                ev(7, 0, 0.0),
            ],
            3,
            &p,
        );
        assert_eq!(m.users(), 2);
        assert_eq!(m.items_of(0), &[(0, 2.0)]);
        assert_eq!(m.items_of(1), &[(1, 3.0)]);
        assert_eq!(m.users_of(1), &[(1, 3.0)]);
        assert!(m.users_of(2).is_empty());
        assert!(m.items_of(5).is_empty());
        assert_eq!(m.pair_work(), 2);
    }

    #[test]
    fn top_k_keeps_the_best_in_order() {
        let order = |a: &i32, b: &i32| b.cmp(a);
        assert_eq!(top_k(vec![3, 9, 1, 7, 5], 3, order), [9, 7, 5]);
        assert_eq!(top_k(vec![3, 1], 5, order), [3, 1]);
        assert!(top_k(vec![3, 1], 0, order).is_empty());
    }
}
