/// A process that claims tasks, as recorded in the `workers` table.
struct WorkerInfo: Sendable, Equatable {
    var id: String
    var host: String
    var bootID: String
    var pid: Int32
    /// The process start time from `/proc/<pid>/stat`, which tells a reused pid apart.
    var processStart: String
    var concurrency: Int
    var jobs: [String]
}
