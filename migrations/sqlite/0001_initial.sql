-- Durable schema, version 1.
-- Times are integer Unix milliseconds; JSON is stored as TEXT (json_extract works).
-- Statuses are the words a person types: pending, running, succeeded, failed, cancelled.

-- Small named counters; 'completion_seq' orders completions (asCompleted, watchers).
CREATE TABLE durable_counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO durable_counters (name, value) VALUES ('completion_seq', 0);

-- Task groups (engine.withTaskGroup): open, then shutting_down after the first
-- child failure or a cancelled body, then finished.
CREATE TABLE durable_task_groups (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT NOT NULL,
    key            TEXT UNIQUE,
    state          TEXT NOT NULL DEFAULT 'open'
                   CHECK (state IN ('open', 'shutting_down', 'finished')),
    failed_task_id INTEGER,
    created_at     INTEGER NOT NULL,
    finished_at    INTEGER
) STRICT;

CREATE TABLE durable_tasks (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    job                 TEXT NOT NULL,
    name                TEXT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
    input               TEXT NOT NULL,                -- JSON
    context             TEXT,                         -- JSON object of strings, or NULL
    result              TEXT,                         -- JSON, once succeeded
    error               TEXT,                         -- JSON {kind, type, message}, once failed or cancelled
    key                 TEXT,                         -- idempotency key, unique per job
    priority            INTEGER NOT NULL DEFAULT 0,   -- higher first
    run_at              INTEGER NOT NULL,             -- not claimed before (delays, retries, sleeps)
    deadline            INTEGER,                      -- absolute, across attempts and restarts
    timeout_ms          INTEGER,                      -- per attempt
    retry               TEXT,                         -- JSON retry policy, NULL for one attempt
    failures            INTEGER NOT NULL DEFAULT 0,   -- failed attempts so far (retries count these)
    parent_id           INTEGER,
    detached            INTEGER NOT NULL DEFAULT 0,   -- a child not cancelled with its parent
    group_id            INTEGER REFERENCES durable_task_groups (id),
    callback_of         INTEGER,                      -- set on a done-callback task: the task that finished
    owner               TEXT,                         -- worker id while running
    attempt             INTEGER NOT NULL DEFAULT 0,   -- fencing token with owner
    lease_expires_at    INTEGER,
    cancel_requested_at INTEGER,
    cancel_message      TEXT,
    has_callbacks       INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    started_at          INTEGER,
    finished_at         INTEGER,
    completion_seq      INTEGER                       -- stored completion order
) STRICT;

CREATE UNIQUE INDEX durable_tasks_key ON durable_tasks (job, key) WHERE key IS NOT NULL;
-- Claims look up each registered job's due tasks in claim order: priority, then
-- due time, then creation. Leading with the job keeps a backlog of other jobs'
-- tasks (which this process cannot run) out of the scan.
CREATE INDEX durable_tasks_claim ON durable_tasks (job, priority DESC, run_at, id) WHERE status = 'pending';
-- Completion order, for waiters and watchers (only finished tasks are in it).
CREATE UNIQUE INDEX durable_tasks_completion ON durable_tasks (completion_seq) WHERE completion_seq IS NOT NULL;
-- When the next delayed, retried or sleeping task is due. Tasks due at creation
-- are claimable at once and stay out of this index.
CREATE INDEX durable_tasks_due ON durable_tasks (run_at) WHERE status = 'pending' AND run_at > created_at;
-- Tasks whose deadline can still pass.
CREATE INDEX durable_tasks_deadline ON durable_tasks (deadline) WHERE deadline IS NOT NULL AND status IN ('pending', 'running');
-- Leases, heartbeats, cancel delivery and recovery look at running tasks by owner.
CREATE INDEX durable_tasks_running ON durable_tasks (owner) WHERE status = 'running';
CREATE INDEX durable_tasks_group ON durable_tasks (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX durable_tasks_parent ON durable_tasks (parent_id) WHERE parent_id IS NOT NULL;

-- One row per run of a task, written when the run ends (or is found abandoned).
CREATE TABLE durable_task_attempts (
    task_id     INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    owner       TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    outcome     TEXT NOT NULL
                CHECK (outcome IN ('succeeded', 'failed', 'cancelled', 'interrupted', 'abandoned', 'suspended')),
    error       TEXT,                                 -- JSON, as tasks.error
    PRIMARY KEY (task_id, attempt)
) STRICT, WITHOUT ROWID;

-- Checkpoints inside a job: steps (memoized results) and durable sleeps (wake-up
-- times), by the position they were called at and their name. A re-run replays
-- them instead of running them again. (Child tasks need no row: their
-- idempotency key is derived from the parent, the job, the name and the position.)
CREATE TABLE durable_task_steps (
    task_id    INTEGER NOT NULL,
    position   INTEGER NOT NULL,                      -- call order within the task, from 0
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('step', 'sleep')),
    status     TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
    result     TEXT,                                  -- JSON: the value, or the wake-up time
    error      TEXT,                                  -- JSON, for a step that failed for good
    attempt    INTEGER NOT NULL,                      -- the run that stored it
    created_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, position)
) STRICT, WITHOUT ROWID;

