#!/usr/bin/env python3
"""The markdown table of compare-postgres.sh: Durable on PostgreSQL beside pgqueuer,
procrastinate, DBOS and the raw pgbench claim/complete limit, measured on one server
in one run, with the ratios the targets are stated in (RESULTS.md).

usage: compare_postgres_table.py OUT_DIR
"""
import json
import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/durable-compare-postgres"


def load(path):
    try:
        with open(path) as f:
            lines = [line for line in f.read().splitlines() if line.startswith("{")]
        return json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None


def durable(name):
    return load(os.path.join(out, "durable", name + ".json"))


def peer(name):
    return load(os.path.join(out, "peers", name + ".json"))


def pgbench(measure):
    try:
        with open(os.path.join(out, "peers", "pgbench.jsonl")) as f:
            for line in f:
                o = json.loads(line)
                if o.get("measure") == measure:
                    return o
    except (OSError, ValueError):
        pass
    return None


def get(o, *keys):
    for key in keys:
        if o is None or not isinstance(o, dict):
            return None
        o = o.get(key)
    return o


def rate(value):
    return "–" if value is None else "{:,.0f}/s".format(value)


def ms(value):
    return "–" if value is None else "{:.2f} ms".format(value)


def ratio(a, b):
    return "–" if a is None or not b else "{:.1f}×".format(a / b)


rows = []
e2e = get(durable("e2e_batched"), "tasks_per_s")
pgq_e2e = get(peer("pgq_e2e_batch_bs100"), "tasks_per_s")
limit = get(pgbench("pgbench_claim_batch"), "rows_per_s")
rows.append(("e2e no-op, one worker process, batched creation (Durable 256 slots)", rate(e2e), rate(pgq_e2e),
             rate(get(peer("proc_e2e_batch_c20"), "tasks_per_s")), rate(get(peer("dbos_e2e_batch_tuned"), "tasks_per_s")),
             "%s ÷ pgqueuer, %s of pgbench (%s)" % (ratio(e2e, pgq_e2e), ratio(e2e, limit), rate(limit)), "≥ 3× and ≥ 0.5×"))
e2e64 = get(durable("e2e_batched_64"), "tasks_per_s")
rows.append(("the same, Durable's default 64 slots", rate(e2e64), rate(pgq_e2e), "", "",
             "%s ÷ pgqueuer, %s of pgbench" % (ratio(e2e64, pgq_e2e), ratio(e2e64, limit)), ""))
one = get(durable("e2e_one_by_one"), "tasks_per_s")
pgq_one = get(peer("pgq_e2e_single_bs100"), "tasks_per_s")
rows.append(("e2e, created one at a time", rate(one), rate(pgq_one), "", "", ratio(one, pgq_one) + " ÷ pgqueuer", ""))
enq = get(durable("enqueue_batched"), "tasks_per_s")
pgq_enq = get(peer("pgq_enq_batch"), "tasks_per_s")
rows.append(("enqueue only, batches of 1000", rate(enq), rate(pgq_enq), "", "", ratio(enq, pgq_enq) + " ÷ pgqueuer", ""))
enq1 = get(durable("enqueue_single"), "tasks_per_s")
pgq_enq1 = get(peer("pgq_enq_single"), "tasks_per_s")
rows.append(("enqueue only, one commit each", rate(enq1), rate(pgq_enq1), "", "", ratio(enq1, pgq_enq1) + " ÷ pgqueuer", ""))
for name, label, target in (("latency_one_process", "submit → result p50 / p99, worker in the same process", "p50 ≤ 2 ms"),
                            ("latency_two_processes", "submit → result p50 / p99, worker in another process", "p50 ≤ 3 ms")):
    d = durable(name)
    rows.append((label, "%s / %s" % (ms(get(d, "p50_ms")), ms(get(d, "p99_ms"))),
                 "%s / %s" % (ms(get(peer("pgq_lat_bs1"), "poll_log_row_1ms", "p50_ms")),
                              ms(get(peer("pgq_lat_bs1"), "poll_log_row_1ms", "p99_ms"))),
                 "%s / %s" % (ms(get(peer("proc_lat_c1"), "poll_job_row_1ms", "p50_ms")),
                              ms(get(peer("proc_lat_c1"), "poll_job_row_1ms", "p99_ms"))),
                 "%s / %s" % (ms(get(peer("dbos_lat_tuned"), "lat", "p50_ms")), ms(get(peer("dbos_lat_tuned"), "lat", "p99_ms"))),
                 "(the peers' workers run in another process)", target))
pgq_multi = get(peer("pgq_multi4_bs100"), "tasks_per_s_from_first_done")
single = get(durable("multi_1"), "tasks_per_s")
for workers in (1, 4, 8):
    value = get(durable("multi_%d" % workers), "tasks_per_s")
    runs = get(durable("multi_%d" % workers), "runs_per_worker")
    note = ratio(value, pgq_multi) + " ÷ pgqueuer 4 processes" if workers == 4 else ratio(value, single) + " of 1 process"
    rows.append(("%d worker process%s, one server (runs per process: %s)" % (workers, "" if workers == 1 else "es", runs),
                 rate(value), rate(pgq_multi) if workers == 4 else "", "", "", note,
                 "≥ 3× pgqueuer; never slower than 1" if workers == 4 else ""))
crash = durable("crash")
pgq_crash = peer("pgq_crash_bs10")
rows.append(("kill -9 of a worker mid-batch: lost / re-run / restart → all done",
             "%s / %s / %ss" % (get(crash, "results_missing"), get(crash, "extra_executions"), get(crash, "restart_to_all_results_s")),
             "%s / %s / %ss" % (get(pgq_crash, "never_executed"), get(pgq_crash, "extra_executions"),
                                get(pgq_crash, "restart_to_queue_empty_s")), "", "", "", "0 lost; re-runs ≤ in flight"))
restart = durable("restart_first")
rows.append(("restart with %s pending: first task, peak RSS" % get(restart, "pending"),
             "%s ms, %s MB" % (get(restart, "first_task_ms"), get(restart, "peak_rss_mb")), "", "", "", "", "≤ 200 ms"))

print("| measure | Durable | pgqueuer | procrastinate | DBOS | ratio | target |")
print("|---|---|---|---|---|---|---|")
for row in rows:
    print("| " + " | ".join(str(cell) for cell in row) + " |")
print()
server = load(os.path.join(out, "server.json"))
start, end = load(os.path.join(out, "fsync_start.json")), load(os.path.join(out, "fsync_end.json"))
print("Server: %s. fdatasync of 8 kB: %s µs at the start, %s µs at the end." % (
    ", ".join("%s=%s" % item for item in (server or {}).items()), get(start, "usecs_per_op"), get(end, "usecs_per_op")))
try:
    with open(os.path.join(out, "peers", "versions.txt")) as f:
        print("Peers: " + ", ".join(f.read().split()) + ".")
except OSError:
    pass
