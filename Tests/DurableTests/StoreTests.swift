import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Foundation
import GRDB
import GRDBSQLite
import Testing

/// Store-level properties that the engine's API does not show.
@Suite("SQLite store")
struct StoreTests {
    @Test("the writer connection runs at the configured durability (FULL by default, NORMAL when asked)", .enabled(if: TestStore.isSQLite, "SQLite only: the file itself"))
    func durabilityLevel() async throws {
        let directory = TemporaryDirectory()
        let full = try await makeTestEngine(in: directory, file: "full.sqlite")
        let normal = try await makeTestEngine(in: directory, file: "normal.sqlite", sqlite: { $0.durability = .processCrashSafe })
        #expect(try await (full.store as? SQLiteStore)?.writerSynchronousLevel() == 2)
        #expect(try await (normal.store as? SQLiteStore)?.writerSynchronousLevel() == 1)
        // A claim-only commit is relaxed (not synced on its own); FULL is back after it.
        _ = try await full.createTask(Doubler.self, 1)
        let now = SystemClock().now() + 1_000
        let cycle = try await full.store.completeAndClaim(
            [], claim: ClaimRequest(owner: "w", limit: 1, jobs: ["double"], leaseUntil: now + 1_000), now: now)
        #expect(cycle.claimed.count == 1)
        #expect(try await (full.store as? SQLiteStore)?.writerSynchronousLevel() == 2)
    }

