#!/usr/bin/env bash
# `make cluster-test`: the chart on the local cluster (`make cluster-up`), as a platform team would
# run it. Each step is timed; the results go to .tools/cluster/test/ (summary.md, loadgen-*.json,
# diagnostics.txt when a step fails).
#
#   1. images: the services, the load generator, PostgreSQL, Redis, pause (scripts/cluster-images.sh)
#   2. dependencies: namespaces (Pod Security "restricted"), Secrets (the PII key k1 too),
#      PostgreSQL + Redis (k8s/local),
#      the test callers' ServiceAccounts (crm-e2e, crm-loadgen, crm-no-grants; granted in the CI values)
#   3. the CI values checked by the API server (`kubectl apply --dry-run=server`, PodSecurity warnings fail)
#   4. helm install --wait --wait-for-jobs; every pod Ready, every migration Job complete; helm test
#   5. authentication on the cluster's own service-account tokens and JWKS (grpcurl): no token ->
#      UNAUTHENTICATED, another audience -> UNAUTHENTICATED, no grant -> PERMISSION_DENIED
#      (MISSING_SCOPE), tickets' identity reads customers but cannot write them, a ticket's
#      customer verified by tickets calling customers with its projected token
#   6. the end-to-end journey of tests/ through `kubectl port-forward` (loopback), as crm-e2e
#   7. helm upgrade to a new image tag under load: failed calls counted, nothing acknowledged lost
#   8. helm rollback
#   9. PII key rotation: k2 added to the Secret and made active, helm upgrade; data written under
#      k1 still reads and is still found by its blind index
#  10. pods deleted under load (gracefully, then SIGKILL): replaced, callers see only retried
#      UNAVAILABLE, nothing acknowledged lost
#  11. NetworkPolicies enforced (kube-router): a pod no policy admits cannot reach the services
#  12. the chart's default: migrations as post-install hooks, `helm install` without --wait
#
# Environment: CLUSTER_TEST_SKIP_IMAGES=1 (images already imported), LOAD_RATE (calls/s, 20),
# LOAD_SECONDS (45).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.tools/k8s/bin:$ROOT/.tools/bin:$PATH"
export KUBECONFIG="$ROOT/.tools/cluster/admin.kubeconfig"

RELEASE=crm
NAMESPACE=crm
DEPS_NAMESPACE=crm-deps
ALL_SERVICES=(customers tickets loyalty campaigns recommendations)
SERVICES=(customers loyalty tickets campaigns recommendations) # enabled by the CI values
VALUES=charts/crm/ci/cluster-values.yaml
TAG_A=ci-a # installed, and the rollback's target
TAG_B=ci-b # the upgrade (same image content, another tag: every Deployment rolls)
OUT="$ROOT/.tools/cluster/test"
LOAD_RATE="${LOAD_RATE:-20}"
LOAD_SECONDS="${LOAD_SECONDS:-45}"
AUDIENCE=crm # auth.audience, the chart's default
# The test callers, each granted its scopes by the CI values' auth.grants (crm-no-grants: none).
CALLERS=(crm-e2e crm-loadgen crm-no-grants)

log() { printf '\n\033[1m[cluster-test] %s\033[0m\n' "$*" >&2; }
die() { printf '[cluster-test] ERROR: %s\n' "$*" >&2; exit 1; }
kc() { kubectl "$@"; }
# shellcheck source=scripts/lib/dev-secrets.sh
source "$ROOT/scripts/lib/dev-secrets.sh"
# shellcheck source=scripts/lib/cluster-common.sh
source "$ROOT/scripts/lib/cluster-common.sh"

timings=()
current_step=""
# step NAME FUNCTION: runs and times one step.
step() {
  current_step=$1
  local t0=$SECONDS
  log "$1"
  "$2"
  timings+=("$(printf '| %-44s | %5ss |' "$1" $((SECONDS - t0)))")
  current_step=""
}

on_exit() {
  local rc=$?
  stop_port_forwards
  if ((rc != 0)); then
    log "FAILED in step: ${current_step:-?} (exit $rc); diagnostics in $OUT/diagnostics.txt"
    diagnostics >"$OUT/diagnostics.txt" 2>&1 || true
    tail -n 80 "$OUT/diagnostics.txt" >&2 || true
  fi
  write_summary
  exit "$rc"
}

