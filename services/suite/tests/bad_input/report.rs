//! Failures collected over a run and printed as one table, plus a summary by class.
use crate::cases::Bad;
use crm_platform::testing::Backend;
use prost_reflect::{MethodDescriptor, ServiceDescriptor};
use std::collections::BTreeMap;
use tonic::Status;

pub struct Failure {
    pub service: String,
    pub method: String,
    pub field: String,
    pub bad: Option<Bad>,
    pub got: String,
}

impl Failure {
    pub fn new(
        service: &ServiceDescriptor,
        method: &MethodDescriptor,
        field: &str,
        bad: Option<Bad>,
        got: String,
    ) -> Self {
        Self {
            service: service.name().to_owned(),
            method: method.name().to_owned(),
            field: field.to_owned(),
            bad,
            got: got.replace('\n', " "),
        }
    }

    /// What kind of failure, for the summary: `INTERNAL`, `OK (accepted)`, ...
    fn class(&self) -> String {
        let head = self
            .got
            .split([':', '"', ';'])
            .next()
            .unwrap_or_default()
            .trim();
        let head = head
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        if self.got.contains("but wrote") {
            return "refused but wrote rows".into();
        }
        if let Some((_, what)) = self.got.split_once(": ") {
            if what.starts_with("no violation names") {
                return format!("{head}: violation names another field");
            }
            if what.starts_with("no ") || what.contains("unbounded") {
                return format!("{head}: {}", what.split(" (").next().unwrap_or(what));
            }
        }
        head.to_owned()
    }
}

#[derive(Default)]
pub struct Report {
    pub failures: Vec<Failure>,
    /// Valid requests that got a (documented) error: not failures, but they make the
    /// variants of that method weaker, so they are listed.
    valid_refused: Vec<String>,
    truncated: Vec<String>,
    /// Methods of services still being implemented that are routing stubs (not exercised).
    pending: Vec<String>,
}

impl Report {
    pub fn fail(&mut self, f: Failure) {
        self.failures.push(f);
    }

    pub fn note_valid(
        &mut self,
        service: &ServiceDescriptor,
        method: &MethodDescriptor,
        status: &Status,
    ) {
        self.valid_refused.push(format!(
            "{}/{}: {}",
            service.name(),
            method.name(),
            crate::describe(status)
        ));
    }

    pub fn pending(&mut self, service: &ServiceDescriptor, method: &MethodDescriptor) {
        self.pending
            .push(format!("{}/{}", service.name(), method.name()));
    }

    pub fn truncated(
        &mut self,
        service: &ServiceDescriptor,
        method: &MethodDescriptor,
        total: usize,
    ) {
        self.truncated.push(format!(
            "{}/{}: {total} cases, first {} sent",
            service.name(),
            method.name(),
            crate::MAX_CASES
        ));
    }

    pub fn print(&self, backend: Backend) {
        let mut out = String::new();
        if !self.valid_refused.is_empty() {
            out.push_str(&format!(
                "\n== {backend:?}: valid requests refused with a documented error (variants of these methods test less)\n"
            ));
            for v in &self.valid_refused {
                out.push_str(&format!("  {v}\n"));
            }
        }
        if !self.pending.is_empty() {
            out.push_str(&format!(
                "\n== {backend:?}: not implemented yet, not exercised ({}): {}\n",
                self.pending.len(),
                self.pending.join(", ")
            ));
        }
        for t in &self.truncated {
            out.push_str(&format!("  truncated: {t}\n"));
        }
        out.push_str(&format!(
            "\n== {backend:?}: {} bad-input failures\n",
            self.failures.len()
        ));
        if !self.failures.is_empty() {
            let w = |f: fn(&Failure) -> usize| self.failures.iter().map(f).max().unwrap_or(0);
            let (ws, wm, wf) = (
                w(|f| f.service.len()).max(7),
                w(|f| f.method.len()).max(6),
                w(|f| f.field.len()).clamp(5, 48),
            );
            out.push_str(&format!(
                "{:ws$}  {:wm$}  {:wf$}  {:18}  got\n",
                "service", "method", "field", "bad value"
            ));
            for f in &self.failures {
                out.push_str(&format!(
                    "{:ws$}  {:wm$}  {:wf$}  {:18}  {}\n",
                    f.service,
                    f.method,
                    f.field,
                    f.bad.map(Bad::label).unwrap_or("-"),
                    f.got
                ));
            }
            out.push_str(&format!(
                "\n== {backend:?}: summary by class (service/method: count)\n"
            ));
            let mut classes: BTreeMap<(String, &str), BTreeMap<String, usize>> = BTreeMap::new();
            for f in &self.failures {
                *classes
                    .entry((f.class(), f.bad.map(Bad::label).unwrap_or("-")))
                    .or_default()
                    .entry(format!("{}/{}", f.service, f.method))
                    .or_default() += 1;
            }
            for ((class, bad), methods) in classes {
                let n: usize = methods.values().sum();
                out.push_str(&format!("{class} <- {bad}: {n}\n"));
                let list: Vec<String> = methods.iter().map(|(m, c)| format!("{m}: {c}")).collect();
                out.push_str(&format!("    {}\n", list.join(", ")));
            }
        }
        eprintln!("{out}");
    }
}
