// `import Durable` brings the engine and its embedded default store, SQLite.
@_exported public import DurableEngine
@_exported public import DurableSQLite
