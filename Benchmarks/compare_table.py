#!/usr/bin/env python3
"""The markdown table of compare.sh: Durable and the peers on the same workloads.

Usage: compare_table.py OUT_DIR   (OUT_DIR/durable/*.json, OUT_DIR/peers/*.json)

Columns: Durable with synchronous=FULL and NORMAL, then huey, DBOS, litequeue
(NORMAL, its default) and litequeue with synchronous=FULL. Ratios compare like with
like: Durable FULL against the peers that fsync every commit (huey, DBOS, litequeue
FULL), Durable NORMAL against litequeue NORMAL. Throughput ratios are Durable / peer,
latency ratios peer p50 / Durable p50: above 1 means Durable is better.
"""

import json
import os
import sys


def load(path):
    try:
        with open(path) as f:
            lines = [l for l in f.read().splitlines() if l.strip().startswith("{")]
        return json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None


OUT = sys.argv[1] if len(sys.argv) > 1 else "/tmp/durable-compare"
SIZES = load(os.path.join(OUT, "sizes.json")) or {"e2e_sizes": "2000 10000", "enqueue_n": 10000,
                                                   "latency_n": 200, "crash_n": 1000, "quick": 0}
E2E = [s for s in SIZES["e2e_sizes"].split()]


def durable(name):
    return load(os.path.join(OUT, "durable", name + ".json"))


try:
    with open(os.path.join(OUT, "peers", "not_installed")) as f:
        NOT_INSTALLED = set(f.read().split())
except OSError:
    NOT_INSTALLED = set()

PEERS = ["huey", "dbos", "litequeue", "litequeue_syncfull"]
PEER = {}
for p in PEERS:
    PEER[p] = load(os.path.join(OUT, "peers", p + ".json"))


def missing_peer(p):
    if p.split("_")[0] in NOT_INSTALLED:
        return "not installed"
    return "no result"


def rate(d):
    """(cell text, number or None) for a throughput result."""
    if d is None:
        return "no result", None
    if "skipped" in d:
        return "skipped (%s)" % d["skipped"], None
    if "error" in d:
        return "error (%s)" % d["error"], None
    r = d.get("tasks_per_s")
    if r is None:
        return "incomplete", None
    ok = d.get("results_verified", True)
    return ("{:,.0f}".format(r) + ("" if ok else " UNVERIFIED")), r


def lat(d):
    if d is None:
        return "no result", None
    if "p50_ms" not in d:
        return d.get("error") or d.get("skipped") or "-", None
    return "%.2f / %.2f (n=%d)" % (d["p50_ms"], d["p99_ms"], d["n"]), d["p50_ms"]


def crash(d):
    if not d or "tasks" not in d:
        return (d or {}).get("error") or (d or {}).get("skipped") or "no result"
    t = d.get("restart_to_all_results_s") or d.get("restart_to_last_result_s")
    parts = ["%d/%d results" % (d["results_stored_final"], d["tasks"])]
    parts.append("**%d lost**" % d["results_missing"] if d["results_missing"] else "0 lost")
    parts.append("%d re-executed" % d["tasks_executed_more_than_once"])
    parts.append("%d done before kill" % d["results_stored_before_kill"])
    parts.append("restart→finish %.2f s" % t if t is not None else "restart timed out")
    return ", ".join(parts)


def peer_part(p, *keys):
    d = PEER.get(p)
    if d is None:
        return None
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def ratio(a, b, invert=False):
    if a is None or b is None or a == 0 or b == 0:
        return "-"
    r = (b / a) if invert else (a / b)
    return ("%.0f×" % r) if r >= 10 else ("%.1f×" % r)


rows = []


def row(label, dfull, dnormal, peers, invert=False):
    """peers: dict peer -> (text, number) or None (not measured for this peer)."""
    cells = [label, dfull[0], dnormal[0]]
    for p in PEERS:
        if PEER.get(p) is None:
            cells.append(missing_peer(p))
        elif peers.get(p) is None:
            cells.append("n/a")
        else:
            cells.append(peers[p][0])
    num = lambda p: (peers.get(p) or (None, None))[1]
    cells += [ratio(dfull[1], num("huey"), invert), ratio(dfull[1], num("dbos"), invert),
              ratio(dfull[1], num("litequeue_syncfull"), invert),
              ratio(dnormal[1], num("litequeue"), invert)]
    rows.append(cells)


