-- Durable schema, version 11: each `durable run` batch in a queue of its own.
--
-- Builds before this one named a batch's job after the batch (`run:<batch>`);
-- now every line is a task of the job `durable.run` in the queue `run:<batch>`,
-- so `durable queues` lists, pauses and limits batches. A line's task keeps its
-- id, key, state and history. Only tasks that `durable run` made are moved:
-- those whose input names the batch of their job and holds a command (an input
-- that is not JSON, edited by hand, is left as it is). Keys are unique across
-- jobs since version 2, so changing the job cannot make two tasks share one.
CREATE TEMPORARY TABLE durable_run_batches AS
SELECT id, job FROM durable_tasks
WHERE substr(job, 1, 4) = 'run:'
      AND CASE WHEN json_valid(input)
               THEN json_type(input, '$.file') IS 'text' AND json_extract(input, '$.file') IS substr(job, 5)
                    AND json_type(input, '$.command') IS 'text'
               ELSE 0 END;

INSERT OR IGNORE INTO durable_queues (name, created_at, updated_at)
SELECT DISTINCT job, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
       CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
FROM durable_run_batches;

UPDATE durable_tasks
SET queue_id = (SELECT id FROM durable_queues WHERE name = durable_tasks.job), job = 'durable.run'
WHERE id IN (SELECT id FROM durable_run_batches);

DROP TABLE durable_run_batches;
