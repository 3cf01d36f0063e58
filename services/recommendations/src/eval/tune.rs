//! The knob search: a validation split carved out of the training part (so the test part is
//! never looked at), a grid over the knobs per similarity, best NDCG first.
use super::metrics::{self, Metrics};
use super::models::{self, Model, Setup};
use super::split::{self, Split};
use super::{Args, data::Dataset};
use crate::domain::model::{BuildParams, Similarity};
use std::fmt::Write as _;

/// The grid's results as text, best first per similarity.
pub fn search(data: &Dataset, outer: &Split, args: &Args, s: &Setup, base: &BuildParams) -> String {
    let inner = split::random(
        &outer.train,
        data.users.len(),
        args.test_ratio,
        args.seed.wrapping_add(1),
    );
    let n_items = data.items.len();
    let score = |model: &Model| -> Metrics {
        let recs = models::recommend(model, &inner, data.users.len(), n_items, s, base);
        metrics::evaluate(&recs, &inner.test, n_items, s.k)
    };
    let mut out = String::new();
    let pop = score(&Model::Popularity);
    let _ = writeln!(
        out,
        "validation popularity: ndcg {:.4} hr {:.4}",
        pop.ndcg, pop.hr
    );
    for sim in Similarity::ALL {
        let mut results: Vec<(f64, BuildParams, Metrics)> = Vec::new();
        for top_k in [20, 50, 100, 200, 400] {
            for shrinkage in [0.0, 5.0, 20.0, 50.0] {
                for alpha in alphas(sim) {
                    for normalize in [false, true] {
                        for half_life_days in [0.0, 90.0, 365.0] {
                            for min_support in [1, 2] {
                                let p = BuildParams {
                                    similarity: sim,
                                    top_k,
                                    shrinkage,
                                    alpha,
                                    normalize,
                                    half_life_days,
                                    min_support,
                                    ..base.clone()
                                };
                                let m = score(&Model::Neighbours(p.clone()));
                                results.push((m.ndcg, p, m));
                            }
                        }
                    }
                }
            }
        }
        results.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (_, p, m) in results.iter().take(8) {
            let _ = writeln!(
                out,
                "validation {}: ndcg {:.4} hr {:.4} cov {:.3} | top_k {} shrinkage {} alpha {} normalize {} half_life_days {} min_support {}",
                sim.as_str(),
                m.ndcg,
                m.hr,
                m.coverage,
                p.top_k,
                p.shrinkage,
                p.alpha,
                p.normalize,
                p.half_life_days,
                p.min_support
            );
        }
    }
    out
}

fn alphas(s: Similarity) -> Vec<f64> {
    match s {
        Similarity::Cosine => vec![0.3, 0.5, 0.7],
        _ => vec![0.5],
    }
}