diagnostics() {
  kc get nodes -o wide
  kc get all,jobs,networkpolicies -A -o wide
  kc get events -A --sort-by=.lastTimestamp | tail -n 60
  local pod
  for pod in $(kc -n "$NAMESPACE" get pods -o name) $(kc -n "$DEPS_NAMESPACE" get pods -o name); do
    echo "=== $pod"
    kc -n "${pod%%/*}" describe "$pod" 2>/dev/null | sed -n '/^Conditions:/,$p' | head -n 40 || true
  done
  for pod in $(kc -n "$NAMESPACE" get pods -o name); do
    echo "=== logs $pod"
    kc -n "$NAMESPACE" logs "$pod" --all-containers --tail 30 2>&1 || true
  done
}

write_summary() {
  {
    echo "# cluster-test on $(hostname), $(nproc) cores, $(date -u '+%F %T UTC')"
    echo
    echo "| step | time |"
    echo "|---|---|"
    printf '%s\n' "${timings[@]}"
    local f
    for f in "$OUT"/loadgen-*.json; do
      [[ -f "$f" ]] || continue
      echo
      echo "$(basename "$f" .json): \`$(cat "$f")\`"
    done
  } >"$OUT/summary.md"
  cat "$OUT/summary.md" >&2
}

# ---- 1. images -------------------------------------------------------------------------------
images() {
  if [[ "${CLUSTER_TEST_SKIP_IMAGES:-0}" == 1 ]]; then
    echo "skipped (CLUSTER_TEST_SKIP_IMAGES=1)"
    return
  fi
  TAGS="$TAG_A $TAG_B" scripts/cluster-images.sh
}

# ---- 2. dependencies -------------------------------------------------------------------------
dependencies() {
  kc apply -f k8s/dev/namespaces.yaml
  make_secrets
  make_pii_secret
  kc apply -k k8s/local
  local sa
  for sa in "${CALLERS[@]}"; do
    kc -n "$NAMESPACE" apply -f - <<YAML
apiVersion: v1
kind: ServiceAccount
metadata: {name: $sa}
automountServiceAccountToken: false
YAML
  done
  kc -n "$DEPS_NAMESPACE" rollout status statefulset/postgres --timeout=180s
  kc -n "$DEPS_NAMESPACE" rollout status deployment/redis --timeout=120s
}

# The PII keys once a rotation (step 9) added k2 to the Secret, kept across runs like the data
# keys it wraps: from then on every install lists k1 and k2, k2 active (a relative path: the
# helm commands split helm_values' output into words).
PII_ROTATED=.tools/cluster/test/pii-rotated-values.yaml
pii_rotated() {
  [[ -n "$(kc -n "$NAMESPACE" get secret "$RELEASE-pii-keys" -o jsonpath='{.data.k2}' 2>/dev/null)" ]]
}
helm_values() {
  printf '%s\n' -f "$VALUES"
  if pii_rotated; then
    printf 'pii:\n  keys: [{id: k1, secretKey: k1}, {id: k2, secretKey: k2}]\n  activeKey: k2\n' >"$PII_ROTATED"
    printf '%s\n' -f "$PII_ROTATED"
  fi
  printf '%s\n' --set "defaults.image.tag=$1"
}

# ---- 3. server-side validation ---------------------------------------------------------------
# What a platform team runs before an install (the README's command, run as it is written
# there, on the CI values): the API server validates every object of the render (schemas,
# admission, Pod Security) and persists nothing.
server_dry_run() {
  local cmd warnings="$OUT/dry-run.stderr"
  cmd="$(awk '/^helm template crm charts\/crm .*my-values.yaml/ { on = 1 } on && /^```/ { exit } on' README.md)"
  [[ "$cmd" == *"--dry-run=server"* ]] || die "README.md has no 'helm template ... --dry-run=server' command"
  printf 'defaults:\n  image:\n    tag: %s\n' "$TAG_A" >"$OUT/tag-values.yaml"
  cmd="${cmd//my-values.yaml/$VALUES -f $OUT/tag-values.yaml}"
  echo "$cmd"
  bash -euo pipefail -c "$cmd" 2>"$warnings"
  if grep -i "warning" "$warnings"; then die "the API server warned about the render (above)"; fi
}

