//! The offline evaluation (`crm-recommendations eval`, `make eval`): a data set split by a
//! protocol, our models (popularity and item-item neighbours under each similarity, built and
//! scored by the service's own `domain::model` code) and optionally a peer library fed the
//! same split, all scored by [`metrics`], full ranking: every item the user did not train on
//! is a candidate. One markdown table, the protocol written next to each row.
pub mod data;
pub mod metrics;
pub mod models;
pub mod peers;
pub mod split;
pub mod tune;

use crate::domain::model::{BuildParams, Similarity};
use data::Dataset;
use metrics::Metrics;
use models::{Model, Setup, WeightMode};
use split::{Protocol, Split};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

/// `crm-recommendations eval --data FILE [...]`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "crm-recommendations eval",
    about = "Offline evaluation on a RecBole .inter file (e.g. MovieLens-100K), full ranking"
)]
pub struct Args {
    /// The interactions: a RecBole atomic .inter file (scripts/fetch-movielens.sh).
    #[arg(long)]
    pub data: PathBuf,
    /// TOML file layered over the embedded defaults: the [recommendations.model] knobs.
    #[arg(long, env = "CRM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Protocols to run (repeatable); both by default.
    #[arg(long = "protocol", value_enum)]
    pub protocols: Vec<Protocol>,
    /// The random split's seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The random split's share of test interactions.
    #[arg(long, default_value_t = 0.2)]
    pub test_ratio: f64,
    /// The list length (HR@k, NDCG@k, ...).
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// A user's most recent items seeding the neighbours; default: serving.history.
    #[arg(long)]
    pub history: Option<usize>,
    /// How ratings become weights.
    #[arg(long, value_enum, default_value_t = WeightMode::One)]
    pub weights: WeightMode,
    /// A peer script (scripts/eval_peers.py) run on the same split; its lists are scored here.
    #[arg(long)]
    pub peers: Option<PathBuf>,
    /// The Python that runs --peers.
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// Where split files and peer lists go.
    #[arg(long, default_value = "target/eval")]
    pub work_dir: PathBuf,
    /// Also write the table (markdown) here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Score only this lists file (`# label`, then user<TAB>item,item,...) under the first
    /// --protocol (the split is rebuilt from --seed).
    #[arg(long)]
    pub score_file: Option<PathBuf>,
    /// Instead of the table: search the knobs on a validation split carved out of the
    /// random protocol's training part (the test part is never looked at).
    #[arg(long)]
    pub tune: bool,
    /// Score on that validation split instead of the test part (for exploring knobs by hand
    /// without looking at the test).
    #[arg(long)]
    pub validate: bool,
}

/// A row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub protocol: Protocol,
    pub model: String,
    pub metrics: Metrics,
    pub seconds: f64,
}

/// Runs the evaluation of `args`, printing the table.
pub fn run(args: &Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.test_ratio > 0.0 && args.test_ratio < 1.0,
        "--test-ratio must be in (0, 1)"
    );
    anyhow::ensure!((1..=1000).contains(&args.k), "--k must be 1..=1000");
    let settings = crate::Settings::load(args.config.as_deref())?;
    let r = &settings.recommendations;
    let setup = Setup {
        weights: r.weights.clone(),
        mode: args.weights,
        history: args.history.unwrap_or(r.serving.history as usize),
        k: args.k,
    };
    let started = Instant::now();
    let data = Dataset::load(&args.data)?;
    eprintln!(
        "eval: {} interactions, {} users, {} items from {}",
        data.rows.len(),
        data.users.len(),
        data.items.len(),
        args.data.display()
    );
    let protocols = if args.protocols.is_empty() {
        vec![Protocol::Random, Protocol::Loo]
    } else {
        args.protocols.clone()
    };
    if args.tune {
        let split = split_of(&data, Protocol::Random, args);
        let report = tune::search(&data, &split, args, &setup, &r.model);
        print!("{report}");
        return Ok(());
    }
    let mut rows = Vec::new();
    if let Some(file) = &args.score_file {
        let protocol = protocols[0];
        let split = split_of(&data, protocol, args);
        let users = index(&data.users);
        let items = index(&data.items);
        let items: std::collections::HashMap<&str, u32> =
            items.into_iter().map(|(k, v)| (k, v as u32)).collect();
        let lists = peers::read_one(file, &users, &items, data.users.len())?;
        rows.push(Row {
            protocol,
            model: lists.label,
            metrics: metrics::evaluate(&lists.recs, &split.test, data.items.len(), args.k),
            seconds: lists.seconds,
        });
    } else {
        for &protocol in &protocols {
            let split = split_of(&data, protocol, args);
            rows.extend(ours(&data, &split, protocol, &setup, &r.model));
            if let Some(script) = &args.peers {
                let dir = args.work_dir.join(protocol.name());
                peers::write_split(&dir, &data, &split)?;
                peers::run_script(&args.python, script, &dir, args.k, args.seed)?;
                for p in peers::read_all(&dir, &data)? {
                    rows.push(Row {
                        protocol,
                        model: p.label,
                        metrics: metrics::evaluate(&p.recs, &split.test, data.items.len(), args.k),
                        seconds: p.seconds,
                    });
                }
            }
        }
    }
    let table = table(&rows, args, &setup, &r.model, &data);
    print!("{table}");
    if let Some(out) = &args.out {
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(out, &table)?;
    }
    eprintln!("eval: done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn index(names: &[String]) -> std::collections::HashMap<&str, usize> {
    names
        .iter()
        .enumerate()
        .map(|(k, n)| (n.as_str(), k))
        .collect()
}

