public import Durable
import Foundation
import Synchronization

/// Named gates that test jobs wait on, opened by the test: ordering without sleeps.
public final class Gates: Sendable {
    public init() {}

    private struct State {
        var open: Set<String> = []
        var waiters: [String: [CheckedContinuation<Void, any Error>]] = [:]
        var arrived: [String: Int] = [:]
        var arrivalWaiters: [String: [(Int, CheckedContinuation<Void, Never>)]] = [:]
    }

    private let state = Mutex(State())

    public func open(_ name: String) {
        let waiters = state.withLock { state in
            state.open.insert(name)
            return state.waiters.removeValue(forKey: name) ?? []
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until the gate opens; throws CancellationError when cancelled.
    public func pass(_ name: String) async throws {
        arrive(name)
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let passNow = state.withLock { state -> Result<Void, any Error>? in
                    if state.open.contains(name) { return .success(()) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters[name, default: []].append(continuation)
                    return nil
                }
                if let passNow { continuation.resume(with: passNow) }
            }
        } onCancel: {
            let waiters = state.withLock { $0.waiters.removeValue(forKey: name) ?? [] }
            for waiter in waiters { waiter.resume(throwing: CancellationError()) }
        }
    }

    private func arrive(_ name: String) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.arrived[name, default: 0] += 1
            let count = state.arrived[name, default: 0]
            let (due, rest) = (state.arrivalWaiters[name] ?? []).reduce(into: ([CheckedContinuation<Void, Never>](), [(Int, CheckedContinuation<Void, Never>)]())) {
                if $1.0 <= count { $0.0.append($1.1) } else { $0.1.append($1) }
            }
            state.arrivalWaiters[name] = rest
            return due
        }
        for continuation in ready { continuation.resume() }
    }

    /// Waits until `count` jobs have reached the gate.
    public func waitForArrivals(_ name: String, count: Int = 1) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.arrived[name, default: 0] >= count { return true }
                state.arrivalWaiters[name, default: []].append((count, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    public func arrivals(_ name: String) -> Int { state.withLock { $0.arrived[name, default: 0] } }
}

/// Counts runs per key, to tell recomputation apart from stored answers.
public final class RunCounter: Sendable {
    public init() {}

    private let counts = Mutex<[String: Int]>([:])
    public func record(_ key: String) { counts.withLock { $0[key, default: 0] += 1 } }
    public func count(_ key: String) -> Int { counts.withLock { $0[key, default: 0] } }
    public var total: Int { counts.withLock { $0.values.reduce(0, +) } }
}

public struct TestFailure: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "test failure: \(reason)" }
    public init(reason: String) { self.reason = reason }
}

/// Returns its input.
public struct Echo: Job {
    public static let name = "echo"
    public let counter: RunCounter
    public init(counter: RunCounter) { self.counter = counter }
    public func run(_ input: String, context: TaskContext) async throws -> String {
        counter.record(input)
        return input
    }
}

/// Doubles a number.
public struct Doubler: Job {
    public static let name = "double"
    public init() {}
    public func run(_ input: Int, context: TaskContext) async throws -> Int { input * 2 }
}

/// Throws TestFailure with its input as the reason.
public struct Fail: Job {
    public static let name = "fail"
    public init() {}
    public func run(_ input: String, context: TaskContext) async throws -> String {
        throw TestFailure(reason: input)
    }
}

/// Waits at the gate named by its input, then returns the input.
public struct WaitAtGate: Job {
    public static let name = "wait-at-gate"
    public let gates: Gates
    public init(gates: Gates) { self.gates = gates }
    public func run(_ input: String, context: TaskContext) async throws -> String {
        try await gates.pass(input)
        return input
    }
}

/// Waits at a gate, then fails or succeeds as its input says.
public struct GateThenFail: Job {
    public static let name = "gate-then-fail"
    public let gates: Gates
    public init(gates: Gates) { self.gates = gates }
    public func run(_ input: String, context: TaskContext) async throws -> String {
        try await gates.pass(input)
        throw TestFailure(reason: input)
    }
}

/// Ignores cancellation once: waits at its gate, catches the cancellation,
/// and returns "ignored".
public struct IgnoreCancel: Job {
    public static let name = "ignore-cancel"
    public let gates: Gates
    public init(gates: Gates) { self.gates = gates }
    public func run(_ input: String, context: TaskContext) async throws -> String {
        do {
            try await gates.pass(input)
            return "opened"
        } catch {
            return "ignored"
        }
    }
}

/// Returns the task's context values and name, as seen from inside.
public struct ReadContext: Job {
    public static let name = "read-context"
    public init() {}
    public func run(_ input: String, context: TaskContext) async throws -> [String: String] {
        var values = context.values
        values["_name"] = context.name
        values["_id"] = "\(context.taskID)"
        if let completed = context.completedTaskID { values["_completed"] = "\(completed)" }
        return values
    }
}

