//! EASE (Steck 2019, "Embarrassingly Shallow Autoencoders"): item-item weights by ridge
//! regression of every item's column on all the others, in closed form:
//! `P = (XᵀX + λI)⁻¹`, `B[i][j] = -P[i][j] / P[j][j]` (`i ≠ j`, zero diagonal). A customer's
//! score of `j` is `Σ_h x_h · B[h][j]` over their items `h`, so row `h` of `B`, cut to its
//! top-K, is `h`'s neighbour list and serving stays the same lookup + merge as for the
//! co-occurrence similarities. Unlike those, a weight accounts for all the other items:
//! two items that co-occur only because both go with a third one get little.
//!
//! The cost is dense in the items that have interactions (`m` of them): `m²` f64 of memory
//! and `m³` multiply-adds for the inverse, so the caller bounds `m` by
//! `BuildParams::ease_max_items` and falls back to the sparse cosine above it.
use super::similarity::parallel_rows;
use super::sparse::{ByUser, top_k};
use super::{BuildParams, Scored};

/// The top `p.top_k` EASE neighbours of every item `0..n_items` from `m` (the interactions
/// by customer, `customer_penalty` applied). Items with no interactions get none.
pub fn neighbours(m: &ByUser, n_items: usize, p: &BuildParams) -> Vec<Vec<Scored>> {
    // Dense indices over the items that have interactions only.
    let mut local = vec![u32::MAX; n_items];
    let mut global: Vec<u32> = Vec::new();
    for &(i, _) in m.entries() {
        if local[i as usize] == u32::MAX {
            local[i as usize] = global.len() as u32;
            global.push(i);
        }
    }
    let n = global.len();
    let mut out = vec![Vec::new(); n_items];
    if n == 0 {
        return out;
    }
    // The Gram matrix XᵀX and the co-occurrence counts (the neighbours' support).
    let mut gram = vec![0f64; n * n];
    let mut count = vec![0u32; n * n];
    let mut customers = vec![0u32; n];
    let mut row: Vec<(usize, f64)> = Vec::new();
    for u in 0..m.users() {
        row.clear();
        row.extend(
            m.items_of(u as u32)
                .iter()
                .map(|&(i, w)| (local[i as usize] as usize, f64::from(w))),
        );
        for &(a, wa) in &row {
            customers[a] += 1;
            let (g, c) = (
                &mut gram[a * n..(a + 1) * n],
                &mut count[a * n..(a + 1) * n],
            );
            for &(b, wb) in &row {
                g[b] += wa * wb;
                c[b] += 1;
            }
        }
    }
    let lambda = p.ease_lambda;
    for a in 0..n {
        gram[a * n + a] += lambda;
    }
    invert_spd(&mut gram, n);
    let inv = gram;
    let shrinkage = p.shrinkage;
    let beta = p.popularity_penalty;
    let rows = |range: std::ops::Range<usize>| {
        range
            .map(|a| {
                let mut list = Vec::new();
                for b in 0..n {
                    let support = count[a * n + b];
                    if b == a || support < p.min_support {
                        continue;
                    }
                    let mut score = -inv[a * n + b] / inv[b * n + b];
                    score *= f64::from(support) / (f64::from(support) + shrinkage);
                    if beta > 0.0 {
                        score /= f64::from(customers[b]).powf(beta);
                    }
                    if score.is_finite() && score > 0.0 {
                        list.push(Scored {
                            item: global[b],
                            score: score as f32,
                            support,
                        });
                    }
                }
                let mut list = top_k(list, p.top_k, |x, y| {
                    y.score.total_cmp(&x.score).then(x.item.cmp(&y.item))
                });
                if p.normalize && !list.is_empty() {
                    let best = list[0].score;
                    for s in &mut list {
                        s.score /= best;
                    }
                }
                list
            })
            .collect::<Vec<_>>()
    };
    for (a, list) in parallel_rows(n, n * n, rows).into_iter().enumerate() {
        out[global[a] as usize] = list;
    }
    out
}

