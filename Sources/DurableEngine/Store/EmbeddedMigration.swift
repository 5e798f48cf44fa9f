/// One `migrations/<dialect>/NNNN_name.sql` file, embedded in a store's binary at
/// build time by the `EmbedMigrations` plugin (see `EmbeddedMigrations.swift` in the
/// build folder of `DurableSQLite` and `DurablePostgres`).
package struct EmbeddedMigration: Sendable {
    package var version: Int
    package var name: String
    package var sql: String

    package init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }
}
