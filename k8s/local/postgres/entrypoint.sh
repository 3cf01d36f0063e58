#!/bin/sh
# Entrypoint of crm-postgres:15 (scripts/cluster-images.sh packs it with Debian's PostgreSQL 15):
# the official image's contract, for a non-root uid on a read-only root.
#
#   POSTGRES_PASSWORD  the superuser's password (required to initialise)
#   POSTGRES_USER      the superuser (default postgres)
#   POSTGRES_DB        a database created at initialisation (default: $POSTGRES_USER)
#   PGDATA             the data directory (default /var/lib/postgresql/data); initialised when
#                      it holds no PG_VERSION, then /docker-entrypoint-initdb.d/*.sql run once
#   arguments          passed on to postgres (e.g. -c max_connections=50); a leading "postgres"
#                      is dropped, as `docker run crm-postgres:15 postgres -c ...` means the same
#
# The image's only shell is dash and its only tools are PostgreSQL's, so this stays POSIX sh
# with builtins. Writes go to PGDATA and to the socket directory only.
set -eu

: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
export PGDATA POSTGRES_USER POSTGRES_DB

log() { echo "crm-postgres: $*" >&2; }

if [ "${1:-}" = postgres ]; then shift; fi

# A volume mounted right at PGDATA belongs to root: postgres refuses a data directory it does
# not own, so use a directory of our own inside it (mount the volume one level up to avoid this).
if [ -d "$PGDATA" ] && [ ! -O "$PGDATA" ]; then
  log "$PGDATA is not ours (a volume mounted there?): using $PGDATA/pgdata"
  PGDATA="$PGDATA/pgdata"
fi

# Debian's default socket directory, when the pod gives it a writable volume; else the data
# directory (TCP clients, pg_isready -h 127.0.0.1 included, do not care).
SOCKETS=/var/run/postgresql
[ -w "$SOCKETS" ] || SOCKETS="$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    log "error: the database is uninitialised and POSTGRES_PASSWORD is not set"
    exit 1
  fi
  log "initialising $PGDATA"
  initdb --username="$POSTGRES_USER" --encoding=UTF8 --locale=C \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  # initdb allows loopback only; any address may log in with the password.
  printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  # No TCP while initialising: a client must not see a half-initialised database as ready.
  pg_ctl --silent --wait --timeout=60 start \
    -o "-c listen_addresses='' -c unix_socket_directories='$SOCKETS'"
  # The password comes from the environment (\getenv), never from a command line.
  psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 -h "$SOCKETS" -U "$POSTGRES_USER" -d postgres <<'SQL'
\getenv password POSTGRES_PASSWORD
\getenv db POSTGRES_DB
ALTER ROLE CURRENT_USER PASSWORD :'password';
SELECT format('CREATE DATABASE %I', :'db') WHERE :'db' <> 'postgres'
  AND NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
  for f in /docker-entrypoint-initdb.d/*.sql; do
    [ -e "$f" ] || continue
    log "running $f"
    psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 -h "$SOCKETS" -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f "$f" >/dev/null
  done
  pg_ctl --silent --wait --timeout=60 -m fast stop
  log "initialised"
fi

exec postgres -c listen_addresses='*' -c unix_socket_directories="$SOCKETS" "$@"
