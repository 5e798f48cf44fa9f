import DurableTestKit
@testable import DurableCommands
import Foundation
import Testing

/// The `durable` command's parsing logic, in-process (the subprocess tests
/// prove the real binary; these pin the rules fast).
@Suite("durable: argument logic")
struct CommandLogicTests {
    @Test("durations take a unit (seconds without one), round up to whole milliseconds, and refuse bad values naming the option")
    func durations() throws {
        #expect(try DurationArgument(parsing: "250ms").milliseconds == 250)
        #expect(try DurationArgument(parsing: "1.5s").milliseconds == 1500)
        #expect(try DurationArgument(parsing: "2").milliseconds == 2000)
        #expect(try DurationArgument(parsing: " 15m ").milliseconds == 900_000)
        #expect(try DurationArgument(parsing: "0.0001ms").milliseconds == 1)
        #expect(try DurationArgument(parsing: "36500d").milliseconds == 36_500 * 86_400_000)
        for bad in ["nan", "inf", "infs", "-5m", "1e300s", "36501d", "soon", ""] {
            #expect {
                try DurationArgument(parsing: bad, option: "--since")
            } throws: { error in
                "\(error)".hasPrefix("--since: ") && "\(error)".contains("\"\(bad)\"")
            }
        }
    }

    @Test("a task is named by its id or by FILE:LINE of a durable run batch")
    func taskReferences() {
        guard case .id(42) = TaskReference(argument: "42") else {
            Issue.record("42 is an id")
            return
        }
        guard case .line("jobs.txt", 12) = TaskReference(argument: "jobs.txt:12") else {
            Issue.record("jobs.txt:12 is a line")
            return
        }
        guard case .line("a:b.txt", 3) = TaskReference(argument: "a:b.txt:3") else {
            Issue.record("the last colon separates the line")
            return
        }
        for bad in ["jobs.txt", "jobs.txt:0", "jobs.txt:-1", ":5", "jobs.txt:x"] {
            #expect(TaskReference(argument: bad) == nil, "\(bad)")
        }
        #expect(TaskReference(argument: "jobs.txt:12")?.description == "jobs.txt:12")
    }

    @Test("--job and --queue take a batch file for its queue, --job run:NAME a batch's queue, other names as they are")
    func taskSelections() throws {
        let directory = TemporaryDirectory()
        let batch = directory.file("jobs.txt")
        try Data("true\n".utf8).write(to: URL(fileURLWithPath: batch))
        let database = try DatabaseOption.parse(["--db", directory.file("test.sqlite")])
        let queue = "run:\(RunBatch.absolutePath(batch))"
        let byJob = try database.taskSelection(job: batch, queue: nil)
        #expect(byJob.job == "durable.run" && byJob.queue == queue)
        let byQueue = try database.taskSelection(job: nil, queue: batch)
        #expect(byQueue.job == nil && byQueue.queue == queue)
        let both = try database.taskSelection(job: batch, queue: queue)
        #expect(both.job == "durable.run" && both.queue == queue)
        let named = try database.taskSelection(job: "run:nightly", queue: nil)
        #expect(named.job == "durable.run" && named.queue == "run:nightly")
        let plain = try database.taskSelection(job: "resize", queue: "images")
        #expect(plain.job == "resize" && plain.queue == "images")
        #expect(throws: CommandError.self) { try database.taskSelection(job: batch, queue: "images") }
    }

    @Test("on PostgreSQL a batch is its file's name and a hash of its lines: copies elsewhere share it, edits do not")
    func postgresBatchNames() throws {
        let directory = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.file("copy"), withIntermediateDirectories: true)
        let batch = directory.file("jobs.txt")
        let copy = directory.file("copy/jobs.txt")
        try Data("echo a\n\necho b\n".utf8).write(to: URL(fileURLWithPath: batch))
        try Data("echo a\r\necho b".utf8).write(to: URL(fileURLWithPath: copy))
        let database = try DatabaseOption.parse(["--db", "postgres://app@db.internal:5432/jobs"])
        let queue = try #require(try database.taskSelection(job: nil, queue: batch).queue)
        #expect(queue.hasPrefix("run:jobs.txt@") && queue.count == "run:jobs.txt@".count + 16)
        #expect(try database.taskSelection(job: nil, queue: copy).queue == queue)
        try Data("echo a\necho c\n".utf8).write(to: URL(fileURLWithPath: copy))
        #expect(try database.taskSelection(job: nil, queue: copy).queue != queue)
        #expect(try RunBatch.load(batch, naming: .name("nightly")).identity == "nightly")
    }

    @Test("a PostgreSQL URL is named without its password, in messages, psql hints and DURABLE_DATABASE")
    func postgresLocations() throws {
        let database = try DatabaseOption.parse(["--db", "postgres://app:s3cret@db.internal:6543/jobs?schema=batch"])
        #expect(database.isPostgres)
        #expect(database.location == "postgres://app@db.internal:6543/jobs (schema batch)")
        #expect(try database.environmentValue() == "postgres://app@db.internal:6543/jobs?schema=batch")
        #expect(
            database.shellQuery { "select * from \($0)task_history" }
                == "psql \"postgres://app@db.internal:6543/jobs\" -c \"select * from batch.task_history\"")
        let file = try DatabaseOption.parse(["--db", "jobs.sqlite"])
        #expect(file.shellQuery { "select * from \($0)task_history" } == "sqlite3 jobs.sqlite \"select * from durable_task_history\"")
        let broken = try DatabaseOption.parse(["--db", "postgres://app:s3cret@db.internal:5432/jobs?colour=red"])
        #expect(!broken.location.contains("s3cret"))
        let error = #expect(throws: CommandError.self) { try broken.postgres() }
        #expect(error.map { !"\($0)".contains("s3cret") && "\($0)".contains("colour") } == true)
    }
}
