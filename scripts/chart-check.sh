#!/usr/bin/env bash
# Chart CI: everything about the deployment that can be checked without a cluster or a
# container engine. Run by `make chart-check` and `make test`.
#
#   scripts/chart-check.sh            # check
#   scripts/chart-check.sh --update   # rewrite the golden renders and values.schema.json, then check
#
# Steps:
#   1. hadolint lints the Dockerfile (any finding, down to "info", fails).
#   2. values.schema.json is what charts/crm/ci/schema_gen.py writes.
#   3. For each charts/crm/ci/*-values.yaml set and each Kubernetes version in KUBE_VERSIONS:
#      helm lint --strict; helm template; kubeconform -strict and kubernetes-validate --strict
#      against the JSON schemas shipped in the kubernetes-validate wheel (offline: nothing is
#      downloaded at check time); the policy check (charts/crm/ci/policy.py: PSS restricted,
#      probes, resources, ServiceAccounts, NetworkPolicies, labels); the golden file
#      charts/crm/ci/golden/<set>.yaml must equal the render.
#   4. The kind flow's manifests: k8s/dev/*.yaml validate; k8s/kind-cluster.yaml pins its node
#      images by digest.
#   5. Negative tests, charts/crm/ci/negative/*.yaml, each declaring
#        # expect: schema|render|policy
#        # error: <extended regex the error output must match>
#      schema/render: `helm template` must fail with that error; policy: it must render and the
#      policy check must fail with that error.
#
# Missing tools (install them with `make tools`): a loud SKIPPED and exit 0, except with CI=true,
# where it fails. The last line is "chart-check: N passed, M failed".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.tools/bin:$ROOT/.tools/venv/bin:$PATH"

CHART=charts/crm
CI_DIR=$CHART/ci
GOLDEN_DIR=$CI_DIR/golden
RELEASE=crm
NAMESPACE=crm
# The chart's minimum (Chart.yaml kubeVersion) and the newest the pinned tools know (helm's
# client-go, kubernetes-validate's schemas, the kind node image).
KUBE_VERSIONS=(1.29.0 1.37.0)
GOLDEN_KUBE_VERSION=1.37.0

UPDATE=0
case "${1:-}" in
  "") ;;
  --update) UPDATE=1 ;;
  -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac

if [[ -t 1 ]]; then RED=$'\e[31m' GREEN=$'\e[32m' YELLOW=$'\e[33m' BOLD=$'\e[1m' RESET=$'\e[0m'
else RED='' GREEN='' YELLOW='' BOLD='' RESET=''; fi

