import DurableTestKit
import Durable
import Foundation
import GRDB
import Testing

/// A task stays `running` in the file after its worker was killed, until a worker
/// recovers it: the library, the `durable` commands and the SQL views show such a
/// run as abandoned, not as running.
@Suite("Runs whose worker is gone", .serialized)
struct AbandonedRunTests {
    /// A file with one `sleeper` task running in a DurableTestWorker process (with
    /// the lease `lease`, in ms, if given), and an engine on it in this process.
    private struct Scene {
        let directory = TemporaryDirectory()
        var path: String { directory.file("abandoned.sqlite") }
        var log: String { directory.file("executions.log") }
        let engine: TaskEngine
        let task: DurableTask<String>
        let worker: ChildProcess

        init(lease: Int? = nil) async throws {
            let path = directory.file("abandoned.sqlite")
            let log = directory.file("executions.log")
            engine = try TaskEngine(path: path, logger: testLogger)
            task = try await engine.createTask(Sleeper.self, "long-sleep", name: "sleepy")
            worker = try ChildProcess(
                "worker", arguments: ["run", path, "--log", log] + (lease.map { ["--lease-ms", "\($0)"] } ?? []),
                in: directory)
            try await poll("the sleeper runs", child: worker) { try lines(of: log) == ["long-sleep"] }
        }

        func durable(_ arguments: [String]) async throws -> DurableToolOutput {
            try await runDurableTool(arguments + ["--db", path])
        }

        /// `durable stats --json`'s object for the sleeper job.
        func sleeperStats() async throws -> [String: Any] {
            let lines = try await durable(["stats", "--json"]).lines
            let objects = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            return try #require(objects.compactMap { $0 }.first { $0["job"] as? String == Sleeper.name })
        }

        /// The task's row of a view, read with plain SQL.
        func viewRow(_ sql: String) throws -> [String: String?] {
            let probe = try DatabaseProbe(path: path, readonly: true)
            defer { try? probe.close() }
            let row = try #require(try probe.rows(sql, [task.id.rawValue]).first)
            var values: [String: String?] = [:]
            for column in row.columnNames {
                let value: DatabaseValue = row[column]
                switch value.storage {
                case .null: values[column] = .some(nil)
                case .int64(let number): values[column] = "\(number)"
                case .double(let number): values[column] = "\(number)"
                case .string(let text): values[column] = text
                case .blob(let data): values[column] = "\(data)"
                }
            }
            return values
        }
    }

    @Test("ls, show, stats and watch show a run whose worker died as abandoned at once; a new worker recovers it")
    func deadOwnerInCommands() async throws {
        let scene = try await Scene()
        let id = scene.task.id
        // While the worker lives, the run is plain running.
        #expect(try await scene.engine.abandonedRuns().isEmpty)
        let live = try await scene.durable(["ls"])
        #expect(live.lines.count == 2 && live.lines[1].contains("running") && !live.lines[1].contains("owner dead"))
        await #expect(try scene.sleeperStats()["running"] as? Int == 1)
        await #expect(try scene.sleeperStats()["abandoned"] as? Int == 0)

        try await scene.worker.sigkill()
        let owner = try await scene.engine.record(of: id).owner
        let runs = try await scene.engine.abandonedRuns()
        #expect(runs.map(\.taskID) == [id])
        #expect(runs.first?.reason == .ownerDead)
        #expect(runs.first?.owner == owner)
        #expect(runs.first?.job == Sleeper.name)
        let statistics = try await scene.engine.statistics()
        #expect(statistics.abandoned[Sleeper.name] == 1)
        #expect(statistics.counts[Sleeper.name]?[.running] == 1, "the stored status stays running")

        let list = try await scene.durable(["ls"])
        #expect(list.status == 0)
        #expect(list.lines.count == 2 && list.lines[1].contains("running — owner dead since"), "\(list.standardOutput)")
        let json = try await #require(
            try JSONSerialization.jsonObject(with: Data(try scene.durable(["ls", "--json"]).standardOutput.utf8))
                as? [String: Any])
        #expect(json["status"] as? String == "running")
        #expect((json["abandoned"] as? [String: Any])?["reason"] as? String == "owner_dead")
        let show = try await scene.durable(["show", "\(id)"])
        #expect(show.standardOutput.contains("owner dead since"))
        #expect(show.standardOutput.contains("start a worker on \(scene.path)"))
        await #expect(try scene.sleeperStats()["running"] as? Int == 0)
        await #expect(try scene.sleeperStats()["abandoned"] as? Int == 1)
        let table = try await scene.durable(["stats"])
        #expect(table.lines.first?.contains("abandoned") == true)

