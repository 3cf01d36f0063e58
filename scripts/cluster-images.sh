#!/usr/bin/env bash
# Images for the local cluster (scripts/cluster.sh) with neither docker/podman nor a registry
# (`make cluster-images`): docker-archive tars packed by scripts/oci-image.py from this
# machine's files, then imported into the node's containerd when it runs.
#
#   scripts/cluster-images.sh             # release build, pack every image, import if the cluster is up
#   scripts/cluster-images.sh --no-build  # pack the binaries already in target/release
#   scripts/cluster-images.sh --no-import # pack only
#   scripts/cluster-images.sh --check     # also: unit tests, same bytes twice, and every image run
#                                         # without a cluster (chroot as its user, read-only root)
#
# Images (tars in .tools/cluster/images/, sizes and sha256 in SHA256SUMS there):
#   crm-<service>:TAG  every service binary (scripts/images.sh --list, but crm-suite), like the
#                      Dockerfile's: /usr/local/bin/crm-<service> + /usr/local/bin/crm, uid 65532,
#                      with the glibc libraries it links (no musl target here), CA certificates,
#                      tzdata and /etc/passwd as distroless has them
#   crm-loadgen:TAG    the load generator (package crm-e2e), skipped while the workspace has none
#   registry.k8s.io/pause:3.10  the pod sandbox: k8s/local/pause/pause.c, gcc -static
#   crm-postgres:15    Debian's postgresql-15 + k8s/local/postgres/entrypoint.sh, uid 65532
#   crm-redis:7        Debian's redis-server, uid 65532
#
# Environment:
#   TAG                tag of the crm-* images (default: the workspace version in Cargo.toml)
#   TAGS               more tags for them, space-separated
#   SOURCE_DATE_EPOCH  every mtime and "created" in the images (default 0)
#   CARGO              cargo binary (default cargo); CARGO_BUILD_JOBS etc. are cargo's own
#   PG_CONFIG          pg_config of the PostgreSQL to pack (default Debian's 15)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

OUT="$ROOT/.tools/cluster/images"
WORK_DIR="$ROOT/.tools/cluster/image-build"
# CONTAINERD_SOCK, PAUSE_IMAGE, wait_until.
# shellcheck source=scripts/lib/cluster-common.sh
source "$ROOT/scripts/lib/cluster-common.sh"
PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}"
OCI=(python3 "$ROOT/scripts/oci-image.py")
# What distroless gives every image.
BASE=(--passwd --ca-certs --zoneinfo --dir /tmp:1777 --dir /home/nonroot:0700:65532:65532
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt)

