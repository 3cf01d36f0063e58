# shellcheck shell=bash
# `scripts/cluster-images.sh --check`: proves the packed images without a cluster, sourced after
# pack_all. Each image's rootfs is extracted and run by `oci-image.py run` as PID 1 of its own
# mount and PID namespaces: chroot, the image's User (uid 65532) without capabilities to spare,
# the image's Env and WorkingDir, a read-only root, writable only where a pod would mount a
# volume. Network: the host's loopback, on free ports (nothing listens beyond 127.0.0.1).
#
#   services  --help; migrate on SQLite in a volume; serve + `crm healthcheck` from the image;
#             SIGTERM ends it with 0
#   postgres  initdb + /docker-entrypoint-initdb.d/*.sql on an empty volume; a SCRAM login over
#             TCP from the host's psql (a wrong password refused); pg_isready of the image; a
#             restart on the same volume does not initialise again
#   redis     PING / SET / GET from the host's redis-cli
#   pause     still running after a second, exits 0 on SIGTERM
#   all       packing again gives the same bytes
# Needs root (namespaces, mounts, chroot), psql, pg_isready and redis-cli on the host.

CHECK_TMP=""
STARTED=()

check_cleanup() {
  local pid
  for pid in "${STARTED[@]}"; do
    # --kill-child: the image's processes die with their unshare.
    kill -KILL "$pid" 2>/dev/null || true
  done
  [[ -n "$CHECK_TMP" ]] && rm -rf "$CHECK_TMP"
}

