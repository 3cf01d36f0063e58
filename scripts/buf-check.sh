#!/usr/bin/env bash
# buf lint on proto/, then buf breaking against the main branch.
#
# The breaking check compares the working tree's proto/ with the last commit
# of main; when the checkout is main itself, with HEAD~1 (main against itself
# proves nothing), or with HEAD on main's first commit if proto/ has
# uncommitted changes. With no main branch, no such commit or no proto/ there,
# there is nothing to compare: it says so and passes.
# Without buf: SKIPPED (exit 0), but with CI=true a failure.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# scripts/install-tools.sh puts the pinned buf here; prefer it to any other.
export PATH="$root/.tools/bin:$PATH"

log() { printf 'buf-check: %s\n' "$*" >&2; }

if ! command -v buf >/dev/null 2>&1; then
  if [[ "${CI:-}" == true || "${CI:-}" == 1 ]]; then
    printf '\n=== FAILED: buf not installed; CI=true requires it (scripts/install-tools.sh) ===\n\n' >&2
    exit 1
  fi
  printf '\n=== SKIPPED: buf not installed; proto lint and breaking-change checks did not run (make tools) ===\n\n' >&2
  exit 0
fi

cd "$root/proto"
log "buf $(buf --version 2>&1): lint"
buf lint

# --- which commit to compare against ----------------------------------------------
git() { command git -C "$root" "$@"; }

if ! git rev-parse --git-dir >/dev/null 2>&1; then
  log "not a git checkout; no breaking-change check"
  exit 0
fi

# CI checkouts may only have the remote-tracking branch.
main=""
for ref in refs/heads/main refs/remotes/origin/main; do
  if git rev-parse -q --verify "$ref^{commit}" >/dev/null; then
    main=$ref
    break
  fi
done
if [[ -z "$main" ]]; then
  log "no main branch yet; nothing to compare against, breaking check passes"
  exit 0
fi

head=$(git rev-parse -q --verify 'HEAD^{commit}' || true)
main_commit=$(git rev-parse "$main^{commit}")
main_name=${main#refs/heads/}
main_name=${main_name#refs/remotes/}
why=""
if [[ "$head" != "$main_commit" ]]; then
  against_name=$main_name against_commit=$main_commit
elif git rev-parse -q --verify 'HEAD~1^{commit}' >/dev/null; then
  against_name="HEAD~1" against_commit=$(git rev-parse 'HEAD~1^{commit}')
  why=" (the checkout is main)"
elif [[ -n "$(git status --porcelain -- proto)" ]]; then
  # Main's only commit, but uncommitted proto changes can still break it.
  against_name="HEAD" against_commit=$head
  why=" (main's first commit; proto/ has uncommitted changes)"
elif [[ "$(git rev-parse --is-shallow-repository)" == true ]]; then
  printf '\n=== NOTE: shallow clone without HEAD~1; breaking check skipped (fetch more history) ===\n\n' >&2
  exit 0
else
  log "on main's first commit; nothing to compare against, breaking check passes"
  exit 0
fi
against_desc="$against_name $(git rev-parse --short "$against_commit")$why"

if ! git cat-file -e "$against_commit:proto" 2>/dev/null; then
  log "$against_desc has no proto/ yet; nothing to compare against, breaking check passes"
  exit 0
fi

# The common dir, so that a linked worktree also works.
git_dir=$(cd "$root" && cd "$(command git rev-parse --git-common-dir)" && pwd)
if [[ "$main" == refs/heads/main && "$against_name" == main ]]; then
  against="$git_dir#branch=main,subdir=proto"
else
  against="$git_dir#ref=$against_commit,subdir=proto"
fi
log "breaking: working tree proto/ against $against_desc"
buf breaking --against "$against"
log "ok: lint clean, no breaking changes against $against_desc"
