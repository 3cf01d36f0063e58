#!/usr/bin/env bash
# The suite on a local kind cluster. docs/kubernetes.md walks through it.
#
#   scripts/kind.sh up        # `make kind-up`:   cluster + namespaces + Secrets + PostgreSQL, Redis (+ Jaeger)
#   scripts/kind.sh load      # `make kind-load`: build the images with a unique tag, load them into the nodes
#   scripts/kind.sh deploy    # `make deploy`:    helm upgrade --install --wait, then helm test
#   scripts/kind.sh forward [SERVICE] [LOCAL_PORT]   # port-forward a service (default customers -> 50051)
#   scripts/kind.sh token     # a 1 h bearer token of crm-dev, the developer's ServiceAccount
#   scripts/kind.sh status    # what runs where
#   scripts/kind.sh down      # `make kind-down`: delete the cluster
#
# Environment: CLUSTER (crm), RELEASE (crm), NAMESPACE (crm; the dependencies go to crm-deps),
# KIND_OTEL=0 (skip Jaeger), CONTAINER_ENGINE (docker|podman), HELM_TIMEOUT (10m),
# SERVICES (space-separated service keys to build/enable; default: every binary in the workspace).
# Needs kind, kubectl, helm and docker or podman on the user's machine (`make tools` installs
# kind and helm into ./.tools/bin; kubectl comes with Docker Desktop or your package manager).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.tools/bin:$PATH"

CLUSTER="${CLUSTER:-crm}"
RELEASE="${RELEASE:-crm}"
NAMESPACE="${NAMESPACE:-crm}"
DEPS_NAMESPACE=crm-deps
CONTEXT="kind-$CLUSTER"
STATE_DIR="$ROOT/.tools/kind/$CLUSTER"
CHART=charts/crm
# Every service the chart knows; Secrets and databases are made for all of them up front, so
# enabling one later needs no new credentials.
ALL_SERVICES=(customers tickets loyalty campaigns recommendations)

log() { printf '\n\033[1m[kind] %s\033[0m\n' "$*" >&2; }
die() { printf '[kind] ERROR: %s\n' "$*" >&2; exit 1; }
need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || die "$t is not installed (see docs/kubernetes.md, 'Prerequisites')"
  done
}
kc() { kubectl --context "$CONTEXT" "$@"; }

engine() {
  if [[ -n "${CONTAINER_ENGINE:-}" ]]; then echo "$CONTAINER_ENGINE"; return; fi
  local e
  for e in docker podman; do
    if command -v "$e" >/dev/null && "$e" info >/dev/null 2>&1; then echo "$e"; return; fi
  done
  die "no running container engine (docker or podman)"
}

# Picks the engine once (ENGINE); kind talks to podman only when told so.
ENGINE=""
kind_env() {
  ENGINE="$(engine)" || exit 1
  if [[ "$ENGINE" == podman ]]; then export KIND_EXPERIMENTAL_PROVIDER=podman; fi
}

cluster_exists() { kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; }

# make_secrets (shared with the local cluster's scripts/cluster-test.sh).
# shellcheck source=scripts/lib/dev-secrets.sh
source "$ROOT/scripts/lib/dev-secrets.sh"

# ------------------------------------------------------------------------------------------------
cmd_up() {
  need kind kubectl
  kind_env
  if cluster_exists; then
    log "cluster $CLUSTER exists"
  else
    log "creating cluster $CLUSTER (k8s/kind-cluster.yaml)"
    kind create cluster --name "$CLUSTER" --config k8s/kind-cluster.yaml --wait 120s
  fi
  log "namespaces $NAMESPACE (PSS restricted) and $DEPS_NAMESPACE"
  if [[ "$NAMESPACE" == crm ]]; then
    kc apply -f k8s/dev/namespaces.yaml
  else
    sed "s/name: crm$/name: $NAMESPACE/" k8s/dev/namespaces.yaml | kc apply -f -
  fi
  make_secrets
  make_pii_secret
  log "PostgreSQL, Redis$([[ "${KIND_OTEL:-1}" == 0 ]] || echo ", Jaeger") in $DEPS_NAMESPACE"
  kc apply -f k8s/dev/postgres.yaml -f k8s/dev/redis.yaml
  if [[ "${KIND_OTEL:-1}" != 0 ]]; then kc apply -f k8s/dev/jaeger.yaml; fi
  kc -n "$DEPS_NAMESPACE" rollout status statefulset/postgres --timeout=300s
  kc -n "$DEPS_NAMESPACE" rollout status deployment/redis --timeout=300s
  if [[ "${KIND_OTEL:-1}" != 0 ]]; then kc -n "$DEPS_NAMESPACE" rollout status deployment/jaeger --timeout=300s; fi
  log "ready: next 'make kind-load' and 'make deploy'"
}

