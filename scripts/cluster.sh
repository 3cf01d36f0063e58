#!/usr/bin/env bash
# A real single-node Kubernetes on this machine, with neither Docker nor a registry: the pinned
# release built from the Go module proxy, etcd and containerd from Debian, kube-proxy (iptables)
# and CoreDNS, so Services and DNS names work as in any cluster. docs/kubernetes.md, "Local
# cluster", says what it is for and what it is not.
#
#   scripts/cluster.sh build          # `make cluster-tools`: Kubernetes + CoreDNS into .tools/k8s/bin
#   scripts/cluster.sh up             # `make cluster-up`: start everything, wait for the node
#   scripts/cluster.sh import TAR...  # images (docker-archive/OCI tars) into the node's containerd
#   scripts/cluster.sh status         # processes, node, pods
#   scripts/cluster.sh down           # `make cluster-down`: stop by PID, undo every host change
#   scripts/cluster.sh env            # prints `export KUBECONFIG=...` for this cluster
#
# Needs root (kubelet, containerd, network namespaces, iptables), cgroup v1 and the apt packages
# etcd-server containerd runc containernetworking-plugins iptables ipset conntrack procps iproute2
# kmod (.ci/run installs them).
# Everything the test driver calls listens on 127.0.0.1 or on the pod bridge's gateway address
# (the API server, which the pods reach as kubernetes.default.svc); the pods live on their own
# bridge, which may reach only each other, the DNS server and the API server on that address.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# ---- pinned versions and fixed addresses -----------------------------------------------------
K8S_VERSION=v1.37.2   # k8s/local/build/go.mod pins the same release of every staging module
COREDNS_VERSION=v1.15.0
# NetworkPolicy enforcement beside the bridge CNI (its firewall only: iptables + ipset). The
# only release the module proxy here serves; flaws are reported for it, so it runs on this
# throwaway test node only, with its router, service proxy, health and metrics ports off.
# (sigs.k8s.io/kube-network-policies needs the nftables `queue` expression, which this kernel
# lacks.)
KUBE_ROUTER_VERSION=v2.1.0
K8S_BIN="$ROOT/.tools/k8s/bin"
STATE="$ROOT/.tools/cluster"        # configuration, PKI, logs, PIDs (kept by `down` for a look)
RUN=/run/crm-cluster                # sockets, etcd data (tmpfs), CNI state
DATA=/var/lib/crm-cluster           # kubelet root and containerd's image store
BRIDGE=crm0
POD_CIDR=10.244.0.0/24
GATEWAY=10.244.0.1                  # the bridge's address on the host: the pods' DNS and API server
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
API_PORT=16443                      # on $GATEWAY only (the Service kubernetes:443 leads there)
API_SERVER="https://$GATEWAY:$API_PORT"
ETCD_PORT=12379
CLUSTER_DOMAIN=cluster.local
KUBECONFIG_ADMIN="$STATE/admin.kubeconfig"
# CONTAINERD_SOCK, PAUSE_IMAGE, wait_until.
# shellcheck source=scripts/lib/cluster-common.sh
source "$ROOT/scripts/lib/cluster-common.sh"
# Started in this order, stopped in reverse (controllers first: they would recreate pods).
COMPONENTS=(etcd kube-apiserver containerd kubelet kube-proxy coredns kube-router kube-scheduler
  kube-controller-manager)

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
kc() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
# The kubelet lowercases the host name; the API server reaches the kubelet by it, at the loopback
# address it resolves to (Debian maps it to 127.0.1.1, these VMs to 127.0.0.1).
node_name() { hostname | tr '[:upper:]' '[:lower:]'; }
node_address() { getent ahostsv4 "$(node_name)" | awk 'NR == 1 { print $1 }'; }
# Where the kubelet puts the pods' cgroups (under every v1 controller): ours alone.
CGROUP_ROOT=crm-cluster

# ---- build -----------------------------------------------------------------------------------
build_stamp() {
  printf '%s %s %s %s\n' "$K8S_VERSION" "$COREDNS_VERSION" "$KUBE_ROUTER_VERSION" \
    "$(cat k8s/local/build/go.mod k8s/local/build/go.sum | sha256sum | cut -c1-16)"
}

