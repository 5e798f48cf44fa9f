-- Durable schema for PostgreSQL, version 9: a notification says when a worker's
-- timers may have to change.
--
-- A worker whose claim finds nothing more looks up when the next delayed task is
-- due (the earliest future run_at of a pending task whose run_at is after its
-- created_at), to wake then, and it watches the earliest deadline of a pending
-- task. Those change only when such a task is stored (created with a delay or a
-- deadline, retried after a pause, put to sleep, handed back) or when a queue's
-- settings change; a worker keeps what it read until its own engine writes such
-- a task or another session's notification holds the new kind
--   'd'  a pending task with run_at after created_at or with a deadline was
--        stored, or a queue changed (whatever the clocks say: engines may run
--        on other clocks).
-- The other kinds are as in version 8 ('w', 'n', 'c').
CREATE OR REPLACE FUNCTION durable_notify_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    changed_rows BIGINT;
    later BOOLEAN;
    work BOOLEAN;
    claimable BOOLEAN;
    finished BOOLEAN;
    kinds TEXT := '';
    now_ms BIGINT := durable_now_ms();
BEGIN
    IF TG_TABLE_NAME <> 'tasks' OR TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM changed) THEN
            RETURN NULL;
        END IF;
        kinds := CASE
            WHEN TG_TABLE_NAME = 'tasks' THEN 'wnc'   -- deleted tasks: waiters look for them
            WHEN TG_TABLE_NAME = 'queues' THEN 'wnd'  -- a queue resumed or its limits changed
            ELSE ''                                   -- schedules and events: watchers only
        END;
    ELSE
        SELECT count(*),
               coalesce(bool_or(status = 'pending' AND (run_at > created_at OR deadline IS NOT NULL)), FALSE),
               coalesce(bool_or(status = 'pending'
                                OR (status = 'running' AND cancel_requested_at IS NOT NULL)
                                OR (status IN ('succeeded', 'failed', 'cancelled')
                                    AND (concurrency_key IS NOT NULL
                                         OR queue IN (SELECT name FROM queues WHERE concurrency IS NOT NULL)))), FALSE),
               coalesce(bool_or(status = 'pending' AND NOT key_waiting AND run_at <= now_ms), FALSE),
               coalesce(bool_or(status IN ('succeeded', 'failed', 'cancelled')), FALSE)
          INTO changed_rows, later, work, claimable, finished
          FROM changed;
        IF changed_rows = 0 THEN
            RETURN NULL;
        END IF;
        IF work THEN
            kinds := 'w';
        END IF;
        IF claimable THEN
            kinds := kinds || 'n';
        END IF;
        IF finished THEN
            kinds := kinds || 'c';
        END IF;
        IF later THEN
            kinds := kinds || 'd';
        END IF;
    END IF;
    PERFORM pg_notify('durable_' || TG_TABLE_SCHEMA, kinds || ':' || current_setting('application_name'));
    RETURN NULL;
END
$$;
