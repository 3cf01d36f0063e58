#!/usr/bin/env bash
# `make bench`: the service benchmarks and their same-run baselines (bare tonic, pgbench,
# redis-benchmark) on throwaway, durable PostgreSQL and Redis servers. Writes
# bench/out/report.md; copy the numbers into BENCHMARKS.md with the machine and commit.
#
#   BENCH_SECONDS=10 BENCH_CONCURRENCY=32 scripts/bench.sh
#   CRM_BENCH_ONLY=Earn scripts/bench.sh   # only scenarios whose name contains "Earn" (+ baselines)
#   CRM_BENCH_ONLY=PII BENCH_BACKENDS=sqlite scripts/bench.sh   # customers, PII encrypted vs off
#   CRM_BENCH_SCALE_CUSTOMERS=10000 scripts/bench.sh   # customers-at-scale sizes (default 10000,1000000)
#   CRM_BENCH_ONLY=events BENCH_ROUNDS=1 BENCH_BACKENDS=postgres scripts/bench.sh   # a short events run
#   CRM_BENCH_EVENTS_CONSUMERS=bench,loyalty CRM_BENCH_EVENTS_RATE=1000 CRM_BENCH_EVENTS_BACKLOG=20000
#     (the purchase -> effect consumers, open-loop rate and catch-up backlog; see BENCHMARKS.md)
#   CRM_BENCH_ONLY="segment preview" BENCH_BACKENDS=postgres scripts/bench.sh   # campaigns'
#     PreviewSegment over a 1,000,000-customer read model beside the same rule in hand-written SQL
#     (CRM_BENCH_CAMPAIGNS_MEMBERS=100000 for a smaller one; PostgreSQL only)
#   CRM_BENCH_ONLY="recommendations rebuild" CRM_BENCH_REBUILD_INTERACTIONS=10000,100000 scripts/bench.sh
#     (one model build per round over synthetic interactions of each size, and over MovieLens-100K
#     from scripts/fetch-movielens.sh or CRM_BENCH_REBUILD_MOVIELENS)
#   CRM_BENCH_ONLY="top 10" scripts/bench.sh   # SimilarItems / RecommendForCustomer serving
#   CRM_BENCH_ONLY="campaign report" BENCH_BACKENDS=postgres scripts/bench.sh   # GetCampaignReport
#     over 1,000,000 deliveries and 100,000 conversions beside the same aggregates in hand-written
#     SQL (CRM_BENCH_REPORT_DELIVERIES=100000 for a smaller one; PostgreSQL only)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" != --inner ]]; then
  cargo build --release --quiet -p crm-bench
  # The rebuild scenario's MovieLens-100K row (cached after the first fetch).
  scripts/fetch-movielens.sh >/dev/null || echo "bench: MovieLens-100K not fetched; the rebuild's row of it is skipped" >&2
  # Always servers of its own: an exported test server may be shared, or run with fsync off.
  unset CRM_TEST_POSTGRES_URL CRM_TEST_REDIS_URL
  CRM_PG_DURABLE=1 exec scripts/test-servers.sh "$0" --inner
fi

seconds=${BENCH_SECONDS:-10}
concurrency=${BENCH_CONCURRENCY:-32}
rounds=${BENCH_ROUNDS:-3}
backends=${BENCH_BACKENDS:-sqlite postgres}
out=bench/out
mkdir -p "$out"
report=$out/report.md
pg_bin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

{
  echo "# Benchmark run $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo none)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
  echo "- machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
  echo "- command: \`make bench\` (BENCH_SECONDS=$seconds BENCH_CONCURRENCY=$concurrency BENCH_ROUNDS=$rounds BENCH_BACKENDS=\"$backends\"${CRM_BENCH_ONLY:+ CRM_BENCH_ONLY=$CRM_BENCH_ONLY}${CRM_BENCH_EVENTS_CONSUMERS:+ CRM_BENCH_EVENTS_CONSUMERS=$CRM_BENCH_EVENTS_CONSUMERS})"
  echo
} >"$report"

