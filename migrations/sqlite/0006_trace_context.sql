-- Durable schema, version 6: the trace context of the code that created a task
-- (what the application's tracer injects, as a JSON object: W3C traceparent and
-- tracestate for OpenTelemetry), so that the task's runs, in any process and
-- after any restart, link to it. NULL when no tracer was set up.
ALTER TABLE durable_tasks ADD COLUMN trace_context TEXT;
