import Durable
import DurableTestKit
import Foundation
import GRDB

// The damaged-file scenarios: a truncated file, garbage pages, a newer schema.
extension FaultScenarios {
    // MARK: Damaged files

    /// A file with `batchSize` tasks, some finished, everything checkpointed into
    /// the main file and no -wal or -shm left.
    static func checkpointedDatabase(_ path: String, folder: Folder) async throws {
        try await seed(path)
        let worker = try Child(
            "worker", ["serve", path, "--wait-ids", "1-100", "--concurrency", "8"], output: folder.file("worker.out"))
        guard let (status, _) = try await worker.exit(within: .seconds(60)), status == 0 else {
            throw TortureFailure("the worker preparing \(path) failed: \(worker.output())")
        }
        let probe = try DatabaseProbe(path: path)
        try probe.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try probe.execute("PRAGMA journal_mode = DELETE")
        try probe.close()
        try? FileManager.default.removeItem(atPath: path + "-wal")
        try? FileManager.default.removeItem(atPath: path + "-shm")
    }

    /// Checks the probe results on a damaged file: no crash, and each operation either
    /// succeeded honestly or failed with `corrupt_database` naming the file; a listing
    /// that succeeds must not silently miss tasks.
    static func judgeDamaged(
        _ result: (results: [String: String], ended: String?, output: String), path: String, stored: Int,
        label: String, findings: inout Findings
    ) {
        findings.expect(result.ended == nil, "\(label): the probe \(result.ended ?? "") — \(result.output.suffix(600))")
        var errors = 0
        for (operation, outcome) in result.results.sorted(by: { $0.key < $1.key }) {
            if outcome.hasPrefix("error ") {
                errors += 1
                findings.expect(
                    outcome.hasPrefix("error corrupt_database:"),
                    "\(label): \(operation) failed with \(outcome.prefix(200)); expected corrupt_database")
                findings.expect(outcome.contains(path), "\(label): the \(operation) error does not name the file")
            } else if operation == "list", let count = Int(outcome.split(separator: " ").dropFirst().first ?? "") {
                findings.expect(
                    count >= stored, "\(label): the listing silently returned \(count) of \(stored) stored tasks")
            }
        }
        let logged = result.output.split(separator: "\n").filter {
            $0.contains("is not an SQLite database or is damaged") && !$0.hasPrefix("RESULT ")
        }
        findings.expect(
            errors > 0 || !logged.isEmpty, "\(label): nothing reported the damage: \(result.results)")
        let summary = result.results.sorted { $0.key < $1.key }.map { key, value in
            "\(key) \(value.hasPrefix("ok") ? "ok" : String(value.split(separator: ":").first ?? ""))"
        }
        findings.note(
            "\(label): \(summary.joined(separator: ", "))"
                + (logged.isEmpty ? "" : " (\(logged.count) log line(s) about the damage)"))
    }

    static func truncated(_ context: ScenarioContext) async throws -> Findings {
        let folder = context.folder
        var findings = Findings()
        let database = folder.file("truncated.sqlite")
        try await checkpointedDatabase(database, folder: folder)
        guard let size = fileSize(database), let handle = FileHandle(forWritingAtPath: database) else {
            throw TortureFailure("cannot open \(database)")
        }
        try handle.truncate(atOffset: UInt64(size / 2))
        try handle.close()
        let before = fileContents(database)
        let result = try await probe(database, folder: folder, label: "probe")
        judgeDamaged(result, path: database, stored: batchSize, label: "cut to \(size / 2) of \(size) bytes", findings: &findings)
        if result.results["open"]?.hasPrefix("error") == true {
            findings.expect(fileContents(database) == before, "the refused file was changed")
        }
        return findings
    }