# ---- 4. install ------------------------------------------------------------------------------
install() {
  # shellcheck disable=SC2046
  helm install "$RELEASE" charts/crm -n "$NAMESPACE" $(helm_values "$TAG_A") \
    --wait --wait-for-jobs --timeout 5m
  assert_release_ready "$TAG_A"
  helm test "$RELEASE" -n "$NAMESPACE" --logs --timeout 2m
}

# Every Deployment of the release fully rolled out on TAG (all replicas updated and ready, the
# old pods gone once their preStop sleep and drain are over), every migration Job complete.
assert_release_ready() {
  local tag=$1 svc
  for svc in "${SERVICES[@]}"; do
    kc -n "$NAMESPACE" rollout status "deployment/$RELEASE-$svc" --timeout=120s
    wait_until 60 "only crm-$svc:$tag pods" only_image "$svc" "crm-$svc:$tag" ||
      die "$svc runs '$(pod_images "$svc")', expected crm-$svc:$tag only"
  done
  kc -n "$NAMESPACE" wait --for=condition=complete job -l "app.kubernetes.io/instance=$RELEASE" --timeout=60s
}

# The images of the service's pods, one per line (terminating ones included).
pod_images() {
  kc -n "$NAMESPACE" get pods -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=$1" \
    -o jsonpath='{range .items[*]}{.spec.containers[0].image}{"\n"}{end}' | sort -u
}
only_image() { [[ "$(pod_images "$1")" == "$2" ]]; }

# ---- port-forwards (steps 5 and 6) ------------------------------------------------------------
forward_pids=()
stop_port_forwards() {
  local pid
  for pid in "${forward_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  forward_pids=()
}

# forward SERVICE: prints the loopback URL of a port-forward to the service's Service.
forward() {
  local svc=$1 file="$OUT/forward-$1.log" port="" i
  kc -n "$NAMESPACE" port-forward --address 127.0.0.1 "svc/$RELEASE-$svc" :50051 >"$file" 2>&1 &
  forward_pids+=($!)
  for ((i = 0; i < 100; i++)); do
    port="$(sed -n 's/^Forwarding from 127.0.0.1:\([0-9]*\) .*/\1/p' "$file" | head -1)"
    [[ -n "$port" ]] && break
    sleep 0.1
  done
  [[ -n "$port" ]] || die "port-forward to $svc did not start: $(cat "$file")"
  echo "http://127.0.0.1:$port"
}

# ---- 5. authentication and scopes ------------------------------------------------------------
# token SERVICEACCOUNT: a 1 h token of the namespace's ServiceAccount for the suite's audience.
token() { kc -n "$NAMESPACE" create token "$1" --audience "$AUDIENCE" --duration 1h; }

# call ADDR METHOD JSON [TOKEN]: grpcurl's output of one call, errors included (reflection, which
# gives grpcurl the schema, goes without the token).
call() {
  local addr=$1 method=$2 data=$3 header=()
  [[ -n "${4:-}" ]] && header=(-rpc-header "authorization: Bearer $4")
  grpcurl -plaintext -max-time 10 "${header[@]}" -d "$data" "$addr" "$method" 2>&1 || true
}

# expect WHAT PATTERN OUTPUT: OUTPUT matches the extended regex PATTERN, or the step fails.
expect() {
  if grep -Eq -- "$2" <<<"$3"; then
    echo "ok: $1"
  else
    die "$1: expected /$2/, got: $3"
  fi
}

new_uuid() { cat /proc/sys/kernel/random/uuid; }

