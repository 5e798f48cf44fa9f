import DurableTestKit
import Foundation

/// How big and how long the run is: `--quick` (CI) or the long form.
struct Settings: Sendable {
    var quick: Bool
    var seed: UInt64
    /// Kill scenario: top-level tasks (a quarter to a third `pipeline`, the rest `plain`).
    var pipelines: Int
    var plains: Int
    var kills: Int
    var killConcurrency: Int
    var killDelayMilliseconds: Int
    /// Many-processes scenario.
    var processes: Int
    var shareSeconds: Double
    var hangLimit: Double

    static func quick(seed: UInt64) -> Settings {
        Settings(
            quick: true, seed: seed, pipelines: 600, plains: 1400, kills: 200, killConcurrency: 8,
            killDelayMilliseconds: 2, processes: 8, shareSeconds: 8, hangLimit: 60)
    }

    static func long(seed: UInt64) -> Settings {
        Settings(
            quick: false, seed: seed, pipelines: 2500, plains: 7500, kills: 250, killConcurrency: 16,
            killDelayMilliseconds: 2, processes: 8, shareSeconds: 30, hangLimit: 120)
    }

    /// The quick form on PostgreSQL: a smaller kill batch and fewer kills, since each
    /// worker life there opens sessions and every kill waits for the server to end
    /// the killed worker's sessions (CI runs both forms).
    mutating func boundForPostgres() {
        pipelines = 200
        plains = 500
        kills = 60
    }
}

/// What a scenario found: notes for the summary, problems that fail it.
struct Findings: Sendable {
    var notes: [String] = []
    var problems: [String] = []
    /// Problems that are known library bugs (reported, and still failing).
    var knownBugs: [String] = []
    /// Why the scenario could not run here (nothing checked).
    var skipped: String?

    mutating func note(_ text: String) { notes.append(text) }

    mutating func expect(_ condition: Bool, _ problem: @autoclosure () -> String) {
        if !condition { problems.append(problem()) }
    }

    mutating func fail(_ problem: String) { problems.append(problem) }

    mutating func knownBug(_ problem: String) { knownBugs.append(problem) }

    /// Adds a list of violations as one problem with the first few quoted.
    mutating func expectNone(_ violations: [String], _ what: String, show: Int = 12) {
        guard !violations.isEmpty else { return }
        problems.append(
            "\(violations.count) \(what): " + violations.prefix(show).joined(separator: "; ")
                + (violations.count > show ? "; …" : ""))
    }

    var passed: Bool { problems.isEmpty && knownBugs.isEmpty }
}

/// What a scenario gets: its name, its own folder, the store, the settings and a
/// seeded generator.
struct ScenarioContext: Sendable {
    let name: String
    let folder: Folder
    let store: StoreTarget
    let settings: Settings
    var rng: SeededGenerator

    /// A new database of this scenario: the file `file` in its folder, or a new
    /// schema on the PostgreSQL server (see ``StoreTarget/newDatabase(_:in:scenario:)``).
    func database(_ file: String) -> ScenarioDatabase {
        store.newDatabase(file, in: folder, scenario: name)
    }
}

struct Scenario: Sendable {
    let name: String
    let summary: String
    /// Whether the scenario runs on PostgreSQL too (`--postgres`); the others are
    /// about SQLite files and are skipped there.
    var onPostgres = false
    let run: @Sendable (ScenarioContext) async throws -> Findings
}

enum Suite {
    static let scenarios: [Scenario] = [
        Scenario(
            name: "kill-resume",
            summary: "SIGKILL a worker at random moments of a batch with steps and children; resume each time",
            onPostgres: true, run: KillScenario.run),
        Scenario(
            name: "many-processes",
            summary: "processes submitting, claiming and waiting on one database at once",
            onPostgres: true, run: ShareScenario.run),
        Scenario(name: "disk-full", summary: "the disk fills up mid-run (a small tmpfs)", run: FaultScenarios.diskFull),
        Scenario(
            name: "file-size-limit", summary: "writes fail with EFBIG mid-run (RLIMIT_FSIZE)",
            run: FaultScenarios.fileSizeLimit),
        Scenario(
            name: "read-only-mid-run", summary: "the files become immutable while a worker runs",
            run: FaultScenarios.readOnlyMidRun),
        Scenario(
            name: "wal-deleted", summary: "the WAL is deleted while the database is closed",
            run: FaultScenarios.walDeleted),
        Scenario(
            name: "truncated-database", summary: "the file is cut to half its size", run: FaultScenarios.truncated),
        Scenario(
            name: "corrupt-page", summary: "pages are overwritten with garbage", run: FaultScenarios.corruptPage),
        Scenario(
            name: "newer-schema", summary: "a database written by a newer schema", run: FaultScenarios.newerSchema),
        Scenario(
            name: "bad-rows", summary: "rows edited with sqlite3: invalid JSON, unknown status, missing job",
            run: BadRowScenario.run),
    ]

    static let usage = """
        usage: Torture [--quick] [--seed N] [--only NAME,...] [--keep] [--dir PATH] [--postgres URL]
                       [--kills N] [--pipelines N] [--plains N] [--processes N] [--share-seconds S]
               Torture --list
        (the worker processes are DurableTestWorker, found next to Torture or at $DURABLE_TEST_WORKER)

        --quick      the bounded form CI runs (2000 tasks, 200 kills, 8 processes for 8 s; on
                     PostgreSQL 700 tasks, 60 kills, 8 processes for 8 s); without it, the long
                     form (10000 tasks, 250 kills, 8 processes for 30 s)
        --postgres   run kill-resume and many-processes on the PostgreSQL server at URL
                     (postgres://user@host:port/database), each in a new schema of its own; the
                     scenarios about SQLite files are skipped
        --keep       keep the scratch folder and schemas (kept anyway when a scenario fails)
        """

