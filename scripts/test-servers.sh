#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL and Redis, started from the locally
# installed server binaries, and always tear them down afterwards.
#
#   scripts/test-servers.sh cargo test --workspace
#
# Exports for the command:
#   CRM_TEST_POSTGRES_URL  admin URL; the tests create one fresh database per test
#   CRM_TEST_REDIS_URL
# A variable the caller already exported is used as is and nothing is started
# for it. A server that is not installed is skipped with a banner, except with
# CI=true, where that is an error (CI must never silently test less).
#
# Overrides (mostly for testing this script):
#   CRM_PG_BIN_DIR     directory holding initdb/pg_ctl (default: newest /usr/lib/postgresql/*/bin)
#   CRM_REDIS_SERVER   redis-server binary (default: redis-server on PATH)
#   CRM_REDIS_CLI      redis-cli binary (default: next to redis-server, else on PATH)
#   CRM_PG_DURABLE=1   keep PostgreSQL's durable defaults (fsync on), for benchmarks
set -euo pipefail

log() { printf 'test-servers: %s\n' "$*" >&2; }
banner() { printf '\n=== %s ===\n\n' "$*" >&2; }

if [[ $# -eq 0 ]]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

is_ci=false
[[ "${CI:-}" == true || "${CI:-}" == 1 ]] && is_ci=true

# Prints the directory with initdb and pg_ctl, or nothing.
find_pg_bin() {
  if [[ -n "${CRM_PG_BIN_DIR:-}" ]]; then
    [[ -x "$CRM_PG_BIN_DIR/initdb" && -x "$CRM_PG_BIN_DIR/pg_ctl" ]] && echo "$CRM_PG_BIN_DIR"
    return 0
  fi
  # Debian keeps the server binaries off PATH, one directory per major version.
  local dir newest=""
  newest=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  for dir in "$newest" "$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/x)")"; do
    if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
      echo "$dir"
      return 0
    fi
  done
}

# Sets redis_server and redis_cli, or leaves them empty.
find_redis() {
  local server cli
  server=${CRM_REDIS_SERVER:-$(command -v redis-server 2>/dev/null || true)}
  [[ -n "$server" && -x "$server" ]] || return 0
  cli=${CRM_REDIS_CLI:-}
  if [[ -z "$cli" ]]; then
    cli="$(dirname "$server")/redis-cli"
    [[ -x "$cli" ]] || cli=$(command -v redis-cli 2>/dev/null || true)
  fi
  [[ -n "$cli" && -x "$cli" ]] || return 0
  redis_server=$server redis_cli=$cli
}

# A free loopback port. Picked just before each server starts, so a server
# already listening can never be handed out twice.
free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    return
  fi
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 12000))
    # Connection refused means nobody listens there.
    if ! (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  log "no free port found"
  return 1
}

# --- what to start -----------------------------------------------------------
want_pg=false want_redis=false
pg_bin="" redis_server="" redis_cli=""

if [[ -n "${CRM_TEST_POSTGRES_URL:-}" ]]; then
  log "using the caller's CRM_TEST_POSTGRES_URL; not starting PostgreSQL"
else
  pg_bin=$(find_pg_bin)
  if [[ -n "$pg_bin" ]]; then
    want_pg=true
  elif $is_ci; then
    banner "FAILED: PostgreSQL server not installed (no initdb/pg_ctl in ${CRM_PG_BIN_DIR:-/usr/lib/postgresql/*/bin}); CI=true requires it (apt-get install postgresql)"
    exit 1
  else
    banner "SKIPPED: PostgreSQL server not installed; PostgreSQL test runs will be skipped (apt-get install postgresql)"
  fi
fi

if [[ -n "${CRM_TEST_REDIS_URL:-}" ]]; then
  log "using the caller's CRM_TEST_REDIS_URL; not starting Redis"
else
  find_redis
  if [[ -n "$redis_server" ]]; then
    want_redis=true
  elif $is_ci; then
    banner "FAILED: Redis server not installed (no redis-server/redis-cli); CI=true requires it (apt-get install redis-server)"
    exit 1
  else
    banner "SKIPPED: Redis server not installed; Redis test runs will be skipped (apt-get install redis-server)"
  fi
fi

# --- cleanup, installed before anything is started -----------------------------
pg_dir="" pg_started=false
redis_dir="" redis_port="" redis_started=false