cmd_build() {
  command -v go >/dev/null || die "go is required to build Kubernetes"
  local stamp="$K8S_BIN/.built"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$(build_stamp)" ]]; then
    log "Kubernetes $K8S_VERSION and CoreDNS $COREDNS_VERSION already built"
    return 0
  fi
  mkdir -p "$K8S_BIN"
  local ld="-s -w" pkg minor="${K8S_VERSION#v1.}" start=$SECONDS
  minor="${minor%%.*}"
  # The version the binaries report (kubectl version, helm's kubeVersion checks, /version).
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  log "building Kubernetes $K8S_VERSION (cold: ~13 min on 2 cores, ~6 GB of Go build cache) ..."
  (cd k8s/local/build && env CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags "$ld" \
    -o "$K8S_BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl)
  log "building CoreDNS $COREDNS_VERSION ..."
  env GOBIN="$K8S_BIN" CGO_ENABLED=0 GOFLAGS='' \
    go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
  log "building kube-router $KUBE_ROUTER_VERSION ..."
  env GOBIN="$K8S_BIN" CGO_ENABLED=0 GOFLAGS='' go install -trimpath -ldflags "-s -w" \
    "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION"
  [[ "$("$K8S_BIN/kubectl" version --client)" == *"$K8S_VERSION"* ]] || die "kubectl does not report $K8S_VERSION"
  build_stamp >"$stamp"
  log "built in $((SECONDS - start))s into $K8S_BIN"
}

# ---- PKI (EC P-256, made once per machine, kept in .tools/cluster/pki) -----------------------
PKI="$STATE/pki"

# cert NAME CN O EXT_USAGE [SAN]: NAME.crt/NAME.key signed by the cluster CA; made again when
# an existing one lacks a name of SAN (a PKI from an older version of this script).
cert() {
  local name=$1 cn=$2 org=$3 usage=$4 san=${5:-}
  [[ -s "$PKI/$name.crt" ]] && has_sans "$PKI/$name.crt" "$san" && return 0
  local subj="/CN=$cn" ext
  [[ -n "$org" ]] && subj="/O=$org$subj"
  ext="basicConstraints=critical,CA:FALSE"$'\n'"keyUsage=critical,digitalSignature,keyEncipherment"
  ext+=$'\n'"extendedKeyUsage=$usage"
  [[ -n "$san" ]] && ext+=$'\n'"subjectAltName=$san"
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key" 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" 2>/dev/null |
    openssl x509 -req -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 825 \
      -extfile <(printf '%s\n' "$ext") -out "$PKI/$name.crt" 2>/dev/null
}

# has_sans CERT SAN: every entry of SAN ("DNS:a,IP:1.2.3.4") is in the certificate.
has_sans() {
  local have entry
  have="$(openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ')"
  have=",${have//IPAddress:/IP:},"
  for entry in ${2//,/ }; do
    [[ "$have" == *",$entry,"* ]] || return 1
  done
}

make_pki() {
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  if [[ ! -s "$PKI/ca.crt" ]]; then
    log "creating the cluster CA and certificates"
    openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key" 2>/dev/null
    openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=crm-local-cluster-ca" -days 3650 \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out "$PKI/ca.crt" 2>/dev/null
  fi
  local node
  node="$(node_name)"
  cert apiserver kube-apiserver "" serverAuth \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN,DNS:localhost,IP:127.0.0.1,IP:$API_SERVICE_IP,IP:$GATEWAY"
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters clientAuth
  cert admin crm-cluster-admin system:masters clientAuth
  cert controller-manager system:kube-controller-manager "" clientAuth
  cert scheduler system:kube-scheduler "" clientAuth
  cert kube-proxy system:kube-proxy "" clientAuth
  cert coredns crm-coredns "" clientAuth
  cert kube-router crm-kube-router "" clientAuth
  cert node "system:node:$node" system:nodes clientAuth
  cert kubelet "$node" "" serverAuth "DNS:$node,IP:$(node_address)"
  # etcd accepts only the API server's certificate.
  cert etcd etcd "" serverAuth "DNS:localhost,IP:127.0.0.1"
  cert apiserver-etcd-client kube-apiserver-etcd-client "" clientAuth
  if [[ ! -s "$PKI/sa.key" ]]; then
    openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/sa.key" 2>/dev/null
    openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  fi
}

# kubeconfig NAME CERT: NAME.kubeconfig for a client certificate of the PKI.
kubeconfig() {
  cat >"$STATE/$1.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
  - name: crm-local
    cluster:
      server: $API_SERVER
      certificate-authority: $PKI/ca.crt
users:
  - name: $1
    user:
      client-certificate: $PKI/$2.crt
      client-key: $PKI/$2.key
contexts:
  - name: crm-local
    context: {cluster: crm-local, user: $1}
current-context: crm-local
YAML
}

# ---- configuration files ---------------------------------------------------------------------
write_configs() {
  local node
  node="$(node_name)"
  mkdir -p "$STATE/cni" "$STATE/logs" "$STATE/pids"
  kubeconfig admin admin
  kubeconfig controller-manager controller-manager
  kubeconfig scheduler scheduler
  kubeconfig kube-proxy kube-proxy
  kubeconfig coredns coredns
  kubeconfig kube-router kube-router
  kubeconfig node node

  # This VM lacks CAP_SYS_RESOURCE, so runc cannot apply the negative oom_score_adj the
  # kubelet asks for (sandboxes -998, Guaranteed pods -997): clamp it to 0 before `runc create`.
  cat >"$STATE/runc-wrapper" <<'SH'
#!/bin/sh
bundle=. prev= create=0
for arg in "$@"; do
  case "$prev" in --bundle | -b) bundle=$arg ;; esac
  case "$arg" in --bundle=*) bundle=${arg#--bundle=} ;; create | run) create=1 ;; esac
  prev=$arg
done
if [ "$create" = 1 ] && [ -f "$bundle/config.json" ]; then
  sed -i -E 's/"oomScoreAdj":-[0-9]+/"oomScoreAdj":0/' "$bundle/config.json"
fi
exec /usr/sbin/runc "$@"
SH
  chmod 755 "$STATE/runc-wrapper"

  cat >"$STATE/containerd.toml" <<TOML
version = 2
root = "$DATA/containerd"
state = "$RUN/containerd"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$RUN/containerd.ttrpc.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_cdi = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$STATE/runc-wrapper"
        Root = "$RUN/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni"
TOML

  # isGateway: the host routes the Service range for the pods (kube-proxy's DNAT runs there);
  # no masquerade: pods never leave the bridge (see the FORWARD rules in host_network_up).
  cat >"$STATE/cni/10-crm.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "crm",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$GATEWAY"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$RUN/cni-ipam"
      }
    }
  ]
}
JSON

  cat >"$STATE/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $(node_address)
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
# cgroup v1 here: support ends in 1.38 (keep the version pinned).
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
podLogsDir: $DATA/pod-logs
failCgroupV1: false
failSwapOn: false
clusterDomain: $CLUSTER_DOMAIN
clusterDNS: [$GATEWAY]
resolvConf: ""
serializeImagePulls: false
# Imported images cannot be pulled again: never garbage-collect them, never evict for disk.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
YAML

  cat >"$STATE/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $STATE/kube-proxy.kubeconfig}
