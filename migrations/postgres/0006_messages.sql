-- Durable schema for PostgreSQL, version 6: messages to tasks and events from
-- them, as SQLite's version 10.
CREATE TABLE task_messages (
    id           BIGSERIAL PRIMARY KEY,               -- order of sending
    task_id      BIGINT NOT NULL,
    topic        TEXT NOT NULL,
    payload      TEXT NOT NULL,                       -- JSON
    key          TEXT,                                -- sending again with it stores nothing
    sent_at      BIGINT NOT NULL,
    delivered_at BIGINT,
    delivered_attempt BIGINT                          -- the run that received it
);

CREATE UNIQUE INDEX task_messages_key ON task_messages (task_id, key) WHERE key IS NOT NULL;
CREATE INDEX task_messages_undelivered ON task_messages (task_id, topic, id) WHERE delivered_at IS NULL;

CREATE TABLE task_waits (
    task_id    BIGINT NOT NULL,
    topic      TEXT NOT NULL,
    deadline   BIGINT,                                -- NULL: no timeout
    created_at BIGINT NOT NULL,
    PRIMARY KEY (task_id, topic)
);

CREATE TABLE task_events (
    task_id    BIGINT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,                         -- JSON
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (task_id, key)
);
