#!/usr/bin/env bash
# Durable on PostgreSQL side by side with the PostgreSQL-backed peers (pgqueuer,
# procrastinate, DBOS) and the raw pgbench claim/complete limit, on one throwaway
# local server, in one run, ending with one markdown table with ratios.
#
#   ./compare-postgres.sh            # full sizes: about 15 minutes on 2 cores
#   ./compare-postgres.sh --quick    # small sizes: about 6 minutes
#   ./compare-postgres.sh --skip-peers | --skip-durable   # re-use the other side's last results
#
# The server is a cluster of its own (../scripts/postgres: initdb's settings but
# max_connections=200; fsync and synchronous_commit on), started here and stopped
# on exit. The peers' scripts are run where they are (never copied):
# $DURABLE_PG_PEERS_DIR, default ../../shared/pg-peers from this folder; they are
# installed with pip into $PG_PEERS_VENV (default /tmp/durable-pg-peers-venv),
# created when missing. Results (one JSON line per measurement) go to
# $COMPARE_OUT (default /tmp/durable-compare-postgres); the table is also written
# to $COMPARE_OUT/table.md.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PEERS_DIR=${DURABLE_PG_PEERS_DIR:-$HERE/../../shared/pg-peers}
VENV=${PG_PEERS_VENV:-/tmp/durable-pg-peers-venv}
OUT=${COMPARE_OUT:-/tmp/durable-compare-postgres}
QUICK=0 RUN_PEERS=1 RUN_DURABLE=1
for arg in "$@"; do
  case $arg in
    --quick) QUICK=1 ;;
    --skip-peers) RUN_PEERS=0 ;;
    --skip-durable) RUN_DURABLE=0 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "compare-postgres.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
say() { echo "[compare-postgres $(date +%H:%M:%S)] $*" >&2; }

if [ $QUICK = 1 ]; then
  N=20000 PEER_N=2000 SINGLE_N=500 LAT_N=100 MULTI_N=20000 RESTART_N=100000 PGBENCH_S=10
else
  N=100000 PEER_N=10000 SINGLE_N=2000 LAT_N=300 MULTI_N=100000 RESTART_N=1000000 PGBENCH_S=20
fi
mkdir -p "$OUT/peers" "$OUT/durable" "$OUT/tmp"

# --- The server ----------------------------------------------------------------
CLUSTER=$(mktemp -d /tmp/durable-compare-pg.XXXXXX)
stop_server() { "$HERE/../scripts/postgres" stop "$CLUSTER" >/dev/null 2>&1 || true; }
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
server_env=$(DURABLE_POSTGRES_MAX_CONNECTIONS=200 "$HERE/../scripts/postgres" start "$CLUSTER") \
  || { echo "compare-postgres.sh: the server did not start" >&2; exit 1; }
eval "$server_env"
export PGHOST=127.0.0.1 PGPORT=$DURABLE_POSTGRES_PORT PGUSER=postgres PGDATA_DIR=$CLUSTER
say "server on $PGHOST:$PGPORT (cluster $CLUSTER)"
psql -Atq -d durable -c "SELECT json_build_object('server_version', current_setting('server_version'),
  'fsync', current_setting('fsync'), 'synchronous_commit', current_setting('synchronous_commit'),
  'wal_sync_method', current_setting('wal_sync_method'), 'shared_buffers', current_setting('shared_buffers'),
  'max_connections', current_setting('max_connections'))" > "$OUT/server.json"
fsync_probe() {  # one line: the disk's fdatasync time now
  local bin out
  bin=$(dirname "$(printf '%s\n' /usr/lib/postgresql/*/bin/pg_test_fsync | sort -V | tail -n 1)")
  out=$("$bin/pg_test_fsync" -s 2 -f "$CLUSTER/.fsync_probe" 2>&1); rm -f "$CLUSTER/.fsync_probe"
  echo "$out" | awk -v at="$1" '/Compare file sync methods using one 8kB write/{f=1}
    f && $1=="fdatasync"{printf "{\"measure\":\"fsync_%s\",\"ops_per_s\":%s,\"usecs_per_op\":%s}\n", at, $2, $4; exit}'
}
fsync_probe start > "$OUT/fsync_start.json"
echo "{\"quick\": $QUICK, \"n\": $N, \"peer_n\": $PEER_N, \"latency_n\": $LAT_N, \"multi_n\": $MULTI_N}" > "$OUT/sizes.json"

