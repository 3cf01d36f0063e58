//! The knob search: a validation split carved out of the random protocol's training part
//! (another seed), so the test part is never looked at; per similarity a coordinate descent
//! over the knobs (each in turn set to its best value on a grid, the others held, until a
//! pass changes nothing), best validation NDCG kept.
use super::metrics::{self, Metrics};
use super::models::{self, Model, Setup};
use super::split::Split;
use super::{Args, data::Dataset};
use crate::domain::model::{BuildParams, Similarity};
use std::fmt::Write as _;

/// A knob and the values it is tried at.
type Knob = (&'static str, Vec<f64>, fn(&mut BuildParams, f64));

fn knobs(sim: Similarity) -> Vec<Knob> {
    let mut k: Vec<Knob> = vec![
        (
            "top_k",
            vec![20.0, 50.0, 100.0, 200.0, 400.0, 1000.0],
            |p, v| p.top_k = v as usize,
        ),
        (
            "popularity_penalty",
            vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7],
            |p, v| p.popularity_penalty = v,
        ),
        (
            "shrinkage",
            vec![0.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0],
            |p, v| p.shrinkage = v,
        ),
        (
            "customer_penalty",
            vec![0.0, 0.25, 0.5, 0.75, 1.0],
            |p, v| p.customer_penalty = v,
        ),
        ("normalize", vec![0.0, 1.0], |p, v| p.normalize = v > 0.5),
        (
            "half_life_days",
            vec![0.0, 30.0, 90.0, 180.0, 365.0],
            |p, v| p.half_life_days = v,
        ),
        ("min_support", vec![1.0, 2.0, 3.0, 5.0], |p, v| {
            p.min_support = v as u32
        }),
    ];
    if sim == Similarity::Ease {
        k.push((
            "ease_lambda",
            vec![10.0, 30.0, 50.0, 100.0, 200.0, 300.0, 500.0, 1000.0],
            |p, v| p.ease_lambda = v,
        ));
    }
    if sim == Similarity::Cosine {
        k.push(("alpha", vec![0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], |p, v| {
            p.alpha = v
        }));
    }
    k
}

/// The search's results as text.
pub fn search(data: &Dataset, outer: &Split, args: &Args, s: &Setup, base: &BuildParams) -> String {
    let inner = super::validation(data, outer, super::split::Protocol::Random, args);
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
        let mut best = BuildParams {
            similarity: sim,
            ..base.clone()
        };
        let mut best_m = score(&Model::Neighbours(best.clone()));
        let mut runs = 1;
        for _pass in 0..4 {
            let mut changed = false;
            for (name, values, set) in knobs(sim) {
                for v in values {
                    let mut p = best.clone();
                    set(&mut p, v);
                    if p == best {
                        continue;
                    }
                    let m = score(&Model::Neighbours(p.clone()));
                    runs += 1;
                    if m.ndcg > best_m.ndcg + 1e-6 {
                        eprintln!("tune {}: {name} = {v} -> ndcg {:.4}", sim.as_str(), m.ndcg);
                        best = p;
                        best_m = m;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let _ = writeln!(
            out,
            "validation {}: ndcg {:.4} hr {:.4} coverage {:.3} ({runs} runs) | top_k {} shrinkage {} alpha {} customer_penalty {} popularity_penalty {} normalize {} half_life_days {} min_support {} ease_lambda {}",
            sim.as_str(),
            best_m.ndcg,
            best_m.hr,
            best_m.coverage,
            best.top_k,
            best.shrinkage,
            best.alpha,
            best.customer_penalty,
            best.popularity_penalty,
            best.normalize,
            best.half_life_days,
            best.min_support,
            best.ease_lambda
        );
    }
    out
}
