import DurableTestKit
import Durable
import Foundation
import Synchronization
import Testing

/// Steps asked for concurrently (`async let`, task groups), in another order on a
/// re-run, steps that return nothing, and what counts as a non-deterministic
/// replay. (StepCrashTests and ConcurrentStepCrashTests kill real processes.)
@Suite("Concurrent steps and replay")
struct ConcurrentStepTests {
    @Test("two steps started together with async let: on a first run each runs once, at a position of its own")
    func asyncLetFirstRun() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let tasks = try await engine.createTasks(AsyncLetSteps.self, inputs: Array(0..<40))
            #expect(try await engine.gather(tasks) == (0..<40).map { $0 + 1000 })
        }
        for n in 0..<40 {
            #expect(counter.count("\(n)/a") == 1)
            #expect(counter.count("\(n)/b") == 1)
        }
        let rows = try await DatabaseProbe.read(
            directory.file("test.sqlite"),
            "SELECT group_concat(position || name, ',') FROM (SELECT * FROM task_steps ORDER BY position) GROUP BY task_id")
        #expect(rows.count == 40)
        #expect(Set(rows).isSubset(of: ["0a,1b", "0b,1a"]))
    }

    @Test("steps of a task group with random delays run once; a re-run replays every one of them")
    func taskGroupReplay() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let tasks = try await engine.createTasks(GroupOfSteps.self, inputs: Array(0..<20))
            #expect(try await engine.gather(tasks) == (0..<20).map { GroupOfSteps.result($0) })
            for task in tasks { #expect(try await engine.record(of: task.id).attempt == 2) }
        }
        for n in 0..<20 {
            for k in 0..<GroupOfSteps.width { #expect(counter.count("\(n)/g\(k)") == 1) }
        }
    }

    @Test("a re-run whose concurrent steps arrive in another order replays the stored ones and runs only the new ones")
    func reorderedRerun() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(ReorderedSteps.self, "r")
            #expect(try await task.value == 3)
            #expect(try await engine.record(of: task.id).attempt == 2)
        }
        // "fa" was stored by the first run and replayed; "fb" failed there and ran again.
        #expect(counter.count("fa") == 1)
        #expect(counter.count("fb") == 2)
        let order = try await DatabaseProbe.read(
            directory.file("test.sqlite"), "SELECT name || ':' || attempt FROM task_steps ORDER BY position")
        #expect(order == ["fa:1", "fb:2"])
    }

    @Test("a step that returns nothing runs once and is skipped on a re-run; a step's value keeps its type")
    func voidStep() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(WritesNothingBack.self, "rows")
            #expect(try await task.value == 5)
        }
        #expect(counter.count("write rows") == 1)
        #expect(counter.count("count rows") == 1)
        let stored = try await DatabaseProbe.read(
            directory.file("test.sqlite"), "SELECT name || '=' || result FROM task_steps ORDER BY position")
        #expect(stored == ["write=null", "count=4"])
    }

    @Test("a re-run that renames a step fails with NonDeterministicReplay when it returns, naming both steps")
    func renamedStep() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(RenamesAStep.self, "n")
            let error = await #expect(throws: StoredError.self) { try await task.value }
            #expect(error?.type == String(reflecting: NonDeterministicReplay.self))
            #expect(error?.message.contains("without asking for step \"b\", stored at position 1") == true)
            #expect(error?.message.contains("asked for step \"b2\", which that run did not") == true)
            #expect(try await engine.record(of: task.id).attempt == 2)
        }
        // The stored steps were replayed, not run again.
        #expect(counter.count("a") == 1)
        #expect(counter.count("b") == 1)
    }

    @Test("a renamed step stored by a run that then failed still fails the task on the next run, which asks for nothing new")
    func renamedThenRetried() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(RenamesThenFails.self, "n")
            let error = await #expect(throws: StoredError.self) { try await task.value }
            #expect(error?.message.contains("without asking for step \"charge-v1\"") == true)
            #expect(error?.message.contains("asked for step \"charge-v2\" (stored by attempt 2)") == true)
            #expect(try await engine.record(of: task.id).attempt == 3)
        }
        #expect(counter.count("charge-v2") == 1)
    }

    @Test("a step of a repeated name that failed and was not stored does not take a later one's stored result")
    func repeatedNameWithAGap() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(ChargesEach.self, "A,B")
            #expect(try await task.value == "charged A, charged B")
        }
        // A's first charge failed (not stored) and ran again; B's was stored and replayed.
        #expect(counter.count("charge A") == 2)
        #expect(counter.count("charge B") == 1)
        let stored = try await DatabaseProbe.read(
            directory.file("test.sqlite"), "SELECT name || '#' || occurrence || '=' || result FROM task_steps ORDER BY position")
        #expect(stored == ["charge#1=\"charged B\"", "charge#0=\"charged A\""])
    }

    @Test("a re-run that adds a step, or no longer asks for one, is not an error")
    func addedAndRemovedSteps() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let added = try await engine.createTask(AddsOrDropsSteps.self, "add")
            #expect(try await added.value == "a+x+b")
            let dropped = try await engine.createTask(AddsOrDropsSteps.self, "drop")
            #expect(try await dropped.value == "a")
        }
        #expect(counter.count("add/a") == 1)
        #expect(counter.count("add/b") == 1)
        #expect(counter.count("add/x") == 1)
    }

    @Test("a stored step failure thrown again by a re-run is not retried, whatever the retry policy")
    func replayedFailureNotRetried() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(ReplaysItsFailure.self, "order")
            let error = await #expect(throws: StoredError.self) { try await task.value }
            #expect(error?.message == "no such order")
            // Attempt 1 caught the failure and failed retryably; attempt 2 threw the
            // replayed failure and ended the task, with attempts left.
            #expect(try await engine.record(of: task.id).attempt == 2)
        }
        #expect(counter.count("validate") == 1)
    }

    @Test("a step asked for where a durable sleep was stored fails at once, without running its body")
    func stepWhereSleepWasStored() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(SleepThenStep.self, "k")
            let error = await #expect(throws: StoredError.self) { try await task.value }
            #expect(error?.message.contains("stored sleep \"pause\" at position 0") == true)
            #expect(error?.message.contains("asks for step \"pause\"") == true)
        }
        #expect(counter.count("pause body") == 0)
    }
}