auth_enforced() {
  local customers tickets out customer missing e2e
  customers="$(forward customers)"
  customers="${customers#http://}"
  tickets="$(forward tickets)"
  tickets="${tickets#http://}"
  e2e="$(token crm-e2e)"
  missing="customers/$(new_uuid)"
  local get="crm.customers.v1.CustomerService/GetCustomer" read="{\"name\": \"$missing\"}"

  out="$(call "$customers" grpc.health.v1.Health/Check '{"service": "crm.customers.v1.CustomerService"}')"
  expect "health without a token" '"status": "SERVING"' "$out"
  expect "reflection without a token" '^crm\.customers\.v1\.CustomerService$' "$(grpcurl -plaintext "$customers" list 2>&1)"
  expect "no token: UNAUTHENTICATED" 'Code: Unauthenticated' "$(call "$customers" "$get" "$read")"
  expect "a token for the API server's audience: UNAUTHENTICATED" 'Code: Unauthenticated' \
    "$(call "$customers" "$get" "$read" "$(kc -n "$NAMESPACE" create token crm-e2e --duration 10m)")"
  out="$(call "$customers" "$get" "$read" "$(token crm-no-grants)")"
  expect "a ServiceAccount without grants: PERMISSION_DENIED" 'Code: PermissionDenied' "$out"
  expect "  ... naming the missing scope" '"reason": "MISSING_SCOPE"' "$out"
  # The tickets service's own identity: customers.read, nothing more.
  out="$(token "$RELEASE-tickets")"
  expect "tickets' identity reads customers" 'Code: NotFound' "$(call "$customers" "$get" "$read" "$out")"
  expect "tickets' identity cannot create customers" 'Code: PermissionDenied' \
    "$(call "$customers" crm.customers.v1.CustomerService/CreateCustomer \
      "{\"customer\": {\"display_name\": \"Auth Probe\"}, \"request_id\": \"$(new_uuid)\"}" "$out")"
  # tickets -> customers with the projected token of tickets' pods: the ticket's customer is
  # VERIFIED (UNVERIFIED would mean customers refused tickets' call), an unknown one refused
  # with CUSTOMER_NOT_FOUND (customers answered NOT_FOUND to tickets).
  out="$(call "$customers" crm.customers.v1.CustomerService/CreateCustomer \
    "{\"customer\": {\"display_name\": \"Auth Probe\", \"primary_email\": \"auth.probe.$(new_uuid)@example.com\"}, \"request_id\": \"$(new_uuid)\"}" "$e2e")"
  customer="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["name"])' <<<"$out" 2>/dev/null)" ||
    die "CreateCustomer as crm-e2e failed: $out"
  local ticket='{"ticket": {"customer": "%s", "channel": "CHANNEL_WEB", "category": "CATEGORY_INQUIRY", "subject": "auth probe"}, "request_id": "%s"}'
  # shellcheck disable=SC2059 # the format is the JSON above
  out="$(call "$tickets" crm.tickets.v1.TicketService/CreateTicket "$(printf "$ticket" "$customer" "$(new_uuid)")" "$e2e")"
  expect "tickets -> customers: the new ticket's customer is verified" '"customerCheck": "CUSTOMER_CHECK_VERIFIED"' "$out"
  # shellcheck disable=SC2059
  out="$(call "$tickets" crm.tickets.v1.TicketService/CreateTicket "$(printf "$ticket" "$missing" "$(new_uuid)")" "$e2e")"
  expect "tickets -> customers: an unknown customer is refused" '"reason": "CUSTOMER_NOT_FOUND"' "$out"
  stop_port_forwards
}

# ---- 6. the journeys -------------------------------------------------------------------------
# As crm-e2e: the journeys' clients send CRM_E2E_TOKEN as their bearer token.
journey() {
  CRM_E2E_CLUSTER_CUSTOMERS_URL="$(forward customers)"
  CRM_E2E_CLUSTER_LOYALTY_URL="$(forward loyalty)"
  CRM_E2E_CLUSTER_TICKETS_URL="$(forward tickets)"
  CRM_E2E_CLUSTER_CAMPAIGNS_URL="$(forward campaigns)"
  CRM_E2E_CLUSTER_RECOMMENDATIONS_URL="$(forward recommendations)"
  CRM_E2E_TOKEN="$(token crm-e2e)"
  export CRM_E2E_CLUSTER_CUSTOMERS_URL CRM_E2E_CLUSTER_LOYALTY_URL CRM_E2E_CLUSTER_TICKETS_URL \
    CRM_E2E_CLUSTER_CAMPAIGNS_URL CRM_E2E_CLUSTER_RECOMMENDATIONS_URL CRM_E2E_TOKEN
  local listed passed
  listed="$(cargo test --quiet -p crm-e2e --test e2e cluster -- --ignored --list 2>/dev/null | grep -c ': test$')"
  cargo test --quiet -p crm-e2e --test e2e cluster -- --ignored 2>&1 | tee "$OUT/journeys.log"
  passed="$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$OUT/journeys.log" | tail -1)"
  if ((listed == 0)) || [[ "$passed" != "$listed" ]]; then
    die "journeys: $listed listed, ${passed:-0} passed"
  fi
  stop_port_forwards
}

