-- Durable schema, version 4: each checkpoint stores its occurrence, the number of
-- checkpoints of its name that its run asked for before it (the first `fetch` is
-- 0, the second 1, ...). A re-run finds a checkpoint by name and occurrence; until
-- now the occurrence was counted from the stored rows, so a step of a name that
-- was never stored (it failed and was retried, or a crash cut it short) shifted
-- the later ones of that name. Rows stored before keep the count by position.
ALTER TABLE durable_task_steps ADD COLUMN occurrence INTEGER NOT NULL DEFAULT 0;

UPDATE durable_task_steps SET occurrence = (
    SELECT count(*) FROM durable_task_steps AS earlier
    WHERE earlier.task_id = durable_task_steps.task_id AND earlier.name = durable_task_steps.name
      AND earlier.position < durable_task_steps.position
);

CREATE UNIQUE INDEX durable_task_steps_occurrence ON durable_task_steps (task_id, name, occurrence);
