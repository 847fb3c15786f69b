#!/usr/bin/env bash
# Restore benchmark: `pg_restore -j1` and `-j2` of a local custom-format file (into a fresh
# database) against the runner restoring the same dump from S3 at parallelism 1 (one
# stream: download, SHA-256 checksum gate, age, zstd, pg_restore in one transaction), 2 and
# 4 (the schema, then N COPY connections loading while the object downloads, then
# pg_restore -jN for indexes and constraints, all in a side database; swap by rename), each with
# the row-count comparison; prints the ratios, the runner's peak RSS, its temp disk and the
# busy CPU seconds of the whole machine during each run (server and S3 included).
#
#   bench/restore.sh            # the backup benchmark's ≥ 2 GB dataset
#   bench/restore.sh --quick    # ~10× smaller, a smoke run
#   bench/restore.sh --clean    # remove the cached cluster and datasets (.tidemark/bench/pg) and exit
#   BENCH_PG_MAJOR=18 bench/restore.sh   # against PostgreSQL 18 (its own cached cluster)
#
# Shares the setup and the cached datasets of bench/backup.sh (throwaway PostgreSQL and
# SeaweedFS under .tidemark/bench). The decrypted local dump and the restored databases
# are removed at the end; the source dataset stays cached (its size is printed).
# Results: stdout and .tidemark/bench/restore-results-<size>.txt; each runner run's log in
# .tidemark/bench/runner-p<N>.log (BENCH_RUST_LOG=info shows each phase's start).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../scripts/setup.sh
source "$ROOT/scripts/setup.sh"

QUICK=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    --clean)
      # The cached cluster and datasets (shared with bench/backup.sh) and this script's
      # leftovers; other benchmarks' directories under .tidemark/bench stay.
      b="$TIDEMARK_STATE/bench"
      rm -rf "$b/pg" "$b"/pg-* "$b/weed-restore" "$b/spool" "$b/spool-peak" "$b/restore-local.dump" "$b/restore-identity.txt" \
        "$b/postgres.log" "$b/time.txt" "$b/termination-log"
      echo "removed the benchmark cluster and datasets under $b"
      exit 0 ;;
    *) echo "usage: $0 [--quick] [--clean]" >&2; exit 2 ;;
  esac
done

# Same datasets as bench/backup.sh (so a cached one is reused).
if ((QUICK)); then
  SCALE=10; ORDERS=250000; LABEL=quick
else
  SCALE=100; ORDERS=2500000; LABEL=full
fi

BENCH="$TIDEMARK_STATE/bench"
PG_DIR="$BENCH/pg"
# BENCH_PG_MAJOR=N: the server (its own cached cluster and dataset) and the client tools
# of PostgreSQL N from the installs of scripts/pg-majors.sh, instead of the system's.
PG_ROOT_ENV=()
if [[ -n "${BENCH_PG_MAJOR:-}" ]]; then
  bash "$ROOT/scripts/pg-majors.sh" >/dev/null
  MAJORS_ROOT=${TIDEMARK_PG_MAJORS:-$([[ $(id -u) -eq 0 ]] && echo /var/cache/tidemark/pg/root || echo "${XDG_CACHE_HOME:-$HOME/.cache}/tidemark/pg/root")}
  TIDEMARK_PG_BIN="$MAJORS_ROOT/$BENCH_PG_MAJOR/bin"
  [[ -x "$TIDEMARK_PG_BIN/postgres" ]] || { echo "no PostgreSQL $BENCH_PG_MAJOR under $MAJORS_ROOT" >&2; exit 2; }
  PG_DIR="$BENCH/pg-$BENCH_PG_MAJOR"
  LABEL="$LABEL-pg$BENCH_PG_MAJOR"
  PG_ROOT_ENV=(TIDEMARK_PG_BIN_ROOT="$MAJORS_ROOT")
fi
WEED_DIR="$BENCH/weed-restore"
mkdir -p "$BENCH"
PG_BIN="$TIDEMARK_PG_BIN"
RUNNER="$ROOT/target/release/tidemark-runner"
RESULTS="$BENCH/restore-results-$LABEL.txt"
DUMP="$BENCH/restore-local.dump"
PIDS=()
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"

cleanup() {
  rm -f "$DUMP" "$BENCH/restore-identity.txt"
  if [[ -n "${PGPORT:-}" ]]; then
    for db in bench_restore_baseline bench_restore_runner; do
      psql_q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
    done
  fi
  [[ -f "$PG_DIR/data/postmaster.pid" ]] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" stop -m fast >/dev/null 2>&1 || true
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WEED_DIR"
  log "benchmark cache kept: $(du -sh "$PG_DIR" 2>/dev/null | cut -f1) in $PG_DIR (bench/restore.sh --clean removes it)"
}
trap cleanup EXIT