# ---- 7-9. load -------------------------------------------------------------------------------
# test_pod NAME NAME_LABEL SERVICEACCOUNT IMAGE ARG...: a restricted pod of the namespace running
# IMAGE with ARGs, labelled app.kubernetes.io/name=NAME_LABEL (what the chart's policies look
# at). With a SERVICEACCOUNT, the pod runs as it with its token for the suite's audience at
# /var/run/secrets/crm/token (projected, as the chart's pods have theirs).
test_pod() {
  local name=$1 label=$2 sa=$3 image=$4 arg args="" identity="" mounts="" volumes=""
  shift 4
  for arg in "$@"; do args+="        - \"$arg\""$'\n'; done
  if [[ -n "$sa" ]]; then
    identity="  serviceAccountName: $sa"$'\n'
    mounts="      volumeMounts: [{name: token, mountPath: /var/run/secrets/crm, readOnly: true}]"$'\n'
    volumes="  volumes: [{name: token, projected: {sources: [{serviceAccountToken: "
    volumes+="{audience: $AUDIENCE, expirationSeconds: 3600, path: token}}]}}]"$'\n'
  fi
  kc -n "$NAMESPACE" delete pod "$name" --ignore-not-found --wait=true >/dev/null
  kc -n "$NAMESPACE" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $name
  labels: {app.kubernetes.io/name: $label}
spec:
  restartPolicy: Never
$identity  automountServiceAccountToken: false
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    seccompProfile: {type: RuntimeDefault}
  containers:
    - name: main
      image: $image
      imagePullPolicy: Never
      args:
$args      resources:
        requests: {cpu: 50m, memory: 32Mi}
        limits: {memory: 128Mi}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: {drop: [ALL]}
$mounts$volumes
YAML
}

# start_load NAME: LOAD_RATE calls/s for LOAD_SECONDS from a pod the chart's gateway peers admit,
# as crm-loadgen (its projected token is the load generator's bearer token).
start_load() {
  test_pod "loadgen-$1" crm-loadgen crm-loadgen "crm-loadgen:$TAG_A" --token-file=/var/run/secrets/crm/token \
    --customers-url="http://$RELEASE-customers:50051" \
    --loyalty-url="http://$RELEASE-loyalty:50051" --tickets-url="http://$RELEASE-tickets:50051" \
    --rate="$LOAD_RATE" --duration="${LOAD_SECONDS}s"
  kc -n "$NAMESPACE" wait --for=condition=Ready "pod/loadgen-$1" --timeout=60s >/dev/null
}

# pod_exit_code NAME SECONDS: waits for the pod's container to end, prints its exit code.
pod_exit_code() {
  local code="" deadline=$((SECONDS + $2))
  while [[ -z "$code" ]] && ((SECONDS < deadline)); do
    code="$(kc -n "$NAMESPACE" get pod "$1" -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}')"
    [[ -n "$code" ]] || sleep 1
  done
  echo "${code:-timeout}"
}

# finish_load NAME: waits for the pod to end, keeps its result line; fails if the load
# generator found anything acknowledged missing or any call failed after its retries.
finish_load() {
  local name="loadgen-$1" phase="" deadline=$((SECONDS + LOAD_SECONDS + 180)) result
  while ((SECONDS < deadline)); do
    phase="$(kc -n "$NAMESPACE" get pod "$name" -o jsonpath='{.status.phase}')"
    [[ "$phase" == Succeeded || "$phase" == Failed ]] && break
    sleep 1
  done
  kc -n "$NAMESPACE" logs "$name" >"$OUT/$name.log" 2>&1 || true
  result="$(grep '^{"loadgen":' "$OUT/$name.log" | tail -1)"
  [[ -n "$result" ]] || die "$name printed no result (phase '$phase'); its log: $(tail -n 20 "$OUT/$name.log")"
  echo "$result" >"$OUT/$name.json"
  log "$name: $result"
  [[ "$phase" == Succeeded ]] || die "$name: the load generator failed its checks (phase $phase)"
  python3 - "$OUT/$name.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["loadgen"]
failed = sum(r.get("failed_by_code", {}).values())
problems = []
if r.get("acknowledged", 0) == 0:
    problems.append("nothing was acknowledged")
if failed:
    problems.append(f"{failed} calls failed after retries: {r['failed_by_code']}")
if r.get("verified_missing") or r.get("points_missing"):
    problems.append("acknowledged writes are missing")
if problems:
    sys.exit("; ".join(problems))
PY
}

