-- Durable schema for PostgreSQL, version 5: queues, their limits, and
-- concurrency keys, as SQLite's version 9.
--
-- A task waits in a queue ('default' unless it names one). A worker serves the
-- queues it is given; a claim in a queue with limits locks the queue's row, so
-- that claims of that queue take turns, and starts no more than its limits
-- allow: the global and per-worker concurrency, and the rate (starts per
-- period, counted in queue_starts).
--
-- A task with a concurrency key is admitted (NOT key_waiting, claimable) while
-- fewer tasks of its key than its limit are admitted and unfinished; else it
-- waits (key_waiting, outside the claim index) until one of them finishes.
-- Admissions of a key take turns under a transaction-level advisory lock on it.
ALTER TABLE tasks ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
ALTER TABLE tasks ADD COLUMN concurrency_key TEXT;
ALTER TABLE tasks ADD COLUMN concurrency_limit BIGINT;
ALTER TABLE tasks ADD COLUMN key_waiting BOOLEAN NOT NULL DEFAULT FALSE;

DROP INDEX tasks_claim;
CREATE INDEX tasks_claim ON tasks (queue, job, priority DESC, run_at, id) WHERE status = 'pending' AND NOT key_waiting;
CREATE INDEX tasks_concurrency ON tasks (concurrency_key, key_waiting, priority DESC, run_at, id)
    WHERE concurrency_key IS NOT NULL AND status IN ('pending', 'running');

CREATE TABLE queues (
    name               TEXT PRIMARY KEY,
    concurrency        BIGINT,                        -- running at once, across every worker
    worker_concurrency BIGINT,                        -- running at once in one worker process
    rate_limit         BIGINT,                        -- starts per rate_period_ms
    rate_period_ms     BIGINT,
    paused             BOOLEAN NOT NULL DEFAULT FALSE, -- no new starts; running tasks finish
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

INSERT INTO queues (name, created_at, updated_at) VALUES ('default', durable_now_ms(), durable_now_ms());

CREATE TABLE queue_starts (
    queue      TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    task_id    BIGINT NOT NULL
);

CREATE INDEX queue_starts_queue ON queue_starts (queue, started_at);

-- psql -c 'select * from durable.queue_status'
CREATE VIEW queue_status AS
SELECT
    q.name AS queue,
    CASE WHEN q.paused THEN 'paused' ELSE 'active' END AS state,
    q.concurrency,
    q.worker_concurrency,
    CASE WHEN q.rate_limit IS NOT NULL THEN q.rate_limit || ' per ' || (q.rate_period_ms / 1000.0) || ' s' END AS rate,
    (SELECT count(*) FROM tasks WHERE tasks.queue = q.name AND tasks.status = 'pending') AS pending,
    (SELECT count(*) FROM tasks WHERE tasks.queue = q.name AND tasks.status = 'running') AS running
FROM queues AS q
ORDER BY q.name;