// MARK: - Jobs

private func makeStepEngine(in directory: TemporaryDirectory, counter: RunCounter) throws -> TaskEngine {
    let engine = try makeEngine(in: directory, counter: counter)
    engine.register(AsyncLetSteps(counter: counter))
    engine.register(GroupOfSteps(counter: counter))
    engine.register(ReorderedSteps(counter: counter))
    engine.register(WritesNothingBack(counter: counter))
    engine.register(RenamesAStep(counter: counter))
    engine.register(AddsOrDropsSteps(counter: counter))
    engine.register(SleepThenStep(counter: counter))
    engine.register(ReplaysItsFailure(counter: counter))
    engine.register(RenamesThenFails(counter: counter))
    engine.register(ChargesEach(counter: counter))
    return engine
}

/// Retries at once, up to three attempts.
private let retryAtOnce = RetryPolicy.exponentialJitter(maxAttempts: 3, initialDelay: .zero, jitter: 0)

/// Two steps started together: `n` + 1000.
private struct AsyncLetSteps: Job {
    static let name = "async-let-steps"
    let counter: RunCounter
    func run(_ n: Int, context: TaskContext) async throws -> Int {
        async let a = context.step("a") {
            counter.record("\(n)/a")
            return n
        }
        async let b = context.step("b") {
            counter.record("\(n)/b")
            return 1000
        }
        return try await a + b
    }
}

/// A task group of `width` steps, each started after a random pause; the first
/// attempt fails after all of them were stored, the second replays them.
private struct GroupOfSteps: Job {
    static let name = "group-of-steps"
    static let retryPolicy = retryAtOnce
    static let width = 6
    let counter: RunCounter

    static func result(_ n: Int) -> Int { (0..<width).map { n * 10 + $0 }.reduce(0, +) }

