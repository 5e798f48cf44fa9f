package import DurableEngine
import GRDB

// Schedules: definitions, and their ticks fired into tasks in one transaction.
extension SQLiteStore: SchedulingStore {
    package func saveSchedule(_ schedule: StoredSchedule, now: Int64) async throws -> StoredSchedule {
        try await write("store schedule \"\(schedule.name)\"") { db in
            // A changed expression or zone starts over from its next tick; the
            // rest of the state stays. SET expressions read the row as it was.
            try db.execute(
                sql: """
                    INSERT INTO durable_schedules (name, cron, time_zone, job, input, queue, priority, timeout_ms, retry,
                                           overlap, catch_up, catch_up_window_ms, next_tick, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET
                        next_tick = CASE WHEN \(Self.sameTicks) THEN next_tick ELSE excluded.next_tick END,
                        buffered_tick = CASE WHEN \(Self.sameTicks) THEN buffered_tick END,
                        updated_at = CASE WHEN \(Self.sameDefinition) THEN updated_at ELSE excluded.updated_at END,
                        cron = excluded.cron, time_zone = excluded.time_zone, job = excluded.job,
                        input = excluded.input, queue = excluded.queue, priority = excluded.priority, timeout_ms = excluded.timeout_ms,
                        retry = excluded.retry, overlap = excluded.overlap, catch_up = excluded.catch_up,
                        catch_up_window_ms = excluded.catch_up_window_ms
                    """,
                arguments: [
                    schedule.name, schedule.cron, schedule.timeZone, schedule.job, schedule.input, schedule.queue,
                    schedule.priority,
                    schedule.timeoutMilliseconds, schedule.retry, schedule.overlap, schedule.catchUp,
                    schedule.catchUpWindowMilliseconds, schedule.nextTick, now, now,
                ])
            guard let stored = try Self.schedules(named: schedule.name, db: db).first else {
                throw DurableError(.storage, "schedule \"\(schedule.name)\" was not stored")
            }
            return stored.schedule
        }
    }

    private static let sameTicks = "cron = excluded.cron AND time_zone = excluded.time_zone"
    private static let sameDefinition = """
        \(sameTicks) AND job = excluded.job AND input = excluded.input AND queue = excluded.queue
        AND priority = excluded.priority
        AND timeout_ms IS excluded.timeout_ms AND retry IS excluded.retry AND overlap = excluded.overlap
        AND catch_up = excluded.catch_up AND catch_up_window_ms IS excluded.catch_up_window_ms
        """

    package func schedules(named name: String?) async throws -> [StoredSchedule] {
        try await read("read schedules") { db in
            try Self.schedules(named: name, db: db).map(\.schedule)
        }
    }

    package func deleteSchedule(named name: String) async throws -> Bool {
        try await write("delete schedule \"\(name)\"") { db in
            try db.execute(sql: "DELETE FROM durable_schedules WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }

    package func changeSchedules(
        _ selection: ScheduleSelection, now: Int64,
        _ decide: @escaping @Sendable (StoredSchedule, Bool) throws -> ScheduleChange?
    ) async throws -> ScheduleChangeResult {
        try await write("fire schedules") { db in
            let selected: [(schedule: StoredSchedule, lastStatus: String?)]
            switch selection {
            case .due: selected = try Self.dueSchedules(now: now, db: db)
            case .named(let name): selected = try Self.schedules(named: name, db: db)
            }
            var result = ScheduleChangeResult()
            var transitions = SQLiteTransitions(db: db, now: now)
            for (schedule, lastStatus) in selected {
                var schedule = schedule
                if let change = try decide(schedule, StoredSchedule.lastRunFinished(status: lastStatus)) {
                    let created = try transitions.insert(change.tasks)
                    result.created += created
                    schedule.apply(change, lastTask: created.last?.id, now: now)
                    try db.execute(
                        sql: """
                            UPDATE durable_schedules SET next_tick = ?, buffered_tick = ?, last_tick = ?, paused = ?,
                                                 last_task_id = ?, updated_at = ?
                            WHERE name = ?
                            """,
                        arguments: [
                            schedule.nextTick, schedule.bufferedTick, schedule.lastTick, schedule.paused,
                            schedule.lastTaskID?.rawValue, now, schedule.name,
                        ])
                    result.changed += 1
                }
                result.schedules.append(schedule)
            }
            return result
        }
    }

    package func scheduleWake() async throws -> ScheduleWake {
        try await read("look for the next tick of the schedules") { db in
            let next = try Int64.fetchOne(db, sql: "SELECT min(next_tick) FROM durable_schedules WHERE paused = 0")
            let buffered = try Row.fetchAll(
                db,
                sql: """
                    SELECT s.last_task_id, t.status FROM durable_schedules AS s LEFT JOIN durable_tasks AS t ON t.id = s.last_task_id
                    WHERE s.paused = 0 AND s.buffered_tick IS NOT NULL
                    """
            ).map { row in
                (id: TaskID(row[0] as Int64? ?? 0), finished: StoredSchedule.lastRunFinished(status: row[1]))
            }
            return ScheduleWake(nextTick: next, bufferedBehind: buffered)
        }
    }

    private static let selectSchedules = """
        SELECT \(StoredSchedule.columns(of: "s")), t.status
        FROM durable_schedules AS s LEFT JOIN durable_tasks AS t ON t.id = s.last_task_id
        """

    private static func schedules(named name: String?, db: Database) throws
        -> [(schedule: StoredSchedule, lastStatus: String?)]
    {
        try Row.fetchAll(
            db, sql: "\(selectSchedules) WHERE ?1 IS NULL OR s.name = ?1 ORDER BY s.name", arguments: [name]
        ).map(Self.schedule)
    }

    private static func dueSchedules(now: Int64, db: Database) throws -> [(schedule: StoredSchedule, lastStatus: String?)] {
        try Row.fetchAll(
            db,
            sql: """
                \(selectSchedules)
                WHERE s.paused = 0 AND (s.next_tick <= ? OR s.buffered_tick IS NOT NULL) ORDER BY s.name
                """,
            arguments: [now]
        ).map(Self.schedule)
    }

    /// A row of ``selectSchedules``: the schedule, then its last task's status.
    private static func schedule(_ row: Row) -> (schedule: StoredSchedule, lastStatus: String?) {
        (
            StoredSchedule(
                name: row[0], cron: row[1], timeZone: row[2], job: row[3], input: row[4], queue: row[5],
                priority: row[6], timeoutMilliseconds: row[7], retry: row[8], overlap: row[9], catchUp: row[10],
                catchUpWindowMilliseconds: row[11], paused: row[12], nextTick: row[13], bufferedTick: row[14],
                lastTick: row[15], lastTaskID: (row[16] as Int64?).map { TaskID($0) }, createdAt: row[17],
                updatedAt: row[18]),
            row[19]
        )
    }
}
