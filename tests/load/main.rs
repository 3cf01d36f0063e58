//! `crm-loadgen`: an open-loop load of writes across the services, then a check that every
//! acknowledged write is there. Run in a pod against the chart's Services (the defaults), from
//! the host against `kubectl port-forward`s, or against `crm-suite` (all three URLs the
//! suite's). It creates customers and records their purchases in customers (which loyalty
//! turns into points from the event backbone), reads balances in loyalty and files complaints
//! in tickets (which calls customers and loyalty), at `--rate` calls per second for
//! `--duration`; retries UNAVAILABLE and broken connections with the same request (same
//! `request_id`, so applied once), bounded; then reads back every acknowledged customer and
//! ticket and waits (at most `--points-wait`) for every acknowledged purchase's points.
//!
//! Progress goes to stderr; stdout gets one JSON line, `{"loadgen":{...}}` (see [`report`]).
//! Exit status: 0 when everything acknowledged is there (and failed calls are within
//! `--max-failed`, when given), 1 when an acknowledged write is missing, 2 when only
//! `--max-failed` is exceeded, 3 when the services cannot be reached at the start.
mod clients;
mod drive;
mod ops;
mod retry;
mod tally;
mod verify;
mod writes;

use clap::Parser;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(
    name = "crm-loadgen",
    about = "Open-loop load across the CRM services, then a check that no acknowledged write is lost"
)]
struct Args {
    #[arg(
        long,
        env = "CRM_LOADGEN_CUSTOMERS_URL",
        default_value = "http://crm-customers:50051"
    )]
    customers_url: String,
    #[arg(
        long,
        env = "CRM_LOADGEN_LOYALTY_URL",
        default_value = "http://crm-loyalty:50051"
    )]
    loyalty_url: String,
    /// Empty: no tickets in the mix.
    #[arg(
        long,
        env = "CRM_LOADGEN_TICKETS_URL",
        default_value = "http://crm-tickets:50051"
    )]
    tickets_url: String,
    /// How long to send: 90, 90s, 5m, 1h.
    #[arg(long, env = "CRM_LOADGEN_DURATION", default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// Calls started per second (open loop).
    #[arg(long, env = "CRM_LOADGEN_RATE", default_value_t = 20.0)]
    rate: f64,
    /// Calls in flight at most; a call due beyond that is skipped (counted).
    #[arg(long, env = "CRM_LOADGEN_CONCURRENCY", default_value_t = 64)]
    concurrency: usize,
    /// HTTP/2 connections per service (each balanced to a pod when it opens).
    #[arg(long, env = "CRM_LOADGEN_CONNECTIONS", default_value_t = 4)]
    connections: usize,
    /// Weights of the operations: customer, purchase, balance, ticket.
    #[arg(long, env = "CRM_LOADGEN_MIX", default_value = "customer=1,purchase=6,balance=2,ticket=1", value_parser = ops::Mix::parse)]
    mix: ops::Mix,
    /// Bound on each attempt of a call, in milliseconds.
    #[arg(long, env = "CRM_LOADGEN_TIMEOUT_MS", default_value_t = 5000)]
    timeout_ms: u64,
    /// Retries of a call answered UNAVAILABLE or cut off (backoff 100 ms doubling, at most 2 s
    /// apart: 8 retries span about 10 s, a pod's replacement behind its Service).
    #[arg(long, env = "CRM_LOADGEN_RETRIES", default_value_t = 8)]
    retries: u32,
    /// Longest wait after the load for every acknowledged purchase's points (the events'
    /// reclaim after a killed consumer is 30 s by default).
    #[arg(long, env = "CRM_LOADGEN_POINTS_WAIT", default_value = "60s", value_parser = parse_duration)]
    points_wait: Duration,
    /// Longest wait at the start for every service to be SERVING.
    #[arg(long, env = "CRM_LOADGEN_READY_WAIT", default_value = "60s", value_parser = parse_duration)]
    ready_wait: Duration,
    /// Bearer token sent on every call (the services' `[auth]` is on by default in the chart);
    /// empty: none.
    #[arg(
        long,
        env = "CRM_LOADGEN_TOKEN",
        default_value = "",
        hide_env_values = true
    )]
    token: String,
    /// A file holding the bearer token, re-read when it changes (a projected service-account
    /// token); instead of --token.
    #[arg(long, env = "CRM_LOADGEN_TOKEN_FILE", default_value = "")]
    token_file: String,
    /// Failed calls allowed (exit 2 beyond); unset: any number, only reported.
    #[arg(long, env = "CRM_LOADGEN_MAX_FAILED")]
    max_failed: Option<u64>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            println!(
                "{}",
                serde_json::json!({"loadgen": {"error": format!("{e:#}")}})
            );
            ExitCode::from(3)
        }
    }
}