fail() {
  log "CHECK FAILED: $*"
  local f
  for f in "$CHECK_TMP"/*.log; do
    [[ -s "$f" ]] || continue
    log "---- $(basename "$f")"
    tail -n 20 "$f" >&2
  done
  exit 1
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# rootfs NAME: extracts $OUT/NAME.tar once into $CHECK_TMP/NAME/{root,config.json}.
rootfs() {
  local dir="$CHECK_TMP/$1"
  if [[ ! -d "$dir/root" ]]; then
    mkdir -p "$dir"
    "${OCI[@]}" extract "$OUT/$1.tar" "$dir/root" >"$dir/config.json"
  fi
}

# in_image NAME [run options] -- ARGS: the image's entrypoint with ARGS (or its Cmd), in the
# foreground; ARGS may start with --entrypoint=PROGRAM.
in_image() {
  local name=$1
  shift
  rootfs "$name"
  timeout -s KILL 60 unshare --mount --pid --fork --kill-child \
    "${OCI[@]}" run --rootfs "$CHECK_TMP/$name/root" --config "$CHECK_TMP/$name/config.json" "$@"
}

# start_image LOG NAME [run options] -- ARGS: the same in the background; STARTED_PID is the
# unshare, its child (the image's PID 1) gets the signals.
start_image() {
  local logf="$CHECK_TMP/$1.log" name=$2
  shift 2
  rootfs "$name"
  unshare --mount --pid --fork --kill-child \
    "${OCI[@]}" run --rootfs "$CHECK_TMP/$name/root" --config "$CHECK_TMP/$name/config.json" "$@" >"$logf" 2>&1 &
  STARTED_PID=$!
  STARTED+=("$STARTED_PID")
}

# The image's PID 1 of an unshare we started, once oci-image.py has exec'd the entrypoint, i.e.
# runs a program of the rootfs (a signal before that would reach python, which ignores SIGINT
# in a background job).
image_pid() {
  local children child
  for _ in $(seq 100); do
    children="$(cat "/proc/$1/task/$1/children" 2>/dev/null || true)"
    child="${children%% *}"
    if [[ -n "$child" && "$(readlink "/proc/$child/exe" 2>/dev/null)" == "$CHECK_TMP"/*/root/* ]]; then
      echo "$child"
      return
    fi
    sleep 0.1
  done
  fail "unshare $1 did not start its image"
}

# expect_uid UNSHARE_PID UID: the image's PID 1 runs as UID (real, effective, saved, fs).
expect_uid() {
  local child uids
  child="$(image_pid "$1")"
  uids="$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "/proc/$child/status")"
  [[ "$uids" == "$2 $2 $2 $2" ]] || fail "pid $child runs as uids $uids, not $2"
}

# stop_image UNSHARE_PID SIGNAL SECONDS: the image's PID 1 must exit 0 within SECONDS.
stop_image() {
  local pid=$1 sig=$2 secs=$3 child rc=0
  child="$(image_pid "$pid")"
  kill "-$sig" "$child"
  for _ in $(seq $((secs * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && fail "pid $child did not exit within ${secs}s of SIG$sig"
  wait "$pid" || rc=$?
  ((rc == 0)) || fail "pid $child exited with $rc after SIG$sig"
}


# A directory for a volume, writable by the images' user.
volume() {
  mkdir -p "$CHECK_TMP/vol/$1"
  chown 65532:65532 "$CHECK_TMP/vol/$1"
  echo "$CHECK_TMP/vol/$1"
}

check_service() {
  local bin=$1 vol port t0=$SECONDS
  in_image "$bin" -- --help >"$CHECK_TMP/$bin-help.log" 2>&1 || fail "$bin --help"
  grep -q serve "$CHECK_TMP/$bin-help.log" || fail "$bin --help does not list serve"
  vol="$(volume "$bin")"
  local db=(--volume "$vol:/var/lib/crm" --env "CRM_DATABASE__URL=sqlite:///var/lib/crm/$bin.sqlite?mode=rwc")
  in_image "$bin" "${db[@]}" -- migrate >"$CHECK_TMP/$bin-migrate.log" 2>&1 || fail "$bin migrate"
  [[ -s "$vol/$bin.sqlite" ]] || fail "$bin migrate wrote no database"
  port="$(free_port)"
  start_image "$bin-serve" "$bin" "${db[@]}" --env CRM_SERVER__HOST=127.0.0.1 --env "CRM_SERVER__PORT=$port"
  local serve=$STARTED_PID
  wait_until 30 "$bin serving on 127.0.0.1:$port" in_image "$bin" -- healthcheck --addr "127.0.0.1:$port" ||
    fail "$bin serving on 127.0.0.1:$port not in time"
  expect_uid "$serve" 65532
  stop_image "$serve" TERM 30
  log "ok  $bin: --help, migrate (SQLite), serve + healthcheck, SIGTERM -> 0 ($((SECONDS - t0))s)"
}

check_postgres() {
  local vol init port pw=check-Pw-1 t0=$SECONDS
  vol="$(volume postgres)"
  init="$CHECK_TMP/initdb"
  mkdir -p "$init"
  printf '%s\n' "CREATE TABLE init_once (id int PRIMARY KEY);" "INSERT INTO init_once VALUES (1);" \
    "CREATE ROLE crm_check LOGIN PASSWORD 'check-role-pw';" >"$init/10-check.sql"
  chmod 0644 "$init/10-check.sql"
  port="$(free_port)"
  # As k8s/local mounts them: the data volume above PGDATA, a volume for the socket.
  local mounts=(--volume "$vol:/var/lib/postgresql" --volume "$init:/docker-entrypoint-initdb.d"
    --tmpfs /var/run/postgresql --env "POSTGRES_PASSWORD=$pw")
  local args=(-c listen_addresses=127.0.0.1 -c "port=$port")
  start_image postgres crm-postgres "${mounts[@]}" -- "${args[@]}"
  local pg=$STARTED_PID
  wait_until 60 "postgres ready on 127.0.0.1:$port" pg_isready -q -h 127.0.0.1 -p "$port" ||
    fail "postgres ready on 127.0.0.1:$port not in time"
  expect_uid "$pg" 65532
  in_image crm-postgres -- --entrypoint=pg_isready -h 127.0.0.1 -p "$port" >/dev/null || fail "the image's pg_isready"
  local conn="host=127.0.0.1 port=$port dbname=postgres sslmode=disable"
  [[ "$(PGPASSWORD=$pw psql -X -Atc 'SELECT count(*) FROM init_once' "$conn user=postgres")" == 1 ]] ||
    fail "init.sql did not run"
  [[ "$(PGPASSWORD=check-role-pw psql -X -Atc 'SELECT current_user' "$conn user=crm_check")" == crm_check ]] ||
    fail "the init.sql role cannot log in"
  PGPASSWORD=wrong psql -X -Atc 'SELECT 1' "$conn user=postgres" >/dev/null 2>&1 && fail "a wrong password was accepted"
  [[ "$(PGPASSWORD=$pw psql -X -Atc "SELECT rolpassword LIKE 'SCRAM-SHA-256\$%' FROM pg_authid WHERE rolname = 'postgres'" "$conn user=postgres")" == t ]] ||
    fail "the superuser's password is not a SCRAM secret"
  stop_image "$pg" INT 30
  grep -q 'running /docker-entrypoint-initdb.d/10-check.sql' "$CHECK_TMP/postgres.log" || fail "no init.sql in the log"
  # Again on the same volume: no second initialisation, the data is there.
  start_image postgres-again crm-postgres "${mounts[@]}" -- "${args[@]}"
  pg=$STARTED_PID
  wait_until 60 "postgres ready again" pg_isready -q -h 127.0.0.1 -p "$port" ||
    fail "postgres ready again not in time"
  [[ "$(PGPASSWORD=$pw psql -X -Atc 'SELECT count(*) FROM init_once' "$conn user=postgres")" == 1 ]] || fail "data lost on restart"
  grep -q initialising "$CHECK_TMP/postgres-again.log" && fail "initialised twice"
  stop_image "$pg" TERM 30
  # The one image with a shell shows what every run here gets: nothing but volumes is writable.
  in_image crm-postgres -- --entrypoint=/bin/sh -c ': >/usr/local/bin/x' 2>/dev/null && fail "the root is writable"
  in_image crm-postgres --user 0:0 -- --entrypoint=/bin/sh -c ': >/etc/x' 2>/dev/null && fail "the root is writable for root"
  log "ok  crm-postgres: initdb + init.sql as 65532, SCRAM login over TCP, restart keeps data, read-only root ($((SECONDS - t0))s)"
}

check_redis() {
  local port t0=$SECONDS
  port="$(free_port)"
  start_image redis crm-redis --volume "$(volume redis):/data" -- \
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no
  local redis=$STARTED_PID
  wait_until 30 "redis on 127.0.0.1:$port" redis-cli -h 127.0.0.1 -p "$port" ping ||
    fail "redis on 127.0.0.1:$port not in time"
  expect_uid "$redis" 65532
  [[ "$(redis-cli -h 127.0.0.1 -p "$port" ping)" == PONG ]] || fail "redis PING"
  redis-cli -h 127.0.0.1 -p "$port" set crm-check ok >/dev/null
  [[ "$(redis-cli -h 127.0.0.1 -p "$port" get crm-check)" == ok ]] || fail "redis GET"
  stop_image "$redis" TERM 30
  log "ok  crm-redis: PING, SET/GET as 65532 ($((SECONDS - t0))s)"
}

check_pause() {
  local t0=$SECONDS
  start_image pause pause
  local pause=$STARTED_PID
  sleep 1
  kill -0 "$pause" 2>/dev/null || fail "pause exited by itself"
  expect_uid "$pause" 65535
  stop_image "$pause" TERM 5
  start_image pause-int pause
  pause=$STARTED_PID
  sleep 0.3
  stop_image "$pause" INT 5
  log "ok  pause: runs until SIGTERM / SIGINT, exits 0 ($((SECONDS - t0))s)"
}

check_reproducible() {
  local first="$OUT" packed=("${PACKED[@]}") t0=$SECONDS tar
  OUT="$CHECK_TMP/again"
  pack_all
  OUT="$first"
  PACKED=("${packed[@]}")
  for tar in "$CHECK_TMP"/again/*.tar; do
    cmp -s "$tar" "$first/$(basename "$tar")" || fail "$(basename "$tar") differs when packed again"
  done
  log "ok  packed again: the same bytes for all ${#PACKED[@]} images ($((SECONDS - t0))s)"
}

check_images() {
  local t0=$SECONDS tool bin
  [[ $EUID -eq 0 ]] || die "--check needs root (namespaces, mounts, chroot)"
  for tool in unshare timeout psql pg_isready redis-cli; do
    command -v "$tool" >/dev/null || die "--check needs $tool on the host"
  done
  CHECK_TMP="$(mktemp -d "${TMPDIR:-/tmp}/cluster-images-check.XXXXXX")"
  chmod 0755 "$CHECK_TMP"
  trap check_cleanup EXIT
  check_reproducible
  check_pause
  check_redis
  check_postgres
  for bin in "${BINS[@]}"; do check_service "$bin"; done
  if ((HAS_LOADGEN)); then
    in_image crm-loadgen -- --help >"$CHECK_TMP/loadgen-help.log" 2>&1 || fail "crm-loadgen --help"
    log "ok  crm-loadgen: --help"
  fi
  log "check passed in $((SECONDS - t0))s"
}