/// The split of `protocol`.
pub fn split_of(data: &Dataset, protocol: Protocol, args: &Args) -> Split {
    let outer = match protocol {
        Protocol::Random => split::random(&data.rows, data.users.len(), args.test_ratio, args.seed),
        Protocol::Loo => split::leave_one_out(&data.rows, data.users.len()),
    };
    if args.validate && !args.tune {
        validation(data, &outer, protocol, args)
    } else {
        outer
    }
}

/// The validation split of a protocol's training part: the same protocol again on it (the
/// random one with the next seed).
pub fn validation(data: &Dataset, outer: &Split, protocol: Protocol, args: &Args) -> Split {
    match protocol {
        Protocol::Random => split::random(
            &outer.train,
            data.users.len(),
            args.test_ratio,
            args.seed.wrapping_add(1),
        ),
        Protocol::Loo => split::leave_one_out(&outer.train, data.users.len()),
    }
}

/// Our rows: popularity, then the neighbours under each similarity with the knobs `p`.
pub fn ours(
    data: &Dataset,
    split: &Split,
    protocol: Protocol,
    setup: &Setup,
    p: &BuildParams,
) -> Vec<Row> {
    let mut models = vec![("popularity".to_owned(), Model::Popularity)];
    for s in Similarity::ALL {
        let params = BuildParams {
            similarity: s,
            ..p.clone()
        };
        models.push((
            format!("item-item {}", s.as_str()),
            Model::Neighbours(params),
        ));
    }
    models
        .into_iter()
        .map(|(name, model)| {
            let t = Instant::now();
            let recs =
                models::recommend(&model, split, data.users.len(), data.items.len(), setup, p);
            let seconds = t.elapsed().as_secs_f64();
            Row {
                protocol,
                model: name,
                metrics: metrics::evaluate(&recs, &split.test, data.items.len(), setup.k),
                seconds,
            }
        })
        .collect()
}

