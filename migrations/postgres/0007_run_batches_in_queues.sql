-- Durable schema for PostgreSQL, version 7: each `durable run` batch in a queue
-- of its own.
--
-- Builds before this one named a batch's job after the batch (`run:<batch>`);
-- now every line is a task of the job `durable.run` in the queue `run:<batch>`,
-- so `durable queues` lists, pauses and limits batches. A line's task keeps its
-- id, key, state and history. Only tasks that `durable run` made are moved:
-- those whose input names the batch of their job and holds a command (an input
-- that is not JSON, edited by hand, is left as it is). Keys are unique across
-- jobs, so changing the job cannot make two tasks share one.
DO $$
DECLARE
    line record;
    parsed jsonb;
BEGIN
    FOR line IN SELECT id, job, tasks.input AS raw FROM tasks WHERE job LIKE 'run:%' ORDER BY id LOOP
        BEGIN
            parsed := line.raw::jsonb;
        EXCEPTION WHEN others THEN
            parsed := NULL;
        END;
        IF jsonb_typeof(parsed -> 'file') = 'string' AND parsed ->> 'file' = substr(line.job, 5)
           AND jsonb_typeof(parsed -> 'command') = 'string' THEN
            INSERT INTO queues (name, created_at, updated_at)
            VALUES (line.job, durable_now_ms(), durable_now_ms())
            ON CONFLICT (name) DO NOTHING;
            UPDATE tasks SET queue = line.job, job = 'durable.run' WHERE id = line.id;
        END IF;
    END LOOP;
END
$$;