    static func main(_ arguments: [String]) async -> Int32 {
        var quick = false
        var seed = UInt64(UInt32.random(in: 1...UInt32.max))
        var only: Set<String>?
        var keep = false
        var base: String?
        var postgresURL: String?
        var overrides: [(inout Settings) -> Void] = []
        var iterator = arguments.makeIterator()
        func bad(_ message: String) -> Int32 {
            FileHandle.standardError.write(Data("Torture: \(message)\n\(usage)\n".utf8))
            return 2
        }
        while let argument = iterator.next() {
            func number() -> Int? { iterator.next().flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil } }
            switch argument {
            case "--quick": quick = true
            case "--keep": keep = true
            case "--list":
                for scenario in scenarios { say("\(scenario.name): \(scenario.summary)") }
                return 0
            case "--seed":
                guard let value = number() else { return bad("--seed needs a non-negative integer") }
                seed = UInt64(value)
            case "--only":
                guard let value = iterator.next() else { return bad("--only needs scenario names") }
                only = Set(value.split(separator: ",").map(String.init))
            case "--dir":
                guard let value = iterator.next() else { return bad("--dir needs a folder") }
                base = value
            case "--postgres":
                guard let value = iterator.next() else { return bad("--postgres needs a postgres:// URL") }
                postgresURL = value
            case "--kills":
                guard let value = number() else { return bad("--kills needs a number") }
                overrides.append { $0.kills = value }
            case "--pipelines":
                guard let value = number() else { return bad("--pipelines needs a number") }
                overrides.append { $0.pipelines = value }
            case "--plains":
                guard let value = number() else { return bad("--plains needs a number") }
                overrides.append { $0.plains = value }
            case "--processes":
                guard let value = number(), value > 0 else { return bad("--processes needs a positive number") }
                overrides.append { $0.processes = value }
            case "--share-seconds":
                guard let value = number() else { return bad("--share-seconds needs a number") }
                overrides.append { $0.shareSeconds = Double(value) }
            case "-h", "--help":
                say(usage)
                return 0
            default:
                return bad("unknown argument \(argument)")
            }
        }
        if let only {
            let unknown = only.subtracting(scenarios.map(\.name))
            guard unknown.isEmpty else { return bad("unknown scenario(s): \(unknown.sorted().joined(separator: ", "))") }
        }
        let store: StoreTarget
        do {
            store = try postgresURL.map(StoreTarget.postgres) ?? .sqlite
        } catch {
            return bad("\(error)")
        }
        var settings = quick ? Settings.quick(seed: seed) : Settings.long(seed: seed)
        if quick && store.isPostgres { settings.boundForPostgres() }
        for override in overrides { override(&settings) }

        let root = (base ?? FileManager.default.temporaryDirectory.path) + "/durable-torture-\(getpid())-\(seed)"
        let selected = scenarios.filter { only?.contains($0.name) ?? true }
        say(
            "torture: \(quick ? "quick" : "long") form on \(store.description), seed \(seed), "
                + "\(selected.count) scenario(s), scratch \(root)"
                + (store.isPostgres ? ", schemas \(store.schemaPrefix(scenario: "*"))" : ""))
        var passed = 0
        var failed = 0
        var skipped: [String] = []
        let start = ContinuousClock.now
        for scenario in selected {
            let began = ContinuousClock.now
            var findings: Findings
            if store.isPostgres && !scenario.onPostgres {
                findings = Findings()
                findings.skipped = "about SQLite files; it runs without --postgres"
            } else {
                do {
                    let folder = try Folder("\(root)/\(scenario.name)")
                    findings = try await scenario.run(
                        ScenarioContext(
                            name: scenario.name, folder: folder, store: store, settings: settings,
                            rng: SeededGenerator.derived(from: seed, scenario.name)))
                } catch {
                    findings = Findings()
                    findings.fail("the scenario stopped with an error: \(error)")
                }
            }
            let elapsed = formatSeconds(ContinuousClock.now - began)
            if let reason = findings.skipped {
                skipped.append(scenario.name)
                say("SKIP \(scenario.name) (\(elapsed)): \(reason)")
                continue
            }
            let notes = findings.notes.isEmpty ? "" : ": " + findings.notes.joined(separator: "; ")
            if findings.passed {
                passed += 1
                say("PASS \(scenario.name) (\(elapsed))\(notes)")
                if !keep {
                    do {
                        try await store.dropSchemas(scenario: scenario.name)
                    } catch {
                        say("torture: could not drop the schemas of \(scenario.name): \(error)")
                    }
                }
            } else {
                failed += 1
                let marker = findings.problems.isEmpty ? " [known library bug]" : ""
                say("FAIL\(marker) \(scenario.name) (\(elapsed))\(notes)")
                for problem in findings.problems { say("    - \(problem)") }
                for bug in findings.knownBugs { say("    - known library bug: \(bug)") }
            }
        }
        if failed > 0 || keep {
            say(
                "torture: scratch folder kept at \(root)"
                    + (store.isPostgres ? "; schemas kept: \(store.schemaPrefix(scenario: "*"))" : ""))
        } else {
            try? FileManager.default.removeItem(atPath: root)
        }
        if !skipped.isEmpty { say("torture: skipped here: \(skipped.joined(separator: ", "))") }
        say("torture: total \(formatSeconds(ContinuousClock.now - start))")
        say("\(passed) passed, \(failed) failed")
        return failed == 0 ? 0 : 1
    }
}
