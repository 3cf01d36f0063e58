//! Item-item similarity from co-occurrence, computed one item at a time like a sparse matrix
//! product (`Xᵀ·X`, row by row): the customers of item `i`, then their items, summed into one
//! dense accumulator that is reset after the row. Memory is the interactions twice (by
//! customer and by item), one accumulator per thread and the kept top-K lists; never a map of
//! every pair. Time is the sum over customers of their item count squared, which the
//! rebuild bounds by `max_items_per_customer`.
use super::sparse::{ByUser, top_k};
use super::{BuildParams, Event, Scored, Similarity};

/// The top `p.top_k` neighbours of every item `0..n_items` (most similar first), from the
/// customers' interactions: items are similar when the same customers interacted with both.
/// EASE ([`super::ease`]) while the items with interactions are at most `p.ease_max_items`,
/// else the cosine with the same knobs.
pub fn neighbours(events: &[Event], n_items: usize, p: &BuildParams) -> Vec<Vec<Scored>> {
    let m = ByUser::build(events, n_items, p);
    let mut p = std::borrow::Cow::Borrowed(p);
    if p.similarity == Similarity::Ease {
        let mut has = vec![false; n_items];
        for &(i, _) in m.entries() {
            has[i as usize] = true;
        }
        let interacted = has.iter().filter(|h| **h).count();
        if served_similarity(&p, interacted) == Similarity::Ease {
            return super::ease::neighbours(&m, n_items, &p);
        }
        p.to_mut().similarity = Similarity::Cosine;
    }
    let p = &*p;
    let stats = ItemStats::of(&m, n_items);
    let users = m.users() as f32;
    let rows = |range: std::ops::Range<usize>| {
        let mut acc = Accumulator::new(n_items);
        range
            .map(|i| row(&m, &stats, users, i, p, &mut acc))
            .collect::<Vec<_>>()
    };
    parallel_rows(n_items, m.pair_work(), rows)
}

/// The similarity a build of `interacted` items with interactions computes: EASE's dense
/// inverse is bounded by `ease_max_items`; above it, the sparse cosine with the same knobs.
pub fn served_similarity(p: &BuildParams, interacted: usize) -> Similarity {
    match p.similarity {
        Similarity::Ease if interacted > p.ease_max_items => Similarity::Cosine,
        s => s,
    }
}

/// Runs `rows` over `0..n` in contiguous chunks, on as many threads as pay (small inputs
/// stay on the caller's thread), and concatenates the results in order.
pub(super) fn parallel_rows<T: Send>(
    n: usize,
    work: usize,
    rows: impl Fn(std::ops::Range<usize>) -> Vec<T> + Sync,
) -> Vec<T> {
    let threads = if work < 1_000_000 {
        1
    } else {
        std::thread::available_parallelism().map_or(1, usize::from)
    }
    .clamp(1, n.max(1));
    if threads == 1 {
        return rows(0..n);
    }
    let chunk = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let range = (t * chunk).min(n)..((t + 1) * chunk).min(n);
                let rows = &rows;
                s.spawn(move || rows(range))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a similarity thread panicked"))
            .collect()
    })
}

/// Per item: the customers behind it, the sum and the sum of squares of their weights.
struct ItemStats {
    count: Vec<u32>,
    sum: Vec<f32>,
    squares: Vec<f32>,
}

impl ItemStats {
    fn of(m: &ByUser, n_items: usize) -> Self {
        let mut s = Self {
            count: vec![0; n_items],
            sum: vec![0.0; n_items],
            squares: vec![0.0; n_items],
        };
        for &(i, w) in m.entries() {
            let i = i as usize;
            s.count[i] += 1;
            s.sum[i] += w;
            s.squares[i] += w * w;
        }
        s
    }
}

/// The co-occurrence of one row: weighted (dot product) and counted (customers), over the
/// items touched, reset after each row.
struct Accumulator {
    dot: Vec<f32>,
    count: Vec<u32>,
    touched: Vec<u32>,
}

impl Accumulator {
    fn new(n: usize) -> Self {
        Self {
            dot: vec![0.0; n],
            count: vec![0; n],
            touched: Vec::new(),
        }
    }
}

