-- Durable schema, version 7: when a checkpoint began (a step's body started, a
-- durable sleep was asked for), so that a step's duration is created_at minus
-- started_at. NULL for checkpoints stored before version 7.
ALTER TABLE durable_task_steps ADD COLUMN started_at INTEGER;
