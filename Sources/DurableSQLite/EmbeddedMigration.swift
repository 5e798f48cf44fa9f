/// One `migrations/NNNN_name.sql` file, embedded in the binary at build time by the
/// `EmbedMigrations` plugin (see `EmbeddedMigrations.swift` in the build folder).
struct EmbeddedMigration: Sendable {
    var version: Int
    var name: String
    var sql: String
}
