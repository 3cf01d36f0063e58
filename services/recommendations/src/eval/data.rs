//! The data set: a RecBole atomic `.inter` file (tab-separated, a header of `name:type`
//! columns, e.g. MovieLens-100K's `user_id:token item_id:token rating:float
//! timestamp:float`), its users and items mapped to dense indices in order of appearance.
use anyhow::{Context, bail};
use std::collections::HashMap;
use std::path::Path;

/// One interaction on dense indices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    pub user: u32,
    pub item: u32,
    /// 0 when the file has no rating column.
    pub rating: f32,
    /// Seconds (the file's timestamp; 0 when it has none).
    pub time: i64,
}

/// The loaded interactions and the names behind the dense indices.
#[derive(Debug, Default)]
pub struct Dataset {
    pub users: Vec<String>,
    pub items: Vec<String>,
    pub rows: Vec<Row>,
}

impl Dataset {
    /// Reads `path`.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the data set {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Parses the text of an `.inter` file.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut lines = text.lines();
        let header: Vec<&str> = lines
            .next()
            .context("an empty file")?
            .split('\t')
            .map(|c| c.split(':').next().unwrap_or(c))
            .collect();
        let col = |name: &str| header.iter().position(|c| *c == name);
        let (Some(u), Some(i)) = (col("user_id"), col("item_id")) else {
            bail!("the header names no user_id and item_id columns: {header:?}");
        };
        let (r, t) = (col("rating"), col("timestamp"));
        let mut d = Self::default();
        let (mut users, mut items) = (HashMap::new(), HashMap::new());
        for (n, line) in lines.enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            let field = |c: usize| {
                f.get(c)
                    .copied()
                    .with_context(|| format!("line {}: no column {c}", n + 2))
            };
            let number = |c: Option<usize>| -> anyhow::Result<f64> {
                match c {
                    None => Ok(0.0),
                    Some(c) => field(c)?
                        .trim()
                        .parse::<f64>()
                        .with_context(|| format!("line {}: column {c} is no number", n + 2)),
                }
            };
            let user = dense(&mut users, &mut d.users, field(u)?)?;
            let item = dense(&mut items, &mut d.items, field(i)?)?;
            d.rows.push(Row {
                user,
                item,
                rating: number(r)? as f32,
                time: number(t)? as i64,
            });
        }
        Ok(d)
    }
}

/// The dense index of `name`, a new one when unseen.
fn dense(
    index: &mut HashMap<String, u32>,
    names: &mut Vec<String>,
    name: &str,
) -> anyhow::Result<u32> {
    if let Some(&k) = index.get(name) {
        return Ok(k);
    }
    let k = u32::try_from(names.len()).context("more than u32::MAX users or items")?;
    index.insert(name.to_owned(), k);
    names.push(name.to_owned());
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_atomic_format_by_header() {
        let d = Dataset::parse(
            "item_id:token\tuser_id:token\ttimestamp:float\n7\ta\t10\n8\ta\t11\n7\tb\t12\n",
        )
        .expect("parses");
        assert_eq!(d.users, ["a", "b"]);
        assert_eq!(d.items, ["7", "8"]);
        assert_eq!(
            d.rows[2],
            Row {
                user: 1,
                item: 0,
                rating: 0.0,
                time: 12
            }
        );
        assert!(Dataset::parse("a\tb\n1\t2\n").is_err());
        assert!(Dataset::parse("user_id\titem_id\ttimestamp\nx\ty\tnot-a-number\n").is_err());
    }
}
