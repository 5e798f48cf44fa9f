-- Durable schema, version 3: runs nobody does any more show as abandoned.
--
-- A task whose worker was killed stays 'running' in tasks until a worker recovers
-- it. The views tell such a run from a live one: its worker was marked stopped,
-- or its lease expired (no one renewed it). They cannot see that a process is
-- gone; `durable ls`/`stats`/`watch` can, at once for workers of the same host.
-- Now is computed as Unix milliseconds the way SQLite 3.40 can.

-- One row per abandoned run: reason 'owner_stopped' or 'lease_expired', and since
-- when (the stop, or the lease's expiry).
CREATE VIEW durable_abandoned_runs AS
SELECT
    t.id AS task_id,
    t.name,
    t.job,
    t.owner,
    CASE WHEN w.stopped_at IS NOT NULL THEN 'owner_stopped' ELSE 'lease_expired' END AS reason,
    strftime('%Y-%m-%d %H:%M:%f', coalesce(w.stopped_at, t.lease_expires_at) / 1000.0, 'unixepoch') AS since
FROM durable_tasks AS t
LEFT JOIN durable_workers AS w ON w.id = t.owner
WHERE t.status = 'running'
  AND (w.stopped_at IS NOT NULL
       OR t.lease_expires_at < CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
-- (No ORDER BY: it would have SQLite scan every task by id instead of the
-- tasks_running index.)

-- task_history as in version 1, plus abandoned_since and abandoned_reason (NULL
-- unless the task is running and its run abandoned).
DROP VIEW durable_task_history;
CREATE VIEW durable_task_history AS
SELECT
    t.id,
    t.name,
    t.job,
    t.status,
    t.attempt,
    strftime('%Y-%m-%d %H:%M:%f', t.created_at / 1000.0, 'unixepoch')  AS created,
    strftime('%Y-%m-%d %H:%M:%f', t.started_at / 1000.0, 'unixepoch')  AS started,
    strftime('%Y-%m-%d %H:%M:%f', t.finished_at / 1000.0, 'unixepoch') AS finished,
    CASE WHEN t.finished_at IS NOT NULL AND t.started_at IS NOT NULL
         THEN printf('%.3f s', (t.finished_at - t.started_at) / 1000.0) END AS duration,
    json_extract(t.error, '$.message') AS error,
    t.cancel_message,
    CASE WHEN t.status = 'pending' THEN strftime('%Y-%m-%d %H:%M:%f', t.run_at / 1000.0, 'unixepoch') END
        AS next_run,
    t.owner,
    a.since  AS abandoned_since,
    a.reason AS abandoned_reason
FROM durable_tasks AS t
LEFT JOIN durable_abandoned_runs AS a ON a.task_id = t.id
ORDER BY t.id;

-- queue_stats as in version 1, except that running counts live runs only; the
-- abandoned ones are counted in the new last column, so the status columns add
-- up to total. (Abandoned runs are counted per job, then looked up per job: a
-- join per task would double the cost on large files.)
DROP VIEW durable_queue_stats;
CREATE VIEW durable_queue_stats AS
WITH abandoned AS (SELECT job, count(*) AS runs FROM durable_abandoned_runs GROUP BY job)
SELECT
    t.job,
    count(*)                                              AS total,
    sum(t.status = 'pending')                             AS pending,
    sum(t.status = 'running')
        - coalesce((SELECT runs FROM abandoned AS a WHERE a.job = t.job), 0) AS running,
    sum(t.status = 'succeeded')                           AS succeeded,
    sum(t.status = 'failed')                              AS failed,
    sum(t.status = 'cancelled')                           AS cancelled,
    strftime('%Y-%m-%d %H:%M:%f', max(t.finished_at) / 1000.0, 'unixepoch') AS last_finished,
    coalesce((SELECT runs FROM abandoned AS a WHERE a.job = t.job), 0) AS abandoned
FROM durable_tasks AS t
GROUP BY t.job
ORDER BY t.job;