upgrade_under_load() {
  start_load upgrade
  sleep 5
  local t0=$SECONDS
  # shellcheck disable=SC2046
  helm upgrade "$RELEASE" charts/crm -n "$NAMESPACE" $(helm_values "$TAG_B") \
    --wait --wait-for-jobs --timeout 5m
  timings+=("$(printf '| %-44s | %5ss |' "  helm upgrade --wait itself" $((SECONDS - t0)))")
  assert_release_ready "$TAG_B"
  finish_load upgrade
}

rollback() {
  helm rollback "$RELEASE" 1 -n "$NAMESPACE" --wait --wait-for-jobs --timeout 5m
  assert_release_ready "$TAG_A"
  helm test "$RELEASE" -n "$NAMESPACE" --timeout 2m >/dev/null
}

# 9. Rotation of the PII key-encryption key (docs/kubernetes.md, "Personal data keys"): a new
# key k2 in the Secret, listed next to k1 and made active, `helm upgrade`. The pods start (they
# unwrap their data keys), and a customer written under k1 still reads back and is still found
# by its e-mail's blind index. k1 stays: the re-encryption job may still need it.
pii_rotation() {
  if pii_rotated; then
    echo "k2 was added by an earlier run: this run installed with k1 and k2 (k2 active)"
    return
  fi
  local customers e2e out name email
  email="rotation.$(new_uuid)@example.com"
  local get=crm.customers.v1.CustomerService/GetCustomer search=crm.customers.v1.CustomerService/SearchCustomers
  customers="$(forward customers)"
  customers="${customers#http://}"
  e2e="$(token crm-e2e)"
  out="$(call "$customers" crm.customers.v1.CustomerService/CreateCustomer \
    "{\"customer\": {\"display_name\": \"Rotation Probe\", \"primary_email\": \"$email\"}, \"request_id\": \"$(new_uuid)\"}" "$e2e")"
  name="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["name"])' <<<"$out" 2>/dev/null)" ||
    die "CreateCustomer before the rotation failed: $out"
  stop_port_forwards
  kc -n "$NAMESPACE" patch secret "$RELEASE-pii-keys" --type merge \
    -p "{\"stringData\":{\"k2\":\"$(head -c 32 /dev/urandom | base64)\"}}" >/dev/null
  pii_rotated || die "k2 is not in the Secret $RELEASE-pii-keys after the patch"
  # shellcheck disable=SC2046
  helm upgrade "$RELEASE" charts/crm -n "$NAMESPACE" $(helm_values "$TAG_A") \
    --wait --wait-for-jobs --timeout 5m
  assert_release_ready "$TAG_A"
  customers="$(forward customers)"
  customers="${customers#http://}"
  expect "a customer written under k1 reads back after the rotation" "\"primaryEmail\": \"$email\"" \
    "$(call "$customers" "$get" "{\"name\": \"$name\"}" "$e2e")"
  expect "  ... and is found by its e-mail's blind index" "\"name\": \"$name\"" \
    "$(call "$customers" "$search" "{\"email\": \"$email\", \"page_size\": 10}" "$e2e")"
  stop_port_forwards
}

# One pod of every service deleted gracefully (SIGTERM: preStop sleep, drain), then one of
# every service killed outright (grace 0: SIGKILL, its connections reset mid-call).
pods_deleted_under_load() {
  start_load pod-kill
  sleep 8
  delete_one_pod_per_service
  sleep 15
  delete_one_pod_per_service --grace-period=0 --force
  finish_load pod-kill
  assert_release_ready "$TAG_A"
}

