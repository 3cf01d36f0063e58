//! Message templates: MiniJinja over a fixed set of placeholders.
//!
//! [`check`] runs when a campaign is created or changed, so a misspelt placeholder is refused
//! then, never at send time: the template must compile, name only [`PLACEHOLDERS`], and render
//! within the bounds for a full and for an empty [`Context`]. [`render`] runs per recipient.
//!
//! Bounds: no loader (and MiniJinja's `multi_template` feature is off, so `include`, `import`
//! and `extends` are syntax errors: no file is ever read), strict undefined, a fuel budget per
//! render (loops cannot run away) and a cap on the output's size.
use minijinja::value::{Serde, Value};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use std::collections::BTreeSet;
use std::io;

/// The variables a template may use (campaign.proto `Variant`).
pub const PLACEHOLDERS: [&str; 8] = [
    "customer.given_name",
    "customer.family_name",
    "customer.display_name",
    "customer.language_code",
    "loyalty.tier",
    "loyalty.points",
    "coupon_code",
    "campaign.name",
];

/// Instructions (and roughly 64 bytes of allocation each) one render may spend.
pub const FUEL: u64 = 50_000;
/// Largest rendered output in bytes.
pub const MAX_OUTPUT_BYTES: usize = 100_000;

/// What a template sees for one recipient. Unknown values are empty strings (and 0 points),
/// never missing, so a template that passed [`check`] renders for everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Context {
    pub customer: CustomerVars,
    pub loyalty: LoyaltyVars,
    pub coupon_code: String,
    pub campaign: CampaignVars,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CustomerVars {
    pub given_name: String,
    pub family_name: String,
    pub display_name: String,
    pub language_code: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoyaltyVars {
    /// The tier's display name, e.g. "Gold".
    pub tier: String,
    pub points: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CampaignVars {
    pub name: String,
}

impl Context {
    /// A context with every value set, for the trial render of [`check`].
    fn sample() -> Self {
        Self {
            customer: CustomerVars {
                given_name: "Wei".into(),
                family_name: "Li".into(),
                display_name: "Li Wei".into(),
                language_code: "zh-CN".into(),
            },
            loyalty: LoyaltyVars {
                tier: "Gold".into(),
                points: 1200,
            },
            coupon_code: "SPRING-10".into(),
            campaign: CampaignVars {
                name: "Spring sale".into(),
            },
        }
    }
}

/// Refuses a template that does not compile, uses a variable that is not a placeholder
/// (the message names it), or does not render within the bounds.
pub fn check(text: &str) -> Result<(), String> {
    let env = env();
    let template = env.template_from_str(text).map_err(describe)?;
    let unknown: BTreeSet<String> = template
        .undeclared_variables(true)
        .into_iter()
        .filter(|v| !PLACEHOLDERS.contains(&v.as_str()))
        .collect();
    if !unknown.is_empty() {
        let names: Vec<_> = unknown.iter().map(|v| format!("`{v}`")).collect();
        return Err(format!(
            "unknown placeholder {} (placeholders: {})",
            names.join(", "),
            PLACEHOLDERS.join(", ")
        ));
    }
    for ctx in [Context::sample(), Context::default()] {
        render_compiled(env, text, &ctx)?;
    }
    Ok(())
}

/// Renders `text` for one recipient.
pub fn render(text: &str, ctx: &Context) -> Result<String, String> {
    render_compiled(env(), text, ctx)
}

/// The shared environment, borrowed for the lifetime of one template's text (environments
/// are covariant in it), so it is built once, not per message.
fn env<'a>() -> &'a Environment<'a> {
    static ENV: std::sync::LazyLock<Environment<'static>> = std::sync::LazyLock::new(environment);
    &ENV
}

/// Templates compiled once (a campaign's subjects and bodies), rendered per recipient: the
/// send path's form of [`render`] (compiling is most of a render's cost).
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Compiles `(name, text)` pairs, e.g. `("a.subject", "...")`.
    pub fn compile<'a>(
        templates: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, String> {
        let mut env = environment();
        for (name, text) in templates {
            env.add_template_owned(name.to_owned(), text.to_owned())
                .map_err(describe)?;
        }
        Ok(Self { env })
    }

    /// Renders the template called `name` for one recipient.
    pub fn render(&self, name: &str, ctx: &Context) -> Result<String, String> {
        let template = self.env.get_template(name).map_err(describe)?;
        render_template(&template, ctx)
    }
}

