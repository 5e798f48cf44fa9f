-- Durable schema, version 10: messages to tasks and events from them.
--
-- engine.send stores a message for a task; context.receive inside the task's
-- job takes the oldest undelivered one of its topic, in the transaction that
-- stores it as the job's checkpoint, so each message is received once. A job
-- that waits for a message leaves a row in task_waits and gives its slot up
-- (pending until its deadline); a send to a topic it waits on makes it due.
-- context.setEvent publishes a value under a key; engine.event reads it.
CREATE TABLE durable_task_messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,  -- order of sending
    task_id      INTEGER NOT NULL,
    topic        TEXT NOT NULL,
    payload      TEXT NOT NULL,                       -- JSON
    key          TEXT,                                -- sending again with it stores nothing
    sent_at      INTEGER NOT NULL,
    delivered_at INTEGER,
    delivered_attempt INTEGER                         -- the run that received it
) STRICT;

CREATE UNIQUE INDEX durable_task_messages_key ON durable_task_messages (task_id, key) WHERE key IS NOT NULL;
CREATE INDEX durable_task_messages_undelivered ON durable_task_messages (task_id, topic, id) WHERE delivered_at IS NULL;

CREATE TABLE durable_task_waits (
    task_id    INTEGER NOT NULL,
    topic      TEXT NOT NULL,
    deadline   INTEGER,                               -- NULL: no timeout
    created_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, topic)
) STRICT, WITHOUT ROWID;

CREATE TABLE durable_task_events (
    task_id    INTEGER NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,                         -- JSON
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, key)
) STRICT, WITHOUT ROWID;
