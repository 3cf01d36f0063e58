//! The two protocols: a random split by interaction with a fixed seed, and leave-one-out
//! (each user's last interaction by time is the test).
use super::data::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// Random split by interaction (`--test-ratio`, `--seed`).
    Random,
    /// Leave-one-out: each user's last interaction (by time) is the test.
    Loo,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Self::Random => "random",
            Self::Loo => "loo",
        }
    }
}

/// A train/test split: training rows, and per user (dense index) the test items.
#[derive(Debug, Clone)]
pub struct Split {
    pub train: Vec<Row>,
    pub test: Vec<Vec<u32>>,
}

/// A small, fixed pseudo-random generator (SplitMix64): the split depends on the seed only,
/// on every platform and in every version.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), by rejection so there is no modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }
}

/// `rows` shuffled with `seed`; the first `1 - test_ratio` of them train, the rest test.
pub fn random(rows: &[Row], n_users: usize, test_ratio: f64, seed: u64) -> Split {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut rng = SplitMix64::new(seed);
    for k in (1..order.len()).rev() {
        let j = rng.below(k as u64 + 1) as usize;
        order.swap(k, j);
    }
    let n_test = (rows.len() as f64 * test_ratio).round() as usize;
    let n_train = rows.len() - n_test.min(rows.len());
    let mut train: Vec<Row> = order[..n_train].iter().map(|&k| rows[k]).collect();
    // Back in file order: what a model sees does not depend on the shuffle beyond the split.
    train.sort_by_key(|r| (r.time, r.user, r.item));
    let mut test = vec![Vec::new(); n_users];
    for &k in &order[n_train..] {
        test[rows[k].user as usize].push(rows[k].item);
    }
    dedup_test(&train, test, n_users)
}

/// Each user's last interaction by time (ties: the later line) is the test; users with a
/// single interaction only train.
pub fn leave_one_out(rows: &[Row], n_users: usize) -> Split {
    let mut last: Vec<Option<usize>> = vec![None; n_users];
    let mut count = vec![0usize; n_users];
    for (k, r) in rows.iter().enumerate() {
        let u = r.user as usize;
        count[u] += 1;
        if last[u].is_none_or(|l| rows[l].time <= r.time) {
            last[u] = Some(k);
        }
    }
    let mut test = vec![Vec::new(); n_users];
    let mut held = vec![false; rows.len()];
    for (u, l) in last.iter().enumerate() {
        if let Some(k) = *l
            && count[u] >= 2
        {
            test[u].push(rows[k].item);
            held[k] = true;
        }
    }
    let mut train: Vec<Row> = rows
        .iter()
        .zip(&held)
        .filter(|(_, h)| !**h)
        .map(|(r, _)| *r)
        .collect();
    train.sort_by_key(|r| (r.time, r.user, r.item));
    dedup_test(&train, test, n_users)
}

/// Test items are distinct, and not items the user also has in training (a repeat is no
/// discovery, and the full ranking leaves seen items out).
fn dedup_test(train: &[Row], mut test: Vec<Vec<u32>>, n_users: usize) -> Split {
    let mut seen: Vec<Vec<u32>> = vec![Vec::new(); n_users];
    for r in train {
        seen[r.user as usize].push(r.item);
    }
    for (t, s) in test.iter_mut().zip(&mut seen) {
        s.sort_unstable();
        t.sort_unstable();
        t.dedup();
        t.retain(|i| s.binary_search(i).is_err());
    }
    Split {
        train: train.to_vec(),
        test,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Row> {
        (0..100)
            .map(|k| Row {
                user: k % 5,
                item: k / 5,
                rating: 4.0,
                time: i64::from(k),
            })
            .collect()
    }

    #[test]
    fn random_is_seeded_and_proportional() {
        let r = rows();
        let a = random(&r, 5, 0.2, 42);
        let b = random(&r, 5, 0.2, 42);
        let c = random(&r, 5, 0.2, 43);
        assert_eq!(a.train.len(), 80);
        assert_eq!(a.test.iter().map(Vec::len).sum::<usize>(), 20);
        assert_eq!(a.test, b.test);
        assert_ne!(a.test, c.test);
    }

    #[test]
    fn leave_one_out_holds_the_last_of_each_user() {
        let s = leave_one_out(&rows(), 5);
        assert_eq!(s.train.len(), 95);
        for (u, t) in s.test.iter().enumerate() {
            assert_eq!(t, &[19], "user {u}");
        }
    }
}
