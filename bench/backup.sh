#!/usr/bin/env bash
# Backup benchmark: the runner against the best durability-free shell pipeline and
# against the seed's hand-run pipeline, on a generated database, printing ratios.
#
#   bench/backup.sh            # ≥ 2 GB plain dump, then 5× that for the memory check
#   bench/backup.sh --quick    # ~10× smaller (a few minutes), 5× of that
#   bench/backup.sh --no-5x    # skip the 5× dataset
#
# Sets itself up (scripts/setup.sh, release build, throwaway PostgreSQL and SeaweedFS
# under .tidemark/bench, datasets cached between runs). Results: stdout and
# .tidemark/bench/results-<size>.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../scripts/setup.sh
source "$ROOT/scripts/setup.sh"

QUICK=0
FIVE_X=1
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    --no-5x) FIVE_X=0 ;;
    *) echo "usage: $0 [--quick] [--no-5x]" >&2; exit 2 ;;
  esac
done

# Dataset sizes: pgbench scale and orders rows (text/jsonb heavy, ~1 KB of dump each).
if ((QUICK)); then
  BASE_SCALE=10; BASE_ORDERS=250000; LABEL=quick
else
  BASE_SCALE=100; BASE_ORDERS=2500000; LABEL=full
fi

BENCH="$TIDEMARK_STATE/bench"
PG_DIR="$BENCH/pg"
WEED_DIR="$BENCH/weed"
mkdir -p "$BENCH"
PG_BIN="$TIDEMARK_PG_BIN"
RUNNER="$ROOT/target/release/tidemark-runner"
RESULTS="$BENCH/results-$LABEL.txt"
PIDS=()
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"

cleanup() {
  [[ -f "$PG_DIR/data/postmaster.pid" ]] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" stop -m fast >/dev/null 2>&1 || true
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

build_runner

start_postgres

start_seaweedfs

RECIPIENT=$(age-keygen 2>/dev/null | grep -o 'age1[0-9a-z]*')

run_runner() { # db → prints "wall_seconds peak_rss_kib stored raw"
  local db=$1 out
  out=$(/usr/bin/time -f '%e %M' -o "$BENCH/time.txt" env PGDATABASE="$db" \
    TIDEMARK_S3_BUCKET=bench TIDEMARK_S3_ENDPOINT="$ENDPOINT" TIDEMARK_S3_FORCE_PATH_STYLE=true \
    TIDEMARK_POLICY_NAMESPACE=bench TIDEMARK_POLICY_NAME="$db" TIDEMARK_AGE_RECIPIENTS="$RECIPIENT" \
    TIDEMARK_TERMINATION_LOG="$BENCH/termination-log" RUST_LOG=warn \
    "$RUNNER" backup | tail -1)
  read -r wall rss <"$BENCH/time.txt"
  python3 - "$out" "$wall" "$rss" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); b = r["backup"]
print(sys.argv[2], sys.argv[3], b["storedSize"], b["rawSize"], b["durationMs"] / 1000)
PY
}

measure() { # db → results lines
  local db=$1
  log "[$db] plain dump size and pg_dump alone"
  local t0 t1 raw_plain
  t0=$(now); raw_plain=$("$PG_BIN/pg_dump" -Fp -d "$db" | wc -c); t1=$(now)
  local t_dump; t_dump=$(python3 -c "print(f'{$t1-$t0:.2f}')")

  log "[$db] baseline: pg_dump -Fc -Z0 | zstd -3 -T2 > /dev/null"
  t0=$(now); "$PG_BIN/pg_dump" -Fc -Z0 -d "$db" | zstd -q -3 -T2 >/dev/null; t1=$(now)
  local t_base; t_base=$(python3 -c "print(f'{$t1-$t0:.2f}')")

  log "[$db] runner: zstd -3, SHA-256, age, multipart upload to SeaweedFS"
  local wall rss stored raw stream
  read -r wall rss stored raw stream < <(run_runner "$db")

  log "[$db] seed pipeline: pg_dump -Fp > file; gzip -9 file; upload file"
  local seed_file="$BENCH/seed-$db.sql"
  rm -f "$seed_file" "$seed_file.gz"
  t0=$(now)
  "$PG_BIN/pg_dump" -Fp -d "$db" >"$seed_file"
  gzip -9 "$seed_file"
  "$TIDEMARK_VENV/bin/python" - "$ENDPOINT" "$seed_file.gz" <<'PY'
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1]).upload_file(sys.argv[2], "bench", "seed/" + sys.argv[2].rsplit("/", 1)[1])
PY
  t1=$(now)
  local t_seed gz_size
  t_seed=$(python3 -c "print(f'{$t1-$t0:.2f}')")
  gz_size=$(stat -c %s "$seed_file.gz"); rm -f "$seed_file.gz"

  cat <<EOF
dataset                      $db
plain dump size              $raw_plain bytes ($(python3 -c "print(f'{$raw_plain/1e9:.2f}')") GB)
custom (-Z0) dump size       $raw bytes
pg_dump -Fp alone            ${t_dump} s
baseline pipeline            ${t_base} s   (pg_dump -Fc -Z0 | zstd -3 -T2 > /dev/null)
runner                       ${wall} s   (zstd -3, SHA-256, age, upload; process wall time)
runner stream phase          ${stream} s   (pg_dump start to upload complete; report durationMs)
seed pipeline                ${t_seed} s   (pg_dump -Fp > file; gzip -9; upload)
runner peak RSS              $((rss / 1024)) MiB
RATIO runner/baseline throughput   $(ratio "$t_base" "$wall")   (target >= 0.9; whole run incl. row counts, SHA-256 tag, manifest)
RATIO   stream phase only             $(ratio "$t_base" "$stream")
RATIO seed/runner wall time        $(ratio "$t_seed" "$wall")   (target >= 5)
RATIO zstd stored/raw (custom)     $(ratio "$stored" "$raw")   (raw:stored $(ratio "$raw" "$stored"):1)
RATIO gzip -9 size/plain dump      $(ratio "$gz_size" "$raw_plain")   ($(ratio "$raw_plain" "$gz_size"):1)
EOF
}

{
  echo "# tidemark backup benchmark ($LABEL) $(date -u +%FT%TZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  DB1="bench_s${BASE_SCALE}_o${BASE_ORDERS}"
  make_db "$DB1" "$BASE_SCALE" "$BASE_ORDERS"
  measure "$DB1"
  if ((FIVE_X)); then
    DB5="bench_s$((BASE_SCALE * 5))_o$((BASE_ORDERS * 5))"
    make_db "$DB5" $((BASE_SCALE * 5)) $((BASE_ORDERS * 5))
    log "[5x] runner only (peak RSS)"
    read -r wall rss stored raw stream < <(run_runner "$DB5")
    echo "dataset                      $DB5 (5x)"
    echo "custom (-Z0) dump size       $raw bytes"
    echo "runner                       ${wall} s"
    echo "runner peak RSS              $((rss / 1024)) MiB   (target <= 64 at both sizes)"
  fi
} | tee "$RESULTS"
