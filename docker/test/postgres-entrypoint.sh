#!/bin/sh
# The official postgres image's entrypoint, reduced to what Tidemark's restore test uses.
set -eu
if [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
if ! getent passwd "$(id -u)" >/dev/null 2>&1; then
  NSS_WRAPPER_PASSWD="$(mktemp)"; NSS_WRAPPER_GROUP="$(mktemp)"
  echo "postgres:x:$(id -u):$(id -g):PostgreSQL:/var/lib/postgresql:/bin/false" >"$NSS_WRAPPER_PASSWD"
  echo "postgres:x:$(id -g):" >"$NSS_WRAPPER_GROUP"
  export LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libnss_wrapper.so NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
fi
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"; chmod 0700 "$PGDATA"
  initdb --username="${POSTGRES_USER:-postgres}" --auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" \
    --encoding=UTF8 --no-sync -D "$PGDATA" >/dev/null
  printf "host all all all %s\n" "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"
fi
exec "$@"
