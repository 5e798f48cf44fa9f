import DurableSQLite

/// The version of this build of Durable and of the schema it writes.
public enum DurableVersion {
    /// The library's version.
    public static let current = "0.1.0"
    /// The newest schema migration embedded in this build.
    public static var schemaVersion: Int { SchemaMigrator.latestVersion }
}
