/// Whether an engine may change its file: ``EngineConfiguration/access``.
///
/// ```swift
/// var configuration = EngineConfiguration()
/// configuration.access = .readOnly
/// let engine = try TaskEngine(path: "jobs.sqlite", configuration: configuration)
/// let failed = try await engine.tasks(matching: TaskQuery(statuses: [.failed]))
/// ```
public enum DatabaseAccess: Sendable, Hashable {
    /// Reading and writing: opening creates the file if needed and applies the
    /// migrations it lacks. The default.
    case readWrite
    /// Reading only, for inspection. The file must exist and have this build's
    /// schema (a missing, empty, foreign, older or newer file is refused); the file
    /// may be one this process cannot write. Opening and reading never write the
    /// database and never wait for another process's write lock (readers of a WAL
    /// file do not). Any call that would change what is stored, or run a worker,
    /// fails with ``DurableError/Code/readOnlyDatabase`` naming the file.
    case readOnly
}
