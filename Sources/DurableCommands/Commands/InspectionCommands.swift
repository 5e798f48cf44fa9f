import ArgumentParser
import Durable
import DurableDashboard
import Foundation

/// Opens the engine for a command that reads or changes what is stored: the file
/// (or PostgreSQL schema) must exist and have this build's schema (only `durable
/// migrate` and `durable run` migrate). Callers close it when done (`defer { try?
/// engine.close() }`), so that no -wal or -shm file is left behind; a failed close
/// loses nothing (the WAL is kept).
func openExisting(_ database: DatabaseOption) async throws -> TaskEngine {
    try database.requireExisting()
    return try await database.openEngine { $0.appliesMigrations = false }
}

/// Opens the engine read-only for a command that only reads what is stored: it
/// works on a file the user cannot write and never waits for another process's
/// write lock. The file (or PostgreSQL schema) must exist and have this build's
/// schema.
func openForReading(_ database: DatabaseOption) async throws -> TaskEngine {
    try database.requireExisting()
    return try await database.openEngine { $0.access = .readOnly }
}

/// `durable ls`: tasks, newest first.
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List tasks, newest first.",
        discussion: """
            Same as: sqlite3 durable.sqlite 'select * from durable_task_history order by id desc limit 50' (PostgreSQL: \
            psql URL -c 'select * from durable.task_history order by id desc limit 50').
            """)

    @OptionGroup var database: DatabaseOption
    @Option(name: .long, help: "Only tasks with this status (pending, running, succeeded, failed, cancelled); repeatable.")
    var status: [String] = []
    @Option(name: .long, help: "Only tasks whose name matches this glob (* and ?).")
    var name: String?
    @Option(name: .long, help: "Only tasks of this job (or of this durable run batch file).")
    var job: String?
    @Option(name: .long, help: "Only tasks of this queue (or of this durable run batch file).")
    var queue: String?
    @Option(name: .long, help: "Only tasks created within this long (e.g. 15m, 12h, 7d; at most 36500d).")
    var since: String?
    @Option(name: .long, help: "At most this many tasks.")
    var limit = 50
    @Flag(name: .long, help: "One JSON object per line.")
    var json = false

    func run() async throws {
        let statuses = try Set(status.map(parseStatus))
        let createdSince = try since.map { try DurationArgument(parsing: $0, option: "--since").dateAgo }
        let selection = try database.taskSelection(job: job, queue: queue)
        let engine = try await openForReading(database)
        defer { try? engine.close() }
        let tasks = try await engine.tasks(
            matching: TaskQuery(
                statuses: statuses, nameGlob: name, job: selection.job, queue: selection.queue,
                createdSince: createdSince, limit: limit))
        let abandoned = try await abandonedRuns(of: tasks, in: engine)
        if json {
            for task in tasks {
                var object = Formatting.json(task)
                object["abandoned"] = abandoned[task.id].map(Formatting.json)
                print(Formatting.jsonLine(object))
            }
            return
        }
        var table = TextTable(
            columns: ["id", "status", "name", "job", "queue", "attempt", "created", "duration", "error"])
        for task in tasks {
            let duration = task.finishedAt.flatMap { finished in task.startedAt.map { finished - $0 } }
            table.add([
                "\(task.id)", Formatting.status(task, abandoned: abandoned[task.id]), Formatting.oneLine(task.name, limit: 40),
                task.job, Formatting.oneLine(task.queue, limit: 40), "\(task.attempt)",
                Formatting.time(task.createdAt), Formatting.duration(duration),
                Formatting.oneLine(task.error?.message ?? task.cancelMessage),
            ])
        }
        print(table.rendered(), terminator: "")
    }
}

