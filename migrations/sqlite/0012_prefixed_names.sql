-- Durable schema, version 12: every table, view and index of Durable's has a name
-- that begins with durable_ (durable_tasks, durable_task_history, ...), so that an
-- application's own tables can share the file: every other name is the application's.
--
-- A new file gets those names from the migrations above. A file of version 11 or
-- older has them without the prefix; which of them it has depends on its version,
-- so SchemaMigrator renames them (SchemaNames.renameUnprefixed) before it applies
-- the rest, and this version, recorded in durable_migrations, tells older builds of
-- Durable that the file is newer than they know.
SELECT 1;
