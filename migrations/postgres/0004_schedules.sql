-- Durable schema for PostgreSQL, version 4: schedules (engine.schedule,
-- durable schedules), as SQLite's version 8. Every worker process keeps the
-- schedules going; a worker firing a schedule locks its row (FOR UPDATE SKIP
-- LOCKED), and each tick creates one task, keyed by the schedule and the tick,
-- in the transaction that moves next_tick on.
CREATE TABLE schedules (
    name               TEXT PRIMARY KEY,
    cron               TEXT NOT NULL,                 -- five fields, or a macro such as @daily
    time_zone          TEXT NOT NULL,                 -- an IANA identifier, e.g. Europe/Berlin
    job                TEXT NOT NULL,
    input              TEXT NOT NULL,                 -- JSON
    queue              TEXT NOT NULL DEFAULT 'default',
    priority           BIGINT NOT NULL DEFAULT 0,
    timeout_ms         BIGINT,                        -- per attempt
    retry              TEXT,                          -- JSON retry policy, NULL for one attempt
    overlap            TEXT NOT NULL CHECK (overlap IN ('skip', 'buffer_one', 'allow_all')),
    catch_up           TEXT NOT NULL CHECK (catch_up IN ('skip', 'run_once', 'run_each')),
    catch_up_window_ms BIGINT,                        -- run_each: how far back missed ticks still run
    paused             BOOLEAN NOT NULL DEFAULT FALSE,
    next_tick          BIGINT,                        -- the earliest tick not handled yet; NULL: none to come
    buffered_tick      BIGINT,                        -- buffer_one: a tick waiting for the last run to end
    last_tick          BIGINT,                        -- the latest tick handled (run or skipped)
    last_task_id       BIGINT,                        -- the latest task the schedule created
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

-- Workers look for the earliest tick of the schedules that are not paused.
CREATE INDEX schedules_due ON schedules (next_tick) WHERE NOT paused;

-- psql -c 'select * from durable.schedule_status'
CREATE VIEW schedule_status AS
SELECT
    s.name,
    s.cron,
    s.time_zone,
    s.job,
    CASE WHEN s.paused THEN 'paused' ELSE 'active' END AS state,
    CASE WHEN NOT s.paused THEN durable_time(s.next_tick) END AS next_run,
    durable_time(s.last_tick) AS last_tick,
    s.last_task_id,
    t.status AS last_status,
    s.overlap,
    s.catch_up
FROM schedules AS s
LEFT JOIN tasks AS t ON t.id = s.last_task_id
ORDER BY s.name;