as_postgres() {
  # As root, PostgreSQL refuses to run; use the postgres user, from a directory
  # it can read (initdb complains about an unreadable cwd such as /root).
  if [[ $EUID -eq 0 ]]; then
    (cd "$pg_dir" && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# shellcheck disable=SC2317 # only called from the trap
cleanup() {
  local rc=$?
  set +e
  trap - EXIT HUP INT TERM
  if $pg_started; then
    as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" stop -m fast -w >/dev/null 2>&1 ||
      as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" stop -m immediate -w >/dev/null 2>&1
  fi
  if $redis_started; then
    # Read the pid first: Redis removes its pidfile on shutdown.
    local pid
    pid=$(cat "$redis_dir/redis.pid" 2>/dev/null)
    "$redis_cli" -h 127.0.0.1 -p "$redis_port" shutdown nosave >/dev/null 2>&1
    # Wait for the exit, then make sure of it.
    if [[ -n "$pid" ]]; then
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -9 "$pid" 2>/dev/null
    fi
  fi
  [[ -n "$pg_dir" ]] && rm -rf "$pg_dir"
  [[ -n "$redis_dir" ]] && rm -rf "$redis_dir"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

fail_with_log() {
  log "$1; last lines of $2:"
  tail -n 40 "$2" >&2 || true
  exit 1
}

# --- PostgreSQL -----------------------------------------------------------------
if $want_pg; then
  pg_dir=$(mktemp -d -t crm-test-pg.XXXXXX)
  if [[ $EUID -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || { log "running as root needs a 'postgres' user to run PostgreSQL"; exit 1; }
    chown postgres: "$pg_dir"
  fi
  pg_log="$pg_dir/postgres.log"
  # C locale: always available, and deterministic sort order in tests.
  as_postgres "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync \
    >"$pg_dir/initdb.log" 2>&1 || fail_with_log "initdb failed" "$pg_dir/initdb.log"
  pg_port=$(free_port)
  # Durability is worthless for a throwaway test database (benchmarks ask for it
  # back with CRM_PG_DURABLE=1); connections are many because tests run in
  # parallel, each with a small pool.
  durability="fsync = off
synchronous_commit = off
full_page_writes = off"
  [[ "${CRM_PG_DURABLE:-}" == 1 ]] && durability="# durable: PostgreSQL defaults"
  as_postgres tee -a "$pg_dir/data/postgresql.conf" >/dev/null <<EOF
port = $pg_port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pg_dir'
max_connections = 300
$durability
EOF
  pg_started=true # from here on cleanup must try to stop it
  as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_log" -w -t 60 start >/dev/null 2>&1 ||
    fail_with_log "PostgreSQL failed to start" "$pg_log"
  pg_isready=$pg_bin/pg_isready
  [[ -x "$pg_isready" ]] || pg_isready=$(command -v pg_isready || true)
  if [[ -n "$pg_isready" ]]; then
    ready=false
    for _ in $(seq 1 100); do
      if "$pg_isready" -q -h 127.0.0.1 -p "$pg_port" -U postgres; then ready=true; break; fi
      sleep 0.2
    done
    $ready || fail_with_log "PostgreSQL does not accept connections on 127.0.0.1:$pg_port" "$pg_log"
  fi
  export CRM_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
  log "PostgreSQL $("$pg_bin/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$pg_port ($pg_dir)"
fi

# --- Redis ------------------------------------------------------------------------
if $want_redis; then
  redis_dir=$(mktemp -d -t crm-test-redis.XXXXXX)
  redis_log="$redis_dir/redis.log"
  redis_port=$(free_port)
  redis_started=true
  # --daemonize returns before the port is bound, so readiness is the ping below.
  "$redis_server" --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --pidfile "$redis_dir/redis.pid" --logfile "$redis_log" --dir "$redis_dir" \
    >"$redis_dir/start.log" 2>&1 || fail_with_log "Redis failed to start" "$redis_dir/start.log"
  ready=false
  for _ in $(seq 1 100); do
    if [[ "$("$redis_cli" -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" == PONG ]]; then ready=true; break; fi
    sleep 0.1
  done
  $ready || fail_with_log "Redis does not answer PING on 127.0.0.1:$redis_port" "$redis_log"
  export CRM_TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
  log "Redis $("$redis_server" --version | awk '{print $3}' | sed 's/^v=//') on 127.0.0.1:$redis_port ($redis_dir)"
fi

# --- the command ------------------------------------------------------------------
# Not exec'd: the EXIT trap must run to stop the servers.
status=0
"$@" || status=$?
exit "$status"
