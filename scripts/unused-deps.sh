#!/usr/bin/env bash
# Fails when a Cargo.toml of the workspace lists a dependency its crate does not use
# (cargo-machete: a fast text search of each crate's sources for the crate names).
# A false positive (a crate used only by generated or macro-expanded code) is listed in that
# Cargo.toml's `[package.metadata.cargo-machete] ignored`, with a comment saying why.
# Without cargo-machete: SKIPPED (exit 0), but with CI=true a failure.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# scripts/install-tools.sh puts the pinned cargo-machete here; prefer it to any other.
export PATH="$root/.tools/bin:$PATH"

if ! command -v cargo-machete >/dev/null 2>&1; then
  if [[ "${CI:-}" == true || "${CI:-}" == 1 ]]; then
    printf '\n=== FAILED: cargo-machete not installed; CI=true requires it (scripts/install-tools.sh) ===\n\n' >&2
    exit 1
  fi
  printf '\n=== SKIPPED: cargo-machete not installed; unused dependencies were not checked (make tools) ===\n\n' >&2
  exit 0
fi

cd "$root"
printf 'unused-deps: cargo-machete %s\n' "$(cargo-machete --version)" >&2
cargo-machete
