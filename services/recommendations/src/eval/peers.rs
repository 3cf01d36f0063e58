//! The peers: another library fed the very split our models get, its lists scored by our
//! metric code. The split goes to files (`train.tsv`: user, item, time, by name; `users.txt`:
//! who to recommend for), a script writes one `peer-*.tsv` per model (a `# label<TAB>seconds`
//! line, then `user<TAB>item,item,...` best first), and they are read back here.
use super::data::Dataset;
use super::split::Split;
use anyhow::{Context, bail};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A peer's lists, as read back.
#[derive(Debug)]
pub struct PeerLists {
    pub label: String,
    pub seconds: f64,
    pub recs: Vec<Vec<u32>>,
}

/// Writes `split` into `dir` (created) for a peer script.
pub fn write_split(dir: &Path, data: &Dataset, split: &Split) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut train = String::with_capacity(split.train.len() * 16);
    for r in &split.train {
        let _ = writeln!(
            train,
            "{}\t{}\t{}",
            data.users[r.user as usize], data.items[r.item as usize], r.time
        );
    }
    std::fs::write(dir.join("train.tsv"), train)?;
    let mut users = String::new();
    for (u, t) in split.test.iter().enumerate() {
        if !t.is_empty() {
            let _ = writeln!(users, "{}", data.users[u]);
        }
    }
    std::fs::write(dir.join("users.txt"), users)?;
    for old in peer_files(dir)? {
        std::fs::remove_file(old)?;
    }
    Ok(())
}

/// Runs `python script --dir DIR --k K --seed SEED`; it must succeed.
pub fn run_script(
    python: &str,
    script: &Path,
    dir: &Path,
    k: usize,
    seed: u64,
) -> anyhow::Result<()> {
    let status = std::process::Command::new(python)
        .arg(script)
        .arg("--dir")
        .arg(dir)
        .args(["--k", &k.to_string(), "--seed", &seed.to_string()])
        .status()
        .with_context(|| format!("starting {python} {}", script.display()))?;
    if !status.success() {
        bail!("{python} {} failed: {status}", script.display());
    }
    Ok(())
}

/// The `peer-*.tsv` files of `dir`, by name.
fn peer_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("peer-") && n.ends_with(".tsv"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Every peer's lists in `dir`.
pub fn read_all(dir: &Path, data: &Dataset) -> anyhow::Result<Vec<PeerLists>> {
    let users: HashMap<&str, usize> = data
        .users
        .iter()
        .enumerate()
        .map(|(k, u)| (u.as_str(), k))
        .collect();
    let items: HashMap<&str, u32> = data
        .items
        .iter()
        .enumerate()
        .map(|(k, i)| (i.as_str(), k as u32))
        .collect();
    peer_files(dir)?
        .iter()
        .map(|f| read_one(f, &users, &items, data.users.len()))
        .collect()
}

/// One lists file (also `eval --score-file`).
pub fn read_one(
    file: &Path,
    users: &HashMap<&str, usize>,
    items: &HashMap<&str, u32>,
    n_users: usize,
) -> anyhow::Result<PeerLists> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut out = PeerLists {
        label: file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("peer")
            .to_owned(),
        seconds: 0.0,
        recs: vec![Vec::new(); n_users],
    };
    for (n, line) in text.lines().enumerate() {
        if let Some(head) = line.strip_prefix("# ") {
            let mut f = head.split('\t');
            out.label = f.next().unwrap_or_default().to_owned();
            out.seconds = f.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
            continue;
        }
        let Some((user, list)) = line.split_once('\t') else {
            continue;
        };
        let Some(&u) = users.get(user) else {
            bail!("{} line {}: unknown user {user:?}", file.display(), n + 1);
        };
        out.recs[u] = list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|i| {
                items.get(i).copied().with_context(|| {
                    format!("{} line {}: unknown item {i:?}", file.display(), n + 1)
                })
            })
            .collect::<anyhow::Result<_>>()?;
    }
    Ok(out)
}
