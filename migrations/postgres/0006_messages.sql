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

-- Wake-ups, as for tasks (version 1): a change of a queue's settings, of a
-- schedule, or a published event wakes the engines that listen.
CREATE TRIGGER queues_inserted AFTER INSERT ON queues
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION durable_notify_change();
CREATE TRIGGER queues_updated AFTER UPDATE ON queues
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION durable_notify_change();
CREATE TRIGGER schedules_inserted AFTER INSERT ON schedules
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION durable_notify_change();
CREATE TRIGGER schedules_updated AFTER UPDATE ON schedules
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION durable_notify_change();
CREATE TRIGGER task_events_inserted AFTER INSERT ON task_events
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION durable_notify_change();
CREATE TRIGGER task_events_updated AFTER UPDATE ON task_events
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION durable_notify_change();