    @Test("a claim takes due tasks of the given jobs in priority, then creation order, and no others")
    func claimOrder() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let low = try await engine.createTask(Doubler.self, 1)
        let high = try await engine.createTask(Doubler.self, 2, options: TaskOptions(priority: 5))
        let other = try await engine.createTask(Echo.self, "not claimed")
        let later = try await engine.createTask(Doubler.self, 3)
        let now = SystemClock().now() + 1_000
        let cycle = try await engine.store.completeAndClaim(
            [], claim: ClaimRequest(owner: "w", limit: 2, jobs: ["double"], leaseUntil: now + 1_000), now: now)
        #expect(Set(cycle.claimed.map(\.id)) == [high.id, low.id])
        let rest = try await engine.store.completeAndClaim(
            [], claim: ClaimRequest(owner: "w", limit: 10, jobs: ["double"], leaseUntil: now + 1_000), now: now)
        #expect(rest.claimed.map(\.id) == [later.id])
        #expect(try await other.status() == .pending)
    }

    @Test("many completions commit in one cycle, each with its own attempt row and completion number")
    func groupCommit() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let tasks = try await engine.createTasks(Doubler.self, inputs: Array(0..<200))
        let now = SystemClock().now() + 1_000
        let claimed = try await engine.store.completeAndClaim(
            [], claim: ClaimRequest(owner: "w", limit: 500, jobs: ["double"], leaseUntil: now + 1_000), now: now
        ).claimed
        #expect(claimed.count == 200)
        let completions = claimed.map {
            TaskCompletion(id: $0.id, owner: "w", attempt: $0.attempt, startedAt: now, ending: .succeeded(result: "0"))
        }
        let cycle = try await engine.store.completeAndClaim(completions, claim: nil, now: now + 1)
        #expect(cycle.effects.finished.count == 200)
        #expect(Set(cycle.effects.finished.map(\.completionSequence)).count == 200)
        #expect(try await engine.wait(tasks).pending.isEmpty)
    }

    @Test("ended runs finish many per statement; taken-over runs among them change nothing and leave no gap in completion numbers", .enabled(if: TestStore.isSQLite, "SQLite only: the file itself"))
    func batchedFinishWithStaleRuns() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let tasks = try await engine.createTasks(Doubler.self, inputs: Array(0..<70))
        let now = SystemClock().now() + 1_000
        let claimed = try await engine.store.completeAndClaim(
            [], claim: ClaimRequest(owner: "w", limit: 100, jobs: ["double"], leaseUntil: now + 1_000), now: now
        ).claimed
        #expect(claimed.count == 70)
        // Runs 3, 40 and 69 were taken over (a later attempt, another owner); one
        // run in the middle goes back to pending, splitting the batch.
        let staleIndexes: Set<Int> = [3, 40, 69]
        let completions = claimed.enumerated().map { index, task in
            TaskCompletion(
                id: task.id, owner: index == 40 ? "other" : "w", attempt: index == 3 || index == 69 ? 2 : task.attempt,
                startedAt: now,
                ending: index == 50 ? .released(StoredError(kind: .interrupted, type: "T", message: "m"))
                    : .succeeded(result: "\(index)"))
        }
        let cycle = try await engine.store.completeAndClaim(completions, claim: nil, now: now + 1)
        #expect(Set(cycle.stale) == Set(staleIndexes.map { claimed[$0].id }))
        let sequences = cycle.effects.finished.map(\.completionSequence)
        #expect(cycle.effects.finished.count == 66)
        #expect(sequences == Array(1...66))
        #expect(cycle.effects.finished.map(\.id) == claimed.enumerated()
            .filter { !staleIndexes.contains($0.offset) && $0.offset != 50 }.map(\.element.id))

        let probe = try DatabaseQueue(path: directory.file("test.sqlite"))
        try await probe.read { db in
            #expect(try Int.fetchOne(db, sql: "SELECT value FROM durable_counters WHERE name = 'completion_seq'") == 66)
            let stored = try Row.fetchAll(
                db, sql: "SELECT id, completion_seq FROM durable_tasks WHERE completion_seq IS NOT NULL ORDER BY completion_seq")
            #expect(stored.map { $0["id"] as Int64 } == cycle.effects.finished.map(\.id.rawValue))
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM durable_tasks WHERE status = 'running'") == 3)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM durable_task_attempts WHERE outcome = 'succeeded'") == 66)
        }
        try probe.close()
        // Waiters see every finished task (no gap holds delivery back).
        let finished = tasks.enumerated().filter { !staleIndexes.contains($0.offset) && $0.offset != 50 }.map(\.element)
        #expect(try await engine.wait(finished, timeout: .seconds(30)).pending.isEmpty)
    }

    @Test("a write lock held by another connection past the lock timeout fails with an error naming the file; then it works", .enabled(if: TestStore.isSQLite, "SQLite only: the file itself"))
    func lockTimeout() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory, sqlite: { $0.lockTimeout = .milliseconds(300) })
        let first = try await engine.createTask(Doubler.self, 1)
        var holding = Configuration()
        holding.allowsUnsafeTransactions = true
        let holder = try DatabaseQueue(path: directory.file("test.sqlite"), configuration: holding)
        try await holder.writeWithoutTransaction { db in try db.execute(sql: "BEGIN IMMEDIATE") }
        await #expect {
            try await engine.createTask(Doubler.self, 2)
        } throws: { error in
            guard let error = error as? DurableError else { return false }
            return error.code == .databaseLocked && "\(error)".contains(directory.file("test.sqlite"))
                && "\(error)".contains("lock timeout (300 ms)")
        }
        try await holder.writeWithoutTransaction { db in try db.execute(sql: "ROLLBACK") }
        try holder.close()
        let second = try await engine.createTask(Doubler.self, 3)
        #expect(second.id.rawValue == first.id.rawValue + 1)
        try engine.close()
    }

    @Test("the change check reports other connections' commits, including hand edits, and not this store's own", .enabled(if: TestStore.isSQLite, "SQLite only: the file itself"))
    func changeCheck() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let other = try await makeTestEngine(in: directory)
        let store = try #require(engine.store as? SQLiteStore)
        var mark = try store.checkChanges(since: nil).mark
        #expect(try store.checkChanges(since: mark).changedByOthers == false)

        _ = try await engine.createTask(Doubler.self, 1)
        let own = try store.checkChanges(since: mark)
        #expect(own.mark != mark)
        #expect(own.changedByOthers == false)
        mark = own.mark

        _ = try await other.createTask(Doubler.self, 2)
        let foreign = try store.checkChanges(since: mark)
        #expect(foreign.changedByOthers)
        mark = foreign.mark

        // Own and foreign commits between two looks: someone else's change.
        _ = try await engine.createTask(Doubler.self, 3)
        _ = try await other.createTask(Doubler.self, 4)
        _ = try await engine.createTask(Doubler.self, 5)
        let mixed = try store.checkChanges(since: mark)
        #expect(mixed.changedByOthers)
        mark = mixed.mark

        // A person with sqlite3 does not raise the commit counter.
        let hand = try DatabaseQueue(path: directory.file("test.sqlite"))
        try await hand.write { db in try db.execute(sql: "UPDATE durable_tasks SET priority = 1 WHERE id = 1") }
        try hand.close()
        #expect(try store.checkChanges(since: mark).changedByOthers)
        try engine.close()
        try other.close()
    }

    @Test("a value SQLite refuses to bind (over its length limit) fails the write; nothing is stored in its place", .enabled(if: TestStore.isSQLite, "SQLite only: the file itself"))
    func refusedBinding() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let store = try #require(engine.store as? SQLiteStore)
        try await store.pool.writeWithoutTransaction { db in
            _ = sqlite3_limit(db.sqliteConnection, SQLITE_LIMIT_LENGTH, 1_000)
        }
        let kept = try await engine.createTask(Echo.self, "short")
        // The context column may be NULL: a refused binding must not leave it so.
        await #expect(throws: DurableError.self) {
            try await engine.createTask(Echo.self, "long context", context: ["k": String(repeating: "x", count: 2_000)])
        }
        let stored = try await engine.tasks(matching: TaskQuery())
        #expect(stored.map(\.id) == [kept.id])
    }

    @Test("a batch mixing keyed and unkeyed tasks, longer than one multi-row insert, keeps order, ids and keys")
    func mixedBatch() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        // 100 tasks; every 7th has a key, and task 50 repeats task 14's key and input.
        let requests = (0..<100).map { index -> TaskRequest<String> in
            let key = index == 50 ? "k14" : (index % 7 == 0 ? "k\(index)" : nil)
            return TaskRequest(index == 50 ? "input-14" : "input-\(index)", key: key)
        }
        let tasks = try await engine.createTasks(Echo.self, requests)
        #expect(tasks[50].id == tasks[14].id)
        let distinct = tasks.enumerated().filter { $0.offset != 50 }.map(\.element.id)
        #expect(distinct == distinct.sorted())
        #expect(Set(distinct).count == 99)
        for (index, task) in tasks.enumerated() where index != 50 {
            let record = try await engine.record(of: task.id)
            #expect(record.input == "\"input-\(index)\"")
            #expect(record.key == (index % 7 == 0 ? "k\(index)" : nil))
            #expect(record.name == "Task-\(task.id)")
        }
        #expect(try await engine.tasks(matching: TaskQuery(limit: 1_000)).count == 99)
    }

    @Test("integers and plain strings are stored as JSONEncoder would write them, and read back")
    func jsonFastPath() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for number in [0, -1, 42, Int.max, Int.min] {
            let text = try StoredJSON.encode(number)
            #expect(text == String(decoding: try encoder.encode(number), as: UTF8.self))
            #expect(try StoredJSON.decode(Int.self, from: text) == number)
        }
        for string in ["", "plain", "héllo wörld", "a/b", "quote \" inside", "back\\slash", "tab\tnew\nline", "\u{7F}"] {
            let text = try StoredJSON.encode(string)
            #expect(text == String(decoding: try encoder.encode(string), as: UTF8.self))
            #expect(try StoredJSON.decode(String.self, from: text) == string)
        }
        #expect(try StoredJSON.decode(Int.self, from: "5.0") == 5)
    }
}

