#!/usr/bin/env bash
# Fetches MovieLens-100K for the recommendations eval: the `ml-100k.inter` file shipped inside
# the recbole wheel on PyPI (pip download, no other source), extracted to
# .tools/data/ml-100k.inter. Idempotent: an extracted file of the pinned wheel is kept.
#
#   scripts/fetch-movielens.sh            # prints the path of ml-100k.inter
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/.tools/data"
RECBOLE_VERSION=1.2.1   # its wheel carries recbole/dataset_example/ml-100k/ml-100k.inter
MEMBER=recbole/dataset_example/ml-100k/ml-100k.inter
OUT="$DATA/ml-100k.inter"
STAMP="$DATA/ml-100k.inter.recbole-$RECBOLE_VERSION"
# MovieLens-100K: 100,000 ratings (+ the header line).
LINES=100001

log() { printf '[fetch-movielens] %s\n' "$*" >&2; }

if [[ -f "$OUT" && -f "$STAMP" && "$(wc -l <"$OUT")" -eq $LINES ]]; then
  echo "$OUT"
  exit 0
fi
PY=${PYTHON:-}
if [[ -z "$PY" ]]; then
  if [[ -x "$ROOT/.tools/venv/bin/python" ]]; then PY="$ROOT/.tools/venv/bin/python"; else PY=python3; fi
fi
mkdir -p "$DATA"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
log "downloading the recbole $RECBOLE_VERSION wheel (no dependencies) ..."
"$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
  --dest "$tmp" "recbole==$RECBOLE_VERSION"
wheel=("$tmp"/recbole-"$RECBOLE_VERSION"-*.whl)
[[ -f "${wheel[0]}" ]] || { log "ERROR: no recbole wheel downloaded"; exit 1; }
# A wheel is a zip; Python's zipfile needs no unzip binary.
"$PY" - "${wheel[0]}" "$MEMBER" "$OUT.tmp" <<'PY'
import sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, open(out, "wb") as f:
    f.write(z.read(member))
PY
n="$(wc -l <"$OUT.tmp")"
[[ "$n" -eq $LINES ]] || { log "ERROR: $MEMBER has $n lines, expected $LINES"; exit 1; }
mv "$OUT.tmp" "$OUT"
rm -f "$DATA"/ml-100k.inter.recbole-*
touch "$STAMP"
log "extracted $OUT"
echo "$OUT"