/// `durable show ID`: one task with its attempts, steps, children and callbacks.
struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one task: its row, attempts, steps, children, callbacks, result or error.")

    @OptionGroup var database: DatabaseOption
    @Argument(help: "The task: its id, or FILE:LINE for the task of a line of a durable run batch.")
    var task: TaskReference
    @Flag(name: .long, help: "One JSON object.") var json = false

    func run() async throws {
        let engine = try await openForReading(database)
        defer { try? engine.close() }
        let id = try await self.task.resolve(in: engine, database: database)
        let detail: TaskDetail
        do {
            detail = try await TaskDetail.load(id, from: engine)
        } catch let error as DurableError where error.code == .unknownTask {
            throw CommandError("no task has id \(id) in \(database.location)")
        }
        let (task, attempts, steps, children, callbacks, abandoned) = (
            detail.task, detail.attempts, detail.steps, detail.children, detail.callbacks, detail.abandoned
        )
        if json {
            print(Formatting.jsonLine(detail.json))
            return
        }
        var fields = TextTable(columns: ["field", "value"])
        let duration = task.finishedAt.flatMap { finished in task.startedAt.map { finished - $0 } }
        let rows: [(String, String?)] = [
            ("id", "\(task.id)"), ("name", task.name), ("job", task.job),
            ("status", Formatting.status(task, abandoned: abandoned)),
            ("abandoned", abandoned.map { _ in "nobody runs it; start a worker on \(database.location) to recover it" }),
            ("attempt", "\(task.attempt)"), ("priority", "\(task.priority)"), ("key", task.key),
            ("queue", task.queue == TaskOptions.defaultQueue ? nil : task.queue),
            ("concurrency key", task.concurrencyKey.map {
                "\($0.value) (limit \($0.limit)\(task.waitsForKey ? ", waiting for room" : ""))"
            }),
            ("parent", task.parentID.map { "\($0)" }), ("owner", task.owner), ("created", Formatting.time(task.createdAt)),
            ("run at", Formatting.time(task.runAt)), ("started", Formatting.time(task.startedAt)),
            ("finished", Formatting.time(task.finishedAt)), ("duration", Formatting.duration(duration)),
            ("deadline", Formatting.time(task.deadline)), ("cancel message", task.cancelMessage),
            ("context", task.context.isEmpty ? nil : task.context.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ")),
        ]
        for (field, value) in rows where !(value ?? "").isEmpty { fields.add([field, value ?? ""]) }
        print(fields.rendered(), terminator: "")
        print("\ninput:\n\(Formatting.prettyJSON(task.input))")
        if let result = task.result { print("\nresult:\n\(Formatting.prettyJSON(result))") }
        if let error = task.error { print("\nerror (\(error.kind)): \(error.type): \(error.message)") }
        if !attempts.isEmpty {
            var table = TextTable(columns: ["attempt", "outcome", "owner", "started", "duration", "error"])
            for attempt in attempts {
                table.add([
                    "\(attempt.attempt)", attempt.outcome.rawValue, attempt.owner, Formatting.time(attempt.startedAt),
                    Formatting.duration(attempt.finishedAt - attempt.startedAt), Formatting.oneLine(attempt.error?.message),
                ])
            }
            print("\nattempts:\n" + table.rendered(), terminator: "")
        }
        if !steps.isEmpty {
            var table = TextTable(columns: ["position", "name", "kind", "status", "attempt", "took", "result"])
            for step in steps {
                table.add([
                    "\(step.position)", step.name, step.kind.rawValue, step.status.rawValue, "\(step.attempt)",
                    Formatting.stepDuration(step), Formatting.stepOutcome(step, limit: 60),
                ])
            }
            print("\nsteps:\n" + table.rendered(), terminator: "")
        }
        if !children.isEmpty {
            var table = TextTable(columns: ["id", "status", "name", "job"])
            for child in children { table.add(["\(child.id)", child.status.rawValue, child.name, child.job]) }
            print("\nchildren:\n" + table.rendered(), terminator: "")
        }
        if !detail.events.isEmpty {
            var table = TextTable(columns: ["event", "value", "updated"])
            for event in detail.events {
                table.add([event.key, Formatting.oneLine(event.value), Formatting.time(event.updatedAt)])
            }
            print("\nevents:\n" + table.rendered(), terminator: "")
        }
        if !detail.messages.isEmpty {
            var table = TextTable(columns: ["message", "topic", "payload", "sent", "received"])
            for message in detail.messages {
                table.add([
                    "\(message.id)", message.topic, Formatting.oneLine(message.payload), Formatting.time(message.sentAt),
                    message.deliveredAt.map { "\(Formatting.time($0)) (attempt \(message.deliveredAttempt ?? 0))" }
                        ?? "not yet",
                ])
            }
            print("\nmessages:\n" + table.rendered(), terminator: "")
        }
        if !callbacks.isEmpty {
            var table = TextTable(columns: ["job", "input", "task"])
            for callback in callbacks {
                table.add([callback.job, Formatting.oneLine(callback.input), callback.callbackTaskID.map { "\($0)" } ?? "(not run yet)"])
            }
            print("\ndone callbacks:\n" + table.rendered(), terminator: "")
        }
    }
}

/// The abandoned runs among `tasks`, by id (none when no task is running).
func abandonedRuns(of tasks: [TaskRecord], in engine: TaskEngine) async throws -> [TaskID: AbandonedRun] {
    guard tasks.contains(where: { $0.status == .running }) else { return [:] }
    let ids = Set(tasks.map(\.id))
    let runs = try await engine.abandonedRuns().filter { ids.contains($0.taskID) }
    return Dictionary(uniqueKeysWithValues: runs.map { ($0.taskID, $0) })
}

func parseStatus(_ text: String) throws -> TaskStatus {
    guard let status = TaskStatus(rawValue: text.lowercased()) else {
        throw CommandError(
            "\"\(text)\" is not a status (use \(TaskStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    return status
}