/// Records, for a done callback, which task finished, in a shared log.
public struct RecordCallback: Job {
    public static let name = "record-callback"
    public let log: CallbackLog
    public init(log: CallbackLog) { self.log = log }
    public func run(_ input: String, context: TaskContext) async throws -> String {
        log.append("\(input):\(context.completedTaskID.map { "\($0)" } ?? "-")")
        return input
    }
}

public final class CallbackLog: Sendable {
    public init() {}

    private let entries = Mutex<[String]>([])
    public func append(_ entry: String) { entries.withLock { $0.append(entry) } }
    public var all: [String] { entries.withLock { $0 } }
}

/// Awaits its own task (which must fail).
public struct AwaitSelf: Job {
    public static let name = "await-self"
    public init() {}
    public func run(_ input: String, context: TaskContext) async throws -> String {
        let me = try await context.engine.task(id: context.taskID, as: AwaitSelf.self)
        return try await me.value
    }
}

/// Creates a child task without a context, and returns the child's view of it.
public struct SpawnReader: Job {
    public static let name = "spawn-reader"
    public init() {}
    public func run(_ input: String, context: TaskContext) async throws -> [String: String] {
        let child = try await context.engine.createTask(ReadContext.self, "child")
        return try await child.value
    }
}

public func registerTestJobs(on engine: TaskEngine, gates: Gates, counter: RunCounter = RunCounter(), log: CallbackLog = CallbackLog()) {
    engine.register(Echo(counter: counter))
    engine.register(Doubler())
    engine.register(Fail())
    engine.register(WaitAtGate(gates: gates))
    engine.register(GateThenFail(gates: gates))
    engine.register(IgnoreCancel(gates: gates))
    engine.register(ReadContext())
    engine.register(RecordCallback(log: log))
    engine.register(AwaitSelf())
    engine.register(SpawnReader())
    engine.register(Flaky(counter: counter))
    engine.register(Refuses())
    engine.register(ThreeSteps(counter: counter))
    engine.register(ChangesItsSteps())
    engine.register(StoredStepFailure(counter: counter))
    engine.register(SleepBetween(counter: counter))
    engine.register(ParentOfTwo())
    engine.register(Tree(gates: gates))
    engine.register(AwaitMessage(counter: counter))
}

/// Fails (retryably) until it has run `failures + 1` times for its input, then
/// returns the number of runs. The input is "<name>:<failures>".
public struct Flaky: Job {
    public static let name = "flaky"
    public let counter: RunCounter
    public init(counter: RunCounter) { self.counter = counter }
    public func run(_ input: String, context: TaskContext) async throws -> Int {
        counter.record(input)
        let runs = counter.count(input)
        let failures = Int(input.split(separator: ":").last ?? "0") ?? 0
        if runs <= failures { throw TestFailure(reason: "\(input) run \(runs)") }
        return runs
    }
}

/// Throws a NonRetryableError.
public struct Refuses: Job {
    public static let name = "refuses"
    public static let retryPolicy = RetryPolicy.exponentialJitter(maxAttempts: 5, initialDelay: .seconds(1), jitter: 0)
    public init() {}
    public func run(_ input: String, context: TaskContext) async throws -> String {
        throw NonRetryableError("refused \(input)")
    }
}

/// Three steps; step "b" fails (retryably) on the task's first attempt. Counts
/// each step body's runs as "<input>/<step>".
public struct ThreeSteps: Job {
    public static let name = "three-steps"
    public static let retryPolicy = RetryPolicy.exponentialJitter(maxAttempts: 3, initialDelay: .zero, jitter: 0)
    public let counter: RunCounter
    public init(counter: RunCounter) { self.counter = counter }
    public func run(_ input: String, context: TaskContext) async throws -> String {
        let a = try await context.step("a") { counter.record("\(input)/a"); return "A" }
        let b = try await context.step("b") {
            counter.record("\(input)/b")
            if context.attempt == 1 { throw TestFailure(reason: "b fails once") }
            return "B"
        }
        let c = try await context.step("c") { counter.record("\(input)/c"); return "C" }
        return a + b + c
    }
}

/// Asks for step "a" on its first attempt and step "x" on later ones.
public struct ChangesItsSteps: Job {
    public static let name = "changes-its-steps"
    public static let retryPolicy = RetryPolicy.exponentialJitter(maxAttempts: 3, initialDelay: .zero, jitter: 0)
    public init() {}
    public func run(_ input: String, context: TaskContext) async throws -> String {
        let name = context.attempt == 1 ? "a" : "x"
        _ = try await context.step(name) { 1 }
        if context.attempt == 1 { throw TestFailure(reason: "fail after the first step") }
        return "done"
    }
}

