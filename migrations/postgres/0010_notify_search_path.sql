-- Durable schema, version 10: the notification trigger's function runs with
-- Durable's schema as its search path, whatever the session's.
--
-- An application may create tasks on its own connection inside its own
-- transaction (createTask(..., in: connection)); that session's search path is
-- the application's, where durable_now_ms() and queues are not found (or, worse,
-- queues is the application's own table). The migrator runs with the search path
-- set to Durable's schema, which FROM CURRENT records. (A later CREATE OR REPLACE
-- of the function must say SET search_path FROM CURRENT again.)
ALTER FUNCTION durable_notify_change() SET search_path FROM CURRENT;