/// The neighbours of item `i`.
fn row(
    m: &ByUser,
    s: &ItemStats,
    users: f32,
    i: usize,
    p: &BuildParams,
    acc: &mut Accumulator,
) -> Vec<Scored> {
    for &(u, wi) in m.users_of(i) {
        for &(j, wj) in m.items_of(u) {
            let j = j as usize;
            if j == i {
                continue;
            }
            if acc.count[j] == 0 {
                acc.touched.push(j as u32);
            }
            acc.dot[j] += wi * wj;
            acc.count[j] += 1;
        }
    }
    let alpha = p.alpha as f32;
    let shrinkage = p.shrinkage as f32;
    let beta = p.popularity_penalty as f32;
    let mut out = Vec::new();
    for j in acc.touched.drain(..) {
        let ju = j as usize;
        let (dot, n) = (acc.dot[ju], acc.count[ju]);
        acc.dot[ju] = 0.0;
        acc.count[ju] = 0;
        if n < p.min_support || dot <= 0.0 {
            continue;
        }
        let raw = match p.similarity {
            // Asymmetric cosine: alpha 0.5 is the plain cosine; above it, popular seeds
            // are discounted more than popular candidates.
            // (EASE over its catalogue bound falls back to it.)
            Similarity::Cosine | Similarity::Ease => {
                dot / (s.squares[i].powf(alpha) * s.squares[ju].powf(1.0 - alpha))
            }
            // Tanimoto: jaccard of the weighted vectors (the plain one for weights of 1).
            Similarity::Jaccard => dot / (s.squares[i] + s.squares[ju] - dot),
            Similarity::Lift => dot * users / (s.sum[i] * s.sum[ju]),
        };
        // A similarity resting on few customers is discounted towards zero, and so is one to
        // an item everybody has.
        let mut score = raw * n as f32 / (n as f32 + shrinkage);
        if beta > 0.0 {
            score /= (s.count[ju] as f32).powf(beta);
        }
        if score.is_finite() && score > 0.0 {
            out.push(Scored {
                item: j,
                score,
                support: n,
            });
        }
    }
    let mut out = top_k(out, p.top_k, |a, b| {
        b.score.total_cmp(&a.score).then(a.item.cmp(&b.item))
    });
    if p.normalize && !out.is_empty() {
        // Each seed's best neighbour scores 1, so one seed with many strong co-occurrences
        // does not outvote the rest of a customer's history.
        let best = out[0].score;
        for n in &mut out {
            n.score /= best;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn params(similarity: Similarity) -> BuildParams {
        BuildParams {
            similarity,
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
        }
    }

    fn ev(user: u32, item: u32) -> Event {
        Event {
            user,
            item,
            weight: 1.0,
            age_days: 0.0,
        }
    }

    /// Users 0 and 1 share items 0 and 1; user 2 has 0 and 2; user 3 has 3 alone.
    fn events() -> Vec<Event> {
        vec![
            ev(0, 0),
            ev(0, 1),
            ev(1, 0),
            ev(1, 1),
            ev(2, 0),
            ev(2, 2),
            ev(3, 3),
        ]
    }

    fn score_of(list: &[Scored], item: u32) -> f32 {
        list.iter()
            .find(|s| s.item == item)
            .expect("neighbour")
            .score
    }

    #[test]
    fn cosine_jaccard_and_lift_of_counts() {
        let e = events();
        let cos = neighbours(&e, 4, &params(Similarity::Cosine));
        // 0 and 1: 2 common of 3 and 2 customers.
        assert!((score_of(&cos[0], 1) - 2.0 / (3f32.sqrt() * 2f32.sqrt())).abs() < 1e-6);
        assert_eq!(cos[0][0].item, 1, "the closer neighbour first");
        assert_eq!(cos[0][0].support, 2);
        assert!(cos[3].is_empty(), "an item nobody shares has no neighbours");
        let jac = neighbours(&e, 4, &params(Similarity::Jaccard));
        assert!((score_of(&jac[0], 1) - 2.0 / 3.0).abs() < 1e-6);
        assert!((score_of(&jac[0], 2) - 1.0 / 3.0).abs() < 1e-6);
        let lift = neighbours(&e, 4, &params(Similarity::Lift));
        // 2 co-occurrences * 4 customers / (3 * 2).
        assert!((score_of(&lift[0], 1) - 8.0 / 6.0).abs() < 1e-6);
        // Symmetric measures: the same both ways.
        assert!((score_of(&cos[1], 0) - score_of(&cos[0], 1)).abs() < 1e-6);
    }

    #[test]
    fn min_support_top_k_shrinkage_and_normalisation() {
        let e = events();
        let mut p = params(Similarity::Cosine);
        p.min_support = 2;
        let nb = neighbours(&e, 4, &p);
        assert_eq!(nb[0].len(), 1, "0-2 rests on one customer: dropped");
        p.min_support = 1;
        p.top_k = 1;
        assert_eq!(neighbours(&e, 4, &p)[0].len(), 1);
        p.top_k = 10;
        p.shrinkage = 2.0;
        let shrunk = neighbours(&e, 4, &p);
        let plain = neighbours(&e, 4, &params(Similarity::Cosine));
        assert!((score_of(&shrunk[0], 1) - score_of(&plain[0], 1) * 0.5).abs() < 1e-6);
        assert!((score_of(&shrunk[0], 2) - score_of(&plain[0], 2) / 3.0).abs() < 1e-6);
        p.shrinkage = 0.0;
        p.normalize = true;
        let norm = neighbours(&e, 4, &p);
        assert!((norm[0][0].score - 1.0).abs() < 1e-6);
    }

    #[test]
    fn time_decay_and_weights_count() {
        // User 0 shares 0 with 1 long ago, user 1 shares 0 with 2 today.
        let mut e = vec![ev(0, 0), ev(0, 1), ev(1, 0), ev(1, 2)];
        e[0].age_days = 100.0;
        e[1].age_days = 100.0;
        let mut p = params(Similarity::Cosine);
        p.half_life_days = 10.0;
        let nb = neighbours(&e, 3, &p);
        assert_eq!(nb[0][0].item, 2, "the recent co-occurrence wins");
        assert!(score_of(&nb[0], 1) < score_of(&nb[0], 2));
    }

    #[test]
    fn many_threads_give_the_same_rows_as_one() {
        // Enough work to go parallel: 2000 users of about 30 items each out of 200.
        let mut e = Vec::new();
        for u in 0..2000u32 {
            for k in 0..30u32 {
                e.push(ev(u, (u * 7 + k * k) % 200));
            }
        }
        let p = params(Similarity::Cosine);
        let m = ByUser::build(&e, 200, &p);
        assert!(m.pair_work() >= 1_000_000);
        let all = neighbours(&e, 200, &p);
        assert_eq!(all.len(), 200);
        // Row by row on one thread.
        let stats = ItemStats::of(&m, 200);
        let mut acc = Accumulator::new(200);
        for i in [0usize, 99, 199] {
            assert_eq!(all[i], row(&m, &stats, m.users() as f32, i, &p, &mut acc));
        }
    }
}
