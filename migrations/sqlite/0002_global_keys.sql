-- Durable schema, version 2: idempotency keys name an intent, whatever the job: a key names at most one task.
-- (Version 1 made them unique per job.) The index is not UNIQUE so that files
-- holding one key under two jobs from version 1 still migrate; every insert looks
-- the key up in its own write transaction, so no new duplicate can appear.
DROP INDEX durable_tasks_key;
CREATE INDEX durable_tasks_key ON durable_tasks (key) WHERE key IS NOT NULL;