if [[ -n "${CRM_TEST_POSTGRES_URL:-}" && -x "$pg_bin/pgbench" ]]; then
  pg=${CRM_TEST_POSTGRES_URL}
  "$pg_bin/psql" -q "$pg" -c "DROP DATABASE IF EXISTS pgbench" -c "CREATE DATABASE pgbench"
  db=${pg%/*}/pgbench
  "$pg_bin/pgbench" -q -i -s 10 "$db" >/dev/null 2>&1
  tpcb=$("$pg_bin/pgbench" -c 8 -j 2 -T "$seconds" "$db" 2>/dev/null | sed -n 's/^tps = \([0-9]*\).*/\1/p')
  sel=$("$pg_bin/pgbench" -S -M prepared -c 8 -j 2 -T "$seconds" "$db" 2>/dev/null | sed -n 's/^tps = \([0-9]*\).*/\1/p')
  {
    echo "## Baselines: PostgreSQL (durable: fsync on) and Redis"
    echo
    echo "| baseline | result |"
    echo "|---|---:|"
    echo "| pgbench TPC-B, scale 10, 8 clients | ${tpcb} tps |"
    echo "| pgbench select-only, prepared, 8 clients | ${sel} tps |"
  } >>"$report"
fi
if [[ -n "${CRM_TEST_REDIS_URL:-}" ]] && command -v redis-benchmark >/dev/null; then
  port=${CRM_TEST_REDIS_URL##*:}
  # --csv: one line per test ("SET","74074.07",...), no progress output to parse around.
  redis-benchmark -p "$port" -t get,set -n 200000 -c 32 --csv 2>/dev/null | tr -d '"' |
    awk -F, '$1 == "GET" || $1 == "SET" { printf "| redis-benchmark %s, 32 clients | %.0f rps |\n", $1, $2 }' >>"$report"
  # XADD of an entry the size of an event (~400 bytes), trimmed like the relay's; one per
  # round trip, and pipelined 16 deep as the relay publishes a batch.
  payload=$(head -c 300 /dev/zero | tr '\0' x)
  for pipeline in 1 16; do
    redis-benchmark -p "$port" -n 200000 -c 32 -P "$pipeline" --csv XADD crm-bench:xadd MAXLEN '~' 1000000 '*' \
      id 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b type crm.customers.v1.activity.recorded payload "$payload" 2>/dev/null |
      tr -d '"' | awk -F, -v p="$pipeline" '$1 ~ /^XADD/ { printf "| redis-benchmark XADD (400 B entry, MAXLEN ~), 32 clients, pipeline %s | %.0f rps |\n", p, $2 }' >>"$report"
  done
  redis-cli -p "$port" del crm-bench:xadd >/dev/null 2>&1 || true
fi
echo >>"$report"

run() {
  echo "## $1" >>"$report"
  echo >>"$report"
  shift
  "${CARGO_TARGET_DIR:-target}/release/crm-bench" --seconds "$seconds" --concurrency "$concurrency" \
    --rounds "$rounds" "$@" | tee -a "$report"
}
if [[ " $backends " == *" sqlite "* ]]; then
  run "services on SQLite, in-process cache (events: in-process bus)"
fi
if [[ -n "${CRM_TEST_POSTGRES_URL:-}" && " $backends " == *" postgres "* ]]; then
  # pgbench TPC-B runs again inside every round, next to the ledger scenarios it baselines.
  run "services on PostgreSQL, Redis + in-process cache (events: Redis Streams)" --database-url "$CRM_TEST_POSTGRES_URL" \
    --redis-url "${CRM_TEST_REDIS_URL:-}" --label "postgresql (durable)" \
    --pgbench "${CRM_TEST_POSTGRES_URL%/*}/pgbench" --pgbench-bin "$pg_bin/pgbench"
fi
echo "report: $report"