mode: iptables
hostnameOverride: $node
clusterCIDR: $POD_CIDR
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# NodePorts only on the bridge's gateway, never on the machine's own addresses.
nodePortAddresses: [$GATEWAY/32]
# 0: leave the machine's conntrack settings alone.
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML

  # No upstream: names outside the cluster do not resolve (the pods cannot leave the bridge).
  cat >"$STATE/Corefile" <<COREFILE
.:53 {
    bind $GATEWAY
    errors
    health 127.0.0.1:18080
    ready 127.0.0.1:18181
    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
        kubeconfig $STATE/coredns.kubeconfig crm-local
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
}
COREFILE
}

# ---- processes (each started in its own session, its PID in .tools/cluster/pids) -------------
pid_of() { cat "$STATE/pids/$1.pid" 2>/dev/null || true; }
is_running() { local pid; pid="$(pid_of "$1")"; [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; }

start() {
  local name=$1
  shift
  if is_running "$name"; then
    log "$name is already running (pid $(pid_of "$name"))"
    return 0
  fi
  setsid "$@" >>"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name.pid"
}

stop() {
  local name=$1 pid i
  pid="$(pid_of "$name")"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop within 10 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$STATE/pids/$name.pid"
}

fail_with_log() {
  log "ERROR: $1 did not come up; last lines of $STATE/logs/$1.log:"
  tail -n 30 "$STATE/logs/$1.log" >&2 || true
  exit 1
}

# ---- host network: the pod bridge, forwarding, isolation -------------------------------------
# Saved before `up` changes them, restored by `down`.
# The first two are ours; the kubelet sets the others at start (its "protect kernel defaults").
SYSCTLS=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables vm.overcommit_memory vm.panic_on_oom
  kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)

