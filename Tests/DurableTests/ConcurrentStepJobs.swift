import DurableTestKit
import Durable
import Foundation
import Synchronization

// The jobs of ConcurrentStepTests: concurrent steps, re-runs in another order,
// renamed, added and dropped steps, replayed failures.

func makeStepEngine(in directory: TemporaryDirectory, counter: RunCounter) async throws -> TaskEngine {
    let engine = try await makeTestEngine(in: directory, counter: counter)
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
let retryAtOnce = RetryPolicy.exponentialJitter(maxAttempts: 3, initialDelay: .zero, jitter: 0)

/// Two steps started together: `n` + 1000.
struct AsyncLetSteps: Job {
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
struct GroupOfSteps: Job {
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
struct ReorderedSteps: Job {
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
struct WritesNothingBack: Job {
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
struct RenamesAStep: Job {
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
struct AddsOrDropsSteps: Job {
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
struct RenamesThenFails: Job {
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
struct ChargesEach: Job {
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
struct ReplaysItsFailure: Job {
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
struct SleepThenStep: Job {
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
