#!/usr/bin/env bash
# Starts a new service from the skeleton services/_template (see the README's "Adding a
# service"):
#
#   scripts/new-service.sh <name> [<Service>]
#   scripts/new-service.sh campaigns Campaign     # gRPC service crm.campaigns.v1.CampaignService
#
# - copies services/_template to services/<name> and proto/crm/template to proto/crm/<name>,
#   renaming in file contents and file names: TemplateService -> <Service>Service (the gRPC
#   service, default <Name>Service, and the use cases), template -> <name>, Template -> <Name>,
#   TEMPLATE -> <NAME> (crate crm-<name>, package crm.<name>.v1, settings section [<name>],
#   env CRM_<NAME>__*), and dropping the lines marked "(template only)";
# - adds services/<name> to the workspace members and crm-<name> to [workspace.dependencies]
#   of Cargo.toml, and the crm.<name>.v1 module (crm_proto::<name>) to proto/src/lib.rs;
# - prints what is left to do by hand.
#
# <name> is lower-case letters and digits, starting with a letter (it becomes a Rust module,
# a proto package, a chart key, an image name and an env prefix); <Service> is CamelCase.
# Nothing is changed when a check fails. Only the files named above are touched, so it also
# runs on a partial copy of the tree (its test, services/_template/tests/new_service.rs, does).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { printf 'new-service: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 1 || $# -eq 2 ]] || die "usage: scripts/new-service.sh <name> [<Service>]   (e.g. campaigns Campaign)"
name=$1
[[ "$name" =~ ^[a-z][a-z0-9]*$ ]] || die "'$name': use lower-case letters and digits, starting with a letter"
case "$name" in
  template | platform | suite | proto | common | bench) die "'$name' is taken by the workspace" ;;
esac
Name="$(printf '%s' "${name:0:1}" | tr '[:lower:]' '[:upper:]')${name:1}"
NAME=$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')
Service=${2:-$Name}
[[ "$Service" =~ ^[A-Z][A-Za-z0-9]*$ ]] || die "'$Service': the service name is CamelCase, e.g. Campaign"
# GiftCard -> gift_card: the generated modules (gift_card_service_server) and the proto file.
service_snake=$(printf '%s' "$Service" | sed -E 's/([a-z0-9])([A-Z])/\1_\2/g' | tr '[:upper:]' '[:lower:]')

cd "$root"
for dir in "services/$name" "proto/crm/$name"; do
  [[ ! -e "$dir" ]] || die "$dir already exists"
done
for f in services/_template/Cargo.toml proto/crm/template/v1 Cargo.toml proto/src/lib.rs; do
  [[ -e "$f" ]] || die "$f is missing; run this from a checkout of the workspace"
done
grep -q '^members = \[.*"services/_template"' Cargo.toml ||
  die "Cargo.toml: no one-line members list with \"services/_template\""
grep -q '^crm-template = ' Cargo.toml || die "Cargo.toml: no crm-template in [workspace.dependencies]"
grep -q '^    pub mod template {$' proto/src/lib.rs || die "proto/src/lib.rs: no 'pub mod template' block"

# Every check passed: from here on, write.
renamed() {
  sed -e '/(template only)/d' \
    -e "s/TemplateService/${Service}Service/g" -e "s/template_service/${service_snake}_service/g" \
    -e "s/template/$name/g" -e "s/Template/$Name/g" -e "s/TEMPLATE/$NAME/g"
}

copy() {
  local from=$1 to=$2 f new
  mkdir -p "$(dirname "$to")"
  cp -R "$from" "$to"
  rm -rf "$to/target"
  # Deepest first, so a renamed directory does not hide the files below it.
  find "$to" -depth -name '*template*' | while IFS= read -r f; do
    new="$(dirname "$f")/$(basename "$f" | renamed)"
    mv "$f" "$new"
  done
  find "$to" -type f | while IFS= read -r f; do
    renamed <"$f" >"$f.new-service"
    mv "$f.new-service" "$f"
  done
}

copy services/_template "services/$name"
# The test of this script stays with the template.
rm "services/$name/tests/new_service.rs"
copy proto/crm/template "proto/crm/$name"

# A temporary file next to the target, then a move: no half-written Cargo.toml.
edit() {
  local file=$1
  shift
  "$@" <"$file" >"$file.new-service"
  mv "$file.new-service" "$file"
}

edit Cargo.toml awk -v name="$name" '
  /^members = \[/ { sub(/"services\/_template"/, "\"services/_template\", \"services/" name "\"") }
  { print }
  /^crm-template = / { print "crm-" name " = { path = \"services/" name "\" }" }
'

edit proto/src/lib.rs awk -v name="$name" '
  /^    pub mod template \{$/ { copying = 1 }
  copying { block = block $0 "\n" }
  { print }
  copying && /^    \}$/ { copying = 0; gsub(/template/, name, block); printf "%s", block }
  /^pub use crm::template::v1 as template;$/ { print "pub use crm::" name "::v1 as " name ";" }
'

cat <<EOF
Created services/$name (crate crm-$name, crm_$name::$Name) and proto/crm/$name/v1 (package
crm.$name.v1, service crm.$name.v1.${Service}Service); added the workspace member, crm-$name to
[workspace.dependencies] and crm_proto::$name.

Left to do (the README's "Adding a service" has the details):
  1. Rename the note (Note, NoteId, "notes", the RPCs and the notes table) to this service's
     resources in proto/crm/$name/v1 and services/$name/src; describe the service in
     services/$name/Cargo.toml and in its proto.
  2. The suite binary: add crm-$name.workspace = true to services/suite/Cargo.toml and
     the line suite.add::<crm_$name::$Name>(); to services() in services/suite/src/main.rs.
  3. The suite tests: one line in SPAWNERS of services/suite/tests/common/mod.rs.
  4. The chart: this entry under services: in charts/crm/values.yaml
       $name:
         enabled: true
         healthService: crm.$name.v1.${Service}Service
         callees: []
         callScopes: []    # the scopes its calls need (granted to its ServiceAccount)
  5. cargo test -p crm-$name && cargo test -p crm-suite --test bad_input && make lint
EOF