host_network_up() {
  local key
  [[ -f "$STATE/kube-chains.before" ]] || kube_chains >"$STATE/kube-chains.before"
  # bridge-nf-call-iptables exists once br_netfilter is loaded.
  [[ -e /proc/sys/net/bridge ]] || modprobe br_netfilter
  if [[ ! -f "$STATE/sysctl.saved" ]]; then
    for key in "${SYSCTLS[@]}"; do echo "$key=$(sysctl -n "$key")"; done >"$STATE/sysctl.saved"
  fi
  # Routing the Service range for the pods; bridged replies must pass conntrack to be un-DNATed.
  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip addr replace "$GATEWAY/${POD_CIDR#*/}" dev "$BRIDGE"
  # No IPv6 on the bridge: the isolation below is IPv4 only.
  sysctl -qw "net.ipv6.conf.$BRIDGE.disable_ipv6=1"
  ip link set "$BRIDGE" up
  # Pods talk to each other and to the DNS server on the gateway, nothing else: no traffic
  # between the bridge and any other interface, no connection from a pod to the host's ports.
  # In the mangle table, which runs before the filter table's chains that kube-proxy and
  # kube-router keep first in line (and that ACCEPT).
  local t=(iptables -w -t mangle)
  "${t[@]}" -N CRM-CLUSTER-FORWARD 2>/dev/null || "${t[@]}" -F CRM-CLUSTER-FORWARD
  "${t[@]}" -A CRM-CLUSTER-FORWARD -i "$BRIDGE" -o "$BRIDGE" -j RETURN
  "${t[@]}" -A CRM-CLUSTER-FORWARD -i "$BRIDGE" -j DROP
  "${t[@]}" -A CRM-CLUSTER-FORWARD -o "$BRIDGE" -j DROP
  "${t[@]}" -C FORWARD -j CRM-CLUSTER-FORWARD 2>/dev/null || "${t[@]}" -I FORWARD 1 -j CRM-CLUSTER-FORWARD
  "${t[@]}" -N CRM-CLUSTER-INPUT 2>/dev/null || "${t[@]}" -F CRM-CLUSTER-INPUT
  "${t[@]}" -A CRM-CLUSTER-INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
  "${t[@]}" -A CRM-CLUSTER-INPUT -d "$GATEWAY" -p udp --dport 53 -j RETURN
  "${t[@]}" -A CRM-CLUSTER-INPUT -d "$GATEWAY" -p tcp --dport 53 -j RETURN
  # The API server (kubernetes.default.svc, DNATed by kube-proxy): service-account tokens' JWKS.
  "${t[@]}" -A CRM-CLUSTER-INPUT -d "$GATEWAY" -p tcp --dport "$API_PORT" -j RETURN
  "${t[@]}" -A CRM-CLUSTER-INPUT -j DROP
  # Linux accepts the gateway's address on any interface: the DNS and API servers there are
  # reached only from the bridge (and lo), never from another machine.
  "${t[@]}" -N CRM-CLUSTER-DNS 2>/dev/null || "${t[@]}" -F CRM-CLUSTER-DNS
  "${t[@]}" -A CRM-CLUSTER-DNS -i "$BRIDGE" -j RETURN
  "${t[@]}" -A CRM-CLUSTER-DNS -i lo -j RETURN
  "${t[@]}" -A CRM-CLUSTER-DNS -j DROP
  "${t[@]}" -C INPUT -d "$GATEWAY" -j CRM-CLUSTER-DNS 2>/dev/null ||
    "${t[@]}" -I INPUT 1 -d "$GATEWAY" -j CRM-CLUSTER-DNS
  "${t[@]}" -C INPUT -i "$BRIDGE" -j CRM-CLUSTER-INPUT 2>/dev/null ||
    "${t[@]}" -I INPUT 1 -i "$BRIDGE" -j CRM-CLUSTER-INPUT
}

