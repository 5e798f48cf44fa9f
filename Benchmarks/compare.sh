#!/usr/bin/env bash
# Durable side by side with the peers (huey, DBOS, litequeue on SQLite) on the peers'
# workloads, in one go, ending with one markdown table with ratios.
#
#   ./compare.sh            # full sizes (peers' defaults): about 8-10 minutes on 2 cores
#   ./compare.sh --quick    # small sizes: about 3 minutes
#   ./compare.sh --skip-peers | --skip-durable   # re-use the other side's last results
#
# The peers' scripts are run where they are (never copied): $DURABLE_PEERS_DIR,
# default ../../shared/peers from this folder. They are installed with pip into a
# throwaway virtual environment, $PEERS_VENV (default /tmp/durable-peers-venv),
# created when missing (--fresh-venv: created anew). A peer that cannot be
# installed shows as "not installed" in the table. Results (one JSON line per peer
# and per Durable workload) and the databases go to $COMPARE_OUT (default
# /tmp/durable-compare); the table is also written to $COMPARE_OUT/table.md.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PEERS_DIR=${DURABLE_PEERS_DIR:-$HERE/../../shared/peers}
VENV=${PEERS_VENV:-/tmp/durable-peers-venv}
OUT=${COMPARE_OUT:-/tmp/durable-compare}
QUICK=0 FRESH_VENV=0 RUN_PEERS=1 RUN_DURABLE=1
for arg in "$@"; do
  case $arg in
    --quick) QUICK=1 ;;
    --fresh-venv) FRESH_VENV=1 ;;
    --skip-peers) RUN_PEERS=0 ;;
    --skip-durable) RUN_DURABLE=0 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
say() { echo "[compare $(date +%H:%M:%S)] $*" >&2; }

mkdir -p "$OUT/peers" "$OUT/durable"
export PEERS_DB_DIR=$OUT/peers-db DURABLE_BENCH_DIR=$OUT/durable-db PYTHONDONTWRITEBYTECODE=1
mkdir -p "$PEERS_DB_DIR" "$DURABLE_BENCH_DIR"

# Sizes as in the peers' scripts (_common.py), or their --quick sizes.
if [ $QUICK = 1 ]; then
  E2E_SIZES="200 1000" ENQ_N=1000 LAT_N=20 CRASH_N=200 PEER_FLAG=--quick
  BUDGET_HUEY=60 BUDGET_DBOS=120 BUDGET_LQ=30
else
  E2E_SIZES="2000 10000" ENQ_N=10000 LAT_N=200 CRASH_N=1000 PEER_FLAG=
  BUDGET_HUEY=130 BUDGET_DBOS=270 BUDGET_LQ=40
fi
echo "{\"quick\": $QUICK, \"e2e_sizes\": \"$E2E_SIZES\", \"enqueue_n\": $ENQ_N, \"latency_n\": $LAT_N, \"crash_n\": $CRASH_N}" \
  > "$OUT/sizes.json"

# --- Durable -------------------------------------------------------------------
if [ $RUN_DURABLE = 1 ]; then
  say "building DurableBench and DurableTestWorker (release)"
  (cd "$HERE" && swift build -c release --product DurableTestWorker >&2 && swift build -c release --product DurableBench >&2) \
    || { echo "compare.sh: build failed" >&2; exit 1; }
  BIN=$(cd "$HERE" && swift build -c release --show-bin-path)
  rm -f "$OUT"/durable/*.json
  # durable NAME ARGS...: one workload, one JSON line in $OUT/durable/NAME.json
  durable() {
    local name=$1; shift
    say "durable $name: DurableBench $*"
    timeout --signal=KILL 600 "$BIN/DurableBench" "$@" > "$OUT/durable/$name.json" 2> "$OUT/durable/$name.log" \
      || say "  failed (rc=$?), see $OUT/durable/$name.log"
  }
  for sync in FULL NORMAL; do
    for n in $E2E_SIZES; do
      durable "e2e_one_by_one_${n}_$sync" e2e-one-by-one --n "$n" --sync $sync
      durable "e2e_batched_${n}_$sync" e2e --n "$n" --sync $sync --concurrency 1024
    done
    durable "enqueue_single_$sync" enqueue --n "$ENQ_N" --sync $sync
    durable "enqueue_batched_$sync" enqueue --n "$ENQ_N" --batch "$ENQ_N" --sync $sync
    durable "latency_one_process_$sync" latency --n "$LAT_N" --sync $sync
    durable "latency_two_processes_$sync" latency --n "$LAT_N" --sync $sync --cross-process
    durable "crash_$sync" crash --n "$CRASH_N" --concurrency 4 --sync $sync
  done
fi

# --- Peers ---------------------------------------------------------------------
if [ $RUN_PEERS = 1 ]; then
  if [ ! -d "$PEERS_DIR" ]; then
    say "no peer scripts at $PEERS_DIR (set DURABLE_PEERS_DIR): peers skipped"
  else
    PEERS_DIR=$(cd "$PEERS_DIR" && pwd)
    if [ $FRESH_VENV = 1 ]; then rm -rf "$VENV"; fi
    if [ ! -x "$VENV/bin/python" ]; then
      say "creating the virtual environment $VENV"
      python3 -m venv "$VENV" || { echo "compare.sh: python3 -m venv failed" >&2; exit 1; }
    fi
    rm -f "$OUT"/peers/*.json "$OUT/peers/not_installed"
    # pip resolves from the configured index (PIP_FIND_LINKS may supply wheels offline).
    for spec in 'huey==3.5.*' 'dbos==3.4.*' 'litequeue==0.9'; do
      name=${spec%%=*}
      if ! "$VENV/bin/python" -c "import $name" 2>/dev/null; then
        say "pip install $spec"
        "$VENV/bin/pip" install -q "$spec" >&2 || { say "  $name could not be installed"; echo "$name" >> "$OUT/peers/not_installed"; }
      fi
    done
    "$VENV/bin/pip" freeze 2>/dev/null | grep -iE '^(huey|dbos|litequeue|sqlalchemy)==' > "$OUT/peers/versions.txt"
    # peer NAME BUDGET SCRIPT ARGS...: the script stops itself at BUDGET s; timeout is a backstop.
    peer() {
      local name=$1 budget=$2; shift 2
      local module=${name%%_*}
      if grep -qx "$module" "$OUT/peers/not_installed" 2>/dev/null; then return; fi
      say "peer $name ($*, budget ${budget}s)"
      (cd "$PEERS_DIR" && timeout --signal=KILL $((budget + 10)) "$VENV/bin/python" "$@" \
        > "$OUT/peers/$name.json" 2> "$OUT/peers/$name.log") || say "  $name failed (rc=$?), see $OUT/peers/$name.log"
    }
    peer huey "$BUDGET_HUEY" huey_bench.py $PEER_FLAG --budget "$BUDGET_HUEY"
    peer dbos "$BUDGET_DBOS" dbos_bench.py $PEER_FLAG --budget "$BUDGET_DBOS"
    peer litequeue "$BUDGET_LQ" litequeue_bench.py $PEER_FLAG --budget "$BUDGET_LQ"
    peer litequeue_syncfull "$BUDGET_LQ" litequeue_bench.py $PEER_FLAG --budget "$BUDGET_LQ" --sync FULL
  fi
fi

# --- The table -----------------------------------------------------------------
python3 "$HERE/compare_table.py" "$OUT" | tee "$OUT/table.md"
