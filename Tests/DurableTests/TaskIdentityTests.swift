import DurableTestKit
import Durable
import Testing

/// ASYNCIO.md §1: creating tasks, names, context.
@Suite("Task identity: names and context")
struct TaskIdentityTests {
    @Test("create_task returns a task that runs on its own; its value is the job's return (1)")
    func createTaskRuns() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine in
            let task = try await engine.createTask(Echo.self, "hello")
            #expect(try await task.value == "hello")
            #expect(try await task.result() == "hello")
        }
    }

    @Test("a name given at creation is stored and seen from inside the job (2)")
    func namedTask() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine in
            let task = try await engine.createTask(ReadContext.self, "x", name: "X")
            #expect(try await task.name() == "X")
            #expect(try await task.value["_name"] == "X")
        }
    }

    @Test("unnamed tasks get Task-<n> names that grow with creation order and never repeat after reopening (3)")
    func generatedNames() async throws {
        let directory = TemporaryDirectory()
        var names: [String] = []
        do {
            let engine = try await makeTestEngine(in: directory)
            let tasks = try await engine.createTasks(Doubler.self, inputs: [1, 2, 3])
            for task in tasks { names.append(try await task.name()) }
        }
        let reopened = try await makeTestEngine(in: directory)
        let later = try await reopened.createTask(Doubler.self, 4)
        names.append(try await later.name())
        let numbers = names.map { Int($0.dropFirst("Task-".count)) ?? -1 }
        #expect(names.allSatisfy { $0.hasPrefix("Task-") })
        #expect(numbers == numbers.sorted())
        #expect(Set(numbers).count == 4)
    }

    @Test("setName stores any value as its description (4)")
    func setNameAnyValue() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let task = try await engine.createTask(Doubler.self, 1)
        try await task.setName(123_456_789)
        #expect(try await task.name() == "123456789")
        try await task.setName("{6}")
        #expect(try await task.name() == "{6}")
        // Stored: another engine on the file sees it.
        let other = try await makeTestEngine(in: directory)
        #expect(try await other.task(id: task.id, as: Doubler.self).name() == "{6}")
    }

    // 5 (non-coroutine argument) and 7 (set_result from outside) cannot be written in
    // Swift: createTask takes a Job type and a typed input, and DurableTask has no
    // setter for results; the compiler refuses both.

    @Test("a task that awaits itself fails instead of hanging (6)")
    func awaitsItself() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine in
            let task = try await engine.createTask(AwaitSelf.self, "me")
            let error = await #expect(throws: StoredError.self) { try await task.value }
            #expect(error?.message.contains("cannot await itself") == true)
        }
    }

    @Test("without a context, a task created by a job gets a copy of the creating job's values (8)")
    func inheritsCreatorContext() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine in
            let parent = try await engine.createTask(SpawnReader.self, "p", context: ["tenant": "acme"])
            let childView = try await parent.value
            #expect(childView["tenant"] == "acme")
            #expect(childView["_id"] != "\(parent.id)")
            let child = try await engine.record(of: TaskID(Int64(childView["_id"] ?? "") ?? 0))
            #expect(child.parentID == parent.id)
        }
    }

    @Test("with a context, the task sees exactly those values, stored with it (9)")
    func explicitContext() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let task = try await engine.createTask(ReadContext.self, "x", context: ["request-id": "r-1", "user": "ada"])
        #expect(try await task.contextValues() == ["request-id": "r-1", "user": "ada"])
        // Run it from a second engine (a restart): the same values reach the job.
        let restarted = try await makeTestEngine(in: directory)
        try await restarted.run { engine in
            let view = try await engine.task(id: task.id, as: ReadContext.self).value
            #expect(view["request-id"] == "r-1")
            #expect(view["user"] == "ada")
        }
    }

    @Test("100 concurrent tasks each keep their own context values (10)")
    func manyContexts() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine in
            let requests = (0..<100).map { TaskRequest<String>("t\($0)", context: ["n": "\($0)"]) }
            let tasks = try await engine.createTasks(ReadContext.self, requests)
            let views = try await engine.gather(tasks)
            #expect(views.map { $0["n"] } == (0..<100).map { "\($0)" })
        }
    }

    @Test("inside a job, TaskContext.current is that task's context, and none outside (11)")
    func currentTask() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        #expect(TaskContext.current == nil)
        try await engine.run { engine in
            let tasks = try await engine.createTasks(ReadContext.self, inputs: ["a", "b", "c"])
            let views = try await engine.gather(tasks)
            #expect(views.map { $0["_id"] } == tasks.map { "\($0.id)" })
        }
    }

    // 12 (eager_start) has no durable counterpart: a task's row is committed before
    // any of its code can run, so it is never done when createTask returns.

    @Test("a key makes creation idempotent: the same key returns the stored task")
    func idempotentKey() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let first = try await engine.createTask(Doubler.self, 5, key: "double-5")
        let second = try await engine.createTask(Doubler.self, 5, key: "double-5")
        #expect(first == second)
        let reopened = try await makeTestEngine(in: directory)
        #expect(try await reopened.createTask(Doubler.self, 5, key: "double-5").id == first.id)
        let error = await #expect(throws: DurableError.self) {
            try await reopened.createTask(Doubler.self, 6, key: "double-5")
        }
        #expect(error?.code == .keyConflict)
    }

    @Test("createTasks stores a batch in one transaction: a conflict creates none")
    func batchIsAtomic() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.createTask(Doubler.self, 1, key: "taken")
        await #expect(throws: DurableError.self) {
            try await engine.createTasks(
                Doubler.self, [TaskRequest(10, key: "new-1"), TaskRequest(11, key: "new-2"), TaskRequest(12, key: "taken")])
        }
        #expect(try await engine.tasks(matching: TaskQuery()).count == 1)
        let retry = try await engine.createTasks(Doubler.self, [TaskRequest(10, key: "new-1")])
        // A new task: the failed batch stored none (its ids may be skipped: on
        // PostgreSQL a sequence never gives a number back).
        #expect(try await engine.tasks(matching: TaskQuery()).map(\.id) == [retry[0].id, TaskID(1)])
    }
}