for n in E2E:
    row("e2e N=%s, tasks/s — created one at a time while the worker runs (peers' method)" % n,
        rate(durable("e2e_one_by_one_%s_FULL" % n)), rate(durable("e2e_one_by_one_%s_NORMAL" % n)),
        {p: rate(peer_part(p, "e2e", n)) for p in PEERS})
for n in E2E:
    row("e2e N=%s, tasks/s — created in one batch (Durable's `createTasks`, 1024 slots; huey: its e2e above)" % n,
        rate(durable("e2e_batched_%s_FULL" % n)), rate(durable("e2e_batched_%s_NORMAL" % n)),
        {"huey": rate(peer_part("huey", "e2e", n))})
n = SIZES["enqueue_n"]
row("enqueue only N=%s, tasks/s — one at a time" % n,
    rate(durable("enqueue_single_FULL")), rate(durable("enqueue_single_NORMAL")),
    {p: rate(peer_part(p, "enqueue_only")) for p in PEERS})
row("enqueue only N=%s, tasks/s — one batch" % n,
    rate(durable("enqueue_batched_FULL")), rate(durable("enqueue_batched_NORMAL")), {})
row("submit→result p50 / p99 ms, worker in another process (peers: tuned polling)",
    lat(durable("latency_two_processes_FULL")), lat(durable("latency_two_processes_NORMAL")),
    {"huey": lat(peer_part("huey", "latency", "tuned")),
     "litequeue": lat(peer_part("litequeue", "latency", "emulated")),
     "litequeue_syncfull": lat(peer_part("litequeue_syncfull", "latency", "emulated"))}, invert=True)
row("submit→result p50 / p99 ms, worker in the same process (peers: tuned polling)",
    lat(durable("latency_one_process_FULL")), lat(durable("latency_one_process_NORMAL")),
    {"dbos": lat(peer_part("dbos", "latency", "tuned"))}, invert=True)
row("submit→result p50 / p99 ms, peers' out-of-box polling (Durable: its defaults; huey: 2 processes, DBOS: 1)",
    lat(durable("latency_two_processes_FULL")), lat(durable("latency_two_processes_NORMAL")),
    {"huey": lat(peer_part("huey", "latency", "default"))}, invert=True)
# DBOS's out-of-box latency is in-process: compare it with Durable's one-process numbers.
dbos_default = lat(peer_part("dbos", "latency", "default"))
rows[-1][4] = dbos_default[0] if PEER.get("dbos") else missing_peer("dbos")
rows[-1][8] = ratio(lat(durable("latency_one_process_FULL"))[1], dbos_default[1], invert=True)

crash_cells = ["crash: %s tasks × 10 ms, kill -9 ~1 s into execution, restart (Durable: 4 slots, like the peers' 4 threads)"
               % SIZES["crash_n"], crash(durable("crash_FULL")), crash(durable("crash_NORMAL"))]
for p in PEERS:
    crash_cells.append(crash(peer_part(p, "crash")) if PEER.get(p) else missing_peer(p))
crash_cells += ["", "", "", ""]
rows.append(crash_cells)


def version(p):
    d = PEER.get(p)
    return (" " + d["version"]) if d and "version" in d else ""


header = ["workload", "Durable FULL", "Durable NORMAL", "huey%s (FULL)" % version("huey"),
          "DBOS%s (FULL, rollback journal)" % version("dbos"), "litequeue%s (NORMAL)" % version("litequeue"),
          "litequeue%s (FULL)" % version("litequeue_syncfull"),
          "Durable FULL ÷ huey", "Durable FULL ÷ DBOS", "Durable FULL ÷ litequeue FULL",
          "Durable NORMAL ÷ litequeue NORMAL"]
print("| " + " | ".join(header) + " |")
print("|" + "---|" * len(header))
for r in rows:
    print("| " + " | ".join(str(c) for c in r) + " |")
print()
print("Sizes: %s. Ratios: throughput Durable ÷ peer; latency peer p50 ÷ Durable p50 (above 1: Durable is better). "
      "n/a: the peer has no such mode." % ("--quick" if SIZES.get("quick") else "the peers' full sizes"))