fn render_compiled(env: &Environment<'_>, text: &str, ctx: &Context) -> Result<String, String> {
    let template = env.template_from_str(text).map_err(describe)?;
    render_template(&template, ctx)
}

fn render_template(
    template: &minijinja::Template<'_, '_>,
    ctx: &Context,
) -> Result<String, String> {
    let mut out = BoundedOutput::default();
    match template.render_captured_to(Value::from(Serde(ctx)), &mut out) {
        Ok(_) => String::from_utf8(out.bytes).map_err(|_| "the output is not UTF-8".to_owned()),
        Err(_) if out.overflowed => Err(format!(
            "the rendered message is longer than {MAX_OUTPUT_BYTES} bytes"
        )),
        Err(e) => Err(describe(e)),
    }
}

/// The environment every template runs in: builtin filters, no loader, strict, fuelled, plain
/// text (no auto-escaping: bodies are not HTML).
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // Values are never missing, only empty: `default` also replaces the empty string, so the
    // documented `{{ customer.given_name | default("friend") }}` works.
    env.add_filter("default", default_filter);
    env
}

fn default_filter(value: Value, other: Option<Value>) -> Value {
    if value.is_undefined() || value.is_none() || value.as_str() == Some("") {
        other.unwrap_or_else(|| Value::from(""))
    } else {
        value
    }
}

/// One line: the kind, the detail and where.
fn describe(e: minijinja::Error) -> String {
    let what = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    match e.line() {
        Some(line) => format!("{what} (line {line})"),
        None => what,
    }
}

/// Collects output and fails the render once it would pass [`MAX_OUTPUT_BYTES`].
#[derive(Default)]
struct BoundedOutput {
    bytes: Vec<u8>,
    overflowed: bool,
}

