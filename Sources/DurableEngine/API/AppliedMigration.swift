/// A schema migration recorded in the database.
public struct AppliedMigration: Sendable, Hashable {
    /// The number at the start of the migration file's name.
    public var version: Int
    /// The rest of the file name, without `.sql`.
    public var name: String
    /// Unix milliseconds.
    public var appliedAt: Int64

    /// Creates a value with every field given.
    package init(version: Int, name: String, appliedAt: Int64) {
        self.version = version
        self.name = name
        self.appliedAt = appliedAt
    }
}
