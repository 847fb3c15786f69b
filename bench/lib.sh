# Shared by the benchmark scripts (sourced after scripts/setup.sh, with BENCH, PG_DIR,
# PG_BIN, WEED_DIR and the PIDS array set): helpers, the throwaway PostgreSQL with its
# cached datasets, and a fresh SeaweedFS with a bucket `bench`.
# shellcheck shell=bash

log() { printf '\033[1;35m[bench]\033[0m %s\n' "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_q() { "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
# Busy CPU seconds of the whole machine so far (user, nice, system, irq, softirq, steal):
# the difference over a run is what it cost every process together (server included).
busy() { awk -v hz="$(getconf CLK_TCK)" '/^cpu /{printf "%.2f\n", ($2+$3+$4+$7+$8+$9)/hz}' /proc/stat; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

build_runner() {
  log "building the runner (release)"
  cargo build --release -q -p tidemark-runner --manifest-path "$ROOT/Cargo.toml"
}

# Starts the cluster under $PG_DIR (initdb on first use); exports PGHOST/PGPORT/….
start_postgres() {
  PG_PORT=$(free_port)
  if [[ ! -f "$PG_DIR/data/PG_VERSION" ]]; then
    log "initdb $PG_DIR"
    mkdir -p "$PG_DIR"
    [[ $(id -u) -eq 0 ]] && chown postgres "$PG_DIR"
    as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
  fi
  as_pg "$PG_BIN/postgres" -D "$PG_DIR/data" -p "$PG_PORT" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories="$PG_DIR" -c fsync=off -c synchronous_commit=off \
    -c full_page_writes=off -c shared_buffers=256MB -c max_wal_size=8GB \
    -c checkpoint_timeout=30min >"$BENCH/postgres.log" 2>&1 &
  PIDS+=($!)
  until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; do sleep 0.2; done
  export PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=postgres PGSSLMODE=disable
}

# Generates dataset <name> (pgbench <scale> + <orders> orders rows) unless it is cached.
make_db() { # name scale orders
  local db=$1 scale=$2 orders=$3
  if [[ "$(psql_q -d postgres -c "SELECT 1 FROM pg_database WHERE datname='$db'")" == 1 ]] &&
     [[ "$(psql_q -d "$db" -c "SELECT obj_description('public.orders'::regclass)" 2>/dev/null)" == complete ]]; then
    log "dataset $db exists"
    return
  fi
  log "generating dataset $db (pgbench scale $scale, $orders orders)"
  psql_q -d postgres -c "DROP DATABASE IF EXISTS \"$db\"" -c "CREATE DATABASE \"$db\""
  "$PG_BIN/pgbench" -q -i -s "$scale" -d "$db" >/dev/null 2>&1
  psql_q -d "$db" <<SQL
CREATE TABLE public.orders (id bigint PRIMARY KEY, customer text, placed timestamptz,
  status text, address text, items jsonb, notes text);
INSERT INTO public.orders
SELECT g, 'customer-' || (g % 50000), '2026-01-01'::timestamptz + g * interval '7 seconds',
       (ARRAY['new','paid','shipped','delivered','returned'])[1 + g % 5],
       (g % 997) || ' Harbour Street, Flat ' || (g % 31) || ', Tidemark ' || lpad((g % 9973)::text, 5, '0'),
       jsonb_build_object('lines', jsonb_build_array(
           jsonb_build_object('sku', 'SKU-' || (g % 5000), 'qty', 1 + g % 4, 'price', (g % 10000) / 100.0),
           jsonb_build_object('sku', 'SKU-' || ((g * 7) % 5000), 'qty', 1 + g % 3, 'price', (g % 7000) / 100.0)),
         'channel', (ARRAY['web','app','phone'])[1 + g % 3], 'coupon', CASE WHEN g % 11 = 0 THEN 'SAVE10' END),
       'Customer note ' || md5(g::text) || ' ' || repeat('please leave at the door ', 1 + g % 3)
         || substr(md5((g * 7)::text) || md5((g * 13)::text) || md5((g * 17)::text), 1, 16 + g % 80)
FROM generate_series(1, $orders) g;
COMMENT ON TABLE public.orders IS 'complete';
VACUUM ANALYZE;
SQL
}

# Starts a fresh SeaweedFS under $WEED_DIR with bucket `bench`; sets ENDPOINT and the
# AWS_* variables.
start_seaweedfs() {
  rm -rf "$WEED_DIR"; mkdir -p "$WEED_DIR/log"
  S3_PORT=$(free_port)
  AK=benchkey; SK="bench-secret-$RANDOM$RANDOM"
  cat >"$WEED_DIR/creds.json" <<JSON
{"identities":[{"name":"bench","credentials":[{"accessKey":"$AK","secretKey":"$SK"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
  ports=(); for _ in $(seq 11); do ports+=("$(free_port)"); done
  weed -logdir="$WEED_DIR/log" mini -dir="$WEED_DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="${ports[0]}" -master.port.grpc="${ports[1]}" -volume.port="${ports[2]}" \
    -volume.port.grpc="${ports[3]}" -filer.port="${ports[4]}" -filer.port.grpc="${ports[5]}" \
    -s3.port="$S3_PORT" -s3.port.grpc="${ports[6]}" -s3.port.iceberg="${ports[7]}" \
    -s3.port.lance="${ports[8]}" -admin.port="${ports[9]}" -admin.port.grpc="${ports[10]}" \
    -s3.config="$WEED_DIR/creds.json" -s3.localSocket="$WEED_DIR/s3.sock" \
    -filer.localSocket="$WEED_DIR/filer.sock" -s3.autoCreateBucket=false \
    -master.telemetry=false -webdav=false -admin.ui=false >"$WEED_DIR/weed.log" 2>&1 &
  PIDS+=($!)
  until curl -sf "http://127.0.0.1:$S3_PORT/healthz" >/dev/null; do sleep 0.2; done
  export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
  ENDPOINT="http://127.0.0.1:$S3_PORT"
  "$TIDEMARK_VENV/bin/python" - "$ENDPOINT" <<'PY'
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1]).create_bucket(Bucket="bench")
PY
}