/// How many of this process's descriptors point at `path` or its -wal/-shm.
private func openDescriptors(on path: String) -> Int {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return entries.filter { entry in
        let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(entry)")) ?? ""
        return target.hasPrefix(path)
    }.count
}

@Suite("Closing the engine")
struct ClosingTests {
    @Test("close() after a run folds the WAL into the file: the file alone holds every task and result", .enabled(if: TestStore.isSQLite, "SQLite only: the file itself"))
    func closeCheckpoints() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("test.sqlite")
        let engine = try await makeTestEngine(in: directory)
        let tasks = try await engine.run { engine in
            let tasks = try await engine.createTasks(Doubler.self, inputs: Array(1...50))
            _ = try await engine.gather(tasks)
            return tasks
        }
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        try engine.close()
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        #expect(!FileManager.default.fileExists(atPath: path + "-shm"))
        #expect(openDescriptors(on: path) == 0)
        // Any later use is a clear error naming the file.
        await #expect(throws: DurableError.self) { _ = try await engine.record(of: tasks[0].id) }
        // Reopened, the file has everything.
        let reopened = try await makeTestEngine(in: directory)
        var values: [Int] = []
        for task in tasks { values.append(try await reopened.task(id: task.id, as: Doubler.self).result()) }
        #expect(values == (1...50).map { $0 * 2 })
        try reopened.close()
    }

    @Test("close() is refused while the engine's worker runs")
    func closeWhileRunning() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let refused = try await engine.run { engine in
            #expect(throws: DurableError.self) { try engine.close() }
            return true
        }
        #expect(refused)
        try engine.close()
    }

    @Test("an engine that is released without close() closes its connections", .enabled(if: TestStore.isSQLite, "SQLite only: the file itself"))
    func releaseCloses() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("test.sqlite")
        do {
            let engine = try await makeTestEngine(in: directory)
            try await engine.run { engine in
                _ = try await engine.gather(try await engine.createTasks(Doubler.self, inputs: [1, 2, 3]))
            }
            #expect(openDescriptors(on: path) > 0)
        }
        // Tasks the engine started (watcher, worker loop) end shortly after the run.
        var open = openDescriptors(on: path)
        for _ in 0..<100 where open > 0 {
            try await Task.sleep(for: .milliseconds(20))
            open = openDescriptors(on: path)
        }
        #expect(open == 0)
    }
}
