-- Durable schema for PostgreSQL, version 8: a notification says what changed.
--
-- Version 1's trigger notified channel `durable_<schema>` with the committing
-- session's application_name, and every listening engine read everything it
-- could want after each of them: with several worker processes, each commit of
-- one made all the others read. The payload is now '<kinds>:<application_name>',
-- where kinds holds
--   'w'  something a worker reads may have changed: a task became pending (created,
--        retried, handed back, woken, admitted by its concurrency key), a running
--        task got a cancel request, a task with a concurrency key or in a queue
--        with a concurrency limit finished (a place freed), tasks were deleted, or
--        a queue changed;
--   'n'  with 'w': a task can be claimed now (a pending one due and admitted, or
--        any after a change of queues or a deletion);
--   'c'  a task finished, or tasks were deleted: waiters read completions.
-- A commit that only claimed tasks, renewed leases, or changed schedules or
-- events notifies with no kind: it signals the engines' `changeSignals()`
-- watchers (the dashboard, the schedule loop, waiters for events) and makes
-- nobody read. An engine that cannot parse a payload reads everything.
CREATE OR REPLACE FUNCTION durable_notify_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    changed_rows BIGINT;
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
            WHEN TG_TABLE_NAME = 'queues' THEN 'wn'   -- a queue resumed or its limits raised
            ELSE ''                                   -- schedules and events: watchers only
        END;
    ELSE
        SELECT count(*),
               coalesce(bool_or(status = 'pending'
                                OR (status = 'running' AND cancel_requested_at IS NOT NULL)
                                OR (status IN ('succeeded', 'failed', 'cancelled')
                                    AND (concurrency_key IS NOT NULL
                                         OR queue IN (SELECT name FROM queues WHERE concurrency IS NOT NULL)))), FALSE),
               coalesce(bool_or(status = 'pending' AND NOT key_waiting AND run_at <= now_ms), FALSE),
               coalesce(bool_or(status IN ('succeeded', 'failed', 'cancelled')), FALSE)
          INTO changed_rows, work, claimable, finished
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
    END IF;
    PERFORM pg_notify('durable_' || TG_TABLE_SCHEMA, kinds || ':' || current_setting('application_name'));
    RETURN NULL;
END
$$;
