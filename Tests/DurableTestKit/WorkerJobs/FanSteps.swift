public import Durable

/// Concurrent steps under crashes. For input `n`: steps "a" (returns n) and "b"
/// (2·n) started together with `async let`, and a task group of steps "g0"..."g3"
/// (10·n + k), each group child starting after a random pause of up to `delay`.
/// Every body logs "step <name> <n>" as it starts, then works a random time up to
/// `delay` (through ``Workload/body(_:delay:)``: past the budget, later bodies
/// stall until the process is killed). The result is 43·n + 6. Which step reaches
/// the journal first differs from run to run.
public struct FanSteps: Job {
    public static let name = "fan-steps"
    public static let groupWidth = 4
    public let work: Workload

    public init(work: Workload) { self.work = work }

    public func run(_ n: Int, context: TaskContext) async throws -> Int {
        let work = work
        @Sendable func randomPause() async throws {
            try await Task.sleep(for: work.delay * Double.random(in: 0...1))
        }
        @Sendable func body(_ name: String, _ value: Int) async throws -> Int {
            try await work.body("step \(name) \(n)", delay: work.delay * Double.random(in: 0...1))
            return value
        }
        async let a = context.step("a") { try await body("a", n) }
        async let b = context.step("b") { try await body("b", 2 * n) }
        let group = try await withThrowingTaskGroup(of: Int.self) { group in
            for k in 0..<Self.groupWidth {
                group.addTask {
                    try await randomPause()
                    return try await context.step("g\(k)") { try await body("g\(k)", 10 * n + k) }
                }
            }
            return try await group.reduce(0, +)
        }
        return try await a + b + group
    }
}