kube_chains() {
  local cmd table
  for cmd in iptables ip6tables; do
    for table in filter nat mangle raw; do
      "$cmd" -w -t "$table" -S 2>/dev/null | awk -v c="$cmd" -v t="$table" '$1 == "-N" && $2 ~ /^KUBE-/ { print c, t, $2 }'
    done
  done
}

# remove_kube_chains CMD: the jumps to KUBE-* chains, then the chains, in every table.
remove_kube_chains() {
  local cmd=$1 table rule chain
  for table in filter nat mangle raw; do
    while read -r rule; do
      # -S prints a rule as shell words (comments in double quotes): eval re-reads them.
      eval "$cmd -w -t $table -D ${rule#-A }" 2>/dev/null || true
    done < <("$cmd" -w -t "$table" -S 2>/dev/null | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j KUBE-')
    for chain in $("$cmd" -w -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ { print $2 }'); do
      "$cmd" -w -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $("$cmd" -w -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ { print $2 }'); do
      "$cmd" -w -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
}

host_network_down() {
  local chain parent line t=(iptables -w -t mangle)
  for line in "FORWARD CRM-CLUSTER-FORWARD" "INPUT CRM-CLUSTER-INPUT" "INPUT CRM-CLUSTER-DNS"; do
    read -r parent chain <<<"$line"
    while "${t[@]}" -D "$parent" -j "$chain" 2>/dev/null; do :; done
    while "${t[@]}" -D "$parent" -i "$BRIDGE" -j "$chain" 2>/dev/null; do :; done
    while "${t[@]}" -D "$parent" -d "$GATEWAY" -j "$chain" 2>/dev/null; do :; done
    "${t[@]}" -F "$chain" 2>/dev/null || true
    "${t[@]}" -X "$chain" 2>/dev/null || true
  done
  # The chains of kube-proxy, the kubelet and kube-router (KUBE-SERVICES, KUBE-FIREWALL,
  # KUBE-ROUTER-*, ...) in both families and kube-router's ipsets, unless the machine had
  # KUBE-* chains before `up` (then they, and their ipsets, are not ours to remove).
  if [[ -f "$STATE/kube-chains.before" && ! -s "$STATE/kube-chains.before" ]]; then
    remove_kube_chains iptables
    remove_kube_chains ip6tables
    # kube-router's ipsets, once no rule refers to them.
    ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router-)' | xargs -r -n1 ipset destroy 2>/dev/null || true
  fi
  rm -f "$STATE/kube-chains.before"
  ip link delete "$BRIDGE" 2>/dev/null || true
  if [[ -f "$STATE/sysctl.saved" ]]; then
    while IFS= read -r line; do sysctl -qw "$line" || true; done <"$STATE/sysctl.saved"
    rm -f "$STATE/sysctl.saved"
  fi
}

# ---- components ------------------------------------------------------------------------------
start_etcd() {
  mkdir -p "$RUN/etcd"
  # A throwaway cluster: its data lives in memory.
  mountpoint -q "$RUN/etcd" || mount -t tmpfs -o size=512m,mode=700 crm-etcd "$RUN/etcd"
  # Client certificates only: a plaintext etcd would make any local user cluster-admin.
  start etcd etcd --name crm --data-dir "$RUN/etcd/data" \
    --listen-client-urls "https://127.0.0.1:$ETCD_PORT" --advertise-client-urls "https://127.0.0.1:$ETCD_PORT" \
    --cert-file "$PKI/etcd.crt" --key-file "$PKI/etcd.key" --client-cert-auth --trusted-ca-file "$PKI/ca.crt" \
    --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-cluster "crm=http://127.0.0.1:$((ETCD_PORT + 1))" --log-level warn
  wait_until 30 etcd curl -fsS --cacert "$PKI/ca.crt" --cert "$PKI/apiserver-etcd-client.crt" \
    --key "$PKI/apiserver-etcd-client.key" "https://127.0.0.1:$ETCD_PORT/health" || fail_with_log etcd
}

start_apiserver() {
  # On the bridge's gateway address, which only this machine and its pods can reach (see
  # host_network_up); advertised there, so the lease reconciler gives the Service
  # kubernetes.default (10.96.0.1:443) that endpoint. The kubelet is reached by its host name,
  # which resolves to 127.0.0.1 (never the machine's own address).
  start kube-apiserver "$K8S_BIN/kube-apiserver" \
    --etcd-servers "https://127.0.0.1:$ETCD_PORT" --etcd-cafile "$PKI/ca.crt" \
    --etcd-certfile "$PKI/apiserver-etcd-client.crt" --etcd-keyfile "$PKI/apiserver-etcd-client.key" \
    --bind-address "$GATEWAY" --secure-port "$API_PORT" --advertise-address "$GATEWAY" \
    --endpoint-reconciler-type lease \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --client-ca-file "$PKI/ca.crt" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$PKI/ca.crt" \
    --kubelet-preferred-address-types Hostname \
    --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction \
    --allow-privileged=false --profiling=false
  wait_until 60 kube-apiserver kc get --raw /readyz || fail_with_log kube-apiserver
  # CoreDNS reads Services, EndpointSlices, Namespaces and Pods with its own certificate.
  kc apply -f - >/dev/null <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "crm:coredns"}
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "crm:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "crm:coredns"}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: User, name: crm-coredns}
---
# kube-router's firewall reads the policies and the pods, namespaces, nodes and Services they
# refer to.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "crm:kube-router"}
rules:
  - apiGroups: [""]
    resources: [pods, namespaces, nodes, services, endpoints]
    verbs: [get, list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [get, list, watch]
  - apiGroups: [networking.k8s.io]
    resources: [networkpolicies]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "crm:kube-router"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "crm:kube-router"}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: User, name: crm-kube-router}
YAML
}