secs() { python3 -c "print(f'{$2-$1:.2f}')"; }

build_runner

# --- PostgreSQL (the backup benchmark's cluster and datasets) -------------------------
start_postgres

DB="bench_s${SCALE}_o${ORDERS}"
make_db "$DB" "$SCALE" "$ORDERS"

# --- SeaweedFS (fresh per run) --------------------------------------------------------
start_seaweedfs

age-keygen -o "$BENCH/restore-identity.txt" 2>/dev/null
RECIPIENT=$(grep -o 'age1[0-9a-z]*' "$BENCH/restore-identity.txt")
runner_env=("${PG_ROOT_ENV[@]}" TIDEMARK_S3_BUCKET=bench TIDEMARK_S3_ENDPOINT="$ENDPOINT" TIDEMARK_S3_FORCE_PATH_STYLE=true
  TIDEMARK_POLICY_NAMESPACE=bench TIDEMARK_POLICY_NAME="$DB"
  TIDEMARK_TERMINATION_LOG="$BENCH/termination-log" RUST_LOG="${BENCH_RUST_LOG:-warn}")

log "[$DB] backup with the runner (zstd -3, age) to have something to restore"
env "${runner_env[@]}" PGDATABASE="$DB" TIDEMARK_AGE_RECIPIENTS="$RECIPIENT" "$RUNNER" backup >/dev/null
KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["backup"]["key"])' "$BENCH/termination-log")

log "[$DB] the same dump as a local custom-format file (age -d | zstd -d)"
"$TIDEMARK_VENV/bin/python" - "$ENDPOINT" "$KEY" <<'PY' | age -d -i "$BENCH/restore-identity.txt" | zstd -d -q >"$DUMP"
import sys, boto3, shutil
body = boto3.client("s3", endpoint_url=sys.argv[1]).get_object(Bucket="bench", Key=sys.argv[2])["Body"]
shutil.copyfileobj(body, sys.stdout.buffer, 1 << 20)
PY
DUMP_SIZE=$(stat -c %s "$DUMP")

# Baselines: pg_restore from the local file into a fresh database, -j1 and -j2.
baseline() { # jobs -> "seconds machine-cpu-seconds"
  psql_q -d postgres -c "DROP DATABASE IF EXISTS bench_restore_baseline" -c "CREATE DATABASE bench_restore_baseline"
  psql_q -d postgres -c CHECKPOINT  # every run starts without the previous runs' dirty pages
  local t0 t1 c0 c1
  c0=$(busy); t0=$(now); "$PG_BIN/pg_restore" --exit-on-error --jobs="$1" -d bench_restore_baseline "$DUMP"; t1=$(now); c1=$(busy)
  psql_q -d postgres -c "DROP DATABASE bench_restore_baseline"
  echo "$(secs "$t0" "$t1") $(secs "$c0" "$c1")"
}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "[$DB] baseline: pg_restore -j1 (fresh database) from the local file"
read -r T_BASE1 C_BASE1 < <(baseline 1)
log "[$DB] baseline: pg_restore -j2 (fresh database) from the local file"
read -r T_BASE2 C_BASE2 < <(baseline 2)

# The runner at parallelism N into a database it creates; sets T_RUN, RSS (KiB), STREAM,
# STORED, COMPARED, SPOOL_PEAK (bytes, sampled every 0.2 s).
SPOOL="$BENCH/spool"
runner_at() { # parallelism
  rm -rf "$SPOOL"; mkdir -p "$SPOOL"
  psql_q -d postgres -c "DROP DATABASE IF EXISTS bench_restore_runner"
  psql_q -d postgres -c CHECKPOINT
  echo 0 >"$BENCH/spool-peak"
  : >"$BENCH/cpu-p$1.txt"
  ( peak=0; while :; do
      b=$(du -sb "$SPOOL" 2>/dev/null | cut -f1); ((b > peak)) && peak=$b && echo "$peak" >"$BENCH/spool-peak"
      echo "$(now) $(busy)" >>"$BENCH/cpu-p$1.txt"  # the machine's busy CPU over time
      sleep 0.2; done ) &
  local sampler=$! c0
  c0=$(busy)
  /usr/bin/time -f '%e %M %U %S' -o "$BENCH/time.txt" env "${runner_env[@]}" PGDATABASE=bench_restore_runner \
    TIDEMARK_CREATE_DATABASE=true TIDEMARK_RESTORE_CLEAN=false \
    TIDEMARK_RESTORE_PARALLELISM="$1" TIDEMARK_RESTORE_SPOOL_DIR="$SPOOL" \
    TIDEMARK_AGE_IDENTITY="$(grep AGE-SECRET-KEY "$BENCH/restore-identity.txt")" "$RUNNER" restore >/dev/null 2>"$BENCH/runner-p$1.log"
  C_RUN=$(secs "$c0" "$(busy)")
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  read -r T_RUN RSS U_RUN S_RUN <"$BENCH/time.txt"
  R_RUN=$(python3 -c "print(f'{$U_RUN + $S_RUN:.2f}')")
  SPOOL_PEAK=$(cat "$BENCH/spool-peak")
  read -r STREAM STORED COMPARED < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["restore"]
print(r["durationMs"] / 1000, r["storedSize"], r["tablesCompared"])' "$BENCH/termination-log")
  psql_q -d postgres -c "DROP DATABASE bench_restore_runner"
  rm -rf "$SPOOL"
}
declare -A T_P RSS_P SPOOL_P C_P R_P
for n in 1 2 4; do
  log "[$DB] runner at parallelism $n"
  runner_at "$n"
  T_P[$n]=$T_RUN; RSS_P[$n]=$((RSS / 1024)); SPOOL_P[$n]=$SPOOL_PEAK; C_P[$n]=$C_RUN; R_P[$n]=$R_RUN