log() { printf '[cluster-images] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

workspace_version() {
  awk '/^\[workspace.package\]/ {w=1; next} /^\[/ {w=0} w && $1 == "version" {gsub(/"/, "", $3); print $3; exit}' Cargo.toml
}

# "<target dir> <1 if the workspace has the crm-loadgen binary, else 0>"
workspace_facts() {
  "${CARGO:-cargo}" metadata --no-deps --format-version 1 --offline | python3 -c '
import json, sys
m = json.load(sys.stdin)
bins = {t["name"] for p in m["packages"] for t in p["targets"] if "bin" in t["kind"]}
print(m["target_directory"], int("crm-loadgen" in bins))'
}

need_package() {
  dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' ||
    die "the Debian package $1 is not installed (apt-get install $1)"
}

# The crm-* tags: TAG and every TAGS word, for one image name.
crm_tags() {
  local name=$1 t
  printf -- '--tag\n%s:%s\n' "$name" "$TAG_MAIN"
  for t in ${TAGS:-}; do printf -- '--tag\n%s:%s\n' "$name" "$t"; done
}

pack() {
  local tar=$1
  shift
  "${OCI[@]}" build --out "$OUT/$tar" "$@" >/dev/null
  PACKED+=("$OUT/$tar")
}

labels() {
  printf -- '--label\n%s\n' "org.opencontainers.image.title=$1" "org.opencontainers.image.description=$2" \
    "org.opencontainers.image.version=$3" "org.opencontainers.image.licenses=Apache-2.0"
}

pack_service() {
  local bin=$1 exe="$TARGET_DIR/release/$1" tags lbl
  [[ -x "$exe" ]] || die "$exe is missing: build it (drop --no-build)"
  mapfile -t tags < <(crm_tags "$bin")
  mapfile -t lbl < <(labels "$bin" "CRM suite: $bin (gRPC on 50051; subcommands serve, migrate, healthcheck)" "$TAG_MAIN")
  pack "$bin.tar" "${tags[@]}" "${lbl[@]}" "${BASE[@]}" \
    --file "$exe:/usr/local/bin/$bin:0755" --symlink "/usr/local/bin/crm:$bin" --libs-of "$exe" \
    --env CRM_SERVER__HOST=0.0.0.0 --env CRM_SERVER__PORT=50051 --env CRM_TELEMETRY__FORMAT=json \
    --expose 50051 --user 65532:65532 --entrypoint '["/usr/local/bin/crm"]' --cmd '["serve"]'
}

pack_loadgen() {
  local exe="$TARGET_DIR/release/crm-loadgen" tags lbl
  [[ -x "$exe" ]] || die "$exe is missing: build it (drop --no-build)"
  mapfile -t tags < <(crm_tags crm-loadgen)
  mapfile -t lbl < <(labels crm-loadgen "CRM suite: load generator of the cluster tests" "$TAG_MAIN")
  pack crm-loadgen.tar "${tags[@]}" "${lbl[@]}" "${BASE[@]}" \
    --file "$exe:/usr/local/bin/crm-loadgen:0755" --libs-of "$exe" \
    --user 65532:65532 --entrypoint '["/usr/local/bin/crm-loadgen"]'
}

pack_pause() {
  command -v gcc >/dev/null || die "gcc is required for the pause image (apt-get install gcc libc6-dev)"
  mkdir -p "$WORK_DIR"
  gcc -static -Os -s -Wall -Wextra -Werror -o "$WORK_DIR/pause" k8s/local/pause/pause.c
  # 65535 like the upstream image; the kubelet runs the sandbox as the pod's user anyway.
  pack pause.tar --tag "$PAUSE_IMAGE" --file "$WORK_DIR/pause:/pause:0755" \
    --user 65535:65535 --entrypoint '["/pause"]'
}

pack_postgres() {
  need_package postgresql-15
  local bindir libdir sharedir b m args=() lbl
  bindir="$("$PG_CONFIG" --bindir)"
  libdir="$("$PG_CONFIG" --pkglibdir)"
  sharedir="$("$PG_CONFIG" --sharedir)"
  # The server, what the entrypoint runs, pg_isready for probes; dash is the entrypoint's shell.
  for b in "$bindir"/{postgres,initdb,pg_ctl,psql,pg_isready} /bin/sh; do
    args+=(--host "$b" --libs-of "$(readlink -f "$b")")
  done
  # Modules the server loads by itself: PL/pgSQL, the text search dictionaries initdb sets up,
  # the encoding conversions, replication. No other extension, no LLVM JIT (jit is then off).
  for m in "$libdir"/{plpgsql,dict_snowball,libpqwalreceiver,pgoutput}.so "$libdir"/*_and_*.so; do
    args+=(--host "$m" --libs-of "$m")
  done
  for m in "$sharedir"/extension/plpgsql*; do args+=(--host "$m"); done
  # initdb imports the system's collations with `locale -a`: C.UTF-8 is glibc's own.
  args+=(--host /usr/bin/locale --host /usr/lib/locale/C.utf8)
  mapfile -t lbl < <(labels crm-postgres "PostgreSQL 15 from Debian's packages for the local cluster, uid 65532" 15)
  pack crm-postgres.tar --tag crm-postgres:15 "${lbl[@]}" "${BASE[@]}" "${args[@]}" \
    --tree "$sharedir" --exclude "$sharedir/extension/*" --exclude "$sharedir/man" \
    --file k8s/local/postgres/entrypoint.sh:/usr/local/bin/docker-entrypoint.sh:0755 \
    --dir /var/lib/postgresql:0755:65532:65532 --dir /var/run/postgresql:2775:65532:65532 \
    --dir /docker-entrypoint-initdb.d:0755 \
    --env "PATH=$bindir:/usr/local/bin:/usr/bin:/bin" --env PGDATA=/var/lib/postgresql/data \
    --expose 5432 --user 65532:65532 --stop-signal SIGINT \
    --entrypoint '["/usr/local/bin/docker-entrypoint.sh"]' --cmd '["postgres"]'
}

pack_redis() {
  need_package redis-server
  need_package redis-tools
  local b args=() lbl
  for b in /usr/bin/redis-server /usr/bin/redis-cli; do
    args+=(--host "$b" --libs-of "$(readlink -f "$b")")
  done
  mapfile -t lbl < <(labels crm-redis "Redis 7 from Debian's packages for the local cluster, uid 65532" 7)
  # No persistence by default (a cache and a stream bus for tests); protected mode off as in
  # the official image: the pod network is the boundary, manifests add --requirepass.
  pack crm-redis.tar --tag crm-redis:7 "${lbl[@]}" "${BASE[@]}" "${args[@]}" \
    --dir /data:0755:65532:65532 --workdir /data --expose 6379 --user 65532:65532 \
    --cmd '["redis-server", "--save", "", "--appendonly", "no", "--protected-mode", "no"]'
}

# Every image into $OUT; PACKED lists the tars.
pack_all() {
  local bin
  mkdir -p "$OUT"
  PACKED=()
  for bin in "${BINS[@]}"; do pack_service "$bin"; done
  if ((HAS_LOADGEN)); then pack_loadgen; fi
  pack_pause
  pack_postgres
  pack_redis
}

summary() {
  local tar
  (cd "$OUT" && sha256sum -- "${PACKED[@]##*/}" >SHA256SUMS)
  for tar in "${PACKED[@]}"; do
    printf '%-20s %7.1f MB  sha256:%s\n' "$(basename "$tar")" \
      "$(awk -v b="$(stat -c %s "$tar")" 'BEGIN { print b / 1048576 }')" "$(sha256sum "$tar" | cut -d' ' -f1)"
  done
}

