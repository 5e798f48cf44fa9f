-- Durable schema, version 9: queues, their limits, and concurrency keys.
--
-- A task waits in a queue ('default' unless it names one): tasks.queue_id is
-- the queue's id in `queues` (an integer keeps rows and the claim index small;
-- 0 is 'default'; the views show names). A worker serves the queues it is
-- given; its claims read each queue's row in their transaction and start no
-- more than its limits allow: the global and per-worker concurrency, and the
-- rate (starts per period, counted in queue_starts).
--
-- A task with a concurrency key is admitted (key_waiting = 0, claimable) while
-- fewer tasks of its key than its limit are admitted and unfinished; else it
-- waits (key_waiting = 1, outside the claim index) until one of them finishes.
ALTER TABLE durable_tasks ADD COLUMN queue_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE durable_tasks ADD COLUMN concurrency_key TEXT;
ALTER TABLE durable_tasks ADD COLUMN concurrency_limit INTEGER;
ALTER TABLE durable_tasks ADD COLUMN key_waiting INTEGER NOT NULL DEFAULT 0;

-- Claims look up each queue's and job's due tasks in claim order.
DROP INDEX durable_tasks_claim;
CREATE INDEX durable_tasks_claim ON durable_tasks (queue_id, job, priority DESC, run_at, id) WHERE status = 'pending' AND key_waiting = 0;
-- The unfinished tasks of a key (only tasks with a key are in it): the admitted
-- ones (key_waiting = 0), counted, and those that wait, in the order they are admitted.
CREATE INDEX durable_tasks_concurrency ON durable_tasks (concurrency_key, key_waiting, priority DESC, run_at, id)
    WHERE concurrency_key IS NOT NULL AND status IN ('pending', 'running');

-- One row per queue a task was ever created in, or given settings. NULL: no limit.
CREATE TABLE durable_queues (
    id                 INTEGER PRIMARY KEY,           -- tasks.queue_id
    name               TEXT NOT NULL UNIQUE,
    concurrency        INTEGER,                       -- running at once, across every worker
    worker_concurrency INTEGER,                       -- running at once in one worker process
    rate_limit         INTEGER,                       -- starts per rate_period_ms
    rate_period_ms     INTEGER,
    paused             INTEGER NOT NULL DEFAULT 0,    -- no new starts; running tasks finish
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;

INSERT INTO durable_queues (id, name, created_at, updated_at)
VALUES (0, 'default', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
        CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));

-- Starts in rate-limited queues within their window (older rows are deleted as claims go).
CREATE TABLE durable_queue_starts (
    queue_id   INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    task_id    INTEGER NOT NULL
) STRICT;

CREATE INDEX durable_queue_starts_queue ON durable_queue_starts (queue_id, started_at);

-- sqlite3 durable.sqlite 'select * from durable_queue_status'
CREATE VIEW durable_queue_status AS
SELECT
    q.name AS queue,
    CASE WHEN q.paused THEN 'paused' ELSE 'active' END AS state,
    q.concurrency,
    q.worker_concurrency,
    CASE WHEN q.rate_limit IS NOT NULL THEN q.rate_limit || ' per ' || (q.rate_period_ms / 1000.0) || ' s' END AS rate,
    (SELECT count(*) FROM durable_tasks WHERE durable_tasks.queue_id = q.id AND durable_tasks.status = 'pending') AS pending,
    (SELECT count(*) FROM durable_tasks WHERE durable_tasks.queue_id = q.id AND durable_tasks.status = 'running') AS running
FROM durable_queues AS q
ORDER BY q.name;