/// Inverts the symmetric positive definite `n x n` matrix `a` (row-major) in place, by
/// Gauss-Jordan elimination without pivoting (the diagonal of an SPD matrix stays positive
/// under it). The row updates of each pivot run on two threads when the matrix is large.
pub fn invert_spd(a: &mut [f64], n: usize) {
    assert_eq!(a.len(), n * n, "a square matrix");
    let threads = if n < 400 {
        1
    } else {
        std::thread::available_parallelism().map_or(1, usize::from)
    };
    let mut pivot_row = vec![0f64; n];
    for k in 0..n {
        let d = a[k * n + k];
        a[k * n + k] = 1.0;
        for x in &mut a[k * n..(k + 1) * n] {
            *x /= d;
        }
        pivot_row.copy_from_slice(&a[k * n..(k + 1) * n]);
        let pr = &pivot_row;
        let update = |i: usize, r: &mut [f64]| {
            if i == k {
                return;
            }
            let f = r[k];
            if f == 0.0 {
                return;
            }
            r[k] = 0.0;
            for (x, y) in r.iter_mut().zip(pr) {
                *x -= f * y;
            }
        };
        if threads <= 1 {
            for (i, r) in a.chunks_mut(n).enumerate() {
                update(i, r);
            }
        } else {
            let per = n.div_ceil(threads);
            std::thread::scope(|s| {
                for (t, block) in a.chunks_mut(per * n).enumerate() {
                    let update = &update;
                    s.spawn(move || {
                        for (j, r) in block.chunks_mut(n).enumerate() {
                            update(t * per + j, r);
                        }
                    });
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{Event, Similarity};

    fn params() -> BuildParams {
        BuildParams {
            similarity: Similarity::Ease,
            min_support: 1,
            shrinkage: 0.0,
            customer_penalty: 0.0,
            popularity_penalty: 0.0,
            normalize: false,
            top_k: 10,
            ease_lambda: 1.0,
            ..BuildParams::default()
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

    #[test]
    fn inverts_by_hand() {
        // [[4, 2], [2, 3]]⁻¹ = [[3, -2], [-2, 4]] / 8.
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        invert_spd(&mut a, 2);
        for (x, y) in a.iter().zip([0.375, -0.25, -0.25, 0.5]) {
            assert!((x - y).abs() < 1e-12, "{a:?}");
        }
        // A larger one (on the threaded path) times itself inverted is the identity.
        let n = 450;
        let m: Vec<f64> = (0..n * n)
            .map(|k| {
                let (i, j) = (k / n, k % n);
                if i == j {
                    n as f64
                } else {
                    1.0 / (1.0 + (i + j) as f64)
                }
            })
            .collect();
        let mut inv = m.clone();
        invert_spd(&mut inv, n);
        for i in [0, 7, 449] {
            for j in [0, 3, 449] {
                let v: f64 = (0..n).map(|t| m[i * n + t] * inv[t * n + j]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-9, "({i}, {j}): {v}");
            }
        }
    }

    #[test]
    fn weights_of_a_small_matrix_by_hand() {
        // Users: {0, 1}, {0, 1}, {0, 2}; item 3 unseen. XᵀX = [[3, 2, 1], [2, 2, 0], [1, 0, 1]],
        // plus λ = 1: G = [[4, 2, 1], [2, 3, 0], [1, 0, 2]], det 13,
        // P = G⁻¹ = [[6, -4, -3], [-4, 7, 2], [-3, 2, 8]] / 13,
        // B[i][j] = -P[i][j] / P[j][j]: B[0][1] = 4/7, B[0][2] = 3/8, B[1][0] = 4/6,
        // B[1][2] = -2/8 (dropped: negative, and no support), B[2][0] = 3/6.
        let e = vec![ev(0, 0), ev(0, 1), ev(1, 0), ev(1, 1), ev(2, 0), ev(2, 2)];
        let p = params();
        let m = ByUser::build(&e, 4, &p);
        let nb = neighbours(&m, 4, &p);
        let got = |i: usize| -> Vec<(u32, f32, u32)> {
            nb[i].iter().map(|s| (s.item, s.score, s.support)).collect()
        };
        let close = |a: &[(u32, f32, u32)], b: &[(u32, f32, u32)]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| x.0 == y.0 && x.2 == y.2 && (x.1 - y.1).abs() < 1e-6)
        };
        assert!(
            close(&got(0), &[(1, 4.0 / 7.0, 2), (2, 3.0 / 8.0, 1)]),
            "{:?}",
            got(0)
        );
        assert!(close(&got(1), &[(0, 4.0 / 6.0, 2)]), "{:?}", got(1));
        assert!(close(&got(2), &[(0, 3.0 / 6.0, 1)]), "{:?}", got(2));
        assert!(nb[3].is_empty());
        // min_support 2 leaves 0 -> 1 and 1 -> 0; normalisation puts the best at 1.
        let p2 = BuildParams {
            min_support: 2,
            normalize: true,
            ..params()
        };
        let nb2 = neighbours(&ByUser::build(&e, 4, &p2), 4, &p2);
        assert_eq!(nb2[0].len(), 1);
        assert!((nb2[0][0].score - 1.0).abs() < 1e-6);
        assert!(nb2[2].is_empty());
    }

    #[test]
    fn a_larger_lambda_shrinks_towards_co_occurrence() {
        // With λ far above the counts, P ≈ (I - G/λ)/λ, so B[i][j] ≈ G[i][j] / λ: the
        // ranking of a row is the co-occurrence ranking.
        let e = vec![ev(0, 0), ev(0, 1), ev(1, 0), ev(1, 1), ev(2, 0), ev(2, 2)];
        let p = BuildParams {
            ease_lambda: 1e4,
            ..params()
        };
        let nb = neighbours(&ByUser::build(&e, 3, &p), 3, &p);
        assert_eq!(nb[0][0].item, 1);
        assert!((nb[0][0].score * 1e4 - 2.0).abs() < 0.01, "{:?}", nb[0]);
    }
}
