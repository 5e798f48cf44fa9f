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
    @Test("migration 3 keeps the views' columns and adds the abandoned ones")
    func viewColumns() throws {
        let directory = TemporaryDirectory()
        try makeEngine(in: directory).close()
        let probe = try DatabaseProbe(path: directory.file("test.sqlite"), readonly: true)
        defer { try? probe.close() }
        let columns = { (view: String) in try probe.strings("SELECT name FROM pragma_table_info(?)", [view]) }
        #expect(
            try columns("durable_task_history") == [
                "id", "name", "job", "status", "attempt", "created", "started", "finished", "duration", "error",
                "cancel_message", "next_run", "owner", "abandoned_since", "abandoned_reason",
            ])
        #expect(
            try columns("durable_queue_stats") == [
                "job", "total", "pending", "running", "succeeded", "failed", "cancelled", "last_finished", "abandoned",
            ])
        #expect(try columns("durable_abandoned_runs") == ["task_id", "name", "job", "owner", "reason", "since"])
        #expect(try probe.ids("SELECT version FROM durable_migrations").contains(3))
    }
}
