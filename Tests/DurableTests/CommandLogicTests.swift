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

    @Test("--job takes a batch file for its job, or a job name as it is")
    func jobNames() throws {
        let directory = TemporaryDirectory()
        let batch = directory.file("jobs.txt")
        try Data("true\n".utf8).write(to: URL(fileURLWithPath: batch))
        #expect(jobName(batch) == "run:\(RunBatch.absolutePath(batch))")
        #expect(jobName("resize") == "resize")
        #expect(jobName("run:/elsewhere/jobs.txt") == "run:/elsewhere/jobs.txt")
    }
}