# ------------------------------------------------------------------------------------------------
selected_bins() {
  if [[ -n "${SERVICES:-}" ]]; then
    local s
    for s in $SERVICES; do echo "crm-$s"; done
  else
    scripts/images.sh --list | grep -vx crm-suite
  fi
}

cmd_load() {
  need kind
  kind_env
  cluster_exists || die "no cluster $CLUSTER: run 'make kind-up' first"
  local eng="$ENGINE" tag bins
  # Unique per build, so that the Deployments roll and nodes never run a stale image.
  tag="dev-$(git rev-parse --short HEAD 2>/dev/null || echo nogit)-$(date +%Y%m%d%H%M%S)"
  mapfile -t bins < <(selected_bins)
  ((${#bins[@]})) || die "no service binaries to build"
  mkdir -p "$STATE_DIR"
  log "building ${bins[*]} as :$tag with $eng"
  CONTAINER_ENGINE="$eng" TAG="$tag" IMAGES_FILE="$STATE_DIR/images.new" scripts/images.sh "${bins[@]}"
  local ref
  while read -r ref; do
    log "loading $ref into $CLUSTER"
    if [[ "$eng" == podman ]]; then
      podman save --format docker-archive -o "$STATE_DIR/image.tar" "$ref"
      kind load image-archive "$STATE_DIR/image.tar" --name "$CLUSTER"
      rm -f "$STATE_DIR/image.tar"
    else
      kind load docker-image "$ref" --name "$CLUSTER"
    fi
  done <"$STATE_DIR/images.new"
  mv "$STATE_DIR/images.new" "$STATE_DIR/images"
  echo "$tag" >"$STATE_DIR/tag"
  log "loaded tag $tag: next 'make deploy'"
}

# ------------------------------------------------------------------------------------------------
cmd_deploy() {
  need helm kubectl
  [[ -f "$STATE_DIR/tag" ]] || die "no images loaded into $CLUSTER yet: run 'make kind-load' first"
  local tag ref svc
  tag="$(cat "$STATE_DIR/tag")"
  local -a sets=(--set "defaults.image.tag=$tag")
  # Enable exactly the services whose images were loaded (customers is on by default).
  while read -r ref; do
    svc="${ref%%:*}"
    svc="${svc##*/}"
    svc="${svc#crm-}"
    sets+=(--set "services.$svc.enabled=true")
  done <"$STATE_DIR/images"
  if [[ "${KIND_OTEL:-1}" == 0 ]]; then sets+=(--set "otel.endpoint="); fi
  # The developer's identity: k8s/kind-values.yaml grants it every scope.
  kc -n "$NAMESPACE" apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: ServiceAccount
metadata: {name: crm-dev}
automountServiceAccountToken: false
YAML
  log "helm upgrade --install $RELEASE (tag $tag) into $NAMESPACE"
  helm --kube-context "$CONTEXT" upgrade --install "$RELEASE" "$CHART" \
    --namespace "$NAMESPACE" \
    -f k8s/kind-values.yaml "${sets[@]}" \
    --wait --wait-for-jobs --timeout "${HELM_TIMEOUT:-10m}"
  log "helm test $RELEASE"
  helm --kube-context "$CONTEXT" test "$RELEASE" --namespace "$NAMESPACE" --logs --timeout 5m
  kc -n "$NAMESPACE" get deployments,pods,jobs -l "app.kubernetes.io/instance=$RELEASE"
  log "deployed: 'scripts/kind.sh forward customers', TOKEN=\"\$(scripts/kind.sh token)\", then grpcurl (docs/kubernetes.md)"
}

# A token of crm-dev for the chart's audience (auth.audience, default crm).
cmd_token() {
  need kubectl
  kc -n "$NAMESPACE" create token crm-dev --audience "${AUDIENCE:-crm}" --duration 1h
}

cmd_forward() {
  need kubectl
  local svc="${1:-customers}" port="${2:-50051}"
  log "localhost:$port -> svc/$RELEASE-$svc:50051 (Ctrl-C stops)"
  kc -n "$NAMESPACE" port-forward "svc/$RELEASE-$svc" "$port:50051"
}

cmd_status() {
  need kubectl
  kc -n "$DEPS_NAMESPACE" get pods,svc
  kc -n "$NAMESPACE" get deployments,pods,jobs,svc,networkpolicies -l "app.kubernetes.io/instance=$RELEASE"
}

cmd_down() {
  need kind
  kind_env
  if cluster_exists; then
    log "deleting cluster $CLUSTER"
    kind delete cluster --name "$CLUSTER"
  else
    log "no cluster $CLUSTER"
  fi
  rm -rf "$STATE_DIR"
}

case "${1:-}" in
  up) cmd_up ;;
  load) cmd_load ;;
  deploy) cmd_deploy ;;
  forward) shift; cmd_forward "$@" ;;
  token) cmd_token ;;
  status) cmd_status ;;
  down) cmd_down ;;
  *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
esac