import_all() {
  if [[ ! -S "$CONTAINERD_SOCK" ]]; then
    log "no cluster ($CONTAINERD_SOCK absent): not imported; 'scripts/cluster.sh import' them later"
    return
  fi
  scripts/cluster.sh import "$@"
}

main() {
  local build=1 import=1 check=0 arg
  for arg in "$@"; do
    case "$arg" in
      --no-build) build=0 ;;
      --no-import) import=0 ;;
      --check) check=1 ;;
      -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
      *) die "unknown argument $arg (see --help)" ;;
    esac
  done
  local started=$SECONDS
  if ((check)); then
    local out
    out="$(python3 scripts/test_oci_image.py 2>&1)" || { printf '%s\n' "$out" >&2; die "unit tests of scripts/oci-image.py failed"; }
    log "unit tests of scripts/oci-image.py: $(grep -m1 '^Ran ' <<<"$out"): OK"
  fi
  TAG_MAIN="${TAG:-$(workspace_version)}"
  [[ -n "$TAG_MAIN" ]] || die "cannot read the workspace version from Cargo.toml; set TAG"
  local facts build_args=() bin
  facts="$(workspace_facts)"
  TARGET_DIR="${facts% *}"
  HAS_LOADGEN="${facts##* }"
  mapfile -t BINS < <(scripts/images.sh --list | grep -vx crm-suite)
  ((${#BINS[@]})) || die "no service binaries (scripts/images.sh --list)"
  for bin in "${BINS[@]}"; do build_args+=(--bin "$bin"); done
  if ((HAS_LOADGEN)); then
    build_args+=(--bin crm-loadgen)
  else
    log "WARNING: the workspace has no crm-loadgen binary (package crm-e2e): no crm-loadgen image"
  fi
  if ((build)); then
    log "cargo build --release --locked --workspace ${build_args[*]}"
    local t0=$SECONDS
    # --workspace: the feature set of the whole workspace, as `cargo build --release` has
    # compiled it, so no dependency is rebuilt for these binaries alone.
    "${CARGO:-cargo}" build --release --locked --workspace "${build_args[@]}"
    log "release binaries built in $((SECONDS - t0))s"
  fi

  local t1=$SECONDS
  pack_all
  log "packed ${#PACKED[@]} images in $((SECONDS - t1))s into ${OUT#"$ROOT"/}:"
  summary >&2

  if ((check)); then
    # shellcheck source=scripts/lib/cluster-images-check.sh
    source scripts/lib/cluster-images-check.sh
    check_images
  fi
  ((import)) && import_all "${PACKED[@]}"
  log "done in $((SECONDS - started))s"
}

main "$@"