# delete_one_pod_per_service [KUBECTL DELETE FLAGS]: one running pod of each service; waits
# until each is gone (the Deployment has replaced it by then or does so meanwhile).
delete_one_pod_per_service() {
  local svc pod deleted=()
  for svc in "${SERVICES[@]}"; do
    pod="$(kc -n "$NAMESPACE" get pods -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/component=$svc" \
      --field-selector=status.phase=Running -o jsonpath='{.items[0].metadata.name}')"
    [[ -n "$pod" ]] || die "no running pod of $svc to delete"
    log "deleting $pod $*"
    kc -n "$NAMESPACE" delete pod "$pod" --wait=false "$@" 2>&1 | grep -v "^Warning: Immediate deletion" >&2 || true
    deleted+=("pod/$pod")
  done
  kc -n "$NAMESPACE" wait --for=delete "${deleted[@]}" --timeout=60s >/dev/null
}

# 11. The chart's NetworkPolicies, enforced by kube-router (scripts/cluster.sh): a pod without
# the labels of an allowed caller cannot reach any service; the same pod as a gateway peer can.
# (Steps 4-10 already ran with enforcement on: DNS, PostgreSQL, Redis, the callees, the helm
# test pods and the migration Jobs are all allowed by the chart's own rules.)
network_policies() {
  local svc health code pod
  for svc in "${SERVICES[@]}"; do
    health="$(helm get values "$RELEASE" -n "$NAMESPACE" --all -o json |
      python3 -c "import json, sys; print(json.load(sys.stdin)['services']['$svc']['healthService'])")"
    for pod in "stranger crm-netpol-probe" "gateway crm-loadgen"; do
      # The service's own image asking its Service for up to 15 s.
      test_pod "netpol-${pod% *}-$svc" "${pod#* }" "" "crm-$svc:$TAG_A" healthcheck \
        --addr "$RELEASE-$svc:50051" --service "$health" --timeout-ms 2000 --wait-ms 15000
    done
  done
  for svc in "${SERVICES[@]}"; do
    code="$(pod_exit_code "netpol-stranger-$svc" 60)"
    [[ "$code" != 0 && "$code" != timeout ]] || die "a pod no policy admits reached $svc (exit $code)"
    code="$(pod_exit_code "netpol-gateway-$svc" 60)"
    [[ "$code" == 0 ]] || die "a gateway peer could not reach $svc (exit $code): $(kc -n "$NAMESPACE" logs "netpol-gateway-$svc" | tail -n 3)"
    log "$svc: refused to a pod no policy admits, served to a gateway peer"
  done
}

# 12. The chart's default: migrations as post-install hooks, `helm install` without --wait (Helm
# runs the hook Jobs after creating the Deployments and waits for them). On the databases of the
# earlier steps the Jobs find nothing to apply; what this proves is that the hooks run,
# complete and bring every pod to Ready, and that `helm test` passes.
hook_migrations() {
  helm uninstall "$RELEASE" -n "$NAMESPACE" --wait --timeout 2m
  # shellcheck disable=SC2046
  helm install "$RELEASE" charts/crm -n "$NAMESPACE" $(helm_values "$TAG_A") \
    --set migrations.helmHook=true --timeout 5m
  assert_release_ready "$TAG_A"
  helm test "$RELEASE" -n "$NAMESPACE" --timeout 2m >/dev/null
}

main() {
  if [[ ! -f "$KUBECONFIG" ]] || ! kc get --raw /readyz >/dev/null 2>&1; then
    die "the local cluster is not up: run 'make cluster-up' first"
  fi
  mkdir -p "$OUT"
  rm -f "$OUT"/loadgen-*.json
  trap on_exit EXIT
  if helm status "$RELEASE" -n "$NAMESPACE" >/dev/null 2>&1; then
    log "removing the release left by an earlier run"
    helm uninstall "$RELEASE" -n "$NAMESPACE" --wait --timeout 2m
  fi
  step "1. images (build + import)" images
  step "2. dependencies (PostgreSQL, Redis)" dependencies
  step "3. server-side dry run of the CI values" server_dry_run
  step "4. helm install --wait --wait-for-jobs + test" install
  step "5. authentication and scopes (grpcurl)" auth_enforced
  step "6. end-to-end journey (port-forward)" journey
  step "7. helm upgrade under load" upgrade_under_load
  step "8. helm rollback" rollback
  step "9. PII key rotation" pii_rotation
  step "10. pods deleted under load" pods_deleted_under_load
  step "11. NetworkPolicies enforced" network_policies
  step "12. migrations as hooks (the default)" hook_migrations
}

main "$@"