done
# The load of a shared machine drifts: pg_restore -j2 and the runner at parallelism 2
# alternate BENCH_PAIRS more times (default 3; 1 with --quick), and the ratio is of their
# medians (the best of each is printed too).
J2_RUNS=("$T_BASE2"); P2_RUNS=("${T_P[2]}")
for ((i = 1; i <= ${BENCH_PAIRS:-$((QUICK ? 1 : 3))}; i++)); do
  log "[$DB] pair $i: pg_restore -j2 from the local file, then the runner at parallelism 2"
  read -r t _ < <(baseline 2); J2_RUNS+=("$t")
  runner_at 2; P2_RUNS+=("$T_RUN"); ((RSS / 1024 > RSS_P[2])) && RSS_P[2]=$((RSS / 1024))
done
rm -f "$DUMP"
read -r J2_MED J2_BEST P2_MED P2_BEST < <(python3 -c '
import statistics, sys
j, p = sys.argv[1].split(), sys.argv[2].split()
print(*(f"{v:.2f}" for v in (statistics.median(map(float, j)), min(map(float, j)), statistics.median(map(float, p)), min(map(float, p)))))' \
  "${J2_RUNS[*]}" "${P2_RUNS[*]}")
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

{
  echo "# tidemark restore benchmark ($LABEL) $(date -u +%FT%TZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  cat <<EOF
dataset                      $DB
custom dump size             $DUMP_SIZE bytes ($(python3 -c "print(f'{$DUMP_SIZE/1e9:.2f}')") GB), stored $STORED bytes (zstd -3 + age)
load average before / after  $LOAD_BEFORE / $LOAD
pg_restore -j1 (local file)  ${T_BASE1} s   machine CPU ${C_BASE1} s   (fresh database)
pg_restore -j2 (local file)  ${J2_RUNS[*]} s (first: machine CPU ${C_BASE2} s; fresh database; median ${J2_MED} s, best ${J2_BEST} s)
runner parallelism 1         ${T_P[1]} s   machine CPU ${C_P[1]} s (runner ${R_P[1]} s)   peak RSS ${RSS_P[1]} MiB   temp disk ${SPOOL_P[1]} bytes   (one transaction behind the checksum gate)
runner parallelism 2         ${P2_RUNS[*]} s (median ${P2_MED} s, best ${P2_BEST} s)   first: machine CPU ${C_P[2]} s (runner ${R_P[2]} s)   peak RSS ${RSS_P[2]} MiB   temp disk ${SPOOL_P[2]} bytes   (loads while downloading into a side database, swap)
runner parallelism 4         ${T_P[4]} s   machine CPU ${C_P[4]} s (runner ${R_P[4]} s)   peak RSS ${RSS_P[4]} MiB   temp disk ${SPOOL_P[4]} bytes
RATIO pg_restore -j1 / runner p1   $(ratio "$T_BASE1" "${T_P[1]}")   (single stream, target >= 0.9)
RATIO pg_restore -j2 / runner p2   $(ratio "$J2_MED" "$P2_MED")   (medians; issue #18 goal >= 1.0)
RATIO best -j2 / best runner p2    $(ratio "$J2_BEST" "$P2_BEST")
RATIO pg_restore -j2 / runner p4   $(ratio "$J2_MED" "${T_P[4]}")   (median -j2)
RATIO pg_restore -j1 / runner p2   $(ratio "$T_BASE1" "$P2_MED")
EOF
} | tee "$RESULTS"