impl io::Write for BoundedOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_OUTPUT_BYTES {
            self.overflowed = true;
            return Err(io::Error::other("output too large"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn li_wei() -> Context {
        Context::sample()
    }

    #[test]
    fn every_placeholder_renders() {
        let text = "{{ customer.given_name }}|{{ customer.family_name }}|{{ customer.display_name }}|\
                    {{ customer.language_code }}|{{ loyalty.tier }}|{{ loyalty.points }}|\
                    {{ coupon_code }}|{{ campaign.name }}";
        assert_eq!(check(text), Ok(()));
        assert_eq!(
            render(text, &li_wei()).as_deref(),
            Ok("Wei|Li|Li Wei|zh-CN|Gold|1200|SPRING-10|Spring sale")
        );
    }

    #[test]
    fn an_unknown_placeholder_is_named() {
        let e = check("Hi {{ customer.email }} and {{ customr.given_name }}").expect_err("refused");
        assert!(e.contains("`customer.email`"), "{e}");
        assert!(e.contains("`customr.given_name`"), "{e}");
        let e = check("{{ customer }}").expect_err("refused");
        assert!(
            e.contains("`customer`"),
            "a whole object is not a placeholder: {e}"
        );
        let e = check("{% for i in range(3) %}{{ i }}{% endfor %}").expect_err("refused");
        assert!(e.contains("`range`"), "globals are refused too: {e}");
    }

    #[test]
    fn syntax_errors_are_refused_with_the_line() {
        let e = check("Hello\n{{ customer.given_name ").expect_err("refused");
        assert!(e.contains("syntax error"), "{e}");
        assert!(e.contains("line 2"), "{e}");
        assert!(check("{% if %}").is_err());
    }

    #[test]
    fn no_template_is_ever_loaded() {
        for text in [
            "{% include 'x.txt' %}",
            "{% extends '/etc/passwd' %}",
            "{% import 'm' as m %}",
        ] {
            let e = check(text).expect_err("refused");
            assert!(e.contains("syntax error"), "{text}: {e}");
        }
    }

    #[test]
    fn empty_values_take_the_default() {
        let text = "Hi {{ customer.given_name | default(\"friend\") }}";
        assert_eq!(check(text), Ok(()));
        assert_eq!(
            render(text, &Context::default()).as_deref(),
            Ok("Hi friend")
        );
        assert_eq!(render(text, &li_wei()).as_deref(), Ok("Hi Wei"));
    }

    #[test]
    fn filters_conditions_and_loops_over_values_work() {
        let text = "{% if loyalty.points >= 1000 %}{{ loyalty.tier | upper }}{% endif %}\
                    {% for c in coupon_code %}{{ c }}{% endfor %}";
        assert_eq!(check(text), Ok(()));
        assert_eq!(render(text, &li_wei()).as_deref(), Ok("GOLDSPRING-10"));
    }

    #[test]
    fn runaway_loops_run_out_of_fuel() {
        // 11^5 iterations over the coupon code's characters: far past the budget.
        let text = "{% for a in coupon_code %}{% for b in coupon_code %}{% for c in coupon_code %}\
                    {% for d in coupon_code %}{% for e in coupon_code %}.{% endfor %}{% endfor %}\
                    {% endfor %}{% endfor %}{% endfor %}";
        let e = check(text).expect_err("refused");
        assert!(e.contains("fuel"), "{e}");
    }

    #[test]
    fn huge_values_are_refused_before_they_are_built() {
        for text in [
            "{{ campaign.name * 1000000000 }}",
            "{{ (coupon_code * 50000) | replace('', 'yyyyyyyyyyyyyyyyyyyy') | length }}",
            "{{ coupon_code | indent(100000000) }}",
        ] {
            let e = check(text).expect_err("refused");
            assert!(e.contains("fuel"), "{text}: {e}");
        }
    }

    #[test]
    fn output_is_bounded() {
        let mut ctx = li_wei();
        ctx.coupon_code = "x".repeat(2000);
        // 2000 x 2000 characters = 4 MB would be written; the cap stops it first.
        let text = "{% for a in campaign.name %}{{ coupon_code }}{% endfor %}";
        ctx.campaign.name = "y".repeat(2000);
        let e = render(text, &ctx).expect_err("refused");
        assert!(e.contains("longer than"), "{e}");
    }

    #[test]
    fn type_errors_are_found_at_check_time() {
        let e = check("{{ loyalty.points + customer.given_name }}").expect_err("refused");
        assert!(!e.is_empty());
        assert!(check("{{ loyalty.points + 10 }} points").is_ok());
    }

    #[test]
    fn compiled_templates_render_like_render() {
        let subject = "{{ campaign.name }} for {{ customer.given_name | default('you') }}";
        let body = "{{ loyalty.points }} points";
        let t = Templates::compile([("a.subject", subject), ("a.body", body)]).expect("compiles");
        for ctx in [li_wei(), Context::default()] {
            assert_eq!(t.render("a.subject", &ctx), render(subject, &ctx));
            assert_eq!(t.render("a.body", &ctx), render(body, &ctx));
        }
        assert!(t.render("b.body", &li_wei()).is_err(), "unknown name");
        assert!(Templates::compile([("x", "{{ oops")]).is_err());
    }

    #[test]
    fn text_is_not_html_escaped() {
        let mut ctx = li_wei();
        ctx.customer.given_name = "<Ana & Bo>".into();
        assert_eq!(
            render("{{ customer.given_name }}", &ctx).as_deref(),
            Ok("<Ana & Bo>")
        );
    }
}