/// A step that fails for good, caught by the job; a later failure makes the task
/// run again, and the failed step must replay its failure without running.
public struct StoredStepFailure: Job {
    public static let name = "stored-step-failure"
    public static let retryPolicy = RetryPolicy.exponentialJitter(maxAttempts: 2, initialDelay: .zero, jitter: 0)
    public let counter: RunCounter
    public init(counter: RunCounter) { self.counter = counter }
    public func run(_ input: String, context: TaskContext) async throws -> String {
        var seen = "none"
        do {
            _ = try await context.step("check") { () async throws -> Int in
                counter.record("check")
                throw NonRetryableError("invalid input \(input)")
            }
        } catch {
            seen = "\(error)"
        }
        if context.attempt == 1 { throw TestFailure(reason: "retry once") }
        return seen
    }
}

/// Step, long durable sleep, step.
public struct SleepBetween: Job {
    public static let name = "sleep-between"
    public let counter: RunCounter
    public init(counter: RunCounter) { self.counter = counter }
    public func run(_ input: String, context: TaskContext) async throws -> String {
        let before = try await context.step("before") { counter.record("before"); return "b" }
        try await context.sleep(for: .seconds(3600))
        let after = try await context.step("after") { counter.record("after"); return "a" }
        return before + after
    }
}

/// Creates two children and gathers them; fails once after creating them, so the
/// re-run must re-attach to them.
public struct ParentOfTwo: Job {
    public static let name = "parent-of-two"
    public static let retryPolicy = RetryPolicy.exponentialJitter(maxAttempts: 2, initialDelay: .zero, jitter: 0)
    public init() {}
    public func run(_ input: String, context: TaskContext) async throws -> [String] {
        let first = try await context.createTask(Echo.self, "\(input)-1")
        let second = try await context.createTask(ReadContext.self, "\(input)-2", name: "reader")
        if context.attempt == 1 { throw TestFailure(reason: "parent fails after creating its children") }
        let values = try await context.gather([first])
        let view = try await second.value
        return values + [view["tenant"] ?? "-"]
    }
}

/// A three-level tree: the root creates a child, which creates a grandchild; all
/// of them wait at their gates ("<input>", "<input>/child", "<input>/grandchild").
/// With input ending in "+detached", the root also creates a detached child.
public struct Tree: Job {
    public static let name = "tree"
    public let gates: Gates
    public init(gates: Gates) { self.gates = gates }
    public func run(_ input: String, context: TaskContext) async throws -> String {
        if input.hasSuffix("/grandchild") {
            try await gates.pass(input)
            return input
        }
        let next = input.hasSuffix("/child") ? "\(input)/grandchild" : "\(input)/child"
        let child = try await context.createTask(Tree.self, next)
        if input.hasSuffix("+detached") {
            _ = try await context.createTask(WaitAtGate.self, "\(input)/detached", detached: true)
        }
        try await gates.pass(input)
        return try await child.value
    }
}

/// Appends two lines for its input, then fails once (retryably) so the re-run
/// must not append them again.
public struct AppendsTwice: Job {
    public static let name = "appends-twice"
    public static let retryPolicy = RetryPolicy.exponentialJitter(maxAttempts: 2, initialDelay: .zero, jitter: 0)
    public let path: String
    public init(path: String) { self.path = path }
    public func run(_ input: String, context: TaskContext) async throws -> Int64 {
        try await context.appendLine("\(input) first", to: path)
        let second = try await context.appendLine("\(input) second", to: path)
        if context.attempt == 1 { throw TestFailure(reason: "fail after appending") }
        return second.offset
    }
}

/// Receives a message of the topic its input names ("TOPIC" or "TOPIC/SECONDS"
/// for a timeout), after a counted step; publishes what it got as the event
/// "got"; returns the payload, or "timeout".
public struct AwaitMessage: Job {
    public static let name = "await-message"
    public let counter: RunCounter
    public init(counter: RunCounter = RunCounter()) { self.counter = counter }
    public func run(_ input: String, context: TaskContext) async throws -> String {
        let parts = input.split(separator: "/")
        let topic = String(parts[0])
        let timeout = parts.count > 1 ? Int(parts[1]).map { Duration.seconds($0) } : nil
        _ = try await context.step("before") { counter.record("before \(input)"); return 1 }
        try await context.setEvent("waiting", topic)
        let payload = try await context.receive(String.self, topic: topic, timeout: timeout)
        counter.record("received \(payload ?? "timeout")")
        try await context.setEvent("got", payload ?? "timeout")
        return payload ?? "timeout"
    }
}