start_containerd() {
  mkdir -p "$RUN" "$DATA"
  start containerd containerd --config "$STATE/containerd.toml"
  wait_until 30 containerd ctr --address "$CONTAINERD_SOCK" version || fail_with_log containerd
  local pause="$STATE/images/pause.tar"
  if [[ -f "$pause" ]]; then
    import_images "$pause"
  else
    log "WARNING: no $pause yet: pods cannot start until 'make cluster-images' imports it"
  fi
}

# The kubelet's cgroup root must exist in every v1 hierarchy; a new cpuset starts with no
# CPUs and no memory nodes, so it gets the machine's.
prepare_cgroups() {
  local dir
  for dir in /sys/fs/cgroup/*/; do
    [[ -d "$dir" ]] || continue
    mkdir -p "$dir$CGROUP_ROOT"
  done
  if [[ -f /sys/fs/cgroup/cpuset/cpuset.cpus ]]; then
    cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$CGROUP_ROOT/cpuset.cpus"
    cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$CGROUP_ROOT/cpuset.mems"
  fi
}

start_node() {
  local node
  node="$(node_name)"
  prepare_cgroups
  start kubelet "$K8S_BIN/kubelet" --config "$STATE/kubelet.yaml" \
    --kubeconfig "$STATE/node.kubeconfig" --hostname-override "$node" \
    --root-dir "$DATA/kubelet" --cert-dir "$DATA/kubelet/pki" --v 1
  wait_until 90 "node $node Ready" node_ready "$node" || fail_with_log kubelet
  start kube-proxy "$K8S_BIN/kube-proxy" --config "$STATE/kube-proxy.yaml"
  wait_until 30 kube-proxy curl -fsS http://127.0.0.1:10256/healthz || fail_with_log kube-proxy
  start coredns "$K8S_BIN/coredns" -conf "$STATE/Corefile"
  wait_until 30 coredns curl -fsS http://127.0.0.1:18181/ready || fail_with_log coredns
  # nodeipam is off; the node's podCIDR tells kube-router which addresses are this node's pods.
  kc patch node "$node" --type merge -p "{\"spec\":{\"podCIDR\":\"$POD_CIDR\",\"podCIDRs\":[\"$POD_CIDR\"]}}" >/dev/null 2>&1 || true
  start kube-router "$K8S_BIN/kube-router" --kubeconfig "$STATE/kube-router.kubeconfig" \
    --hostname-override "$node" --run-firewall=true --run-router=false --run-service-proxy=false \
    --enable-cni=false --enable-pod-egress=false --health-port 0 --metrics-port 0 \
    --service-cluster-ip-range "$SERVICE_CIDR" --v 1
  wait_until 30 "kube-router's firewall" iptables -w -S KUBE-ROUTER-FORWARD || fail_with_log kube-router
}

node_ready() {
  [[ "$(kc get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}

start_controllers() {
  start kube-scheduler "$K8S_BIN/kube-scheduler" --kubeconfig "$STATE/scheduler.kubeconfig" \
    --authentication-kubeconfig "$STATE/scheduler.kubeconfig" \
    --authorization-kubeconfig "$STATE/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false
  # nodeipam off: the bridge CNI hands out the pod addresses itself.
  start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --controllers '*,-nodeipam' \
    --use-service-account-credentials \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key"
  wait_until 60 kube-scheduler curl -fsSk https://127.0.0.1:10259/healthz || fail_with_log kube-scheduler
  # Pods are refused until a namespace has its default ServiceAccount.
  wait_until 60 "the default ServiceAccount" kc -n default get serviceaccount default ||
    fail_with_log kube-controller-manager
}

import_images() {
  local tar
  for tar in "$@"; do
    [[ -f "$tar" ]] || die "no image archive $tar"
    ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$tar" >/dev/null
    log "imported $(basename "$tar")"
  done
}

# ---- commands --------------------------------------------------------------------------------
preflight() {
  [[ $EUID -eq 0 ]] || die "needs root (kubelet, containerd, network namespaces, iptables)"
  local b
  for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl coredns \
    kube-router; do
    [[ -x "$K8S_BIN/$b" ]] || die "$K8S_BIN/$b is missing: run 'make cluster-tools' first"
  done
  for b in etcd containerd containerd-shim-runc-v2 ctr iptables ipset conntrack openssl curl ip; do
    command -v "$b" >/dev/null || die "$b is not installed (apt: etcd-server containerd runc containernetworking-plugins iptables ipset conntrack)"
  done
  [[ -x /usr/sbin/runc && -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] ||
    die "runc or the CNI plugins are missing (apt: runc containernetworking-plugins)"
  [[ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ]] ||
    die "cgroup v2 only: this cluster is set up for cgroup v1 (see docs/kubernetes.md)"
  # The API server reaches the kubelet by the node's host name: it must be loopback.
  local addr
  addr="$(node_address)"
  [[ "$addr" == 127.* ]] ||
    die "host name $(node_name) resolves to '${addr:-nothing}', not 127.0.0.1: add it to /etc/hosts"
}

cmd_up() {
  preflight
  local t0=$SECONDS
  mkdir -p "$STATE" "$RUN" "$DATA"
  make_pki
  write_configs
  record_created_paths
  if [[ ! -f "$STATE/netns.before" ]]; then
    ip netns list 2>/dev/null | awk '$1 ~ /^cni-/ { print $1 }' >"$STATE/netns.before"
  fi
  host_network_up
  start_etcd
  start_apiserver
  start_containerd
  start_node
  start_controllers
  log "up in $((SECONDS - t0))s: export KUBECONFIG=$KUBECONFIG_ADMIN"
  kc get nodes -o wide >&2
}

# Pods first, by the kubelet (it unmounts their volumes and removes their network namespaces),
# then the processes in reverse start order, then whatever a crash may have left behind.
cmd_down() {
  [[ $EUID -eq 0 ]] || die "needs root"
  local t0=$SECONDS
  stop kube-controller-manager
  stop kube-scheduler
  if is_running kubelet && is_running kube-apiserver; then
    kc delete pods --all --all-namespaces --grace-period 2 --wait=false >/dev/null 2>&1 || true
    wait_until 60 "the kubelet to stop every pod" no_pods_left ||
      log "some pods were still there: removing them by force"
  fi
  local i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    stop "${COMPONENTS[i]}"
  done
  remove_leftovers
  host_network_down
  if mountpoint -q "$RUN/etcd"; then umount "$RUN/etcd"; fi
  remove_created_paths
  rm -rf --one-file-system "$RUN" "$DATA"
  rm -f "$STATE/netns.before"
  log "down in $((SECONDS - t0))s"
}

# Paths the kubelet, containerd and libcni use whatever they are told (hard-coded): the ones
# missing before `up` are removed by `down`.
HOST_PATHS=(/var/log/pods /var/log/containers /var/lib/cni /var/lib/kubelet /run/containerd)

record_created_paths() {
  [[ -f "$STATE/created-paths" ]] && return 0
  local path
  for path in "${HOST_PATHS[@]}"; do [[ -e "$path" ]] || echo "$path"; done >"$STATE/created-paths"
}

remove_created_paths() {
  local path
  if [[ -f "$STATE/created-paths" ]]; then
    while read -r path; do rm -rf --one-file-system "$path"; done <"$STATE/created-paths"
    rm -f "$STATE/created-paths"
  fi
  # libcni's cache of this network's results (named after it), where /var/lib/cni was there.
  rm -f /var/lib/cni/results/crm-*
}

no_pods_left() { [[ -z "$(kc get pods --all-namespaces -o name 2>/dev/null)" ]]; }

# Containers, shims, network namespaces, mounts and cgroups the stopped processes did not
# clean up (e.g. after a kill -9 of the kubelet).
remove_leftovers() {
  local pid ns mnt dir
  # Container processes: every process in this kubelet's cgroups.
  if [[ -d "/sys/fs/cgroup/pids/$CGROUP_ROOT" ]]; then
    find "/sys/fs/cgroup/pids/$CGROUP_ROOT" -name cgroup.procs -exec cat {} + 2>/dev/null |
      while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  # The shims of this cluster's containerd.
  pkill -KILL -f "containerd-shim-runc-v2 -namespace k8s.io .*-address $CONTAINERD_SOCK" 2>/dev/null || true
  sleep 0.2
  # Network namespaces the CRI made (cni-<uuid>) since `up` (any that existed before are kept).
  for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^cni-/ { print $1 }'); do
    grep -qx "$ns" "$STATE/netns.before" 2>/dev/null || ip netns delete "$ns" 2>/dev/null || true
  done
  # Mounts below the kubelet root and containerd's state (deepest first).
  while read -r mnt; do
    umount -l "$mnt" 2>/dev/null || true
  done < <(awk -v a="$DATA" -v b="$RUN/containerd" '$2 ~ "^"a || $2 ~ "^"b { print $2 }' /proc/mounts | sort -r)
  # cgroups of the pods (v1: one tree per controller), leaves first.
  for dir in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
    if [[ -d "$dir" ]]; then find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
}

cmd_status() {
  local c
  for c in "${COMPONENTS[@]}"; do
    if is_running "$c"; then printf '  %-24s pid %s\n' "$c" "$(pid_of "$c")"; else printf '  %-24s stopped\n' "$c"; fi
  done
  if is_running kube-apiserver; then
    kc get nodes -o wide
    kc get pods --all-namespaces -o wide
  fi
}

case "${1:-}" in
  build) cmd_build ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  import) shift; import_images "$@" ;;
  env) echo "export KUBECONFIG=$KUBECONFIG_ADMIN" ;;
  *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2 ;;
esac