-- Lines appended to files by tasks (context.appendLine, the AppendLine job):
-- each (task, sequence) appends once. A file's committed length is the end of
-- its last recorded line; bytes past it are a crashed append's, cut off before
-- the next append, so the file never holds a line twice or a partial line.
CREATE TABLE durable_file_appends (
    task_id    INTEGER NOT NULL,
    sequence   INTEGER NOT NULL,                      -- the task's n-th append, from 0
    path       TEXT NOT NULL,                         -- absolute, symbolic links resolved
    offset     INTEGER NOT NULL,
    length     INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, sequence)
) STRICT, WITHOUT ROWID;

CREATE UNIQUE INDEX durable_file_appends_path ON durable_file_appends (path, offset);

-- Files written through file_appends, and how long each was before Durable first
-- appended to it: bytes before base_length are never cut off.
CREATE TABLE durable_appended_files (
    path        TEXT PRIMARY KEY,
    base_length INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Durable done callbacks: a registered job run once when task_id finishes.
CREATE TABLE durable_task_callbacks (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id          INTEGER NOT NULL,
    job              TEXT NOT NULL,
    input            TEXT NOT NULL,                   -- JSON
    created_at       INTEGER NOT NULL,
    callback_task_id INTEGER                          -- the task created at completion
) STRICT;

CREATE INDEX durable_task_callbacks_task ON durable_task_callbacks (task_id, id);

-- Processes that run tasks. A worker on this host whose process is gone is dead
-- at once; any other worker is dead when its leases expire.
CREATE TABLE durable_workers (
    id            TEXT PRIMARY KEY,
    host          TEXT NOT NULL,
    boot_id       TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    process_start TEXT NOT NULL,                      -- tells a reused pid apart
    concurrency   INTEGER NOT NULL,
    jobs          TEXT NOT NULL,                      -- JSON array of job names
    started_at    INTEGER NOT NULL,
    heartbeat_at  INTEGER NOT NULL,
    stopped_at    INTEGER
) STRICT, WITHOUT ROWID;

-- Human-readable views: sqlite3 durable.sqlite 'select * from durable_task_history'
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
    t.owner
FROM durable_tasks AS t
ORDER BY t.id;

CREATE VIEW durable_attempt_history AS
SELECT
    a.task_id,
    t.name,
    t.job,
    a.attempt,
    a.outcome,
    a.owner,
    strftime('%Y-%m-%d %H:%M:%f', a.started_at / 1000.0, 'unixepoch')  AS started,
    strftime('%Y-%m-%d %H:%M:%f', a.finished_at / 1000.0, 'unixepoch') AS finished,
    printf('%.3f s', (a.finished_at - a.started_at) / 1000.0)           AS duration,
    json_extract(a.error, '$.message') AS error
FROM durable_task_attempts AS a
JOIN durable_tasks AS t ON t.id = a.task_id
ORDER BY a.task_id, a.attempt;

CREATE VIEW durable_step_history AS
SELECT
    s.task_id,
    t.name AS task_name,
    s.position,
    s.name,
    s.kind,
    s.status,
    s.attempt,
    strftime('%Y-%m-%d %H:%M:%f', s.created_at / 1000.0, 'unixepoch') AS stored,
    s.result,
    json_extract(s.error, '$.message') AS error
FROM durable_task_steps AS s
JOIN durable_tasks AS t ON t.id = s.task_id
ORDER BY s.task_id, s.position;

CREATE VIEW durable_queue_stats AS
SELECT
    job,
    count(*)                                              AS total,
    sum(status = 'pending')                               AS pending,
    sum(status = 'running')                               AS running,
    sum(status = 'succeeded')                             AS succeeded,
    sum(status = 'failed')                                AS failed,
    sum(status = 'cancelled')                             AS cancelled,
    strftime('%Y-%m-%d %H:%M:%f', max(finished_at) / 1000.0, 'unixepoch') AS last_finished
FROM durable_tasks
GROUP BY job
ORDER BY job;

CREATE VIEW durable_worker_status AS
SELECT
    id,
    host,
    pid,
    concurrency,
    strftime('%Y-%m-%d %H:%M:%f', started_at / 1000.0, 'unixepoch')   AS started,
    strftime('%Y-%m-%d %H:%M:%f', heartbeat_at / 1000.0, 'unixepoch') AS last_heartbeat,
    strftime('%Y-%m-%d %H:%M:%f', stopped_at / 1000.0, 'unixepoch')   AS stopped,
    (SELECT count(*) FROM durable_tasks WHERE durable_tasks.owner = durable_workers.id AND durable_tasks.status = 'running') AS running
FROM durable_workers
ORDER BY started_at;
