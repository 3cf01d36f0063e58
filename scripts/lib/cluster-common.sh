# shellcheck shell=bash
# What scripts/cluster.sh, cluster-test.sh and cluster-images.sh share.

# The node's containerd (its own, not the system service's) and the pod sandbox image it runs,
# which scripts/cluster-images.sh makes from k8s/local/pause.
# shellcheck disable=SC2034 # used by the scripts that source this
CONTAINERD_SOCK=/run/crm-cluster/containerd.sock
# shellcheck disable=SC2034
PAUSE_IMAGE=registry.k8s.io/pause:3.10

# wait_until SECONDS WHAT COMMAND...: polls COMMAND (output discarded) every 0.2 s; on timeout
# says what it waited for and returns 1.
wait_until() {
  local deadline=$((SECONDS + $1)) timeout=$1 what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "timed out after ${timeout}s waiting for $what" >&2
      return 1
    fi
    sleep 0.2
  done
}
