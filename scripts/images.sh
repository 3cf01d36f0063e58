#!/usr/bin/env bash
# Builds one container image per binary of the workspace from the Dockerfile (`make images`).
#
#   scripts/images.sh                  # every binary: crm-customers, ..., crm-suite
#   scripts/images.sh crm-customers    # just these
#   scripts/images.sh --list           # print the binaries that would be built, build nothing
#
# Environment:
#   CONTAINER_ENGINE  docker or podman (default: whichever has a running engine, docker first)
#   TAG               image tag (default: the workspace version in Cargo.toml, = chart appVersion)
#   REGISTRY          prefix such as ghcr.io/acme (default: none, local images crm-<service>:TAG)
#   PLATFORM          e.g. linux/arm64 (default: the engine's own)
#   PUSH=1            push after building
#   MAX_IMAGE_MB      size goal per image, warned about above it (default 30)
#   IMAGES_FILE       if set, the built image references are written there, one per line
#
# The Dockerfile's dependency layer (cargo-chef cook) does not depend on the binary, so the
# first image pays for the dependencies and the others reuse that layer.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[images] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Binaries of the workspace members under services/ (package crm-* with src/main.rs or
# src/bin/*.rs). The chart deploys the per-service ones; crm-suite is for local/compose use.
list_bins() {
  local manifest dir pkg f
  for manifest in services/*/Cargo.toml; do
    dir="$(dirname "$manifest")"
    # services/_template is the skeleton new services are copied from: never deployed.
    [[ "$(basename "$dir")" == _* ]] && continue
    pkg="$(sed -n 's/^name *= *"\(crm-[a-z0-9-]*\)".*/\1/p' "$manifest" | head -1)"
    [[ -n "$pkg" ]] || continue
    if [[ -f "$dir/src/main.rs" ]]; then echo "$pkg"; fi
    for f in "$dir"/src/bin/*.rs; do
      [[ -e "$f" ]] && basename "$f" .rs
    done
  done | sort -u
}

workspace_version() {
  awk '/^\[workspace.package\]/ {w=1; next} /^\[/ {w=0} w && $1 == "version" {gsub(/"/, "", $3); print $3; exit}' Cargo.toml
}

pick_engine() {
  if [[ -n "${CONTAINER_ENGINE:-}" ]]; then
    command -v "$CONTAINER_ENGINE" >/dev/null || die "CONTAINER_ENGINE=$CONTAINER_ENGINE is not installed"
    "$CONTAINER_ENGINE" info >/dev/null 2>&1 || die "$CONTAINER_ENGINE is installed but its engine is not running"
    echo "$CONTAINER_ENGINE"
    return
  fi
  local e
  for e in docker podman; do
    if command -v "$e" >/dev/null && "$e" info >/dev/null 2>&1; then
      echo "$e"
      return
    fi
  done
  die "no container engine: install and start docker or podman (a docker CLI without a running daemon does not count)"
}

main() {
  local list_only=0 bins=()
  for arg in "$@"; do
    case "$arg" in
      --list) list_only=1 ;;
      -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
      -*) die "unknown option $arg" ;;
      *) bins+=("$arg") ;;
    esac
  done
  if ((${#bins[@]} == 0)); then
    mapfile -t bins < <(list_bins)
  fi
  ((${#bins[@]})) || die "no binaries found under services/*/src/main.rs or src/bin/"
  if ((list_only)); then
    printf '%s\n' "${bins[@]}"
    return 0
  fi

  local engine tag registry max_mb
  engine="$(pick_engine)"
  tag="${TAG:-$(workspace_version)}"
  [[ -n "$tag" ]] || die "cannot read the workspace version from Cargo.toml; set TAG"
  registry="${REGISTRY:-}"
  max_mb="${MAX_IMAGE_MB:-30}"
  local build_args=()
  [[ -n "${PLATFORM:-}" ]] && build_args+=(--platform "$PLATFORM")
  if [[ "$engine" == docker ]]; then export DOCKER_BUILDKIT=1; fi

  local built=() bin ref size_mb start
  for bin in "${bins[@]}"; do
    ref="${registry:+${registry%/}/}$bin:$tag"
    log "building $ref with $engine ..."
    start=$SECONDS
    "$engine" build "${build_args[@]}" \
      --build-arg "BIN=$bin" \
      --build-arg "VERSION=$tag" \
      --tag "$ref" \
      --file Dockerfile .
    size_mb="$("$engine" image inspect --format '{{.Size}}' "$ref" | awk '{printf "%.1f", $1 / 1048576}')"
    log "built $ref: ${size_mb} MB in $((SECONDS - start))s"
    if awk -v s="$size_mb" -v m="$max_mb" 'BEGIN { exit !(s > m) }'; then
      log "WARNING: $ref is ${size_mb} MB, above the ${max_mb} MB goal"
    fi
    if [[ "${PUSH:-0}" == 1 ]]; then
      "$engine" push "$ref"
    fi
    built+=("$ref")
  done
  if [[ -n "${IMAGES_FILE:-}" ]]; then
    printf '%s\n' "${built[@]}" >"$IMAGES_FILE"
  fi
  log "done: ${built[*]}"
}

main "$@"
