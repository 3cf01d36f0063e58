//! What each RPC requires: one [`Rule`] per method, declared by the service next to its
//! adapter (`grpc/policy.rs`) as `Service::POLICY`. The server refuses to start when the table
//! and the service's descriptor disagree, so a new RPC cannot ship without a scope.
use std::collections::{BTreeSet, HashMap, HashSet};

/// The rate-limit class of a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Read,
    Write,
    Admin,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Read => "read",
            Class::Write => "write",
            Class::Admin => "admin",
        }
    }
}

/// What calling `method` takes: a scope, a rate class, and whether a customer's own token
/// (subject `customers/{id}`) may call it (the handler then checks the resource is theirs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub method: &'static str,
    pub scope: &'static str,
    pub class: Class,
    pub self_service: bool,
}

pub const fn read(method: &'static str, scope: &'static str) -> Rule {
    rule(method, scope, Class::Read)
}
pub const fn write(method: &'static str, scope: &'static str) -> Rule {
    rule(method, scope, Class::Write)
}
pub const fn admin(method: &'static str, scope: &'static str) -> Rule {
    rule(method, scope, Class::Admin)
}

/// A scope no method needs but handlers check on the data they return (e.g.
/// `customers.pii.read`: personal values in clear). Listed in the service's POLICY so that
/// tokens with every scope of a service, grants and docs know it; not a method's rule.
pub const fn data(scope: &'static str) -> Rule {
    rule("", scope, Class::Read)
}

const fn rule(method: &'static str, scope: &'static str, class: Class) -> Rule {
    Rule {
        method,
        scope,
        class,
        self_service: false,
    }
}

impl Rule {
    /// A method's rule (not a [`data`] scope).
    pub const fn is_method(&self) -> bool {
        !self.method.is_empty()
    }

    /// A customer's own token may call it.
    pub const fn self_service(self) -> Rule {
        Rule {
            self_service: true,
            ..self
        }
    }
}

/// `service.name`: lowercase letters, digits, `_` and dots between parts.
pub fn is_scope(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// Every served method's rule, by gRPC path (`/crm.customers.v1.CustomerService/GetCustomer`).
#[derive(Debug, Default, Clone)]
pub struct Policies(HashMap<String, Rule>);

impl Policies {
    /// Adds `service`'s rules after checking them against the methods its descriptor has:
    /// every method needs exactly one rule, and every rule a method.
    pub fn add(
        &mut self,
        service: &str,
        rules: &[Rule],
        methods: &HashSet<String>,
    ) -> Result<(), String> {
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        for r in rules {
            if !r.is_method() {
                if !is_scope(r.scope) {
                    problems.push(format!("data scope {:?} is not a scope", r.scope));
                }
                continue;
            }
            if !methods.contains(r.method) {
                problems.push(format!(
                    "rule for {:?}: {service} has no such method",
                    r.method
                ));
            }
            if !seen.insert(r.method) {
                problems.push(format!("{:?} has two rules", r.method));
            }
            if !is_scope(r.scope) {
                problems.push(format!("{:?}: {:?} is not a scope", r.method, r.scope));
            }
        }
        let missing: BTreeSet<&String> = methods
            .iter()
            .filter(|m| !seen.contains(m.as_str()))
            .collect();
        for m in missing {
            problems.push(format!(
                "{m:?} has no rule: every method needs a scope (add it to the service's POLICY)"
            ));
        }
        if !problems.is_empty() {
            return Err(format!(
                "authorization table of {service}: {}",
                problems.join("; ")
            ));
        }
        for r in rules.iter().filter(|r| r.is_method()) {
            self.0.insert(format!("/{service}/{}", r.method), *r);
        }
        Ok(())
    }

    pub fn get(&self, path: &str) -> Option<&Rule> {
        self.0.get(path)
    }

    /// Every scope some method needs, sorted (for docs and tokens with every scope).
    pub fn scopes(&self) -> BTreeSet<&'static str> {
        self.0.values().map(|r| r.scope).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn methods(names: &[&str]) -> HashSet<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_method_without_a_rule_is_refused() {
        let mut p = Policies::default();
        let err = p
            .add(
                "crm.x.v1.X",
                &[read("GetX", "x.read")],
                &methods(&["GetX", "DeleteX"]),
            )
            .expect_err("DeleteX has no rule");
        assert!(err.contains("\"DeleteX\" has no rule"), "{err}");
        assert!(
            p.get("/crm.x.v1.X/GetX").is_none(),
            "nothing added on error"
        );
    }

    #[test]
    fn rules_must_name_real_methods_once_with_real_scopes() {
        let mut p = Policies::default();
        let err = p
            .add(
                "crm.x.v1.X",
                &[
                    read("GetX", "x.read"),
                    read("GetX", "x.read"),
                    write("Gone", "X.Write"),
                ],
                &methods(&["GetX"]),
            )
            .expect_err("three problems");
        assert!(err.contains("two rules"), "{err}");
        assert!(err.contains("no such method"), "{err}");
        assert!(err.contains("is not a scope"), "{err}");
    }

    #[test]
    fn a_complete_table_is_looked_up_by_path() {
        let mut p = Policies::default();
        p.add(
            "crm.x.v1.X",
            &[
                read("GetX", "x.read").self_service(),
                admin("PurgeX", "x.admin"),
            ],
            &methods(&["GetX", "PurgeX"]),
        )
        .expect("complete");
        let get = p.get("/crm.x.v1.X/GetX").expect("rule");
        assert!(get.self_service);
        assert_eq!(get.class, Class::Read);
        assert_eq!(
            p.scopes().into_iter().collect::<Vec<_>>(),
            ["x.admin", "x.read"]
        );
    }

    #[test]
    fn data_scopes_are_known_but_rule_no_method() {
        let mut p = Policies::default();
        p.add(
            "crm.x.v1.X",
            &[read("GetX", "x.read"), data("x.pii.read")],
            &methods(&["GetX"]),
        )
        .expect("a data scope needs no method");
        assert!(p.get("/crm.x.v1.X/").is_none());
        assert_eq!(p.scopes().into_iter().collect::<Vec<_>>(), ["x.read"]);
        let err = Policies::default()
            .add("crm.x.v1.X", &[data("X")], &methods(&[]))
            .expect_err("bad scope");
        assert!(err.contains("is not a scope"), "{err}");
    }

    #[test]
    fn scopes_are_dotted_lowercase() {
        assert!(is_scope("customers.pii.read"));
        assert!(!is_scope("customers"));
        assert!(!is_scope("Customers.read"));
        assert!(!is_scope("customers..read"));
    }
}