async fn run(args: &Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.rate > 0.0 && args.rate <= 100_000.0,
        "--rate must be above 0 and at most 100000"
    );
    let tickets = Some(args.tickets_url.as_str()).filter(|u| !u.is_empty());
    anyhow::ensure!(
        tickets.is_some() || !args.mix.has(ops::Op::CreateTicket),
        "the mix has tickets but --tickets-url is empty"
    );
    let mut urls = vec![args.customers_url.as_str(), args.loyalty_url.as_str()];
    urls.extend(tickets);
    clients::await_serving(&urls, args.ready_wait).await?;
    anyhow::ensure!(
        args.token.is_empty() || args.token_file.is_empty(),
        "give --token or --token-file, not both"
    );
    let credentials = crm_platform::client::Credentials::from_settings(
        &crm_platform::auth::ClientAuthSettings {
            token: crm_platform::config::Secret::new(args.token.clone()),
            token_file: args.token_file.clone(),
        },
    )?;
    let connections = clients::Connections {
        per_service: args.connections,
        call_timeout: Duration::from_millis(args.timeout_ms),
        credentials,
    };
    let clients = connections.clients(&args.customers_url, &args.loyalty_url, tickets)?;
    let retry = retry::Retry {
        retries: args.retries,
        first_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(2),
    };
    let run = Arc::new(ops::Run::new(clients, retry));
    eprintln!(
        "loadgen: {} calls/s for {:?}, mix {}, at {}",
        args.rate,
        args.duration,
        args.mix,
        urls.join(" ")
    );

    let started = Instant::now();
    let load = drive::Load {
        rate: args.rate,
        duration: args.duration,
        concurrency: args.concurrency,
        mix: args.mix.clone(),
    };
    load.run(&run).await;
    let load_secs = started.elapsed().as_secs_f64();
    eprintln!("loadgen: load done, {}; verifying", run.tally.progress());

    let acked = run.acknowledged.snapshot();
    let verdict = verify::verify(&run, &acked, args.points_wait).await;
    let failed = run.tally.failed();
    let failed_ok = args.max_failed.is_none_or(|max| failed <= max);
    println!(
        "{}",
        report(args, &run, &acked, &verdict, load_secs, failed_ok)
    );
    Ok(if !verdict.passed() {
        ExitCode::from(1)
    } else if !failed_ok {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The final line: the calls' outcomes (`sent`, `ok`, `failed`, `failed_by_code`,
/// `retried_unavailable` calls and their `retries` (`retries_by_code`), `skipped_busy`, `by_op`, latency of the
/// answered calls `p50_ms` / `p99_ms` / `max_ms`), what was `acknowledged` (and of which
/// kind), what the checks found (`verified_missing` customers and tickets, `read_errors`,
/// `points_missing`, `points_wrong`, `points_after_s`), `duration_s` of the load and
/// `passed`.
fn report(
    args: &Args,
    run: &ops::Run,
    acked: &writes::Snapshot,
    v: &verify::Verdict,
    load_secs: f64,
    failed_ok: bool,
) -> serde_json::Value {
    let mut fields = run.tally.report();
    let more = serde_json::json!({
        "rate": args.rate,
        "duration_s": (load_secs * 10.0).round() / 10.0,
        "acknowledged": acked.customers.len() + acked.purchases() + acked.tickets.len(),
        "acknowledged_customers": acked.customers.len(),
        "acknowledged_purchases": acked.purchases(),
        "acknowledged_tickets": acked.tickets.len(),
        "verified_missing": v.missing,
        "read_errors": v.read_errors,
        "points_missing": v.points_missing,
        "points_wrong": v.points_wrong,
        "points_after_s": (v.points_after.as_secs_f64() * 10.0).round() / 10.0,
        "max_failed": args.max_failed,
        "passed": v.passed() && failed_ok,
    });
    if let serde_json::Value::Object(more) = more {
        fields.extend(more);
    }
    serde_json::json!({ "loadgen": fields })
}

/// `90`, `90s`, `5m`, `1h`, `250ms`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected e.g. 90s, 5m"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{text:?}: the unit is ms, s, m or h")),
    };
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit_or_seconds() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5 days").is_err());
        assert!(parse_duration("s").is_err());
    }
}
