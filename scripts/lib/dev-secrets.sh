# shellcheck shell=bash
# Credentials of the development dependencies, sourced by scripts/kind.sh and
# scripts/cluster-test.sh. Expects: a `kc` function (kubectl for the cluster), `log`, and
# NAMESPACE, DEPS_NAMESPACE, RELEASE, ALL_SERVICES.

# 48 hex characters from the kernel's RNG (no openssl needed).
random_hex() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }

# Random passwords, generated once per cluster and kept in the cluster only:
#   crm-deps/postgres-init   superuser password + init.sql (one role and database per service)
#   crm-deps/redis-auth      Redis password
#   crm/<release>-<service>-credentials   database-url, redis-url, page-token-secret
#     (the names the chart's defaults.secrets.existingSecret expects)
make_secrets() {
  if kc -n "$DEPS_NAMESPACE" get secret postgres-init >/dev/null 2>&1; then
    log "Secrets exist (kept: the database already uses them)"
    return
  fi
  log "generating credentials"
  local redis_pw svc db pw init_sql=""
  redis_pw="$(random_hex)"
  local -a creds=()
  for svc in "${ALL_SERVICES[@]}"; do
    db="crm_$svc"
    pw="$(random_hex)"
    init_sql+="CREATE ROLE $db LOGIN PASSWORD '$pw';"$'\n'
    init_sql+="CREATE DATABASE $db OWNER $db;"$'\n'
    # One Redis database for all: the event backbone's streams must be shared by every service
    # (the chart gives the cache's URL to the events too); caches are kept apart by their
    # key prefixes.
    kc -n "$NAMESPACE" create secret generic "$RELEASE-$svc-credentials" \
      --from-literal=database-url="postgres://$db:$pw@postgres.$DEPS_NAMESPACE.svc:5432/$db" \
      --from-literal=redis-url="redis://:$redis_pw@redis.$DEPS_NAMESPACE.svc:6379/0" \
      --from-literal=page-token-secret="$(random_hex)" \
      --dry-run=client -o yaml | kc apply -f - >/dev/null
    creds+=("$NAMESPACE/$RELEASE-$svc-credentials")
  done
  kc -n "$DEPS_NAMESPACE" create secret generic redis-auth \
    --from-literal=password="$redis_pw" --dry-run=client -o yaml | kc apply -f - >/dev/null
  # Last, so that its presence means "all credentials were made".
  kc -n "$DEPS_NAMESPACE" create secret generic postgres-init \
    --from-literal=superuser-password="$(random_hex)" \
    --from-literal=init.sql="$init_sql" --dry-run=client -o yaml | kc apply -f - >/dev/null
  printf '  %s\n' "${creds[@]}" "$DEPS_NAMESPACE/redis-auth" "$DEPS_NAMESPACE/postgres-init" >&2
}

# The PII key-encryption key of the release, <release>-pii-keys with one key k1 (the chart's
# pii values in ci/cluster-values.yaml and ci/kind-values.yaml name it): 32 random bytes in
# base64. Made once and kept: the data keys in the databases are wrapped by it, so a new key
# would make them unreadable (the services refuse to start). Rotation adds a key next to it.
make_pii_secret() {
  if kc -n "$NAMESPACE" get secret "$RELEASE-pii-keys" >/dev/null 2>&1; then
    log "PII key Secret exists (kept: the data keys are wrapped by it)"
    return
  fi
  log "generating the PII key-encryption key"
  kc -n "$NAMESPACE" create secret generic "$RELEASE-pii-keys" \
    --from-literal=k1="$(head -c 32 /dev/urandom | base64)" \
    --dry-run=client -o yaml | kc apply -f - >/dev/null
  printf '  %s\n' "$NAMESPACE/$RELEASE-pii-keys" >&2
}
