#!/usr/bin/env bash
# Entrypoint of the local postgres image (postgres.Containerfile, built by base-images.sh).
# Covers what docker-compose-dagster.yml needs from the official image's entrypoint:
#   - started as root: makes $PGDATA owned by postgres (mode 700) and re-runs itself as postgres;
#   - empty $PGDATA: initdb with superuser $POSTGRES_USER (default postgres) and password
#     $POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust), scram-sha-256 for
#     every TCP client, then creates database $POSTGRES_DB (default: the user's name);
#   - then runs the command (default `postgres`), listening on all addresses.
# Not covered: /docker-entrypoint-initdb.d scripts, POSTGRES_INITDB_ARGS, *_FILE secrets.
set -euo pipefail

log() { echo "postgres-entrypoint: $*" >&2; }

# `docker run postgres:15 -c shared_buffers=256MB` passes server options only.
if [[ ${1:-} == -* ]]; then
  set -- postgres "$@"
fi
if [[ ${1:-} != postgres ]]; then
  exec "$@"
fi

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [[ $(id -u) == 0 ]]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  if [[ $(stat -c %U "$PGDATA") != postgres ]]; then
    chown -R postgres:postgres "$PGDATA"
  fi
  chown postgres:postgres /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [[ ! -s $PGDATA/PG_VERSION ]]; then
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [[ -z ${POSTGRES_PASSWORD:-} && $auth != trust ]]; then
    log "the database is not initialized and POSTGRES_PASSWORD is empty: set POSTGRES_PASSWORD" \
      "(or POSTGRES_HOST_AUTH_METHOD=trust to allow connections without a password)"
    exit 1
  fi
  log "initializing $PGDATA (superuser $user, database $db)"
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  initdb --username="$user" --pwfile="$pwfile" --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host="$auth" -D "$PGDATA" >&2
  rm -f "$pwfile"
  echo "host all all all $auth" >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  # A server without TCP and on a private socket directory while the database is created, so
  # pg_isready (the health check) does not report ready before the database exists.
  initsock=$(mktemp -d)
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=$initsock" -w start >&2
  if [[ $db != postgres ]]; then
    psql -v ON_ERROR_STOP=1 --no-psqlrc --host="$initsock" --username="$user" --dbname=postgres \
      --set=db="$db" <<<'CREATE DATABASE :"db";' >&2
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop >&2
  rmdir "$initsock"
  log "initialized; starting the server"
fi

exec "$@"