    func run(_ n: Int, context: TaskContext) async throws -> Int {
        let sum = try await withThrowingTaskGroup(of: Int.self) { group in
            for k in 0..<Self.width {
                group.addTask {
                    try await Task.sleep(for: .microseconds(Int.random(in: 0...3000)))
                    return try await context.step("g\(k)") {
                        counter.record("\(n)/g\(k)")
                        return n * 10 + k
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        if context.attempt == 1 { throw TestFailure(reason: "fail once after the steps were stored") }
        return sum
    }
}

/// First run: "fa" is stored, then "fb" fails. Second run: "fb" is asked for
/// first (a new step, while "fa" is stored and not asked for yet), then "fa".
private struct ReorderedSteps: Job {
    static let name = "reordered-steps"
    static let retryPolicy = retryAtOnce
    let counter: RunCounter

    func run(_ input: String, context: TaskContext) async throws -> Int {
        @Sendable func stepA() async throws -> Int {
            try await context.step("fa") {
                counter.record("fa")
                return 1
            }
        }
        @Sendable func stepB() async throws -> Int {
            try await context.step("fb") {
                counter.record("fb")
                if context.attempt == 1 { throw TestFailure(reason: "fb fails on the first run") }
                return 2
            }
        }
        if context.attempt == 1 { return try await stepA() + stepB() }
        let (bFinished, finish) = AsyncStream<Void>.makeStream()
        async let a: Int = {
            for await _ in bFinished {}
            return try await stepA()
        }()
        async let b: Int = {
            defer { finish.finish() }
            return try await stepB()
        }()
        return try await a + b
    }
}

/// A step that returns nothing, then one whose value is used: 5 for "rows".
private struct WritesNothingBack: Job {
    static let name = "writes-nothing-back"
    static let retryPolicy = retryAtOnce
    let counter: RunCounter

    func run(_ input: String, context: TaskContext) async throws -> Int {
        try await context.step("write") { counter.record("write \(input)") }
        let count = try await context.step("count") {
            counter.record("count \(input)")
            return input.count
        }
        if context.attempt == 1 { throw TestFailure(reason: "fail once after both steps") }
        return count + 1
    }
}

/// Steps "a" and "b", then fails; the second run asks for "a" and "b2".
private struct RenamesAStep: Job {
    static let name = "renames-a-step"
    static let retryPolicy = retryAtOnce
    let counter: RunCounter

    func run(_ input: String, context: TaskContext) async throws -> String {
        try await context.step("a") { counter.record("a") }
        try await context.step(context.attempt == 1 ? "b" : "b2") { counter.record(context.attempt == 1 ? "b" : "b2") }
        if context.attempt == 1 { throw TestFailure(reason: "fail once") }
        return "done"
    }
}

/// "add": steps a, b and a failure; then a, x, b. "drop": steps a, b and a
/// failure; then only a.
private struct AddsOrDropsSteps: Job {
    static let name = "adds-or-drops-steps"
    static let retryPolicy = retryAtOnce
    let counter: RunCounter

    func run(_ input: String, context: TaskContext) async throws -> String {
        func step(_ name: String) async throws -> String {
            try await context.step(name) {
                counter.record("\(input)/\(name)")
                return name
            }
        }
        guard context.attempt > 1 else {
            _ = try await step("a")
            _ = try await step("b")
            throw TestFailure(reason: "fail once")
        }
        if input == "drop" { return try await step("a") }
        return [try await step("a"), try await step("x"), try await step("b")].joined(separator: "+")
    }
}

/// Run 1 stores "charge-v1" and fails; run 2 (new code) stores "charge-v2" and
/// fails; run 3 asks for "charge-v2" again (replayed) and returns.
private struct RenamesThenFails: Job {
    static let name = "renames-then-fails"
    static let retryPolicy = retryAtOnce
    let counter: RunCounter

    func run(_ input: String, context: TaskContext) async throws -> String {
        let name = context.attempt == 1 ? "charge-v1" : "charge-v2"
        try await context.step(name) { counter.record(name) }
        if context.attempt < 3 { throw TestFailure(reason: "fail in attempt \(context.attempt)") }
        return "charged"
    }
}

/// One step "charge" per comma-separated item; on the first run the first
/// item's charge fails (retryably, so not stored) and the task fails after the
/// loop.
private struct ChargesEach: Job {
    static let name = "charges-each"
    static let retryPolicy = retryAtOnce
    let counter: RunCounter

    func run(_ input: String, context: TaskContext) async throws -> String {
        let items = input.split(separator: ",").map(String.init)
        var charged: [String] = []
        for item in items {
            do {
                charged.append(
                    try await context.step("charge") {
                        counter.record("charge \(item)")
                        if context.attempt == 1, item == items.first { throw TestFailure(reason: "card declined") }
                        return "charged \(item)"
                    })
            } catch where context.attempt == 1 {}
        }
        if context.attempt == 1 { throw TestFailure(reason: "some charges failed") }
        return charged.joined(separator: ", ")
    }
}

/// A step that fails for good. The first run catches its failure and fails
/// retryably; later runs let the replayed failure end the task.
private struct ReplaysItsFailure: Job {
    static let name = "replays-its-failure"
    static let retryPolicy = RetryPolicy.exponentialJitter(maxAttempts: 5, initialDelay: .zero, jitter: 0)
    let counter: RunCounter

    func run(_ input: String, context: TaskContext) async throws -> String {
        do {
            try await context.step("validate") { () async throws -> Void in
                counter.record("validate")
                throw NonRetryableError("no such order")
            }
        } catch where context.attempt == 1 {
            throw TestFailure(reason: "retry after \(error)")
        }
        return "valid"
    }
}

/// First run: a short durable sleep "pause", then a failure; the second run asks
/// for a step named "pause".
private struct SleepThenStep: Job {
    static let name = "sleep-then-step"
    static let retryPolicy = retryAtOnce
    let counter: RunCounter

    func run(_ input: String, context: TaskContext) async throws -> String {
        if context.attempt == 1 {
            try await context.sleep(for: .milliseconds(1), name: "pause")
            throw TestFailure(reason: "fail once")
        }
        try await context.step("pause") { counter.record("pause body") }
        return "done"
    }
}