        // watch ends instead of waiting for a run nobody does, and says why.
        let watch = try ChildProcess(
            "watch", executable: try ChildProcess.durableExecutable(),
            arguments: ["watch", "--interval", "10ms", "--db", scene.path], output: scene.directory.file("watch.out"))
        let ended = try await watch.exit(within: .seconds(60))
        #expect(ended != nil, "watch did not end: \(watch.output)")
        #expect(ended?.status == 1, "abandoned runs end watch with 1")
        #expect(watch.fullOutput.contains("running 0, abandoned 1"), "\(watch.output)")
        #expect(watch.fullOutput.contains("task \(id)"), "\(watch.output)")
        #expect(watch.fullOutput.contains("start a worker on \(scene.path)"), "\(watch.output)")

        // A worker started on the file recovers it: the task runs again.
        let restarted = try ChildProcess("restarted", arguments: ["run", scene.path, "--log", scene.log], in: scene.directory)
        try await poll("the new worker runs the sleeper", child: restarted) { try lines(of: scene.log).count == 2 }
        #expect(try await scene.engine.abandonedRuns().isEmpty)
        #expect(try await scene.engine.record(of: id).status == .running)
        await #expect(try scene.durable(["ls"]).lines.last?.contains("owner dead") == false)
        try await restarted.sigkill()
    }

    @Test("task_history and queue_stats show the run of a worker marked stopped as abandoned")
    func stoppedOwnerInViews() async throws {
        let scene = try await Scene()
        try await scene.worker.sigkill()
        let probe = try DatabaseProbe(path: scene.path)
        try probe.execute(
            "UPDATE durable_workers SET stopped_at = heartbeat_at + 1 WHERE id = (SELECT owner FROM durable_tasks WHERE id = ?)",
            [scene.task.id.rawValue])
        try probe.close()
        let history = try scene.viewRow(
            """
            SELECT h.status, h.abandoned_reason, h.abandoned_since = strftime('%Y-%m-%d %H:%M:%f', w.stopped_at / 1000.0,
                   'unixepoch') AS since_matches
            FROM durable_task_history AS h JOIN durable_workers AS w ON w.id = h.owner WHERE h.id = ?
            """)
        #expect(history["status"] == "running")
        #expect(history["abandoned_reason"] == "owner_stopped")
        #expect(history["since_matches"] == "1")
        let stats = try scene.viewRow(
            "SELECT total, running, abandoned FROM durable_queue_stats WHERE job = (SELECT job FROM durable_tasks WHERE id = ?)")
        #expect(stats == ["total": "1", "running": "0", "abandoned": "1"])
        let run = try scene.viewRow("SELECT reason FROM durable_abandoned_runs WHERE task_id = ?")
        #expect(run["reason"] == "owner_stopped")
    }

    @Test("task_history and queue_stats show a run whose lease expired as abandoned, and a live run as running")
    func expiredLeaseInViews() async throws {
        let scene = try await Scene(lease: 300)
        try await scene.worker.sigkill()
        // The views know no process ids: they wait for the lease to expire.
        try await poll("task_history shows the expired lease") {
            try scene.viewRow("SELECT abandoned_reason FROM durable_task_history WHERE id = ?")["abandoned_reason"]
                == "lease_expired"
        }
        let history = try scene.viewRow(
            """
            SELECT h.status, h.abandoned_since = strftime('%Y-%m-%d %H:%M:%f', t.lease_expires_at / 1000.0,
                   'unixepoch') AS since_matches
            FROM durable_task_history AS h JOIN durable_tasks AS t ON t.id = h.id WHERE h.id = ?
            """)
        #expect(history == ["status": "running", "since_matches": "1"])
        let stats = "SELECT running, abandoned FROM durable_queue_stats WHERE job = (SELECT job FROM durable_tasks WHERE id = ?)"
        #expect(try scene.viewRow(stats) == ["running": "0", "abandoned": "1"])
        await #expect(try scene.sleeperStats()["abandoned"] as? Int == 1)

        // A worker takes it over; its run, with a lease it renews, is running.
        let restarted = try ChildProcess("restarted", arguments: ["run", scene.path, "--log", scene.log], in: scene.directory)
        try await poll("the new worker runs the sleeper", child: restarted) { try lines(of: scene.log).count == 2 }
        #expect(try scene.viewRow("SELECT abandoned_since FROM durable_task_history WHERE id = ?") == ["abandoned_since": nil])
        #expect(try scene.viewRow(stats) == ["running": "1", "abandoned": "0"])
        try await restarted.sigkill()
    }
}
