-- Durable schema, version 8: schedules (engine.schedule, durable schedules).
-- Every worker process keeps the schedules going. Each tick creates one task,
-- keyed by the schedule and the tick, in the transaction that moves next_tick
-- on: a crash between the two can neither create a second task nor lose the tick.
CREATE TABLE durable_schedules (
    name               TEXT PRIMARY KEY,
    cron               TEXT NOT NULL,                 -- five fields, or a macro such as @daily
    time_zone          TEXT NOT NULL,                 -- an IANA identifier, e.g. Europe/Berlin
    job                TEXT NOT NULL,
    input              TEXT NOT NULL,                 -- JSON
    queue              TEXT NOT NULL DEFAULT 'default',
    priority           INTEGER NOT NULL DEFAULT 0,
    timeout_ms         INTEGER,                       -- per attempt
    retry              TEXT,                          -- JSON retry policy, NULL for one attempt
    overlap            TEXT NOT NULL CHECK (overlap IN ('skip', 'buffer_one', 'allow_all')),
    catch_up           TEXT NOT NULL CHECK (catch_up IN ('skip', 'run_once', 'run_each')),
    catch_up_window_ms INTEGER,                       -- run_each: how far back missed ticks still run
    paused             INTEGER NOT NULL DEFAULT 0,
    next_tick          INTEGER,                       -- the earliest tick not handled yet; NULL: none to come
    buffered_tick      INTEGER,                       -- buffer_one: a tick waiting for the last run to end
    last_tick          INTEGER,                       -- the latest tick handled (run or skipped)
    last_task_id       INTEGER,                       -- the latest task the schedule created
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Workers look for the earliest tick of the schedules that are not paused.
CREATE INDEX durable_schedules_due ON durable_schedules (next_tick) WHERE paused = 0;

-- sqlite3 durable.sqlite 'select * from durable_schedule_status'
CREATE VIEW durable_schedule_status AS
SELECT
    s.name,
    s.cron,
    s.time_zone,
    s.job,
    CASE WHEN s.paused THEN 'paused' ELSE 'active' END AS state,
    CASE WHEN NOT s.paused THEN strftime('%Y-%m-%d %H:%M:%f', s.next_tick / 1000.0, 'unixepoch') END AS next_run,
    strftime('%Y-%m-%d %H:%M:%f', s.last_tick / 1000.0, 'unixepoch') AS last_tick,
    s.last_task_id,
    t.status AS last_status,
    s.overlap,
    s.catch_up
FROM durable_schedules AS s
LEFT JOIN durable_tasks AS t ON t.id = s.last_task_id
ORDER BY s.name;
