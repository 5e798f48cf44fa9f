/// A process that claims tasks, as recorded in the `workers` table.
package struct WorkerInfo: Sendable, Equatable {
    package var id: String
    package var host: String
    package var bootID: String
    package var pid: Int32
    /// The process start time from `/proc/<pid>/stat`, which tells a reused pid apart.
    package var processStart: String
    package var concurrency: Int
    package var jobs: [String]

    /// Creates a value with every field given.
    package init(id: String, host: String, bootID: String, pid: Int32, processStart: String, concurrency: Int, jobs: [String]) {
        self.id = id
        self.host = host
        self.bootID = bootID
        self.pid = pid
        self.processStart = processStart
        self.concurrency = concurrency
        self.jobs = jobs
    }
}
