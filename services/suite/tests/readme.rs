//! The README's examples run as written, so the README cannot drift: every ```sh block's
//! `grpcurl` command runs with the pinned grpcurl (`make tools` installs it to `.tools/bin`
//! of the checkout; `CRM_GRPCURL` overrides the path) against the suite started in-process
//! on port 0. Substituted: the address, `<id>` (from the preceding create's answer),
//! `<customer>`, `<segment>`, `<campaign>` (the last one created of each),
//! `<new uuid>` (a fresh UUID each) and every `"etag"` in a request (the preceding read's).
//! Without the pinned grpcurl the test is skipped loudly; with `CI=true` it fails.
mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

/// The address the README's examples use.
const README_ADDR: &str = "127.0.0.1:50051";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn grpcurl() -> Option<PathBuf> {
    let path = std::env::var_os("CRM_GRPCURL")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".tools/bin/grpcurl"));
    if path.is_file() {
        return Some(path);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "CI=true but the pinned grpcurl is not at {} (run `make tools`)",
        path.display()
    );
    // Straight to stderr: the test harness would swallow eprintln! of a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "\n=== SKIPPED: the README examples did not run: no pinned grpcurl at {} (run `make tools`, or set CRM_GRPCURL) ===\n",
        path.display()
    );
    None
}

/// The bodies of the README's ```sh blocks.
fn sh_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```sh") => current = Some(String::new()),
            (Some(_), l) if l.starts_with("```") => blocks.extend(current.take()),
            (Some(body), _) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// Splits a shell snippet into commands of words, as sh would: quotes, backslash escapes,
/// line continuations, comments. (Enough for examples; no variables or pipes.)
fn commands(script: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    w.push(c);
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                            w.extend(chars.next());
                        }
                        _ => w.push(c),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') | None => {}
                Some(c) => word.get_or_insert_with(String::new).push(c),
            },
            '#' if word.is_none() => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                if !words.is_empty() {
                    out.push(std::mem::take(&mut words));
                }
            }
            '\n' | ';' => {
                words.extend(word.take());
                if !words.is_empty() {
                    out.push(std::mem::take(&mut words));
                }
            }
            c if c.is_whitespace() => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    if !words.is_empty() {
        out.push(words);
    }
    out
}

/// What earlier answers tell later commands.
#[derive(Default)]
struct Context {
    id: Option<String>,
    /// The last created id of each collection, for `<customer>`, `<segment>`, `<campaign>`.
    ids: std::collections::HashMap<String, String>,
    etag: Option<String>,
}

/// Placeholders naming the last created resource of a collection.
const NAMED: &[(&str, &str)] = &[
    ("<customer>", "customers"),
    ("<segment>", "segments"),
    ("<campaign>", "campaigns"),
];

impl Context {
    fn substitute(&self, arg: &str, addr: &str) -> String {
        let mut s = arg.replace(README_ADDR, addr);
        while s.contains("<new uuid>") {
            s = s.replacen("<new uuid>", &uuid::Uuid::new_v4().to_string(), 1);
        }
        if let Some(id) = &self.id {
            s = s.replace("<id>", id);
        }
        for (placeholder, collection) in NAMED {
            if let Some(id) = self.ids.get(*collection) {
                s = s.replace(placeholder, id);
            }
        }
        if let (Some(etag), Ok(mut json)) = (&self.etag, serde_json::from_str(&s))
            && replace_etags(&mut json, etag)
        {
            s = json.to_string();
        }
        s
    }

    fn learn(&mut self, method: &str, stdout: &str) {
        let Ok(json) = serde_json::from_str::<serde_json::Value>(stdout) else {
            return;
        };
        if method
            .rsplit('/')
            .next()
            .is_some_and(|m| m.starts_with("Create"))
            && let Some(name) = json.get("name").and_then(|n| n.as_str())
        {
            self.id = name.rsplit('/').next().map(str::to_owned);
            if let Some((collection, id)) = name.split_once('/') {
                self.ids.insert(collection.to_owned(), id.to_owned());
            }
        }
        if let Some(etag) = json.get("etag").and_then(|e| e.as_str()) {
            self.etag = Some(etag.to_owned());
        }
    }
}

fn replace_etags(json: &mut serde_json::Value, etag: &str) -> bool {
    match json {
        serde_json::Value::Object(map) => {
            let mut changed = false;
            for (k, v) in map.iter_mut() {
                if k == "etag" && v.is_string() {
                    *v = serde_json::Value::String(etag.to_owned());
                    changed = true;
                } else {
                    changed |= replace_etags(v, etag);
                }
            }
            changed
        }
        serde_json::Value::Array(items) => items
            .iter_mut()
            .fold(false, |acc, v| replace_etags(v, etag) | acc),
        _ => false,
    }
}

#[test]
fn readme_parses_shell_like_sh() {
    let cmds = commands("a 'b c' \"d \\\"e\\\"\" \\\n  f # comment\n# whole line\ng 'h\ni'\n");
    assert_eq!(
        cmds,
        vec![vec!["a", "b c", "d \"e\"", "f"], vec!["g", "h\ni"],]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_examples_run() {
    let Some(grpcurl) = grpcurl() else { return };
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README.md");
    let examples: Vec<Vec<String>> = sh_blocks(&readme)
        .iter()
        .flat_map(|b| commands(b))
        .filter(|c| c.first().is_some_and(|w| w == "grpcurl"))
        .collect();
    assert!(
        examples.len() >= 5,
        "found only {} grpcurl examples in README.md: did the parser break?",
        examples.len()
    );
    let services: Vec<String> = common::SPAWNERS
        .iter()
        .map(|(n, _, _)| (*n).to_owned())
        .collect();
    let suite =
        common::spawn_suite_as_make_run(crm_platform::testing::Backend::Sqlite, &services).await;
    let mut ctx = Context::default();
    let mut failures = Vec::new();
    for example in &examples {
        let args: Vec<String> = example[1..]
            .iter()
            .map(|a| ctx.substitute(a, &suite.addr))
            .collect();
        let method = args.last().cloned().unwrap_or_default();
        let output = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            tokio::process::Command::new(&grpcurl).args(&args).output(),
        )
        .await
        .expect("grpcurl finishes in 30 s")
        .expect("grpcurl runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        eprintln!("$ grpcurl {}\n{stdout}", args.join(" "));
        if output.status.success() {
            ctx.learn(&method, &stdout);
        } else {
            failures.push(format!(
                "README example failed ({}):\n  {}\n  as run: grpcurl {}\n  stderr: {}",
                output.status,
                example.join(" "),
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}