    /// Garbage over chosen pages, each on a fresh copy: a leaf page of the `tasks`
    /// table (task rows), the root page of `tasks`, a leaf of the claim index, and
    /// page 1 (the header and the schema).
    static func corruptPage(_ context: ScenarioContext) async throws -> Findings {
        let folder = context.folder
        var rng = context.rng
        var findings = Findings()
        let original = folder.file("original.sqlite")
        try await checkpointedDatabase(original, folder: folder)
        let pageSize = 4096
        let pages = (fileSize(original) ?? 0) / pageSize
        let reader = try DatabaseProbe(path: original, readonly: true)
        func pagesOf(_ name: String, _ type: String) -> [Int] {
            (try? reader.rows("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = ?", [name, type]))?
                .map { $0["pageno"] as Int } ?? []
        }
        let taskLeaves = pagesOf("durable_tasks", "leaf")
        let claimLeaves = pagesOf("durable_tasks_claim", "leaf")
        let tasksRoot = try reader.int("SELECT rootpage FROM sqlite_master WHERE name = 'durable_tasks'")
        try reader.close()
        var targets: [(String, Int)] = []
        if let leaf = taskLeaves.randomElement(using: &rng) {
            targets.append(("a leaf page of tasks", leaf))
        } else {
            targets.append(("a middle page (dbstat is not available)", max(2, pages / 2)))
        }
        if tasksRoot > 1 { targets.append(("the root page of tasks", tasksRoot)) }
        if let leaf = claimLeaves.randomElement(using: &rng) { targets.append(("a leaf of the claim index", leaf)) }
        targets.append(("page 1", 1))
        guard let originalBytes = fileContents(original) else { throw TortureFailure("cannot read \(original)") }
        for (index, (label, page)) in targets.enumerated() {
            let database = folder.file("corrupt-\(index + 1)-page-\(page).sqlite")
            try originalBytes.write(to: URL(fileURLWithPath: database))
            guard let handle = FileHandle(forWritingAtPath: database) else { throw TortureFailure("cannot open \(database)") }
            let garbage = Data((0..<pageSize).map { _ in UInt8.random(in: 0...255, using: &rng) })
            try handle.seek(toOffset: UInt64((page - 1) * pageSize))
            try handle.write(contentsOf: garbage)
            try handle.close()
            let before = fileContents(database)
            let result = try await probe(database, folder: folder, label: "probe-\(index + 1)")
            judgeDamaged(
                result, path: database, stored: batchSize, label: "\(label) (page \(page) of \(pages))",
                findings: &findings)
            if result.results["open"]?.hasPrefix("error") == true {
                findings.expect(fileContents(database) == before, "\(label): the refused file was changed")
            }
        }
        return findings
    }

    static func newerSchema(_ context: ScenarioContext) async throws -> Findings {
        let folder = context.folder
        var findings = Findings()
        let database = folder.file("newer.sqlite")
        try await checkpointedDatabase(database, folder: folder)
        let edit = sqlite3(
            database, "INSERT INTO durable_migrations (version, name, applied_at) VALUES (9999, 'from_the_future', 0)")
        guard edit.ok else { throw TortureFailure("cannot add a future migration: \(edit.output)") }
        let before = fileContents(database)
        let result = try await probe(database, folder: folder, label: "probe")
        findings.expect(result.ended == nil, "the probe \(result.ended ?? "")")
        let open = result.results["open"] ?? "nothing"
        findings.expect(open.hasPrefix("error schema_too_new:"), "opening gave \(open.prefix(200)), not schema_too_new")
        findings.expect(open.contains(database) && open.contains("9999"), "the error names neither file nor version: \(open)")
        findings.expect(fileContents(database) == before, "the file was changed")
        findings.expect(!FileManager.default.fileExists(atPath: database + "-wal"), "a -wal file was created")
        let probe = try DatabaseProbe(path: database, readonly: true)
        let count = try probe.int("SELECT count(*) FROM durable_tasks")
        try probe.close()
        findings.expect(count == batchSize, "\(count) of \(batchSize) tasks readable afterwards")
        findings.note("open: \(open.prefix(140))")
        return findings
    }
}