/// The markdown table, with the protocol and the knobs.
fn table(rows: &[Row], args: &Args, s: &Setup, p: &BuildParams, data: &Dataset) -> String {
    let k = args.k;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Data: {} ({} interactions, {} users, {} items). Full ranking: every item a user did \
         not train on is a candidate. Weights: {:?}; history: {} most recent items; knobs: \
         half_life_days {}, min_support {}, shrinkage {}, alpha {}, customer_penalty {}, \
         popularity_penalty {}, normalize {}, top_k {}, ease_lambda {} (the same for every \
         similarity).\n",
        args.data
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?"),
        data.rows.len(),
        data.users.len(),
        data.items.len(),
        s.mode,
        s.history,
        p.half_life_days,
        p.min_support,
        p.shrinkage,
        p.alpha,
        p.customer_penalty,
        p.popularity_penalty,
        p.normalize,
        p.top_k,
        p.ease_lambda,
    );
    let _ = writeln!(
        t,
        "| protocol | model | HR@{k} | NDCG@{k} | Precision@{k} | Recall@{k} | coverage | users | seconds |"
    );
    let _ = writeln!(t, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let protocol = match r.protocol {
            Protocol::Random => format!(
                "random {:.0}/{:.0}, seed {}",
                (1.0 - args.test_ratio) * 100.0,
                args.test_ratio * 100.0,
                args.seed
            ),
            Protocol::Loo => "leave-one-out (last by time)".to_owned(),
        };
        let m = &r.metrics;
        let _ = writeln!(
            t,
            "| {protocol} | {} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {} | {:.2} |",
            r.model, m.hr, m.ndcg, m.precision, m.recall, m.coverage, m.users, r.seconds
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    /// The checked-in sample: MovieLens-100K's users 1..=120 on items 1..=300.
    const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ml-sample.inter");

    fn args(extra: &[&str]) -> Args {
        let mut argv = vec!["eval", "--data", SAMPLE];
        argv.extend_from_slice(extra);
        Args::parse_from(argv)
    }

    fn setup() -> Setup {
        let s = crate::Settings::load(None).expect("defaults");
        Setup {
            weights: s.recommendations.weights,
            mode: WeightMode::One,
            history: s.recommendations.serving.history as usize,
            k: 10,
        }
    }

    #[test]
    fn the_sample_evaluates_sanely_under_both_protocols() {
        let data = Dataset::load(SAMPLE.as_ref()).expect("the sample loads");
        assert_eq!(data.rows.len(), 6184);
        let a = args(&[]);
        let p = BuildParams::default();
        for protocol in [Protocol::Random, Protocol::Loo] {
            let split = split_of(&data, protocol, &a);
            let rows = ours(&data, &split, protocol, &setup(), &p);
            assert_eq!(rows.len(), 5);
            for r in &rows {
                let m = &r.metrics;
                for v in [m.hr, m.ndcg, m.precision, m.recall, m.coverage] {
                    assert!((0.0..=1.0).contains(&v), "{r:?}");
                }
                assert!(m.users >= 110, "{r:?}");
            }
            let (pop, cosine) = (&rows[0].metrics, &rows[1].metrics);
            assert!(pop.ndcg > 0.05, "popularity finds something: {pop:?}");
            assert!(cosine.ndcg > pop.ndcg, "{cosine:?} vs {pop:?}");
            assert!(cosine.coverage > pop.coverage);
            // The same seed, the same numbers.
            let again = ours(
                &data,
                &split_of(&data, protocol, &a),
                protocol,
                &setup(),
                &p,
            );
            assert_eq!(again[1].metrics, rows[1].metrics);
        }
        // Leave-one-out holds exactly one item per user with two or more interactions.
        let loo = split_of(&data, Protocol::Loo, &a);
        assert!(loo.test.iter().all(|t| t.len() <= 1));
        // The validation split is carved from the training part only.
        let outer = split_of(&data, Protocol::Random, &a);
        let inner = validation(&data, &outer, Protocol::Random, &a);
        assert!(inner.train.len() < outer.train.len());
    }

    #[test]
    fn a_lists_file_scores_like_the_lists_it_holds() {
        let data = Dataset::load(SAMPLE.as_ref()).expect("the sample loads");
        let a = args(&[]);
        let split = split_of(&data, Protocol::Random, &a);
        let s = setup();
        let p = BuildParams::default();
        let recs = models::recommend(
            &Model::Neighbours(p.clone()),
            &split,
            data.users.len(),
            data.items.len(),
            &s,
            &p,
        );
        let mut file = String::from("# ours via a file\t0.5\n");
        for (u, list) in recs.iter().enumerate() {
            if !list.is_empty() {
                let names: Vec<&str> = list
                    .iter()
                    .map(|&i| data.items[i as usize].as_str())
                    .collect();
                file.push_str(&format!("{}\t{}\n", data.users[u], names.join(",")));
            }
        }
        let dir = std::env::temp_dir().join(format!("crm-eval-{}", std::process::id()));
        peers::write_split(&dir, &data, &split).expect("writes the split");
        std::fs::write(dir.join("peer-ours.tsv"), file).expect("writes");
        let read = peers::read_all(&dir, &data).expect("reads");
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].label, "ours via a file");
        assert_eq!(
            metrics::evaluate(&read[0].recs, &split.test, data.items.len(), 10),
            metrics::evaluate(&recs, &split.test, data.items.len(), 10)
        );
        let train = std::fs::read_to_string(dir.join("train.tsv")).expect("train");
        assert_eq!(train.lines().count(), split.train.len());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