# --- Durable -------------------------------------------------------------------
if [ $RUN_DURABLE = 1 ]; then
  say "building DurableBench and DurableTestWorker (release)"
  (cd "$HERE" && swift build -c release --product DurableTestWorker >&2 && swift build -c release --product DurableBench >&2) \
    || { echo "compare-postgres.sh: build failed" >&2; exit 1; }
  BIN=$(cd "$HERE" && swift build -c release --show-bin-path)
  rm -f "$OUT"/durable/*.json
  URL="$DURABLE_POSTGRES_URL?sslmode=disable"
  durable() {  # durable NAME ARGS...: one workload, one JSON line in $OUT/durable/NAME.json
    local name=$1; shift
    say "durable $name: DurableBench $*"
    DURABLE_BENCH_DIR=$OUT/tmp timeout --signal=KILL 900 "$BIN/DurableBench" "$@" --postgres "$URL" \
      > "$OUT/durable/$name.json" 2> "$OUT/durable/$name.log" || say "  failed (rc=$?), see $OUT/durable/$name.log"
  }
  durable e2e_batched e2e --n "$N"
  durable e2e_batched_64 e2e --n "$N" --concurrency 64
  durable e2e_one_by_one e2e-one-by-one --n "$PEER_N"
  durable enqueue_batched enqueue --n "$N" --batch 1000
  durable enqueue_single enqueue --n "$SINGLE_N"
  durable latency_one_process latency --n "$LAT_N"
  durable latency_two_processes latency --n "$LAT_N" --cross-process
  durable crash crash --n 1000 --concurrency 10
  for workers in 1 4 8; do durable "multi_$workers" multi --workers $workers --n "$MULTI_N"; done
  durable restart_first restart --n "$RESTART_N" --first-only
fi

# --- Peers ---------------------------------------------------------------------
if [ $RUN_PEERS = 1 ]; then
  if [ ! -d "$PEERS_DIR" ]; then
    say "no peer scripts at $PEERS_DIR (set DURABLE_PG_PEERS_DIR): peers skipped"
  else
    PEERS_DIR=$(cd "$PEERS_DIR" && pwd)
    if [ ! -x "$VENV/bin/python" ]; then
      say "creating the virtual environment $VENV"
      python3 -m venv "$VENV" || { echo "compare-postgres.sh: python3 -m venv failed" >&2; exit 1; }
    fi
    "$VENV/bin/python" -c "import pgqueuer, procrastinate, dbos" 2>/dev/null || {
      say "pip install the peers (pinned as in $PEERS_DIR/setup.sh)"
      "$VENV/bin/pip" install -q "pgqueuer==1.6.0" "procrastinate==3.10.0" "dbos==3.4.0" "asyncpg==0.32.0" \
        "psycopg[binary]==3.3.9" >&2 || say "  pip install failed: the peers will fail"
    }
    "$VENV/bin/pip" freeze 2>/dev/null | grep -iE '^(pgqueuer|procrastinate|dbos|asyncpg|psycopg)==' > "$OUT/peers/versions.txt"
    rm -f "$OUT"/peers/*.json
    export PGPEERS_TMP=$OUT/tmp PYTHONDONTWRITEBYTECODE=1
    peer() {  # peer NAME TIMEOUT SCRIPT ARGS...: the last line of its output in $OUT/peers/NAME.json
      local name=$1 limit=$2; shift 2
      say "peer $name: $*"
      (cd "$PEERS_DIR" && timeout --signal=KILL "$limit" "$VENV/bin/python" "$@" 2> "$OUT/peers/$name.log" | tail -n 1 \
        > "$OUT/peers/$name.json") || say "  $name failed (rc=$?), see $OUT/peers/$name.log"
    }
    say "pgbench anchor (claim + complete, ${PGBENCH_S}s per mode)"
    (cd "$PEERS_DIR" && bash pgbench/run_pgbench.sh "$PGBENCH_S" 8 2 > "$OUT/peers/pgbench.jsonl" 2> "$OUT/peers/pgbench.log") \
      || say "  pgbench failed, see $OUT/peers/pgbench.log"
    peer pgq_e2e_batch_bs100 300 pgqueuer_bench.py phase e2e pgq_b "$PEER_N" batch 100
    peer pgq_e2e_single_bs100 300 pgqueuer_bench.py phase e2e pgq_b "$PEER_N" single 100
    peer pgq_enq_batch 120 pgqueuer_bench.py phase enqueue pgq_b "$PEER_N" batch
    peer pgq_enq_single 200 pgqueuer_bench.py phase enqueue pgq_b "$SINGLE_N" single
    peer pgq_lat_bs1 300 pgqueuer_bench.py phase latency pgq_b "$LAT_N" 1
    peer pgq_crash_bs10 300 pgqueuer_bench.py phase crash pgq_b 1000 10
    peer pgq_multi4_bs100 300 pgqueuer_bench.py phase multi pgq_b 20000 4 100
    peer proc_e2e_batch_c20 300 procrastinate_bench.py phase e2e pr_b "$PEER_N" batch 20
    peer proc_lat_c1 300 procrastinate_bench.py phase latency pr_b "$LAT_N" 1
    peer dbos_e2e_batch_tuned 400 dbos_bench.py phase e2e db_b "$PEER_N" batch 0.1 100
    peer dbos_lat_tuned 300 dbos_bench.py phase latency db_b "$LAT_N" 0.01 0.001
  fi
fi

fsync_probe end > "$OUT/fsync_end.json"
python3 "$HERE/compare_postgres_table.py" "$OUT" | tee "$OUT/table.md"