# ---- tools ----------------------------------------------------------------------------------
PY="$ROOT/.tools/venv/bin/python"
missing=()
for tool in helm kubeconform hadolint kubernetes-validate; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[[ -x "$PY" ]] && "$PY" -c 'import yaml, kubernetes_validate' 2>/dev/null || missing+=("python venv (.tools/venv with PyYAML, kubernetes-validate)")
if ((${#missing[@]})); then
  banner="${YELLOW}${BOLD}########################################################################${RESET}"
  printf '%s\n' "$banner" >&2
  for tool in "${missing[@]}"; do
    printf '%s\n' "${YELLOW}${BOLD}## SKIPPED: ${tool} not installed (run make tools)${RESET}" >&2
  done
  printf '%s\n' "$banner" >&2
  if [[ "${CI:-}" == "true" ]]; then
    echo "${RED}chart-check: required tools missing with CI=true: failing${RESET}" >&2
    echo "chart-check: 0 passed, 1 failed"
    exit 1
  fi
  echo "chart-check: SKIPPED (tools missing; CI=true would fail)"
  exit 0
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/chart-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0
failures=()
ok() { passed=$((passed + 1)); printf '  %sok%s   %s\n' "$GREEN" "$RESET" "$1"; }
bad() {
  failed=$((failed + 1)); failures+=("$1")
  printf '  %sFAIL%s %s\n' "$RED" "$RESET" "$1"
  if [[ -n "${2:-}" && -s "$2" ]]; then sed 's/^/       | /' "$2" | head -60; fi
}
section() { printf '\n%s== %s%s\n' "$BOLD" "$1" "$RESET"; }

# run NAME LOG CMD...: record pass/fail of a command, showing its output on failure.
run() {
  local name=$1 log=$2
  shift 2
  if "$@" >"$log" 2>&1; then ok "$name"; else bad "$name" "$log"; fi
}

# ---- 1. Dockerfile --------------------------------------------------------------------------
section "Dockerfile"
run "hadolint Dockerfile ($(hadolint --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1))" \
  "$WORK/hadolint.log" hadolint --no-color --failure-threshold info Dockerfile

# ---- 2. schema up to date -------------------------------------------------------------------
section "values.schema.json"
if ((UPDATE)); then "$PY" "$CI_DIR/schema_gen.py"; fi
run "values.schema.json matches ci/schema_gen.py" "$WORK/schema.log" "$PY" "$CI_DIR/schema_gen.py" --check

# ---- offline schemas for kubeconform --------------------------------------------------------
# kubernetes-validate ships the Kubernetes JSON schemas (<version>-local[-strict]/<kind>-<group>-
# <version>.json, the layout kubeconform's templates expect) but their $refs point at
# "/api/_definitions.json" under an https $id. A copy with the $id dropped and the refs made
# relative lets kubeconform resolve them from disk. Cached per kubernetes-validate version.
KV_VERSION="$("$PY" -c 'from kubernetes_validate.version import __version__ as v; print(v)')"
SCHEMA_CACHE="$ROOT/.tools/cache/kubeconform-schemas/kubernetes-validate-$KV_VERSION"
prepare_schemas() {
  "$PY" - "$SCHEMA_CACHE" "${KUBE_VERSIONS[@]}" <<'PY'
import json, pathlib, sys
import kubernetes_validate
base = pathlib.Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
cache = pathlib.Path(sys.argv[1])
for version in sys.argv[2:]:
    src = base / f"v{version}-local-strict"
    if not src.is_dir():
        sys.exit(f"kubernetes-validate has no schemas for {version} (have: "
                 + ", ".join(sorted(p.name for p in base.iterdir())) + ")")
    dst = cache / src.name
    if (dst / ".complete").exists():
        continue
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.glob("*.json"):
        data = json.loads(f.read_text().replace('"/api/_definitions.json#', '"_definitions.json#'))
        data.pop("$id", None)
        (dst / f.name).write_text(json.dumps(data))
    (dst / ".complete").write_text("")
PY
}
if ! prepare_schemas >"$WORK/schemas.log" 2>&1; then
  bad "prepare offline Kubernetes schemas" "$WORK/schemas.log"
fi
KUBECONFORM_LOCATION="$SCHEMA_CACHE/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json"

# ---- 3. values sets -------------------------------------------------------------------------
mkdir -p "$GOLDEN_DIR"
shopt -s nullglob
sets=("$CI_DIR"/*-values.yaml)
((${#sets[@]})) || { bad "no values sets in $CI_DIR"; }
for values in "${sets[@]}"; do
  set_name="$(basename "$values" -values.yaml)"
  section "values set: $set_name ($values)"
  for kv in "${KUBE_VERSIONS[@]}"; do
    run "helm lint --strict (k8s $kv)" "$WORK/$set_name-$kv-lint.log" \
      helm lint --strict "$CHART" -f "$values" --namespace "$NAMESPACE" --kube-version "$kv"
    out="$WORK/$set_name-$kv.yaml"
    if ! helm template "$RELEASE" "$CHART" -f "$values" --namespace "$NAMESPACE" \
      --kube-version "$kv" >"$out" 2>"$WORK/$set_name-$kv-template.log"; then
      bad "helm template (k8s $kv)" "$WORK/$set_name-$kv-template.log"
      continue
    fi
    count="$(grep -c '^kind: ' "$out" || true)"
    ok "helm template (k8s $kv): $count objects"
    run "kubeconform -strict (k8s $kv)" "$WORK/$set_name-$kv-kubeconform.log" \
      kubeconform -strict -summary -kubernetes-version "$kv" -schema-location "$KUBECONFORM_LOCATION" "$out"
    run "kubernetes-validate --strict (k8s $kv)" "$WORK/$set_name-$kv-kv.log" \
      kubernetes-validate --strict --quiet -k "$kv" "$out"
  done
  out="$WORK/$set_name-$GOLDEN_KUBE_VERSION.yaml"
  [[ -s "$out" ]] || continue
  run "policy (PSS restricted, probes, resources, ServiceAccounts, NetworkPolicies, labels)" \
    "$WORK/$set_name-policy.log" "$PY" "$CI_DIR/policy.py" "$out"
  golden="$GOLDEN_DIR/$set_name.yaml"
  if ((UPDATE)); then
    cp "$out" "$golden"
    ok "golden file rewritten: $golden"
  elif [[ ! -f "$golden" ]]; then
    bad "golden file $golden is missing (scripts/chart-check.sh --update writes it)"
  elif diff -u "$golden" "$out" >"$WORK/$set_name-golden.diff"; then
    ok "render equals $golden"
  else
    bad "render differs from $golden (review, then scripts/chart-check.sh --update)" "$WORK/$set_name-golden.diff"
  fi
done
# Golden files of sets that no longer exist.
for golden in "$GOLDEN_DIR"/*.yaml; do
  [[ -f "$CI_DIR/$(basename "$golden" .yaml)-values.yaml" ]] && continue
  if ((UPDATE)); then rm -f "$golden"; ok "stale golden file removed: $golden"
  else bad "stale golden file $golden (no matching values set; --update removes it)"; fi
done

# ---- kind flow manifests --------------------------------------------------------------------
section "kind flow (k8s/)"
kv_latest="${KUBE_VERSIONS[${#KUBE_VERSIONS[@]}-1]}"
# The manifests, not the kustomization that lists them for k8s/local.
dev_manifests=()
for f in k8s/dev/*.yaml; do [[ "$f" == */kustomization.yaml ]] || dev_manifests+=("$f"); done
run "k8s/dev/*.yaml: kubeconform -strict (k8s $kv_latest)" "$WORK/dev-kubeconform.log" \
  kubeconform -strict -summary -kubernetes-version "$kv_latest" -schema-location "$KUBECONFORM_LOCATION" \
  "${dev_manifests[@]}"
run "k8s/dev/*.yaml: kubernetes-validate --strict (k8s $kv_latest)" "$WORK/dev-kv.log" \
  kubernetes-validate --strict --quiet -k "$kv_latest" "${dev_manifests[@]}"
run "k8s/kind-cluster.yaml: every node image pinned by digest" "$WORK/kind-cluster.log" \
  "$PY" -c '
import sys, yaml
cfg = yaml.safe_load(open("k8s/kind-cluster.yaml"))
nodes = cfg.get("nodes") or []
bad = [n.get("image", "<none>") for n in nodes if "@sha256:" not in str(n.get("image", ""))]
if not nodes or bad:
    sys.exit("kind nodes without a digest-pinned image: %s" % (bad or "no nodes"))
print("%d nodes, %s" % (len(nodes), nodes[0]["image"]))
'

# ---- 4. negative tests ----------------------------------------------------------------------
section "negative tests ($CI_DIR/negative)"
for values in "$CI_DIR"/negative/*.yaml; do
  name="$(basename "$values" .yaml)"
  expect="$(sed -n 's/^# expect: *//p' "$values" | head -1)"
  pattern="$(sed -n 's/^# error: *//p' "$values" | head -1)"
  if [[ -z "$expect" || -z "$pattern" ]]; then
    bad "$name: needs '# expect:' and '# error:' header lines"
    continue
  fi
  out="$WORK/neg-$name.yaml"
  log="$WORK/neg-$name.log"
  case "$expect" in
    schema | render)
      if helm template "$RELEASE" "$CHART" -f "$values" --namespace "$NAMESPACE" >"$out" 2>"$log"; then
        bad "$name: rendered, but the $expect check should have rejected it"
      elif grep -Eq -- "$pattern" "$log"; then
        ok "$name: rejected by the $expect check ($(grep -Eo -- "$pattern" "$log" | head -1))"
      else
        bad "$name: rejected, but not with /$pattern/" "$log"
      fi
      ;;
    policy)
      if ! helm template "$RELEASE" "$CHART" -f "$values" --namespace "$NAMESPACE" >"$out" 2>"$log"; then
        bad "$name: should render (the policy check is the one to catch it)" "$log"
      elif "$PY" "$CI_DIR/policy.py" "$out" >"$log" 2>&1; then
        bad "$name: the policy check passed an insecure render"
      elif grep -Eq -- "$pattern" "$log"; then
        ok "$name: caught by the policy check ($(grep -c '^  - ' "$log") violations, incl. /$pattern/)"
      else
        bad "$name: the policy check failed, but not with /$pattern/" "$log"
      fi
      ;;
    *) bad "$name: unknown expectation '$expect' (schema, render or policy)" ;;
  esac
done

# ---- summary --------------------------------------------------------------------------------
echo
if ((failed)); then
  echo "${RED}${BOLD}chart-check failed:${RESET}" >&2
  printf '  - %s\n' "${failures[@]}" >&2
fi
echo "chart-check: $passed passed, $failed failed"
((failed == 0))
